//! Every mutant of models/mutants.toml is caught on its model by one of the
//! properties it names, with a counterexample that replays; and the same
//! model without the mutant does not violate those properties.

use dtm0::engine::check::{self, RunOpts};
use dtm0::engine::suite::load_mutants;
use dtm0::model::file::{ModelSpec, Strategy};
use std::path::Path;
use std::time::Duration;

fn opts(stop_at: Vec<&'static str>) -> RunOpts {
    RunOpts {
        strategy: Strategy::Dfs,
        threads: 2,
        max_depth: None,
        timeout: Some(Duration::from_secs(150)),
        symmetry: false,
        progress: false,
        seed: 1,
        random_order: false,
        stop_at,
        reduction: check::Reduction::Por,
    }
}

#[test]
fn every_mutant_is_caught_by_a_named_property() {
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
    for m in &mutants {
        let base = ModelSpec::load(&dir.join(format!("{}.toml", m.model))).unwrap();
        let spec = base
            .clone()
            .with_variants(std::slice::from_ref(&m.variant))
            .unwrap();
        let targets: Vec<&'static str> = dtm0::model::properties::PROPS
            .iter()
            .filter(|p| m.catches.iter().any(|c| c == p.id))
            .map(|p| p.id)
            .collect();
        assert_eq!(
            targets.len(),
            m.catches.len(),
            "{}: unknown property in catches",
            m.variant
        );
        let r = check::run(&spec, &opts(targets)).unwrap();
        let caught: Vec<&str> = r
            .properties
            .iter()
            .filter(|p| m.catches.iter().any(|c| c == p.id))
            .filter(|p| {
                p.counterexample
                    .as_ref()
                    .is_some_and(|c| !c.steps.is_empty())
            })
            .map(|p| p.id)
            .collect();
        if caught.is_empty() {
            missed.push(format!(
                "{} on {} (violated: {:?})",
                m.variant, m.model, r.violated
            ));
            continue;
        }
        // the counterexample replays on a fresh model and ends in a violation
        let model = dtm0::model::build(&spec);
        let p = r.properties.iter().find(|p| p.id == caught[0]).unwrap();
        let cx = p.counterexample.as_ref().unwrap();
        let states = dtm0::model::replay(&model, &cx.actions).expect("replays");
        let prop = dtm0::model::properties::PROPS
            .iter()
            .find(|q| q.id == caught[0])
            .unwrap();
        assert!(
            !(prop.check)(&model, states.last().unwrap()),
            "{}: ends violating {}",
            m.variant,
            prop.id
        );
    }
    assert!(missed.is_empty(), "mutants not caught: {missed:?}");
}
