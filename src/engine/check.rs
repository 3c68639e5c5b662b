//! One run of the checker on a model: the strategy, the engine (our
//! reduced search or stateright's checker), the time limit, and what
//! bounded the run. The verdicts are judged in `report`.

use crate::engine::progress::Progress;
use crate::engine::report::{self, Comparison, Raw, RunFacts};
use crate::model::file::{ModelSpec, Order, Strategy};
use crate::model::properties::PROPS;
use crate::model::{build, build_with, Dtm0Model};
use serde::Serialize;
use stateright::{Checker, Model};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::engine::report::{
    render_path, Counterexample, PropReport, Report, Status, WitnessStatus,
};

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
    /// Check and report only these properties (ids); every one when empty.
    pub only: Vec<&'static str>,
    /// Set (by a Ctrl-C handler) to stop the run and the search for
    /// shortest paths; the report is then partial and says so.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl RunOpts {
    /// The options a model file asks for (its `[check]` table), with the
    /// defaults for what it leaves out: the run `dtm0 check FILE` makes
    /// without flags (but silent), and the one the suite makes.
    pub fn from_spec(spec: &ModelSpec) -> RunOpts {
        let c = &spec.check;
        RunOpts {
            strategy: c.strategy.unwrap_or_default(),
            threads: c.threads.unwrap_or(2),
            max_depth: c.max_depth,
            timeout: c.timeout_secs.map(Duration::from_secs),
            symmetry: c.symmetry.unwrap_or(false),
            progress: false,
            seed: 1,
            random_order: c.order == Some(Order::Random),
            stop_at: Vec::new(),
            reduction: Reduction::Stubborn,
            only: Vec::new(),
            interrupt: None,
        }
    }
}

/// Why a run is refused before it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Symmetry asked for on stateright's checker, but the participants'
    /// crash budgets differ.
    SymmetryBudgetsDiffer,
    /// Symmetry asked for with breadth-first search (stateright applies it
    /// only with dfs and sim).
    SymmetryWithBfs,
    /// Symmetry asked for, but no two participants share a crash budget.
    SymmetryNoClass,
    /// Symmetry asked for under `read-one-replica`, which asks the first
    /// available participant by index: participants are not
    /// interchangeable.
    SymmetryReadOne,
}

/// The options of the plain run a reduced one is compared with:
/// stateright's checker, without symmetry either (the factor then counts
/// everything our search merges).
pub fn plain_of(opts: &RunOpts) -> RunOpts {
    let mut plain = opts.clone();
    plain.reduction = Reduction::None;
    plain.symmetry = false;
    plain
}

/// Runs `spec` again without reduction and sets `r.comparison`.
pub fn compare(spec: &ModelSpec, opts: &RunOpts, r: &mut Report) -> Result<(), Refusal> {
    let mut plain = plain_of(opts);
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
        oracle_unique_states: oracle_unique(spec, &p),
    });
    Ok(())
}

/// The search used for DFS runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// Our reduced DFS (`engine::por`): persistent sets, and sleep sets
    /// when on one thread without symmetry.
    Por,
    /// stateright's own checker, no reduction.
    None,
    /// Our reduced DFS with semantic stubborn sets (`engine::stubborn`),
    /// the default. Terminal and settled states are preserved; properties
    /// read on intermediate states are judged by their step-local forms on
    /// every transition taken (`model::steps`).
    Stubborn,
}

/// Checks a model with the given options.
pub fn run(spec: &ModelSpec, opts: &RunOpts) -> Result<Report, Refusal> {
    refuse(spec, opts)?;
    let mut model = build_with(spec, opts.random_order.then_some(opts.seed));
    if !opts.only.is_empty() {
        // `--property`: the others are neither checked nor searched for.
        model.registered.retain(|r| opts.only.contains(&r.spec.id));
    }
    let stop = model.cfg().stop.clone();
    let timed_out = start_timer(opts.timeout, &stop);
    let interrupted = watch_interrupt(opts.interrupt.clone(), &stop);
    let start = Instant::now();
    let por = opts.reduction != Reduction::None && opts.strategy == Strategy::Dfs;
    let mut reduction_note = None;
    if opts.reduction != Reduction::None && !por {
        reduction_note = Some(format!(
            "partial-order reduction applies to dfs only; {} ran on stateright's checker",
            report::strategy_name(opts.strategy)
        ));
    }
    let raw = if por {
        let (raw, note) = collect_por(&model, opts);
        reduction_note = note;
        raw
    } else {
        collect_stateright(model, opts, start, &stop)
    };
    let seconds = start.elapsed().as_secs_f64();
    // Stop the timer's effect (if it has not fired yet it never will matter).
    let was_timed_out = timed_out.load(Ordering::Relaxed);
    let was_interrupted = interrupted.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let mut bounded_by = bounds(opts, was_timed_out, raw.depth);
    if was_interrupted {
        bounded_by.insert(0, "interrupted".to_string());
    }
    let facts = RunFacts {
        por,
        reduction_note,
        bounded_by,
        seconds,
        interrupted: was_interrupted,
    };
    Ok(report::judge(spec, opts, raw, facts))
}

/// The oracle's unique count, where the plain run was exhaustive and its
/// graph fits in memory (at most `ORACLE_CAP` states).
pub fn oracle_unique(spec: &ModelSpec, plain: &Report) -> Option<usize> {
    const ORACLE_CAP: usize = 2_000_000;
    if !plain.exhaustive || plain.unique_states > ORACLE_CAP {
        return None;
    }
    let m = build(spec);
    crate::engine::oracle::plain_and_oracle_unique(&m, ORACLE_CAP)
        .ok()
        .map(|(_, o)| o)
}

/// Symmetry needs interchangeable participants, and a strategy that
/// applies it. Our search renames within each class of participants with
/// equal crash budgets; stateright's (`--reduction none`, sim) renames
/// every participant alike, so it needs all budgets equal.
fn refuse(spec: &ModelSpec, opts: &RunOpts) -> Result<(), Refusal> {
    if !opts.symmetry {
        return Ok(());
    }
    if opts.strategy == Strategy::Bfs {
        return Err(Refusal::SymmetryWithBfs);
    }
    let ours = opts.reduction != Reduction::None && opts.strategy == Strategy::Dfs;
    let n = spec.cluster.n;
    let keys = crate::model::symmetry::class_keys(&spec.cluster, &spec.budgets);
    if spec.cluster.variants.read_one && spec.cluster.has_reads() {
        return Err(Refusal::SymmetryReadOne);
    }
    if ours {
        if crate::model::symmetry::classes(&keys, n).is_empty() {
            return Err(Refusal::SymmetryNoClass);
        }
    } else if keys[..n].iter().any(|&x| x != keys[0]) {
        return Err(Refusal::SymmetryBudgetsDiffer);
    }
    Ok(())
}

/// Sets `stop` after `timeout`; the flag returned says the time ran out.
fn start_timer(timeout: Option<Duration>, stop: &Arc<AtomicBool>) -> Arc<AtomicBool> {
    let timed_out = Arc::new(AtomicBool::new(false));
    if let Some(t) = timeout {
        let (stop, timed_out) = (stop.clone(), timed_out.clone());
        std::thread::spawn(move || {
            std::thread::sleep(t);
            timed_out.store(true, Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
        });
    }
    timed_out
}

/// Sets `stop` when `interrupt` is set, until `stop` is set otherwise
/// (the run ended); the flag returned says the run was interrupted.
fn watch_interrupt(interrupt: Option<Arc<AtomicBool>>, stop: &Arc<AtomicBool>) -> Arc<AtomicBool> {
    let interrupted = Arc::new(AtomicBool::new(false));
    if let Some(flag) = interrupt {
        let (stop, interrupted) = (stop.clone(), interrupted.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if flag.load(Ordering::Relaxed) {
                    interrupted.store(true, Ordering::Relaxed);
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    }
    interrupted
}

/// What bounded a run, if anything: simulation, the time or depth limit.
fn bounds(opts: &RunOpts, timed_out: bool, depth: usize) -> Vec<String> {
    let mut bounded_by = Vec::new();
    if opts.strategy == Strategy::Sim {
        bounded_by.push("simulation (random walks) explores a sample".to_string());
    }
    if let (Some(t), true) = (opts.timeout, timed_out) {
        bounded_by.push(format!("time limit {}s reached", t.as_secs()));
    }
    if let Some(d) = opts.max_depth {
        if depth >= d {
            bounded_by.push(format!("depth limit {d} reached"));
        }
    }
    bounded_by
}

/// The reduced search (`engine::por`) on `model`.
fn collect_por(model: &Dtm0Model, opts: &RunOpts) -> (Raw, Option<String>) {
    let (mut e, note) = crate::engine::por::Engine::new(
        model,
        crate::engine::por::Reduce {
            persistent: true,
            sleep: true,
            symmetry: opts.symmetry,
            semantic: opts.reduction == Reduction::Stubborn,
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
        found: o.found,
        reduced_states: Some(o.reduced_states),
        slept: Some(o.slept),
        bytes_per_state: Some(o.table_bytes as f64 / o.unique.max(1) as f64),
    };
    (raw, note.map(String::from))
}

/// stateright's own checker on `model`, with the strategy asked for.
fn collect_stateright(model: Dtm0Model, opts: &RunOpts, start: Instant, stop: &AtomicBool) -> Raw {
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
        Strategy::Bfs => collect(b.spawn_bfs(), opts, start, stop),
        Strategy::Dfs => collect(b.spawn_dfs(), opts, start, stop),
        Strategy::Sim => collect(
            b.spawn_simulation(opts.seed, stateright::UniformChooser),
            opts,
            start,
            stop,
        ),
    }
}

/// Waits for stateright's checker `c`: sets `stop` when a property named
/// in `opts.stop_at` has a counterexample, prints progress when asked.
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
        let mut progress = Progress::since(start);
        while !c.is_done() {
            std::thread::sleep(Duration::from_millis(100));
            progress.tick(c.state_count(), c.unique_state_count(), c.max_depth(), "");
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
