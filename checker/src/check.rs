//! `dtm0 check`: one model (or, with `--all`, the suite: `results.rs`).

use crate::args::{CheckArgs, FormatArg};
use dtm0::engine::check::{self, Refusal, Report, RunOpts};
use dtm0::model::file::{ModelSpec, Strategy};
use dtm0::model::{build, Action, Dtm0Model};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    for clash in spec.clock_collisions() {
        let order =
            if spec.cluster.variants.version_order == dtm0::protocol::types::VersionOrder::Motr {
                "under motr-version-order the record that arrives first stays"
            } else {
                "the version order breaks the tie by writer (slot, then incarnation)"
            };
        eprintln!("warning: clocks collide: {clash}; {order}");
    }
    let mut opts = run_opts(&a, &spec)?;
    opts.only = crate::properties::select(&a.property)?
        .into_iter()
        .filter(|_| !a.property.is_empty())
        .map(|p| p.id)
        .collect();
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("interrupted: printing the report so far (Ctrl-C again quits at once)");
    })
    .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    opts.interrupt = Some(interrupt.clone());
    let mut report = check::run(&spec, &opts).map_err(refusal)?;
    if a.compare && !report.interrupted {
        eprintln!("--compare: running again with --reduction none");
        check::compare(&spec, &opts, &mut report).map_err(refusal)?;
    }
    let m = build(&spec);
    let paths = counterexamples(&report);
    if let Some(file) = &a.save_trace {
        save_trace(file, &spec, &m, &paths)?;
    }
    let style = crate::report::Style {
        explore: explore_command(&a),
        verbose: a.verbose,
        full: a.full.then(|| full_states(&report, &m)),
    };
    print(format, &report, &m, &style)?;
    Ok(if report.interrupted || interrupt.load(Ordering::SeqCst) {
        ExitCode::from(130)
    } else if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The command that opens this run's model in the explorer: the model
/// file as given, the network if overridden, the variants given.
fn explore_command(a: &CheckArgs) -> String {
    let model = a
        .model
        .as_ref()
        .map_or("models/seed.toml".to_string(), |p| p.display().to_string());
    let mut cmd = format!("dtm0 explore {model}");
    if let Some(n) = a.network {
        let n: dtm0::model::file::NetworkKind = n.into();
        let _ = write!(cmd, " --network {}", format!("{n:?}").to_lowercase());
    }
    for v in &a.variants {
        let _ = write!(cmd, " --variant {v}");
    }
    cmd
}

/// Per distinct counterexample, the whole state after each step.
fn full_states(r: &Report, m: &Dtm0Model) -> Vec<Vec<Vec<String>>> {
    crate::report::paths(r)
        .iter()
        .map(|g| {
            dtm0::model::replay(m, &g.cx.actions)
                .unwrap_or_default()
                .iter()
                .skip(1)
                .map(|s| {
                    dtm0::model::render::state(m.cfg(), s)
                        .lines()
                        .map(String::from)
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// A refused run in the CLI's words.
pub(crate) fn refusal(r: Refusal) -> String {
    match r {
        Refusal::SymmetryBudgetsDiffer => "--symmetry: stateright's checker (--reduction none, --strategy sim) renames every participant alike, and their crash budgets differ in this model; use dfs with our reduction, which renames within equal budgets".into(),
        Refusal::SymmetryWithBfs => {
            "--symmetry: stateright applies symmetry only with dfs and sim, not bfs".into()
        }
        Refusal::SymmetryNoClass => {
            "--symmetry: no two participants are interchangeable in this model (no two share a crash budget)".into()
        }
        Refusal::SymmetryReadOne => {
            "--symmetry: under read-one-replica a GET asks the first available participant by index, so participants are not interchangeable".into()
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
    opts.reduction = a.reduction.map_or(check::Reduction::Stubborn, Into::into);
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
    style: &crate::report::Style,
) -> Result<(), String> {
    match format {
        FormatArg::Json => {
            let mut v = serde_json::to_value(report).map_err(|e| e.to_string())?;
            v["explorer"] = serde_json::json!({ "command": style.explore });
            println!(
                "{}",
                serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
            );
        }
        FormatArg::Text => print!("{}", crate::report::text(report, style)),
        FormatArg::Table => {
            print!("{}", crate::report::text_summary(report, style));
            for (k, g) in crate::report::paths(report).iter().enumerate() {
                let actions = &g.cx.actions;
                let states =
                    dtm0::model::replay(m, actions).ok_or("a counterexample does not replay")?;
                let lines = crate::report::explanation_lines(report, g);
                let ids: Vec<&str> = lines
                    .iter()
                    .map(|l| l.split(':').next().unwrap_or(""))
                    .collect();
                println!(
                    "\ncounterexample {} ({} steps{}) violates {}:",
                    k + 1,
                    actions.len(),
                    if g.cx.shortest { ", shortest" } else { "" },
                    ids.join(", ")
                );
                for l in &lines {
                    println!("  {l}");
                }
                print!(
                    "{}",
                    dtm0::model::table::text(&dtm0::model::table::blocks_of_path(
                        m.cfg(),
                        &states,
                        actions
                    ))
                );
                print!(
                    "{}",
                    crate::report::explorer_lines(&style.explore, &g.cx.explorer_path)
                );
            }
        }
    }
    Ok(())
}
