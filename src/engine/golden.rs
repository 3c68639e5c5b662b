//! Golden state counts: for every exhaustive model of `models/`, the
//! unique-state and terminal-state counts of the plain search and of the
//! reduced search. A refactor must leave them equal; a change meant to
//! alter them regenerates the file (`dtm0 golden --write`) and its commit
//! says which counts moved and why.

use crate::engine::por::{Engine, Reduce};
use crate::model::build;
use crate::model::file::{ModelSpec, NetworkKind};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The counts of one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub model: String,
    /// Our depth-first search without reduction (it visits what
    /// stateright's checker does; tested in tests/por.rs).
    pub plain_unique: u64,
    pub plain_terminal: u64,
    /// The actor-level reduced search (`--reduction por`), with symmetry
    /// where the model asks for it, then on one thread, so that the
    /// representatives, and so the counts, do not depend on scheduling.
    pub reduced_unique: u64,
    pub reduced_terminal: u64,
    /// The semantic stubborn-set search (`--reduction stubborn`), without
    /// symmetry: it must keep every terminal state of the plain search.
    pub semantic_unique: u64,
    pub semantic_terminal: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenFile {
    pub model: Vec<Counts>,
}

/// Whether a model's golden counts are pinned: it is explored to the end
/// (no time or depth limit in its file, not a lossy network, where the run
/// stops at the expected violation).
pub fn pinned(spec: &ModelSpec) -> bool {
    spec.check.timeout_secs.is_none()
        && spec.check.max_depth.is_none()
        && spec.network != NetworkKind::Lossy
}

/// Runs only the semantic search to the end on `spec`: its unique and
/// terminal counts (for a change to the semantic reduction alone, which
/// moves no other column; the plain columns take minutes).
pub fn measure_semantic(spec: &ModelSpec) -> Result<(u64, u64), String> {
    let m = build(spec);
    let (mut e, _) = Engine::new(&m, Reduce::SEMANTIC, 2);
    e.collect_terminals = true;
    let o = e.run();
    if !o.complete {
        return Err(format!("{}: the search did not finish", spec.name));
    }
    Ok((o.unique, o.terminals.len() as u64))
}

/// Runs the plain and the reduced search to the end on `spec`.
pub fn measure(spec: &ModelSpec) -> Result<Counts, String> {
    let m = build(spec);
    let symmetry = spec.check.symmetry.unwrap_or(false);
    let run = |reduce: Reduce, threads: usize| {
        let (mut e, _) = Engine::new(&m, reduce, threads);
        e.collect_terminals = true;
        let o = e.run();
        if !o.complete {
            return Err(format!("{}: the search did not finish", spec.name));
        }
        Ok((o.unique, o.terminals.len() as u64))
    };
    let (plain, semantic) = (Reduce::PLAIN, Reduce::SEMANTIC);
    let reduced = Reduce {
        symmetry,
        ..Reduce::PERSISTENT
    };
    let (pu, pt) = run(plain, 2)?;
    let (ru, rt) = run(reduced, if symmetry { 1 } else { 2 })?;
    let (su, st) = run(semantic, 2)?;
    Ok(Counts {
        model: spec.name.clone(),
        plain_unique: pu,
        plain_terminal: pt,
        reduced_unique: ru,
        reduced_terminal: rt,
        semantic_unique: su,
        semantic_terminal: st,
    })
}

/// The pinned models of `dir`, loaded, sorted by file name.
pub fn pinned_models(dir: &Path) -> Result<Vec<ModelSpec>, String> {
    let mut out = Vec::new();
    for path in crate::engine::suite::model_files(dir)? {
        let spec = ModelSpec::load(&path)?;
        if pinned(&spec) {
            out.push(spec);
        }
    }
    Ok(out)
}

pub fn read(path: &Path) -> Result<GoldenFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))
}

pub fn write(path: &Path, f: &GoldenFile) -> Result<(), String> {
    let body = toml::to_string(f).map_err(|e| e.to_string())?;
    let text = format!(
        "# Golden state counts (see src/golden.rs). Regenerate with\n\
         # `cargo run --release -- golden --write` only when a change is meant\n\
         # to move them, and say in the commit which moved and why.\n\n{body}"
    );
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
