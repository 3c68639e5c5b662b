//! `dtm0 scenario seed`: the seed's story replayed through the model's
//! actors, or (`--live`) on a real local cluster.

use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) fn run(
    model: Option<PathBuf>,
    variants: &[String],
    finish: bool,
    json: bool,
    live: bool,
    verbose: bool,
) -> Result<ExitCode, String> {
    if live {
        live_seed(model, variants, json, verbose)
    } else {
        model_seed(model, variants, finish, json)
    }
}

/// The seed on the model's actors.
fn model_seed(
    model: Option<PathBuf>,
    variants: &[String],
    finish: bool,
    json: bool,
) -> Result<ExitCode, String> {
    use dtm0::model::scenario;
    let shown = model
        .as_ref()
        .map_or("models/seed.toml".to_string(), |p| p.display().to_string());
    let mut spec = crate::load(model, variants)?;
    spec.network = dtm0::model::file::NetworkKind::Unordered;
    let m = dtm0::model::build(&spec);
    let r = scenario::replay(&m, scenario::SEED, finish)?;
    let verdicts = scenario::verdicts(&m, &r.states);
    let ok = verdicts.iter().all(|v| v.holds);
    let explore = format!(
        "dtm0 explore {shown} --network unordered{}",
        variants
            .iter()
            .map(|v| format!(" --variant {v}"))
            .collect::<String>()
    );
    let path = dtm0::model::explorer::path(&m, &r.states[0], &r.actions);
    let fin = scenario::final_kvs(&m, &r);
    if json {
        let out = serde_json::json!({
            "scenario": "seed",
            "model": spec.name,
            "network": "unordered",
            "variants": spec.cluster.variants.names(),
            "finish": finish,
            "settled": r.settled,
            "quiescent": dtm0::model::properties::quiescent(&m, r.states.last().unwrap()),
            "divergence": scenario::divergence(&m, r.states.last().unwrap()),
            "steps": r.blocks,
            "final": fin,
            "properties": verdicts,
            "explorer": {"command": explore, "path": path},
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", dtm0::model::table::text(&r.blocks));
        println!(
            "\nfinal state ({} steps{}):",
            r.actions.len(),
            if r.settled { ", settled" } else { "" }
        );
        print_final(&fin);
        if let Some(d) = scenario::divergence(&m, r.states.last().unwrap()) {
            println!("{d}");
        }
        println!("properties:");
        for v in &verdicts {
            println!("  {}", v.text());
        }
        println!("explorer: {explore}, then open #/steps/{path}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The seed on a live cluster of local processes.
fn live_seed(
    model: Option<PathBuf>,
    variants: &[String],
    json: bool,
    verbose: bool,
) -> Result<ExitCode, String> {
    if verbose {
        crate::live_cmd::init_logs("info");
    }
    let spec = crate::load(model, variants)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let r = crate::live_seed::run(&exe, &spec, verbose)?;
    let ok = r.properties.iter().all(|v| v.holds);
    if json {
        let out = serde_json::json!({
            "scenario": "seed",
            "live": true,
            "variants": spec.cluster.variants.names(),
            "quiescent": r.quiescent,
            "seconds": r.seconds,
            "driver": r.steps,
            "final": r.final_kvs,
            "properties": r.properties,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        println!("live seed on a local cluster ({:.2}s):", r.seconds);
        for s in &r.steps {
            println!("  {s}");
        }
        println!(
            "final state ({}):",
            if r.quiescent {
                "quiescent"
            } else {
                "NOT quiescent"
            }
        );
        print_final(&r.final_kvs);
        println!("properties (the model's, on the live final state):");
        for v in &r.properties {
            println!("  {}", v.text());
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Each participant's final catalogue, one line each.
fn print_final(fin: &std::collections::BTreeMap<String, dtm0::model::table::FinalKv>) {
    for (p, f) in fin {
        let kv = |m: &std::collections::BTreeMap<String, dtm0::protocol::types::Ts>| {
            m.iter()
                .map(|(k, v)| format!("{k}@{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  {p} ({}): live {{{}}}, tombstones {{{}}}",
            f.ha,
            kv(&f.live),
            kv(&f.tombstones)
        );
    }
}
