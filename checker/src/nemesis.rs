//! `dtm0 nemesis`: the command line of `dtm0::live::nemesis_run`.

use dtm0::live::nemesis::{self, FaultKind};
use dtm0::live::nemesis_run::{self, NemesisOpts, NemesisReport};
use dtm0::protocol::cluster::Variants;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Args {
    pub cluster: Option<PathBuf>,
    pub duration: u64,
    pub seed: u64,
    pub faults: Option<String>,
    pub variants: Vec<String>,
    pub keys: u32,
    pub history: Option<PathBuf>,
    pub json: bool,
    pub schedule_only: bool,
}

pub(crate) fn run(a: Args) -> Result<ExitCode, String> {
    let faults = match &a.faults {
        Some(s) => nemesis::parse_faults(s)?,
        None => FaultKind::DEFAULT.to_vec(),
    };
    for v in &a.variants {
        Variants::default()
            .set(v)
            .map_err(|e| format!("--variant: {e}"))?;
    }
    if a.duration == 0 || a.keys == 0 {
        return Err("--duration and --keys must be at least 1".into());
    }
    crate::live_cmd::init_logs("warn");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let _ = ctrlc::set_handler(move || s.store(true, Ordering::SeqCst));
    let opts = NemesisOpts {
        exe: std::env::current_exe().map_err(|e| e.to_string())?,
        cluster: a.cluster,
        duration: Duration::from_secs(a.duration),
        seed: a.seed,
        faults,
        variants: a.variants,
        keys: a.keys,
        history: a
            .history
            .unwrap_or_else(|| PathBuf::from(format!("nemesis-seed{}.history.json", a.seed))),
        progress: true,
        stop: stop.clone(),
        judge: nemesis::Judge {
            acked: crate::nemesis_judge::check_acked,
            model: crate::nemesis_judge::judge_model,
        },
    };
    if a.schedule_only {
        let plan = nemesis_run::plan(&opts)?;
        if a.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?
            );
        } else {
            for p in &plan {
                println!(
                    "{:>8.3}s  {:<10} {:<4} for {} ms",
                    p.at_ms as f64 / 1000.0,
                    p.kind.name(),
                    p.target,
                    p.hold_ms
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let r = match nemesis_run::run(&opts) {
        Err(_) if stop.load(Ordering::SeqCst) => {
            eprintln!("nemesis: interrupted; the cluster is stopped");
            return Ok(ExitCode::from(130));
        }
        r => r?,
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", render(&r));
    }
    Ok(if r.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn render(r: &NemesisReport) -> String {
    let mut out = format!(
        "nemesis seed {}: {:.0} s of faults ({}), {:.1} s in all; {} participants, clients {}, keys k1-k{}, variants {}\n",
        r.seed,
        r.duration_s,
        r.faults_enabled.join(","),
        r.seconds,
        r.participants,
        r.clients.join(","),
        r.keys,
        r.variants.join(",")
    );
    out += "faults:\n";
    for f in &r.fault_log {
        out += &format!(
            "  {:>7.3}s {:<10} {:<4} {}{}\n",
            f.began_s,
            f.planned.kind.name(),
            f.planned.target,
            f.what,
            f.recovery_s
                .map_or(String::new(), |s| format!("; ONLINE after {s:.2} s"))
        );
    }
    for n in &r.notes {
        out += &format!("  note: {n}\n");
    }
    let ops: Vec<String> = r
        .ops
        .iter()
        .map(|(k, by)| {
            let parts: Vec<String> = by.iter().map(|(o, n)| format!("{n} {o}")).collect();
            format!("{k}: {}", parts.join(", "))
        })
        .collect();
    out += &format!("ops: {}\n", ops.join("; "));
    let faults: Vec<String> = r.faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
    out += &format!(
        "faults by kind: {}; {} skipped (time up); {} kill/restart cycles; recovery to ONLINE: {} samples, mean {:.2} s, max {:.2} s\n",
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        },
        r.faults_skipped,
        r.kill_restart_cycles,
        r.recovery_s.samples,
        r.recovery_s.mean,
        r.recovery_s.max
    );
    out += "verdicts:\n";
    let w = r.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &r.checks {
        out += &format!(
            "  {:<3} {:<w$}  {}\n",
            c.id,
            c.name,
            if c.holds { "holds" } else { "VIOLATED" }
        );
        if let Some(e) = &c.explanation {
            out += &format!("        {e}\n");
        }
    }
    if r.passed {
        out += "PASSED\n";
    } else {
        out += &format!(
            "FAILED: history in {}, data kept in {}\n",
            r.history_file.as_deref().unwrap_or("?"),
            r.data_dir.as_deref().unwrap_or("?")
        );
    }
    out
}
