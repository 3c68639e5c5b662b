//! The report of one run: the verdict of every property and its witness,
//! how the run was bounded, and each counterexample rendered in protocol
//! terms (shortened by a breadth-first search where it can be).

use crate::engine::check::{Reduction, RunOpts};
use crate::engine::search::{shortest_paths_ctl, Ctl};
use crate::model::explorer::path as explorer_path;
use crate::model::file::{ModelSpec, NetworkKind, Strategy};
use crate::model::properties::{not_applicable, NotApplicable, Prop, PROPS};
use crate::model::steps::{has_step_form, prerequisites, step_violations};
use crate::model::table::FinalKv;
use crate::model::{build, Action, Dtm0Model, SysState};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

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

/// A property a path violates, and why (the failing clause and its data).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub id: &'static str,
    pub explanation: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// Every property the path violates (at its last state, or by a
    /// step-local form on one of its steps), with its explanation.
    pub violations: Vec<Violation>,
    pub steps: Vec<String>,
    /// Per step, what it changed: the lines of the state (as in
    /// `final_state`) that differ from the state before.
    pub changes: Vec<Vec<String>>,
    pub final_state: String,
    /// Each participant's catalogue and HA state at the end, structured
    /// as `dtm0 scenario --json` gives them.
    #[serde(rename = "final")]
    pub final_states: BTreeMap<String, FinalKv>,
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
    pub why_not_applicable: Option<NotApplicable>,
    /// Why its counterexample violates it: the failing clause and data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
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
    /// The run (or the search for shortest paths) was stopped by the user.
    pub interrupted: bool,
    /// The properties checked (`--property`); every one when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<&'static str>,
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
    /// The exact oracle's unique states (`engine::oracle`: persistent sets
    /// checked on the full state graph, visibility ignored), when the plain
    /// space is small enough to build as a graph.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle_unique_states: Option<usize>,
}

/// What a search found, before it is judged.
#[derive(Default)]
pub(crate) struct Raw {
    pub states: usize,
    pub unique: usize,
    pub depth: usize,
    /// Discoveries by registered property name, with their paths.
    pub found: Vec<(&'static str, Vec<Action>)>,
    pub reduced_states: Option<u64>,
    pub slept: Option<u64>,
    pub bytes_per_state: Option<f64>,
}

/// How a run went, beside what it found.
pub(crate) struct RunFacts {
    /// The reduced search ran.
    pub por: bool,
    pub reduction_note: Option<String>,
    /// What bounded the run (time, depth, simulation), if anything.
    pub bounded_by: Vec<String>,
    pub seconds: f64,
    /// The user stopped the run.
    pub interrupted: bool,
}

/// Judges what a run of `spec` found: the report.
pub(crate) fn judge(spec: &ModelSpec, opts: &RunOpts, raw: Raw, run: RunFacts) -> Report {
    let model = build(spec);
    // A checker stops exploring once every property has a discovery, so a
    // run with a violation is not a proof of the others.
    let done_early = raw
        .found
        .iter()
        .any(|(n, _)| PROPS.iter().any(|p| p.name == *n));
    let exhaustive = run.bounded_by.is_empty() && !done_early;
    let semantic = run.por && opts.reduction == Reduction::Stubborn;
    let (properties, cut) = prop_reports(&model, spec, opts, &raw.found, exhaustive, semantic);
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
    let secs = run.seconds;
    Report {
        model: spec.name.clone(),
        variants: spec.cluster.variants.names(),
        network: format!("{:?}", spec.network).to_lowercase(),
        strategy: strategy_name(opts.strategy),
        threads: opts.threads.max(1),
        symmetry: opts.symmetry,
        reduction: if run.por {
            opts.reduction
        } else {
            Reduction::None
        },
        reduction_note: run.reduction_note,
        reduced_states: raw.reduced_states,
        slept_transitions: raw.slept,
        bytes_per_state: raw.bytes_per_state,
        comparison: None,
        exhaustive,
        interrupted: run.interrupted || cut,
        only: opts.only.clone(),
        bounded_by: if done_early && run.bounded_by.is_empty() {
            vec!["stopped at the first violations".into()]
        } else {
            run.bounded_by
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
    }
}

/// A strategy as reports name it (`dfs`).
pub(crate) fn strategy_name(s: Strategy) -> String {
    format!("{s:?}").to_lowercase()
}

/// The verdict of every property, with counterexamples (shortest where
/// the breadth-first search could prove it).
/// The second value says the search for shortest paths was interrupted.
fn prop_reports(
    model: &Dtm0Model,
    spec: &ModelSpec,
    opts: &RunOpts,
    found: &[(&'static str, Vec<Action>)],
    exhaustive: bool,
    semantic: bool,
) -> (Vec<PropReport>, bool) {
    let (shortened, cut) = shorten(model, found, opts);
    let checked = |id: &str| opts.only.is_empty() || opts.only.contains(&id);
    let mut properties = Vec::new();
    for p in PROPS.iter().filter(|p| checked(p.id)) {
        let na = not_applicable(p, spec);
        let liveness_off = p.liveness && na == Some(NotApplicable::LossyNetwork);
        let cx = found.iter().find(|(n, _)| *n == p.name);
        // Under the semantic reduction a property read on intermediate
        // states is proved by its step-local form (checked on every
        // transition the search takes, `model::steps`), which implies the
        // global form only where its prerequisites hold too.
        let by_steps = has_step_form(p.id)
            && prerequisites(p.id).iter().all(|q| {
                checked(q)
                    && !found
                        .iter()
                        .any(|(n, _)| PROPS.iter().any(|x| x.id == *q && x.name == *n))
            });
        // Liveness is not checked on lossy networks: never "holds" there.
        let status = if cx.is_some() {
            Status::Violated
        } else if exhaustive && !liveness_off && (p.at_rest || !semantic || by_steps) {
            Status::Holds
        } else {
            Status::HoldsWithinBounds
        };
        let counterexample = cx.map(|(_, acts)| {
            let shortest = shortened
                .iter()
                .find(|(id, _)| *id == p.id)
                .and_then(|(_, a)| a.clone());
            match shortest {
                Some(a) => render_path(model, &a, true),
                None => render_path(model, acts, false),
            }
        });
        let explanation = counterexample.as_ref().map(|c| {
            c.violations.iter().find(|v| v.id == p.id).map_or_else(
                || "no explanation found on this path".to_string(),
                |v| v.explanation.clone(),
            )
        });
        let witness_status = if na.is_some() {
            WitnessStatus::NotApplicable
        } else if found.iter().any(|(n, _)| *n == p.witness_name) {
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
            explanation,
            counterexample,
        });
    }
    (properties, cut)
}

/// Shortest counterexamples for the violated properties: one breadth-first
/// search for all of them, no deeper than the longest path found, within a
/// state limit (beyond it the paths found are shown, marked not shortest).
/// Per violated property, its shortest path if the search found one.
type Shortened = Vec<(&'static str, Option<Vec<Action>>)>;

/// The second value says the user interrupted it.
fn shorten(
    m: &Dtm0Model,
    found: &[(&'static str, Vec<Action>)],
    opts: &RunOpts,
) -> (Shortened, bool) {
    let violated: Vec<&Prop> = PROPS
        .iter()
        .filter(|p| found.iter().any(|(n, _)| *n == p.name))
        .collect();
    let stopped = || {
        opts.interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    };
    if violated.is_empty() || stopped() {
        return (vec![], stopped());
    }
    let depth = found
        .iter()
        .filter(|(n, _)| violated.iter().any(|p| p.name == *n))
        .map(|(_, a)| a.len())
        .max()
        .unwrap_or(0);
    type Pred<'a> = Box<dyn Fn(&SysState) -> bool + 'a>;
    let preds: Vec<Pred> = violated
        .iter()
        .map(|p| {
            let check = p.check;
            Box::new(move |s: &SysState| !check(m, s)) as Box<dyn Fn(&SysState) -> bool>
        })
        .collect();
    let refs: Vec<&dyn Fn(&SysState) -> bool> = preds.iter().map(|b| b.as_ref()).collect();
    if opts.progress {
        eprintln!(
            "searching breadth-first for shortest counterexamples of {} (depth at most {depth}); Ctrl-C shows the paths found",
            violated.iter().map(|p| p.id).collect::<Vec<_>>().join(", ")
        );
    }
    let ctl = Ctl {
        progress: opts.progress,
        stop: opts.interrupt.as_deref(),
    };
    let (paths, _finished) = shortest_paths_ctl(m, &refs, depth, 2_500_000, &ctl);
    // A path found before an interruption is still shortest (found at the
    // first level where its property fails); the others keep the run's.
    let cut = stopped();
    (violated.iter().map(|p| p.id).zip(paths).collect(), cut)
}

/// A path in protocol terms (one renderer for steps and states,
/// `model::render`), with what each step changed, the properties it
/// violates and why, its explorer path and final state.
pub fn render_path(m: &Dtm0Model, actions: &[Action], shortest: bool) -> Counterexample {
    let cfg = m.cfg();
    let states = crate::model::replay(m, actions).expect("a discovered path replays");
    let init = states[0].clone();
    let explorer_path = explorer_path(m, &init, actions);
    let steps = actions
        .iter()
        .zip(&states)
        .map(|(a, s)| crate::model::render::step(cfg, s, a))
        .collect();
    let rendered: Vec<String> = states
        .iter()
        .map(|s| crate::model::render::state(cfg, s))
        .collect();
    let changes = rendered
        .windows(2)
        .map(|w| {
            let before: Vec<&str> = w[0].lines().collect();
            w[1].lines()
                .filter(|l| !before.contains(l))
                .map(String::from)
                .collect()
        })
        .collect();
    let last = states.last().unwrap();
    Counterexample {
        violations: violations(m, &states, actions),
        steps,
        changes,
        final_state: rendered.last().cloned().unwrap_or_default(),
        final_states: crate::model::table::final_kvs(cfg, last),
        explorer_path,
        shortest,
        actions: actions.to_vec(),
    }
}

/// Every property the path violates, with why: the global form at its
/// last state, else the first step that breaks its step-local form.
/// Liveness is left out on a lossy network (not checked there).
pub fn violations(m: &Dtm0Model, states: &[SysState], actions: &[Action]) -> Vec<Violation> {
    let last = states.last().expect("a path has a state");
    let lossy = m.cfg().network == NetworkKind::Lossy;
    PROPS
        .iter()
        .filter(|p| !(p.liveness && lossy))
        .filter_map(|p| {
            let explanation = (p.why)(m, last).or_else(|| {
                if !has_step_form(p.id) {
                    return None;
                }
                let k = (0..actions.len()).find(|&k| {
                    step_violations(m, &states[k], &actions[k], &states[k + 1]).contains(&p.id)
                })?;
                let global = (p.why)(m, &states[k + 1])
                    .map_or(String::new(), |w| format!("; there {w}"));
                Some(format!(
                    "\"step-local form\" fails at step {} ({}): the step breaks the rule its form checks (README, \"Properties local to steps\"){global}",
                    k + 1,
                    crate::model::render::step(m.cfg(), &states[k], &actions[k])
                ))
            })?;
            Some(Violation {
                id: p.id,
                explanation,
            })
        })
        .collect()
}
