//! Permanent failure (`[failures]`) and tombstone collection
//! (`tombstone-gc`): the verdicts of their models, and the states that show
//! the rules at work are reachable (no clause holds vacuously).

use dtm0::engine::check::{self, RunOpts, Status};
use dtm0::model::file::{ModelSpec, Strategy};
use dtm0::model::{build, failed, ha, live, store, Dtm0Model, SysState};
use dtm0::protocol::msg::{HaSt, Timer};
use dtm0::protocol::types::St;
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::HashSet;
use std::path::Path;

fn spec(name: &str) -> ModelSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
    ModelSpec::load(&path).unwrap()
}

fn opts(reduction: check::Reduction) -> RunOpts {
    RunOpts {
        strategy: Strategy::Dfs,
        threads: 2,
        max_depth: None,
        timeout: None,
        symmetry: false,
        progress: false,
        seed: 1,
        random_order: false,
        stop_at: Vec::new(),
        reduction,
        only: Vec::new(),
        interrupt: None,
    }
}

/// Some transition `before --action--> after` of the plain search
/// satisfies `f`.
fn some_step(
    m: &Dtm0Model,
    mut f: impl FnMut(&SysState, &dtm0::model::Action, &SysState) -> bool,
) -> bool {
    let mut seen = HashSet::new();
    let mut stack = m.init_states();
    while let Some(s) = stack.pop() {
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        for a in acts {
            let Some(next) = m.next_state(&s, a.clone()) else {
                continue;
            };
            if !m.within_boundary(&next) {
                continue;
            }
            if f(&s, &a, &next) {
                return true;
            }
            if seen.insert(dtm0::model::visited_fp(&next)) {
                stack.push(next);
            }
        }
    }
    false
}

#[test]
fn a_failure_separates_the_stable_rules() {
    // STABLE after K+1 P notices survives one failure for good ...
    let r = check::run(&spec("fail-k-plus-1"), &opts(check::Reduction::Stubborn)).unwrap();
    assert!(
        r.exhaustive && r.ok,
        "{:?} {:?}",
        r.violated,
        r.missing_witnesses
    );
    // ... STABLE at the first P does not: the only durable copy is lost.
    for name in ["fail-first-p", "fail-two"] {
        let r = check::run(&spec(name), &opts(check::Reduction::Stubborn)).unwrap();
        assert!(r.violated.contains(&"S5"), "{name}: {:?}", r.violated);
        let s5 = r.properties.iter().find(|p| p.id == "S5").unwrap();
        let cx = s5.counterexample.as_ref().unwrap();
        assert!(
            cx.steps.iter().any(|s| s.contains("fails for good")),
            "{name}: {:?}",
            cx.steps
        );
    }
    // The plain search agrees (on the small one).
    let plain = check::run(&spec("fail-two"), &opts(check::Reduction::None)).unwrap();
    let s5 = plain.properties.iter().find(|p| p.id == "S5").unwrap();
    assert_eq!(s5.status, Status::Violated);
}

#[test]
fn a_failed_participant_is_declared_and_pruned_past() {
    let m = build(&spec("fail-prune"));
    // HA declares it FAILED, and it takes no step again: its store is lost.
    assert!(some_step(&m, |_, _, s| {
        failed(s, 0) && ha(s, &m.cfg().cluster).table.get(0).1 == HaSt::Failed
    }));
    // A peer prunes a record that is not P for it, once its view shows it
    // FAILED (the HLD's "P or FAILED").
    assert!(some_step(&m, |b, a, s| {
        let ActorModelAction::Timeout(id, Timer::Commit) = a else {
            return false;
        };
        let q = usize::from(*id);
        let Some(pb) = live(b, q) else { return false };
        pb.view.get(0).1 == HaSt::Failed
            && pb.log.first().is_some_and(|r| {
                r.sv.get(0) != St::P && store(s, q).ghost.pruned.iter().any(|x| x.0 == r.id)
            })
    }));
}

#[test]
fn a_failed_participant_never_crashes_or_restarts() {
    // p2 may both crash and fail for good: it does either, never a crash
    // after its failure (the boundary refuses it), and it does fail.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fail-two.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace("[failures]", "[crashes]\np2 = 1\n\n[failures]");
    let m = build(&ModelSpec::parse(&text, "fail-two-crash").unwrap());
    assert!(m.cfg().budgets[1] == 1 && m.cfg().cluster.may_fail(1));
    assert!(some_step(&m, |_, _, s| failed(s, 1)));
    assert!(some_step(&m, |_, _, s| s.crashed[1]));
    assert!(!some_step(&m, |_, _, s| s.crashed[1] && failed(s, 1)));
    assert!(!some_step(&m, |b, _, s| failed(b, 1) && !failed(s, 1)));
}

#[test]
fn failures_are_read_from_the_model_file() {
    let f = spec("fail-k-plus-1");
    assert_eq!(f.cluster.may_fail, vec![true, false, false]);
    assert!(!f.cluster.table_argued(), "the table is off with failures");
    assert!(spec("tiny").cluster.table_argued());
}

#[test]
fn tombstone_collection_holds_where_nothing_older_can_come_and_breaks_on_eviction() {
    let r = check::run(&spec("gc"), &opts(check::Reduction::Stubborn)).unwrap();
    assert!(
        r.exhaustive && r.ok,
        "{:?} {:?}",
        r.violated,
        r.missing_witnesses
    );
    // The rule leaves no tombstone behind in the end.
    let m = build(&spec("gc"));
    assert!(some_step(&m, |_, _, s| (0..2)
        .all(
            |p| store(s, p).kv.is_empty() && !store(s, p).ghost.pruned.is_empty()
        )));
    // On orphan an eviction REDO of the dead incarnation's older PUT can
    // arrive after the tombstone is gone: the rule is unsafe there.
    let r = check::run(&spec("gc-orphan"), &opts(check::Reduction::Stubborn)).unwrap();
    assert!(r.violated.contains(&"S12"), "{:?}", r.violated);
    let s13 = r.properties.iter().find(|p| p.id == "S12").unwrap();
    let cx = s13.counterexample.as_ref().unwrap();
    let why: Vec<String> = cx.violations.iter().map(|v| format!("{v:?}")).collect();
    assert!(why.iter().any(|e| e.contains("not undone")), "{why:?}");
}
