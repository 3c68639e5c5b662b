//! Every mutant of models/mutants.toml is caught on its model by one of the
//! properties it names, with a counterexample that replays, under the
//! checker's default (semantic) reduction, which judges the step-local
//! properties on every transition it takes; and the same model without the
//! mutant (the control) explored to the end holds every property.

use dtm0::engine::check::{self, Report, RunOpts};
use dtm0::engine::suite::{load_mutants, MutantSpec};
use dtm0::model::file::{ModelSpec, Strategy};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

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
        reduction: check::Reduction::Stubborn,
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
    assert_eq!(r.reduction, check::Reduction::Stubborn, "{}", m.variant);
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

/// The model without any mutant, run to the end: every control model
/// (three-crash and both-crash too, whose files only set a guard) ends
/// under the semantic reduction; the limit is a safety net.
fn control(base: &ModelSpec) -> Report {
    let r = check::run(base, &opts(Vec::new(), Duration::from_secs(600))).unwrap();
    assert!(
        r.exhaustive,
        "{}: the control run was not exhaustive: {:?}",
        base.name, r.bounded_by
    );
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
            .or_insert_with(|| control(&base));
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
        // exhaustive (asserted in `control`): the model holds, every
        // property, not only the named ones
        assert!(
            c.violated.is_empty(),
            "{}: violates {:?}",
            m.model,
            c.violated
        );
    }
    assert!(missed.is_empty(), "mutants not caught: {missed:?}");
}
