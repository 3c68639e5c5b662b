//! Every mutant of models/mutants.toml is caught on its model by one of the
//! properties it names, with a counterexample that replays; and the same
//! model without the mutant (the control) does not violate those
//! properties: exhaustively where the model is explored to the end, within
//! a time limit (and further than the mutant needed) where it is not.

use dtm0::engine::check::{self, Report, RunOpts};
use dtm0::engine::golden::pinned;
use dtm0::engine::suite::{load_mutants, MutantSpec};
use dtm0::model::file::{ModelSpec, Strategy};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The time limit of a control run on a model that is not explored to the
/// end (three-crash, both-crash).
const BOUNDED_CONTROL: Duration = Duration::from_secs(15);

fn opts(stop_at: Vec<&'static str>, timeout: Duration) -> RunOpts {
    RunOpts {
        strategy: Strategy::Dfs,
        threads: 2,
        max_depth: None,
        timeout: Some(timeout),
        symmetry: false,
        progress: false,
        seed: 1,
        random_order: false,
        stop_at,
        reduction: check::Reduction::Por,
        only: Vec::new(),
        interrupt: None,
    }
}

/// The ids of the properties a mutant names, checked against the list.
fn targets(m: &MutantSpec) -> Vec<&'static str> {
    let t: Vec<&'static str> = dtm0::model::properties::PROPS
        .iter()
        .filter(|p| m.catches.iter().any(|c| c == p.id))
        .map(|p| p.id)
        .collect();
    assert_eq!(
        t.len(),
        m.catches.len(),
        "{}: unknown property in catches",
        m.variant
    );
    t
}

/// Runs the mutant until a named property has a counterexample; checks
/// that the counterexample replays to a violation. Returns the run, or
/// `Err` with what was violated instead.
fn catch(base: &ModelSpec, m: &MutantSpec) -> Result<Report, String> {
    let spec = base
        .clone()
        .with_variants(std::slice::from_ref(&m.variant))
        .unwrap();
    let r = check::run(&spec, &opts(targets(m), Duration::from_secs(150))).unwrap();
    let Some(p) = r.properties.iter().find(|p| {
        m.catches.iter().any(|c| c == p.id)
            && p.counterexample
                .as_ref()
                .is_some_and(|c| !c.steps.is_empty())
    }) else {
        return Err(format!(
            "{} on {} (violated: {:?})",
            m.variant, m.model, r.violated
        ));
    };
    // the counterexample replays on a fresh model and ends in a violation
    let model = dtm0::model::build(&spec);
    let cx = p.counterexample.as_ref().unwrap();
    let states = dtm0::model::replay(&model, &cx.actions).expect("replays");
    let prop = dtm0::model::properties::PROPS
        .iter()
        .find(|q| q.id == p.id)
        .unwrap();
    assert!(
        !(prop.check)(&model, states.last().unwrap()),
        "{}: ends violating {}",
        m.variant,
        prop.id
    );
    Ok(r)
}

/// The model without any mutant, run to the end if it is pinned (explored
/// to the end by its file). Otherwise the control is bounded: it runs for
/// `BOUNDED_CONTROL`, or for twice as long as the mutant took to be caught
/// if that is longer (so that a loaded machine slows both alike).
fn control(base: &ModelSpec, caught: &Report) -> Report {
    let limit = if pinned(base) {
        // a safety net only: the run must end by itself (asserted below)
        Duration::from_secs(600)
    } else {
        BOUNDED_CONTROL.max(Duration::from_secs_f64(2.0 * caught.seconds))
    };
    let r = check::run(base, &opts(Vec::new(), limit)).unwrap();
    if pinned(base) {
        assert!(
            r.exhaustive,
            "{}: the control run was not exhaustive: {:?}",
            base.name, r.bounded_by
        );
    }
    r
}

#[test]
fn every_mutant_is_caught_by_a_named_property_and_its_control_holds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mutants = load_mutants(&dir.join("mutants.toml")).unwrap();
    assert!(mutants.len() >= 9, "the issue lists nine mutants");
    let known: Vec<&str> = dtm0::protocol::cluster::MUTANTS
        .iter()
        .map(|m| m.0)
        .collect();
    for name in &known {
        assert!(
            mutants.iter().any(|m| m.variant == *name),
            "{name} has no entry in mutants.toml"
        );
    }
    let mut missed = Vec::new();
    // One control run per model, shared by the mutants that run on it.
    let mut controls: BTreeMap<String, Report> = BTreeMap::new();
    for m in &mutants {
        let base = ModelSpec::load(&dir.join(format!("{}.toml", m.model))).unwrap();
        assert!(
            !base
                .cluster
                .variants
                .names()
                .iter()
                .any(|v| *v == m.variant),
            "{}: the model file {} already has the mutant",
            m.variant,
            m.model
        );
        let caught = match catch(&base, m) {
            Ok(r) => r,
            Err(e) => {
                missed.push(e);
                continue;
            }
        };
        let c = controls
            .entry(m.model.clone())
            .or_insert_with(|| control(&base, &caught));
        eprintln!(
            "{} on {}: caught within {} unique states; control: {} unique states, {}",
            m.variant,
            m.model,
            caught.unique_states,
            c.unique_states,
            if c.exhaustive {
                "exhaustive"
            } else {
                "bounded"
            }
        );
        let named: Vec<&&str> = c
            .violated
            .iter()
            .filter(|v| m.catches.iter().any(|x| x == *v))
            .collect();
        assert!(
            named.is_empty(),
            "{}: {} without the mutant violates {named:?}",
            m.variant,
            m.model
        );
        if pinned(&base) {
            // exhaustive (asserted in `control`): the model holds, every
            // property, not only the named ones
            assert!(
                c.violated.is_empty(),
                "{}: violates {:?}",
                m.model,
                c.violated
            );
        } else {
            // Bounded control: no proof that the model holds, only that a
            // search larger than the one that caught the mutant found no
            // violation of the named properties.
            assert!(
                c.unique_states > caught.unique_states,
                "{}: the bounded control explored {} unique states, the mutant was caught within {}",
                m.variant,
                c.unique_states,
                caught.unique_states
            );
        }
    }
    assert!(missed.is_empty(), "mutants not caught: {missed:?}");
}

/// The mutants a step-local property names (S1, S4, S5, S7, S8, S9) are
/// caught by the semantic reduction too (`--reduction stubborn`), which
/// judges those properties on every transition it takes. Models explored
/// only within a time limit (three-crash, both-crash) are left out.
#[test]
fn step_local_mutants_are_caught_under_the_semantic_reduction() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mutants = load_mutants(&dir.join("mutants.toml")).unwrap();
    let mut caught = 0;
    for m in &mutants {
        let base = ModelSpec::load(&dir.join(format!("{}.toml", m.model))).unwrap();
        let local: Vec<&'static str> = targets(m)
            .into_iter()
            .filter(|id| dtm0::model::steps::has_step_form(id))
            .collect();
        if local.is_empty() || !pinned(&base) {
            continue;
        }
        let spec = base
            .with_variants(std::slice::from_ref(&m.variant))
            .unwrap();
        let mut o = opts(local.clone(), Duration::from_secs(150));
        o.threads = 1;
        o.reduction = check::Reduction::Stubborn;
        let r = check::run(&spec, &o).unwrap();
        assert_eq!(r.reduction, check::Reduction::Stubborn, "{}", m.variant);
        eprintln!(
            "{} on {} (stubborn): violated {:?} within {} unique states",
            m.variant, m.model, r.violated, r.unique_states
        );
        assert!(
            r.violated.iter().any(|v| local.contains(v)),
            "{} on {}: none of {local:?} caught under the semantic reduction",
            m.variant,
            m.model
        );
        caught += 1;
    }
    assert!(caught >= 6, "too few step-local mutants: {caught}");
}
