//! `dtm0 golden`: measure the golden state counts and compare them with
//! tests/golden-counts.toml (or rewrite it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(crate) fn run(
    write: bool,
    semantic_only: bool,
    models: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let root = crate::default_model()
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let dir = models.unwrap_or_else(|| root.join("models"));
    let file = dir
        .parent()
        .unwrap_or(Path::new("."))
        .join("tests/golden-counts.toml");
    let old = dtm0::engine::golden::read(&file).unwrap_or_default();
    let mut new = dtm0::engine::golden::GoldenFile::default();
    let mut moved = false;
    for spec in dtm0::engine::golden::pinned_models(&dir)? {
        let was = old.model.iter().find(|o| o.model == spec.name);
        let c = match (semantic_only, was) {
            (true, Some(w)) => {
                let (su, st) = dtm0::engine::golden::measure_semantic(&spec)?;
                dtm0::engine::golden::Counts {
                    semantic_unique: su,
                    semantic_terminal: st,
                    ..w.clone()
                }
            }
            _ => dtm0::engine::golden::measure(&spec)?,
        };
        let same = was == Some(&c);
        moved |= !same;
        println!(
            "{:<16} plain {:>9} unique {:>6} terminal  reduced {:>9} unique {:>6} terminal  semantic {:>8} unique {:>6} terminal  {}",
            c.model,
            c.plain_unique,
            c.plain_terminal,
            c.reduced_unique,
            c.reduced_terminal,
            c.semantic_unique,
            c.semantic_terminal,
            match was {
                None => "new".to_string(),
                Some(_) if same => "as in the file".to_string(),
                Some(w) => format!(
                    "MOVED (file: plain {}/{}, reduced {}/{}, semantic {}/{})",
                    w.plain_unique,
                    w.plain_terminal,
                    w.reduced_unique,
                    w.reduced_terminal,
                    w.semantic_unique,
                    w.semantic_terminal
                ),
            }
        );
        new.model.push(c);
    }
    moved |= new.model.len() != old.model.len();
    if write {
        dtm0::engine::golden::write(&file, &new)?;
        println!("wrote {}", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    Ok(if moved {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
