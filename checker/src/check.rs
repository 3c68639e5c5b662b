//! `dtm0 check`: one model (or, with `--all`, the suite: `results.rs`).

use crate::args::{CheckArgs, FormatArg};
use dtm0::engine::check::{self, Refusal, Report, RunOpts};
use dtm0::model::file::{ModelSpec, Strategy};
use dtm0::model::{build, Action, Dtm0Model};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub(crate) fn run(a: CheckArgs) -> Result<ExitCode, String> {
    if a.all {
        return crate::results::check_all(a.threads, a.timeout, a.json, a.results);
    }
    let mut spec = crate::load(a.model.clone(), &a.variants)?;
    if let Some(n) = a.network {
        spec.network = n.into();
    }
    let format = format_of(a.json, a.format)?;
    let opts = run_opts(&a, &spec)?;
    let mut report = check::run(&spec, &opts).map_err(refusal)?;
    if a.compare {
        eprintln!("--compare: running again with --reduction none");
        check::compare(&spec, &opts, &mut report).map_err(refusal)?;
    }
    let m = build(&spec);
    let paths = counterexamples(&report);
    if let Some(file) = &a.save_trace {
        save_trace(file, &spec, &m, &paths)?;
    }
    print(format, &report, &m, &paths)?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A refused run in the CLI's words.
pub(crate) fn refusal(r: Refusal) -> String {
    match r {
        Refusal::SymmetryBudgetsDiffer => "--symmetry: participants are not interchangeable in this model (their crash budgets differ)".into(),
        Refusal::SymmetryWithBfs => {
            "--symmetry: stateright applies symmetry only with dfs and sim, not bfs".into()
        }
        Refusal::SymmetryWithStubborn => {
            "--symmetry: not combined with --reduction stubborn yet".into()
        }
    }
}

fn format_of(json: bool, format: Option<FormatArg>) -> Result<FormatArg, String> {
    match (json, format) {
        (true, Some(f)) if f != FormatArg::Json => {
            Err("--json and --format: give one of them".into())
        }
        (true, _) => Ok(FormatArg::Json),
        (false, f) => Ok(f.unwrap_or(FormatArg::Text)),
    }
}

/// The model file's run options, with the flags on top.
fn run_opts(a: &CheckArgs, spec: &ModelSpec) -> Result<RunOpts, String> {
    if a.threads == Some(0) {
        return Err("--threads: must be at least 1".into());
    }
    let mut opts = RunOpts::from_spec(spec);
    if let Some(s) = a.strategy {
        opts.strategy = s.into();
    }
    if let Some(t) = a.threads {
        opts.threads = t;
    }
    opts.max_depth = a.max_depth.or(opts.max_depth);
    if let Some(t) = a.timeout {
        opts.timeout = Some(Duration::from_secs(t));
    }
    opts.symmetry |= a.symmetry;
    opts.progress = true;
    opts.seed = a.seed;
    opts.random_order |= a.random_order;
    opts.reduction = a
        .reduction
        .map_or(check::Reduction::default_for(opts.symmetry), Into::into);
    if opts.strategy == Strategy::Sim && opts.timeout.is_none() && opts.max_depth.is_none() {
        return Err(
            "--strategy sim: give --timeout or --max-depth (random walks never end by themselves)"
                .into(),
        );
    }
    Ok(opts)
}

/// Each violated property's id and counterexample.
fn counterexamples(report: &Report) -> Vec<(&'static str, Vec<Action>)> {
    report
        .properties
        .iter()
        .filter_map(|p| p.counterexample.as_ref().map(|c| (p.id, c.actions.clone())))
        .collect()
}

fn save_trace(
    file: &Path,
    spec: &ModelSpec,
    m: &Dtm0Model,
    paths: &[(&'static str, Vec<Action>)],
) -> Result<(), String> {
    if paths.is_empty() {
        eprintln!(
            "--save-trace: no counterexample to save; {} not written",
            file.display()
        );
        return Ok(());
    }
    let refs: Vec<(&str, &[Action])> = paths.iter().map(|(id, a)| (*id, a.as_slice())).collect();
    let t = dtm0::model::trace::TraceFile::new(spec, m, &refs)?;
    let text = serde_json::to_string_pretty(&t).map_err(|e| e.to_string())?;
    std::fs::write(file, text + "\n")
        .map_err(|e| format!("--save-trace {}: cannot write: {e}", file.display()))?;
    eprintln!(
        "saved {} counterexample(s) to {}; show with: dtm0 trace {}",
        paths.len(),
        file.display(),
        file.display()
    );
    Ok(())
}

fn print(
    format: FormatArg,
    report: &Report,
    m: &Dtm0Model,
    paths: &[(&'static str, Vec<Action>)],
) -> Result<(), String> {
    match format {
        FormatArg::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).map_err(|e| e.to_string())?
        ),
        FormatArg::Text => print!("{}", crate::report::text(report)),
        FormatArg::Table => {
            print!("{}", crate::report::text_summary(report));
            for (id, actions) in paths {
                let states =
                    dtm0::model::replay(m, actions).ok_or("a counterexample does not replay")?;
                println!("\ncounterexample for {id} ({} steps):", actions.len());
                print!(
                    "{}",
                    dtm0::model::table::text(&dtm0::model::table::blocks_of_path(
                        m.cfg(),
                        &states,
                        actions
                    ))
                );
            }
        }
    }
    Ok(())
}
