//! The report of one run: the verdict of every property and its witness,
//! how the run was bounded, and each counterexample rendered in protocol
//! terms (shortened by a breadth-first search where it can be).

use crate::engine::check::{Reduction, RunOpts};
use crate::engine::search::shortest_paths;
use crate::model::file::{ModelSpec, Strategy};
use crate::model::properties::{not_applicable, NotApplicable, Prop, PROPS};
use crate::model::steps::{has_step_form, prerequisites};
use crate::model::{build, explorer_path, Action, Dtm0Model, SysState};
use serde::Serialize;

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
    pub why_not_applicable: Option<NotApplicable>,
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
    let properties = prop_reports(&model, spec, &raw.found, exhaustive, semantic);
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
fn prop_reports(
    model: &Dtm0Model,
    spec: &ModelSpec,
    found: &[(&'static str, Vec<Action>)],
    exhaustive: bool,
    semantic: bool,
) -> Vec<PropReport> {
    let shortened = shorten(model, found);
    let mut properties = Vec::new();
    for p in PROPS {
        let na = not_applicable(p, spec);
        let liveness_off = p.liveness && na == Some(NotApplicable::LossyNetwork);
        let cx = found.iter().find(|(n, _)| *n == p.name);
        // Under the semantic reduction a property read on intermediate
        // states is proved by its step-local form (checked on every
        // transition the search takes, `model::steps`), which implies the
        // global form only where its prerequisites hold too.
        let by_steps = has_step_form(p.id)
            && prerequisites(p.id).iter().all(|q| {
                !found
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
            counterexample,
        });
    }
    properties
}

/// Shortest counterexamples for the violated properties: one breadth-first
/// search for all of them, no deeper than the longest path found, within a
/// state limit (beyond it the paths found are shown, marked not shortest).
fn shorten(
    m: &Dtm0Model,
    found: &[(&'static str, Vec<Action>)],
) -> Vec<(&'static str, Option<Vec<Action>>)> {
    let violated: Vec<&Prop> = PROPS
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
    type Pred<'a> = Box<dyn Fn(&SysState) -> bool + 'a>;
    let preds: Vec<Pred> = violated
        .iter()
        .map(|p| {
            let check = p.check;
            Box::new(move |s: &SysState| !check(m, s)) as Box<dyn Fn(&SysState) -> bool>
        })
        .collect();
    let refs: Vec<&dyn Fn(&SysState) -> bool> = preds.iter().map(|b| b.as_ref()).collect();
    let (paths, _finished) = shortest_paths(m, &refs, depth, 2_500_000);
    violated.iter().map(|p| p.id).zip(paths).collect()
}

/// A path in protocol terms, with its explorer path and final state.
pub fn render_path(m: &Dtm0Model, actions: &[Action], shortest: bool) -> Counterexample {
    let states = crate::model::replay(m, actions).expect("a discovered path replays");
    let init = states[0].clone();
    let explorer_path = explorer_path(m, &init, actions);
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
