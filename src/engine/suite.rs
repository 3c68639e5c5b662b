//! `dtm0 check --all`: every model of `models/` against its expected
//! verdict, and every mutant of `models/mutants.toml` on its model, which
//! must be caught. The entries it returns are what the CLI's results
//! writer turns into `results/`.

use crate::engine::check::{self, Refusal, Report, RunOpts};
use crate::model::file::{ModelSpec, Verdict};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutantSpec {
    pub variant: String,
    pub model: String,
    /// The run passes when at least one of these is violated.
    pub catches: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MutantFile {
    mutant: Vec<MutantSpec>,
}

/// `models/variants.toml`: every variant of `variants` is run on every
/// model of `models` (a report of verdicts, no expectation).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantMatrix {
    pub variants: Vec<String>,
    pub models: Vec<String>,
    /// Each run's time limit (the model's own, if shorter).
    pub timeout_secs: Option<u64>,
}

/// The variant matrix of `path`, or `None` where there is no such file.
pub fn load_matrix(path: &Path) -> Result<Option<VariantMatrix>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let m: VariantMatrix = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.message().replace('\n', " ")))?;
    Ok(Some(m))
}

pub fn load_mutants(path: &Path) -> Result<Vec<MutantSpec>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let f: MutantFile = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.message().replace('\n', " ")))?;
    Ok(f.mutant)
}

/// The model files of a directory (cluster files and the mutant list
/// excepted), sorted by name.
pub fn model_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|f| f.to_string_lossy().into_owned());
            p.extension().is_some_and(|x| x == "toml")
                && name.is_some_and(|n| {
                    !n.starts_with("cluster") && n != "mutants.toml" && n != "variants.toml"
                })
        })
        .collect();
    v.sort();
    Ok(v)
}

#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// `model`, `mutant`, or a comparison run of a model: `plain` (no
    /// reduction) or `sleep` (reduced search on one thread).
    pub kind: &'static str,
    pub model: String,
    pub variant: Option<String>,
    pub participants: usize,
    pub network: String,
    pub strategy: String,
    pub reduction: &'static str,
    pub threads: usize,
    pub symmetry: bool,
    /// Reduced search: transitions skipped by sleep sets, states where the
    /// persistent set was smaller than the enabled set, table bytes per
    /// unique state.
    pub slept_transitions: Option<u64>,
    pub reduced_states: Option<u64>,
    pub bytes_per_state: Option<f64>,
    pub exhaustive: bool,
    pub bounded_by: Vec<String>,
    pub states: usize,
    pub unique_states: usize,
    pub depth: usize,
    pub seconds: f64,
    pub states_per_second: f64,
    /// Peak resident memory of the process during the run (VmHWM, reset
    /// before each run), in MiB.
    pub peak_mib: Option<f64>,
    pub expected: String,
    pub violated: Vec<String>,
    /// Per violated property, the counterexample length.
    pub counterexamples: Vec<(String, usize)>,
    pub missing_witnesses: Vec<String>,
    pub met: bool,
    /// A model run compared with plain: the exact oracle's unique states
    /// (`engine::oracle`), where the plain graph fits (at most 2M states).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle_unique_states: Option<usize>,
}

/// Options shared by every run of the suite.
#[derive(Clone, Debug)]
pub struct SuiteOpts {
    pub threads: usize,
    /// Cap on any run (models that say less keep theirs).
    pub timeout: Option<Duration>,
    pub progress: bool,
    /// Called before each run, to give memory kept by the allocator back
    /// to the system so that each run's peak is its own.
    pub release_memory: fn(),
}

fn reset_peak(o: &SuiteOpts) {
    (o.release_memory)();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The run a model file asks for, within the suite's options (its
/// threads; the shorter of the two time limits).
fn opts_for(spec: &ModelSpec, o: &SuiteOpts) -> RunOpts {
    let mut ro = RunOpts::from_spec(spec);
    ro.timeout = match (ro.timeout, o.timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    ro.threads = o.threads;
    ro.progress = o.progress;
    ro
}

/// Why the suite could not run to the end.
#[derive(Clone, Debug)]
pub enum SuiteError {
    /// A model file, the mutant list or the models directory is bad.
    Input(String),
    /// A model's run was refused.
    Refused { model: String, why: Refusal },
}

impl From<String> for SuiteError {
    fn from(e: String) -> SuiteError {
        SuiteError::Input(e)
    }
}

/// One run of the suite.
fn run(spec: &ModelSpec, ro: &RunOpts) -> Result<Report, SuiteError> {
    check::run(spec, ro).map_err(|why| SuiteError::Refused {
        model: spec.name.clone(),
        why,
    })
}

fn entry(
    kind: &'static str,
    spec: &ModelSpec,
    variant: Option<String>,
    r: &Report,
    expected: String,
    met: bool,
) -> Entry {
    Entry {
        kind,
        model: spec.name.clone(),
        variant,
        participants: spec.cluster.n,
        network: r.network.clone(),
        strategy: r.strategy.clone(),
        reduction: match r.reduction {
            check::Reduction::Por => "por",
            check::Reduction::None => "none",
            check::Reduction::Stubborn => "stubborn",
        },
        threads: r.threads,
        symmetry: r.symmetry,
        slept_transitions: r.slept_transitions,
        reduced_states: r.reduced_states,
        bytes_per_state: r.bytes_per_state,
        exhaustive: r.exhaustive,
        bounded_by: r.bounded_by.clone(),
        states: r.states,
        unique_states: r.unique_states,
        depth: r.max_depth,
        seconds: r.seconds,
        states_per_second: r.states_per_second,
        peak_mib: peak_mib(),
        expected,
        violated: r.violated.iter().map(|s| s.to_string()).collect(),
        counterexamples: r
            .properties
            .iter()
            .filter_map(|p| {
                p.counterexample
                    .as_ref()
                    .map(|c| (p.id.to_string(), c.steps.len()))
            })
            .collect(),
        missing_witnesses: r.missing_witnesses.iter().map(|s| s.to_string()).collect(),
        met,
        oracle_unique_states: None,
    }
}

/// The longest a plain comparison run may take.
const PLAIN_CAP: Duration = Duration::from_secs(120);

/// Runs every model and mutant; `log` gets one line per finished run.
pub fn run_all(
    dir: &Path,
    o: &SuiteOpts,
    log: &mut dyn FnMut(&Entry),
) -> Result<Vec<Entry>, SuiteError> {
    let mut out = Vec::new();
    for path in model_files(dir)? {
        let spec = ModelSpec::load(&path)?;
        run_model(&spec, o, &mut |e| {
            log(&e);
            out.push(e);
        })?;
    }
    for m in load_mutants(&dir.join("mutants.toml"))? {
        let e = run_mutant(dir, &m, o)?;
        log(&e);
        out.push(e);
    }
    if let Some(mx) = load_matrix(&dir.join("variants.toml"))? {
        for model in &mx.models {
            for variant in &mx.variants {
                let e = run_variant(dir, model, variant, mx.timeout_secs, o)?;
                log(&e);
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// A variant on a model of the matrix, stopping at the first violation:
/// its verdict for the report. Met when the run ends (refusals stop the
/// suite).
fn run_variant(
    dir: &Path,
    model: &str,
    variant: &str,
    timeout_secs: Option<u64>,
    o: &SuiteOpts,
) -> Result<Entry, SuiteError> {
    let path = dir.join(format!("{model}.toml"));
    let spec = ModelSpec::load(&path)?.with_variants(&[variant.to_string()])?;
    reset_peak(o);
    let mut ro = opts_for(&spec, o);
    if let Some(t) = timeout_secs.map(Duration::from_secs) {
        ro.timeout = Some(ro.timeout.map_or(t, |m| m.min(t)));
    }
    ro.stop_at = crate::model::properties::PROPS
        .iter()
        .map(|p| p.id)
        .collect();
    let r = run(&spec, &ro)?;
    Ok(entry(
        "variant",
        &spec,
        Some(variant.to_string()),
        &r,
        "report".to_string(),
        true,
    ))
}

/// A model against its expected verdict, and, when its reduced run is
/// exhaustive and quick, the comparison runs.
fn run_model(
    spec: &ModelSpec,
    o: &SuiteOpts,
    push: &mut dyn FnMut(Entry),
) -> Result<(), SuiteError> {
    reset_peak(o);
    let r = run(spec, &opts_for(spec, o))?;
    let (expected, met) = match spec.expect.verdict {
        Verdict::Hold => ("hold".to_string(), r.ok),
        Verdict::Violate => {
            let want = &spec.expect.properties;
            (
                format!("violate {}", want.join("/")),
                r.violated.iter().any(|v| want.iter().any(|w| w == v)),
            )
        }
    };
    let mut e = entry("model", spec, None, &r, expected.clone(), met);
    if !(e.exhaustive && e.seconds < 60.0) {
        push(e);
        return Ok(());
    }
    // The same model without reduction (stateright's checker), within the
    // model's time limit, for the factors; where it finishes and its graph
    // fits, the exact oracle too.
    reset_peak(o);
    let mut ro = check::plain_of(&opts_for(spec, o));
    // Plain runs of the 3-participant models do not end: 120 s at most.
    ro.timeout = Some(ro.timeout.map_or(PLAIN_CAP, |t| t.min(PLAIN_CAP)));
    let p = run(spec, &ro)?;
    // Met: the same verdicts; a plain run cut short by the cap meets its
    // expectation when it found what the reduced run found, no more.
    let ok = p.violated == r.violated && (!p.exhaustive || p.ok == r.ok);
    e.oracle_unique_states = check::oracle_unique(spec, &p);
    push(e);
    push(entry("plain", spec, None, &p, expected, ok));
    Ok(())
}

/// A mutant on its model, stopping at the first counterexample of a
/// property that must catch it.
fn run_mutant(dir: &Path, m: &MutantSpec, o: &SuiteOpts) -> Result<Entry, SuiteError> {
    let path = dir.join(format!("{}.toml", m.model));
    let spec = ModelSpec::load(&path)?.with_variants(std::slice::from_ref(&m.variant))?;
    reset_peak(o);
    let mut ro = opts_for(&spec, o);
    ro.stop_at = crate::model::properties::PROPS
        .iter()
        .filter(|p| m.catches.iter().any(|c| c == p.id))
        .map(|p| p.id)
        .collect();
    let r = run(&spec, &ro)?;
    let caught = r
        .properties
        .iter()
        .any(|p| m.catches.iter().any(|c| c == p.id) && p.counterexample.is_some());
    Ok(entry(
        "mutant",
        &spec,
        Some(m.variant.clone()),
        &r,
        format!("caught by {}", m.catches.join("/")),
        caught,
    ))
}
