//! The exact soundness checks of the reduction (src/engine/oracle.rs) on
//! the small models: the state graph is the plain search's; the oracle's
//! reduced search keeps the plain search's terminal states with fewer
//! states; every set our engine chooses is persistent on the graph; and the
//! exact test rejects sets that are not persistent, with a witness that
//! replays on the graph.

use dtm0::engine::oracle::{
    check_chosen_sets, is_persistent, oracle, oracle_set, persistent_ids, plain_and_oracle_unique,
    singletons, Choice, Failure, Graph,
};
use dtm0::engine::por::{Engine, Outcome, Reduce};
use dtm0::model::file::ModelSpec;
use dtm0::model::{build, Action, Dtm0Model};
use stateright::actor::ActorModelAction;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

fn model(name: &str) -> Dtm0Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
    build(&ModelSpec::load(&path).unwrap())
}

const PLAIN: Reduce = Reduce::PLAIN;
const PERSISTENT: Reduce = Reduce::PERSISTENT;

fn search(m: &Dtm0Model, r: Reduce) -> Outcome {
    let (mut e, _) = Engine::new(m, r, 1);
    e.collect_terminals = true;
    e.run()
}

/// Each model's graph, built once for every test of this file.
fn graph(name: &'static str) -> Arc<Graph> {
    // One cell per model, so that tests wait only for the graph they use.
    type Cell = Arc<OnceLock<Arc<Graph>>>;
    static GRAPHS: OnceLock<Mutex<HashMap<&'static str, Cell>>> = OnceLock::new();
    let cell = GRAPHS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(name)
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let t0 = Instant::now();
        let g = Graph::build(&model(name), CAP).unwrap();
        println!(
            "{name}: graph of {} states, {} edges, {} actions built in {:.2?}",
            g.len(),
            g.edge_count(),
            g.action_count(),
            t0.elapsed()
        );
        Arc::new(g)
    })
    .clone()
}

/// Exhaustive in seconds with the oracle in release mode.
const MODELS: &[&str] = &["tiny", "put-crash", "prune-crash"];
const CAP: usize = 2_000_000;

#[test]
fn oracle_keeps_the_terminal_states_with_fewer_states() {
    for name in MODELS {
        let m = model(name);
        let g = graph(name);
        let plain = search(&m, PLAIN);
        assert!(plain.complete, "{name}");
        // The graph is the plain search's state space.
        assert_eq!(g.len() as u64, plain.unique, "{name}: graph states");
        assert_eq!(g.terminals(), plain.terminals, "{name}: graph terminals");
        assert!(!plain.terminals.is_empty(), "{name}: no terminal state");
        let t1 = Instant::now();
        let o = oracle(&g);
        let took = t1.elapsed();
        assert_eq!(o.terminals, plain.terminals, "{name}: oracle terminals");
        assert!(
            (o.unique as u64) < plain.unique,
            "{name}: the oracle reduces nothing ({} states)",
            o.unique
        );
        assert!(o.single > 0, "{name}: no single action taken");
        println!(
            "{name}: plain {} unique, {} terminal; oracle {} unique ({:.1}x), {} transitions, \
             sets: {} single, {} actor, {} all; oracle {:.2?}",
            plain.unique,
            plain.terminals.len(),
            o.unique,
            plain.unique as f64 / o.unique as f64,
            o.transitions,
            o.single,
            o.actor,
            o.all,
            took
        );
    }
}

#[test]
fn compare_gives_plain_and_oracle_counts() {
    let m = model("tiny");
    let (plain, ours) = plain_and_oracle_unique(&m, CAP).unwrap();
    assert_eq!(plain as u64, search(&m, PLAIN).unique);
    assert!(ours < plain && ours > 0, "{ours} vs {plain}");
    // The cap is enforced.
    assert!(plain_and_oracle_unique(&m, 50).is_err());
    assert!(Graph::build(&m, plain - 1).is_err());
    assert!(Graph::build(&m, plain).is_ok());
}

#[test]
fn every_set_the_engine_chooses_is_persistent() {
    for &name in MODELS {
        let m = model(name);
        let g = graph(name);
        let (e, note) = Engine::new(&m, PERSISTENT, 1);
        assert!(note.is_none(), "{note:?}");
        let t0 = Instant::now();
        let checked = check_chosen_sets(&m, &g, &e).unwrap_or_else(|w| panic!("{name}: {w}"));
        // It visits what the reduced search visits, and checked every set.
        let reduced = search(&m, PERSISTENT);
        assert_eq!(checked as u64, reduced.unique, "{name}: sets checked");
        println!(
            "{name}: {checked} chosen sets persistent ({:.2?})",
            t0.elapsed()
        );
    }
}

/// The single-action results computed for the whole graph at once agree
/// with the region walk, on every state and action of tiny and on every
/// state of the oracle's search on put-crash; and every set the oracle
/// takes passes the region walk.
#[test]
fn singletons_agree_with_the_region_walk() {
    for (name, everywhere) in [("tiny", true), ("put-crash", false)] {
        let g = graph(name);
        let ok = singletons(&g);
        let states: Vec<usize> = if everywhere {
            (0..g.len()).collect()
        } else {
            oracle_states(&g, &ok)
        };
        let (mut yes, mut no) = (0, 0);
        let mut k = 0;
        for &s in &states {
            for (j, e) in g.edges(s).iter().enumerate() {
                let walk = persistent_ids(&g, s, &[e.action]).is_ok();
                assert_eq!(
                    ok[g.first_edge(s) + j],
                    walk,
                    "{name}: state {s} action {j}"
                );
                if walk {
                    yes += 1
                } else {
                    no += 1
                }
                k += 1;
            }
            let (set, _) = oracle_set(&g, &ok, s);
            assert!(
                persistent_ids(&g, s, &set).is_ok(),
                "{name}: oracle set at {s}"
            );
        }
        assert!(yes > 0 && no > 0, "{name}: {yes} persistent, {no} not");
        println!("{name}: {k} single-action sets compared ({yes} persistent)");
    }
}

/// The states the oracle's search visits.
fn oracle_states(g: &Graph, ok: &[bool]) -> Vec<usize> {
    let mut seen = vec![false; g.len()];
    let mut stack = vec![0];
    seen[0] = true;
    let mut out = vec![];
    while let Some(s) = stack.pop() {
        out.push(s);
        for t in oracle_set(g, ok, s).0 {
            let to = g.succ(s, t).unwrap();
            if !seen[to] {
                seen[to] = true;
                stack.push(to);
            }
        }
    }
    out
}

#[test]
fn the_full_set_passes_and_the_empty_set_fails_everywhere_on_tiny() {
    let g = graph("tiny");
    let mut rejected = 0;
    for s in 0..g.len() {
        let all: Vec<Action> = g
            .edges(s)
            .iter()
            .map(|e| g.action(e.action).clone())
            .collect();
        assert!(is_persistent(&g, s, &all).is_ok(), "state {s}");
        let empty = is_persistent(&g, s, &[]);
        if all.is_empty() {
            assert!(empty.is_ok(), "terminal state {s}");
        } else {
            assert_eq!(empty.unwrap_err().failure, Failure::Empty, "state {s}");
            rejected += 1;
        }
    }
    assert!(rejected > 0);
}

/// A witness replays on the graph: its path is made of enabled actions
/// outside the set, and at its end the failure it names holds.
fn check_witness(g: &Graph, s: usize, set: &[Action], w: &dtm0::engine::oracle::Witness) {
    let id = |a: &Action| g.action_id(a).unwrap();
    let mut u = s;
    for a in &w.path {
        assert!(!set.contains(a), "the witness path takes a set action");
        u = g.succ(u, id(a)).expect("the witness path is enabled");
    }
    let t = id(w.t.as_ref().unwrap());
    assert!(set.contains(w.t.as_ref().unwrap()));
    match w.failure {
        Failure::NotEnabled => assert!(g.succ(u, t).is_none()),
        f => {
            let a = id(w.outside.as_ref().unwrap());
            assert!(!set.contains(w.outside.as_ref().unwrap()));
            let tu = g.succ(u, t).expect("t enabled where the walk got");
            let v = g.succ(u, a).expect("the outside action is enabled");
            let (tv, atu) = (g.succ(v, t), g.succ(tu, a));
            match f {
                Failure::Disables => assert!(tv.is_none()),
                Failure::Disabled => assert!(tv.is_some() && atu.is_none()),
                Failure::Apart => assert!(tv.is_some() && atu.is_some() && tv != atu),
                _ => unreachable!(),
            }
        }
    }
}

#[test]
fn sets_that_are_not_persistent_are_rejected_with_a_witness() {
    for name in ["tiny", "put-crash"] {
        let m = model(name);
        let g = graph(name);
        // Some single actions are not persistent, some only because of a
        // conflict further along a path that avoids them.
        let mut failures = 0;
        let mut with_path = 0;
        let mut kinds = std::collections::HashSet::new();
        for s in 0..g.len().min(5_000) {
            for e in g.edges(s) {
                let a = g.action(e.action).clone();
                if matches!(a, ActorModelAction::Crash(_)) {
                    continue;
                }
                let set = [a];
                if let Err(w) = is_persistent(&g, s, &set) {
                    check_witness(&g, s, &set, &w);
                    kinds.insert(format!("{:?}", w.failure));
                    failures += 1;
                    if !w.path.is_empty() {
                        with_path += 1;
                    }
                    assert!(!w.describe(&m).is_empty());
                }
            }
        }
        assert!(failures > 0, "{name}: every single action persistent");
        assert!(
            with_path > 0,
            "{name}: no failure away from the state checked"
        );
        println!("{name}: failures seen: {kinds:?}");
        // An action that is not enabled at the state is rejected at once.
        let t = g.edges(0)[0].action;
        let elsewhere = (0..g.len()).find(|&s| g.succ(s, t).is_none()).unwrap();
        let w = is_persistent(&g, elsewhere, &[g.action(t).clone()]).unwrap_err();
        assert_eq!(w.failure, Failure::NotEnabled);
        assert!(w.path.is_empty());
    }
}

#[test]
fn the_oracle_chooses_single_actions_where_they_are_persistent() {
    let g = graph("put-crash");
    let ok = singletons(&g);
    let mut seen = [0usize; 4];
    for s in oracle_states(&g, &ok) {
        let (set, choice) = oracle_set(&g, &ok, s);
        seen[choice as usize] += 1;
        match choice {
            Choice::Single => assert_eq!(set.len(), 1, "state {s}"),
            _ if g.edges(s).len() > 1 => {
                // No non-crash action alone was persistent here.
                for e in g.edges(s) {
                    let a = g.action(e.action);
                    if !matches!(a, ActorModelAction::Crash(_)) {
                        assert!(
                            is_persistent(&g, s, std::slice::from_ref(a)).is_err(),
                            "state {s}"
                        );
                    }
                }
            }
            _ => {}
        }
    }
    assert!(seen[Choice::Single as usize] > 0, "{seen:?}");
}

/// The larger small models, for the record (minutes; `--ignored`): the
/// oracle keeps the terminal states there too.
#[test]
#[ignore]
fn oracle_on_the_larger_models() {
    for name in ["unordered", "orphan"] {
        let m = model(name);
        let t0 = Instant::now();
        let g = Graph::build(&m, CAP).unwrap();
        let built = t0.elapsed();
        let t1 = Instant::now();
        let o = oracle(&g);
        assert_eq!(o.terminals, g.terminals(), "{name}: oracle terminals");
        assert!(o.unique < g.len(), "{name}");
        println!(
            "{name}: plain {} unique, {} terminal; oracle {} unique ({:.1}x), sets: {} single, {} actor, {} all; graph built in {:.2?}, oracle {:.2?}",
            g.len(),
            o.terminals.len(),
            o.unique,
            g.len() as f64 / o.unique as f64,
            o.single,
            o.actor,
            o.all,
            built,
            t1.elapsed()
        );
    }
}
