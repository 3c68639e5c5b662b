//! `dtm0 bench live`: the live prototype's figures on loopback.

use crate::args::BenchCmd;
use std::process::ExitCode;

pub(crate) fn run(cmd: BenchCmd) -> Result<ExitCode, String> {
    let BenchCmd::Live {
        seconds,
        clients,
        batch,
        keys,
        samples,
        logs,
        commit_delay_ms,
        data,
        out,
        down_seconds,
        recovery_timeout,
    } = cmd;
    if !(recovery_timeout.is_finite() && recovery_timeout > 0.0) {
        return Err("--recovery-timeout must be a positive number of seconds".into());
    }
    if clients == 0 || batch == 0 || keys == 0 {
        return Err("--clients, --batch and --keys must be at least 1".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let opts = dtm0::live::bench::BenchOpts {
        seconds,
        clients,
        batch,
        keys,
        latency_samples: samples,
        log_lengths: logs,
        commit_delay_ms,
        data,
        down_seconds,
        recovery_timeout,
    };
    let r = dtm0::live::bench::run(&exe, &opts)?;
    let j = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
    println!("{j}");
    if let Some(f) = out {
        std::fs::write(&f, j + "\n").map_err(|e| format!("--out {}: {e}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
