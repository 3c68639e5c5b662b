//! `dtm0 trace FILE`: a counterexample saved by `dtm0 check --save-trace`,
//! replayed and shown as the seed's table.

use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(file: &Path, property: Option<&str>, json: bool) -> Result<ExitCode, String> {
    let t = dtm0::model::trace::TraceFile::read(file)?;
    let (spec, m) = dtm0::model::trace::model(&t)?;
    let paths: Vec<&dtm0::model::trace::TracePath> = t
        .paths
        .iter()
        .filter(|p| property.is_none_or(|want| p.property.eq_ignore_ascii_case(want)))
        .collect();
    if paths.is_empty() {
        let have: Vec<&str> = t.paths.iter().map(|p| p.property.as_str()).collect();
        return Err(format!(
            "--property {}: no such path in {} (it has: {})",
            property.unwrap_or(""),
            file.display(),
            have.join(", ")
        ));
    }
    let explore = format!(
        "dtm0 explore models/{}.toml --network {}{}",
        spec.name,
        serde_json::to_value(spec.network)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        t.variants
            .iter()
            .map(|v| format!(" --variant {v}"))
            .collect::<String>()
    );
    let mut out = Vec::new();
    for p in paths {
        let (actions, states) =
            dtm0::model::trace::replay(&m, p).map_err(|e| format!("{}: {e}", file.display()))?;
        let blocks = dtm0::model::table::blocks_of_path(m.cfg(), &states, &actions);
        let verdicts = dtm0::model::scenario::verdicts(&m, &states);
        let fin = dtm0::model::table::final_kvs(m.cfg(), states.last().unwrap());
        if json {
            out.push(serde_json::json!({
                "property": p.property,
                "steps": blocks,
                "final": fin,
                "properties": verdicts,
                "divergence": dtm0::model::scenario::divergence(&m, states.last().unwrap()),
                "explorer": {"command": explore, "path": p.explorer_path},
            }));
        } else {
            println!(
                "counterexample for {} on model {} ({} steps):",
                p.property,
                spec.name,
                actions.len()
            );
            print!("{}", dtm0::model::table::text(&blocks));
            if let Some(d) = dtm0::model::scenario::divergence(&m, states.last().unwrap()) {
                println!("{d}");
            }
            println!("properties on this path:");
            for v in &verdicts {
                println!("  {}", v.text());
            }
            println!(
                "explorer: {explore}, then open #/steps/{}\n",
                p.explorer_path
            );
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"model": spec.name, "paths": out}))
                .map_err(|e| e.to_string())?
        );
    }
    Ok(ExitCode::SUCCESS)
}
