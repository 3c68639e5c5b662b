//! One run of the checker on a model: strategy, bounds, progress, the
//! verdict of every property, and shortest counterexamples.

use crate::engine::search::shortest_paths;
use crate::model::file::{ModelSpec, Strategy};
use crate::model::properties::{not_applicable, PROPS};
use crate::model::{build, build_with, Action, Dtm0Model};
use serde::Serialize;
use stateright::{Checker, Model, Path};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct RunOpts {
    pub strategy: Strategy,
    pub threads: usize,
    pub max_depth: Option<usize>,
    pub timeout: Option<Duration>,
    pub symmetry: bool,
    /// Print progress lines on standard error.
    pub progress: bool,
    /// Seed for simulation runs and the random DFS order.
    pub seed: u64,
    /// Shuffle the order in which actions are explored.
    pub random_order: bool,
    /// End the run as soon as one of these properties (ids, `S2`) has a
    /// counterexample; empty: run to the end (for mutants: one
    /// counterexample of a named property is the point).
    pub stop_at: Vec<&'static str>,
    /// Partial-order reduction (our own DFS, `por`), where it applies.
    pub reduction: Reduction,
}

/// A reduced run against the plain one (`dtm0 check --compare`).
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub plain_states: usize,
    pub plain_unique_states: usize,
    pub plain_seconds: f64,
    pub plain_exhaustive: bool,
    /// Plain over reduced; only when both runs were exhaustive.
    pub transition_factor: Option<f64>,
    pub unique_factor: Option<f64>,
    pub time_factor: Option<f64>,
    /// Both runs found the same properties violated.
    pub same_verdicts: bool,
}

/// Runs `spec` again without reduction and sets `r.comparison`.
pub fn compare(spec: &ModelSpec, opts: &RunOpts, r: &mut Report) -> Result<(), String> {
    let mut plain = opts.clone();
    plain.reduction = Reduction::None;
    plain.progress = false;
    let p = run(spec, &plain)?;
    let both = p.exhaustive && r.exhaustive;
    let f = |a: f64, b: f64| both.then(|| a / b.max(1e-9));
    r.comparison = Some(Comparison {
        plain_states: p.states,
        plain_unique_states: p.unique_states,
        plain_seconds: p.seconds,
        plain_exhaustive: p.exhaustive,
        transition_factor: f(p.states as f64, r.states as f64),
        unique_factor: f(p.unique_states as f64, r.unique_states as f64),
        time_factor: f(p.seconds, r.seconds),
        same_verdicts: p.violated == r.violated,
    });
    Ok(())
}

/// The search used for DFS runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// Our reduced DFS (`src/por.rs`): persistent sets, and sleep sets
    /// when on one thread without symmetry.
    #[default]
    Por,
    /// stateright's own checker, no reduction.
    None,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No counterexample in the whole (exhaustive) state space.
    Holds,
    /// No counterexample in the part explored (bounded run).
    HoldsWithinBounds,
    Violated,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WitnessStatus {
    Found,
    NotFound,
    NotApplicable,
}

#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    pub steps: Vec<String>,
    pub final_state: String,
    /// The path for the explorer (`#/steps/<path>`).
    pub explorer_path: String,
    /// True when our own breadth-first search proved no shorter path exists.
    pub shortest: bool,
    #[serde(skip)]
    pub actions: Vec<Action>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PropReport {
    pub id: &'static str,
    pub name: &'static str,
    pub status: Status,
    pub witness: &'static str,
    pub witness_status: WitnessStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not_applicable: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub variants: Vec<&'static str>,
    pub network: String,
    pub strategy: String,
    pub threads: usize,
    pub symmetry: bool,
    /// `por` when the reduced search ran, else `none`.
    pub reduction: Reduction,
    /// Why the reduction asked for did not (fully) apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduction_note: Option<String>,
    /// Reduced search only: states where the persistent set was smaller
    /// than the enabled set, and transitions skipped by sleep sets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduced_states: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slept_transitions: Option<u64>,
    /// Reduced search only: bytes of the visited-state table per unique
    /// state at the end of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_state: Option<f64>,
    /// With `--compare`: the same run without reduction, and the factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    pub exhaustive: bool,
    /// Why the run is bounded, when it is.
    pub bounded_by: Vec<String>,
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    pub states_per_second: f64,
    pub properties: Vec<PropReport>,
    pub violated: Vec<&'static str>,
    pub missing_witnesses: Vec<&'static str>,
    pub ok: bool,
}

#[derive(Default)]
struct Raw {
    states: usize,
    unique: usize,
    depth: usize,
    done_early: bool,
    found: Vec<(&'static str, Vec<Action>)>,
    reduced_states: Option<u64>,
    slept: Option<u64>,
    bytes_per_state: Option<f64>,
}

/// The reduced search (`src/por.rs`) on `model`.
fn collect_por(model: &Dtm0Model, opts: &RunOpts) -> (Raw, Option<String>) {
    let (mut e, note) = crate::engine::por::Engine::new(
        model,
        crate::engine::por::Reduce {
            persistent: true,
            sleep: true,
            symmetry: opts.symmetry,
        },
        opts.threads,
    );
    e.max_depth = opts.max_depth;
    e.stop_at = opts.stop_at.clone();
    e.progress = opts.progress;
    let o = e.run();
    let raw = Raw {
        states: o.states as usize,
        unique: o.unique as usize,
        depth: o.max_depth,
        done_early: false,
        found: o.found,
        reduced_states: Some(o.reduced_states),
        slept: Some(o.slept),
        bytes_per_state: Some(o.table_bytes as f64 / o.unique.max(1) as f64),
    };
    (raw, note.map(String::from))
}

fn collect<C: Checker<Dtm0Model>>(c: C, opts: &RunOpts, start: Instant, stop: &AtomicBool) -> Raw {
    if !opts.stop_at.is_empty() && !opts.progress {
        let always: Vec<&'static str> = PROPS
            .iter()
            .filter(|p| opts.stop_at.contains(&p.id))
            .map(|p| p.name)
            .collect();
        while !c.is_done() {
            std::thread::sleep(Duration::from_millis(50));
            if c.discoveries().keys().any(|k| always.contains(k)) {
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
    if opts.progress {
        let mut last = Instant::now();
        let mut last_states = 0;
        while !c.is_done() {
            std::thread::sleep(Duration::from_millis(100));
            if last.elapsed() >= Duration::from_secs(2) {
                let st = c.state_count();
                let rate = (st - last_states) as f64 / last.elapsed().as_secs_f64();
                eprintln!(
                    "progress: {:>6.1}s  states {}  unique {}  depth {}  {:.0} states/s",
                    start.elapsed().as_secs_f64(),
                    st,
                    c.unique_state_count(),
                    c.max_depth(),
                    rate
                );
                last = Instant::now();
                last_states = st;
            }
        }
    }
    let c = c.join();
    let m = c.model();
    let found = m
        .properties()
        .iter()
        .filter_map(|p| c.discovery(p.name).map(|d| (p.name, d.into_actions())))
        .collect();
    Raw {
        states: c.state_count(),
        unique: c.unique_state_count(),
        depth: c.max_depth(),
        found,
        ..Raw::default()
    }
}

/// Checks a model with the given options.
pub fn run(spec: &ModelSpec, opts: &RunOpts) -> Result<Report, String> {
    if opts.symmetry {
        let c = &spec.cluster;
        let b = &spec.budgets[..c.n];
        if b.iter().any(|&x| x != b[0]) {
            return Err("--symmetry: participants are not interchangeable in this model (their crash budgets differ)".into());
        }
        if opts.strategy == Strategy::Bfs {
            return Err(
                "--symmetry: stateright applies symmetry only with dfs and sim, not bfs".into(),
            );
        }
    }
    let model = build_with(spec, opts.random_order.then_some(opts.seed));
    let stop = model.cfg().stop.clone();
    let timed_out = Arc::new(AtomicBool::new(false));
    if let Some(t) = opts.timeout {
        let (stop, timed_out) = (stop.clone(), timed_out.clone());
        std::thread::spawn(move || {
            std::thread::sleep(t);
            timed_out.store(true, Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
        });
    }
    let start = Instant::now();
    let por = opts.reduction == Reduction::Por && opts.strategy == Strategy::Dfs;
    let mut reduction_note = None;
    if opts.reduction == Reduction::Por && !por {
        reduction_note = Some(format!(
            "partial-order reduction applies to dfs only; {} ran on stateright's checker",
            format!("{:?}", opts.strategy).to_lowercase()
        ));
    }
    let raw_result = if por {
        let (raw, note) = collect_por(&model, opts);
        reduction_note = note;
        raw
    } else {
        let mut b = model.checker().threads(opts.threads.max(1));
        if let Some(d) = opts.max_depth {
            b = b.target_max_depth(d);
        }
        if let (Some(t), Strategy::Sim) = (opts.timeout, opts.strategy) {
            // Random walks stop only through stateright's own timeout (our
            // stop flag would make every walk end at the initial state).
            b = b.timeout(t);
        }
        if opts.symmetry {
            b = b.symmetry_fn(crate::model::symmetry::representative);
        }
        match opts.strategy {
            Strategy::Bfs => collect(b.spawn_bfs(), opts, start, &stop),
            Strategy::Dfs => collect(b.spawn_dfs(), opts, start, &stop),
            Strategy::Sim => collect(
                b.spawn_simulation(opts.seed, stateright::UniformChooser),
                opts,
                start,
                &stop,
            ),
        }
    };
    let mut raw = raw_result;
    let secs = start.elapsed().as_secs_f64();
    // Stop the timer's effect (if it has not fired yet it never will matter).
    let was_timed_out = timed_out.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let model = build(spec);
    let mut bounded_by = Vec::new();
    if opts.strategy == Strategy::Sim {
        bounded_by.push("simulation (random walks) explores a sample".to_string());
    }
    if let (Some(t), true) = (opts.timeout, was_timed_out) {
        bounded_by.push(format!("time limit {}s reached", t.as_secs()));
    }
    if let Some(d) = opts.max_depth {
        if raw.depth >= d {
            bounded_by.push(format!("depth limit {d} reached"));
        }
    }
    let always_names: Vec<&str> = PROPS.iter().map(|p| p.name).collect();
    // A checker stops exploring once every property has a discovery, so a
    // run with a violation is not a proof of the others.
    raw.done_early = raw.found.iter().any(|(n, _)| always_names.contains(n));
    let exhaustive = bounded_by.is_empty() && !raw.done_early;
    let shortened = shorten(&model, &raw.found);

    let mut properties = Vec::new();
    for p in PROPS {
        let na = not_applicable(p, spec);
        let liveness_off = p.liveness && na == Some("liveness needs a reliable network");
        let found = raw.found.iter().find(|(n, _)| *n == p.name);
        // Liveness is not checked on lossy networks: never "holds" there.
        let status = if found.is_some() {
            Status::Violated
        } else if exhaustive && !liveness_off {
            Status::Holds
        } else {
            Status::HoldsWithinBounds
        };
        let counterexample = found.map(|(_, acts)| {
            let shortest = shortened
                .iter()
                .find(|(id, _)| *id == p.id)
                .and_then(|(_, a)| a.clone());
            match shortest {
                Some(a) => render_path(&model, &a, true),
                None => render_path(&model, acts, false),
            }
        });
        let witness_status = if na.is_some() {
            WitnessStatus::NotApplicable
        } else if raw.found.iter().any(|(n, _)| *n == p.witness_name) {
            WitnessStatus::Found
        } else {
            WitnessStatus::NotFound
        };
        properties.push(PropReport {
            id: p.id,
            name: p.name,
            status,
            witness: p.witness_name,
            witness_status,
            why_not_applicable: na,
            counterexample,
        });
    }
    let violated: Vec<&'static str> = properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .map(|p| p.id)
        .collect();
    // Witnesses are only meaningful when the run was not cut short by a
    // violation (the checker stops exploring then).
    let missing_witnesses: Vec<&'static str> = if violated.is_empty() {
        properties
            .iter()
            .filter(|p| p.witness_status == WitnessStatus::NotFound)
            .map(|p| p.id)
            .collect()
    } else {
        vec![]
    };
    let ok = violated.is_empty() && missing_witnesses.is_empty();
    Ok(Report {
        model: spec.name.clone(),
        variants: spec.cluster.variants.names(),
        network: format!("{:?}", spec.network).to_lowercase(),
        strategy: format!("{:?}", opts.strategy).to_lowercase(),
        threads: opts.threads.max(1),
        symmetry: opts.symmetry,
        reduction: if por { Reduction::Por } else { Reduction::None },
        reduction_note,
        reduced_states: raw.reduced_states,
        slept_transitions: raw.slept,
        bytes_per_state: raw.bytes_per_state,
        comparison: None,
        exhaustive,
        bounded_by: if raw.done_early && bounded_by.is_empty() {
            vec!["stopped at the first violations".into()]
        } else {
            bounded_by
        },
        states: raw.states,
        unique_states: raw.unique,
        max_depth: raw.depth,
        seconds: secs,
        states_per_second: raw.states as f64 / secs.max(1e-9),
        properties,
        violated,
        missing_witnesses,
        ok,
    })
}

/// Shortest counterexamples for the violated properties: one breadth-first
/// search for all of them, no deeper than the longest path found, within a
/// state limit (beyond it the paths found are shown, marked not shortest).
fn shorten(
    m: &Dtm0Model,
    found: &[(&'static str, Vec<Action>)],
) -> Vec<(&'static str, Option<Vec<Action>>)> {
    let violated: Vec<&crate::model::properties::Prop> = PROPS
        .iter()
        .filter(|p| found.iter().any(|(n, _)| *n == p.name))
        .collect();
    if violated.is_empty() {
        return vec![];
    }
    let depth = found
        .iter()
        .filter(|(n, _)| violated.iter().any(|p| p.name == *n))
        .map(|(_, a)| a.len())
        .max()
        .unwrap_or(0);
    type Pred<'a> = Box<dyn Fn(&crate::model::SysState) -> bool + 'a>;
    let preds: Vec<Pred> = violated
        .iter()
        .map(|p| {
            let check = p.check;
            Box::new(move |s: &crate::model::SysState| !check(m, s))
                as Box<dyn Fn(&crate::model::SysState) -> bool>
        })
        .collect();
    let refs: Vec<&dyn Fn(&crate::model::SysState) -> bool> =
        preds.iter().map(|b| b.as_ref()).collect();
    let (paths, _finished) = shortest_paths(m, &refs, depth, 2_500_000);
    violated.iter().map(|p| p.id).zip(paths).collect()
}

pub fn render_path(m: &Dtm0Model, actions: &[Action], shortest: bool) -> Counterexample {
    let states = crate::model::replay(m, actions).expect("a discovered path replays");
    let init = states[0].clone();
    let explorer_path = Path::from_actions(m, init, actions.iter())
        .map(|p| p.encode(m))
        .unwrap_or_default();
    let steps = actions
        .iter()
        .map(|a| crate::model::render::action(m.cfg(), a))
        .collect();
    Counterexample {
        steps,
        final_state: crate::model::render::state(m.cfg(), states.last().unwrap()),
        explorer_path,
        shortest,
        actions: actions.to_vec(),
    }
}

/// The report as text: a header, one line per property, counterexamples.
pub fn text(r: &Report) -> String {
    text_with(r, true)
}

/// The report as text without the counterexamples' steps (for `--format
/// table`, which prints them as tables).
pub fn text_summary(r: &Report) -> String {
    text_with(r, false)
}

fn text_with(r: &Report, with_cx: bool) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "model {} (network {}, variants: {})",
        r.model,
        r.network,
        r.variants.join(", ")
    );
    let kind = if r.exhaustive {
        "EXHAUSTIVE: the whole state space within the model's crash budgets was explored"
            .to_string()
    } else {
        format!("BOUNDED ({}): not a proof", r.bounded_by.join("; "))
    };
    let _ = writeln!(
        o,
        "{} with {} thread(s){}: {}",
        r.strategy,
        r.threads,
        if r.symmetry { ", symmetry" } else { "" },
        kind
    );
    let _ = writeln!(
        o,
        "states {}, unique {}, max depth {}, {:.2}s, {:.0} states/s",
        r.states, r.unique_states, r.max_depth, r.seconds, r.states_per_second
    );
    if let (Some(red), Some(slept)) = (r.reduced_states, r.slept_transitions) {
        let _ = writeln!(
            o,
            "reduction: por (our DFS, {} thread(s)): persistent sets smaller than the enabled set at {} states; sleep sets skipped {} transitions; {:.1} bytes per unique state",
            r.threads,
            red,
            slept,
            r.bytes_per_state.unwrap_or(0.0)
        );
    } else {
        let _ = writeln!(o, "reduction: none (stateright's checker)");
    }
    if let Some(note) = &r.reduction_note {
        let _ = writeln!(o, "  note: {note}");
    }
    if let Some(c) = &r.comparison {
        match (c.transition_factor, c.unique_factor, c.time_factor) {
            (Some(t), Some(u), Some(s)) => {
                let _ = writeln!(
                    o,
                    "reduction factor (against --reduction none, both exhaustive): transitions {t:.2}x, unique states {u:.2}x, time {s:.2}x (plain: {} states, {} unique, {:.2}s); same verdicts: {}",
                    c.plain_states,
                    c.plain_unique_states,
                    c.plain_seconds,
                    if c.same_verdicts { "yes" } else { "NO" }
                );
            }
            _ => {
                let _ = writeln!(
                    o,
                    "reduction factor: not measured (a run was bounded; plain: {} unique states in {:.2}s)",
                    c.plain_unique_states, c.plain_seconds
                );
            }
        }
    }
    for p in &r.properties {
        let status = match p.status {
            Status::Holds => "holds",
            Status::HoldsWithinBounds => "no violation found (bounded)",
            Status::Violated => "VIOLATED",
        };
        let witness = match p.witness_status {
            WitnessStatus::Found => "witness found".to_string(),
            WitnessStatus::NotFound if !r.violated.is_empty() => {
                "witness not searched to the end (run stopped at a violation)".to_string()
            }
            WitnessStatus::NotFound => {
                "WITNESS NOT FOUND: the property may hold vacuously".to_string()
            }
            WitnessStatus::NotApplicable => {
                format!("witness n/a ({})", p.why_not_applicable.unwrap_or(""))
            }
        };
        let _ = writeln!(o, "  {:<26} {:<30} {}", p.name, status, witness);
    }
    for p in r.properties.iter().filter(|_| with_cx) {
        if let Some(cx) = &p.counterexample {
            let _ = writeln!(
                o,
                "\n{} violated: counterexample of {} steps{}:",
                p.name,
                cx.steps.len(),
                if cx.shortest { " (shortest)" } else { "" }
            );
            for (i, s) in cx.steps.iter().enumerate() {
                let _ = writeln!(o, "  {:>3}. {}", i + 1, s);
            }
            let _ = writeln!(o, "  final state:");
            for l in cx.final_state.lines() {
                let _ = writeln!(o, "    {l}");
            }
            let _ = writeln!(
                o,
                "  explorer: dtm0 explore, then open #/steps/{}",
                cx.explorer_path
            );
        }
    }
    let _ = writeln!(
        o,
        "\nverdict: {}",
        if r.ok {
            "every property holds".to_string()
        } else if !r.violated.is_empty() {
            format!("violated: {}", r.violated.join(", "))
        } else {
            format!("witnesses not reached: {}", r.missing_witnesses.join(", "))
        }
    );
    o
}
