//! Verdicts of the shipped small models, exhaustively, for the default
//! protocol and every variant; the workarounds for stateright 0.31's traps.

use dtm0::engine::check::{self, RunOpts, Status, WitnessStatus};
use dtm0::engine::search::{find_cycle, shortest_paths};
use dtm0::model::build;
use dtm0::model::file::{ModelSpec, Strategy};
use dtm0::model::properties::PROPS;
use std::path::Path;

fn spec(name: &str, variants: &[&str]) -> ModelSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
    let v: Vec<String> = variants.iter().map(|s| s.to_string()).collect();
    ModelSpec::load(&path).unwrap().with_variants(&v).unwrap()
}

fn opts(strategy: Strategy, symmetry: bool) -> RunOpts {
    RunOpts {
        strategy,
        threads: 2,
        max_depth: None,
        timeout: None,
        symmetry,
        progress: false,
        seed: 1,
        random_order: false,
        stop_at: Vec::new(),
        reduction: check::Reduction::None,
        only: Vec::new(),
        interrupt: None,
    }
}

fn violated(r: &check::Report) -> Vec<&'static str> {
    r.violated.clone()
}

#[test]
fn correct_models_hold_exhaustively_with_every_witness() {
    for name in [
        "tiny",
        "put-crash",
        "prune-crash",
        "orphan",
        "unordered",
        "read",
    ] {
        let r = check::run(&spec(name, &[]), &opts(Strategy::Dfs, false)).unwrap();
        assert!(r.exhaustive, "{name}: {:?}", r.bounded_by);
        assert!(
            r.ok,
            "{name}: violated {:?}, missing witnesses {:?}",
            r.violated, r.missing_witnesses
        );
        for p in &r.properties {
            assert_eq!(p.status, Status::Holds, "{name} {}", p.name);
            assert_ne!(
                p.witness_status,
                WitnessStatus::NotFound,
                "{name} {}",
                p.witness
            );
        }
        assert!(
            r.unique_states > 50,
            "{name}: suspiciously small state space"
        );
    }
}

#[test]
fn every_property_has_a_witness_found_in_some_model() {
    let mut found = std::collections::BTreeSet::new();
    for name in [
        "put-crash",
        "prune-crash",
        "orphan",
        "gc",
        "read",
        "clock-lag",
    ] {
        // clock-lag (5.5M plain states) with the semantic reduction.
        let mut o = opts(Strategy::Dfs, false);
        if name == "clock-lag" {
            o.reduction = check::Reduction::Stubborn;
        }
        let r = check::run(&spec(name, &[]), &o).unwrap();
        for p in r.properties {
            if p.witness_status == WitnessStatus::Found {
                found.insert(p.id);
            }
        }
    }
    for p in PROPS {
        assert!(
            found.contains(p.id),
            "no model reaches the witness of {}",
            p.id
        );
    }
}

/// A client whose clock lags (issue 14, clocks): by default its writes
/// that lose are reported superseded and S10 holds with its witness; under
/// Motr's CAS reply (`motr-silent-supersede`) the lost PUT ends DONE.
#[test]
fn a_lagging_clock_is_reported_superseded_and_silent_under_motr() {
    let semantic = RunOpts {
        reduction: check::Reduction::Stubborn,
        ..opts(Strategy::Dfs, false)
    };
    let r = check::run(&spec("clock-lag", &[]), &semantic).unwrap();
    assert!(
        r.exhaustive && r.ok,
        "{:?} {:?}",
        r.violated,
        r.missing_witnesses
    );
    let s10 = r.properties.iter().find(|p| p.id == "S10").unwrap();
    assert_eq!(s10.status, Status::Holds);
    assert_eq!(s10.witness_status, WitnessStatus::Found);
    let r = check::run(&spec("motr-clock-lag", &[]), &opts(Strategy::Dfs, false)).unwrap();
    assert_eq!(violated(&r), vec!["S10"]);
    let cx = r.properties.iter().find(|p| p.id == "S10").unwrap();
    let cx = cx.counterexample.as_ref().unwrap();
    assert!(
        cx.steps.iter().any(|s| s.contains("crash")),
        "{:?}",
        cx.steps
    );
    assert!(
        cx.final_state.contains("PUT k1 @10 st=PP] DONE") && !cx.final_state.contains("SUPERSEDED"),
        "{}",
        cx.final_state
    );
    // The same model with the verdict: the PUT is reported SUPERSEDED.
    let mut s = spec("motr-clock-lag", &[]);
    s.cluster.variants.silent_supersede = false;
    let r = check::run(&s, &opts(Strategy::Dfs, false)).unwrap();
    assert!(r.exhaustive && r.ok, "{:?}", r.violated);
}

#[test]
fn motr_tombstone_rule_breaks_convergence_and_resurrects() {
    let r = check::run(
        &spec("orphan", &["del-absent-no-tombstone"]),
        &opts(Strategy::Dfs, false),
    )
    .unwrap();
    let v = violated(&r);
    assert!(v.contains(&"S2") && v.contains(&"S3"), "{v:?}");
    assert!(!r.ok);
    let s3 = r.properties.iter().find(|p| p.id == "S3").unwrap();
    let cx = s3.counterexample.as_ref().unwrap();
    assert!(cx.steps.iter().any(|s| s.contains("o1proc: crash")));
    assert!(cx.final_state.contains("k1@10"), "{}", cx.final_state);
}

/// Finding 13, the default's half: with an originator crash and a
/// participant crash, evict-pcrash holds exhaustively, every witness
/// reached (Motr's half, the violation, is found by tests/stubborn.rs on
/// the reduced graph, without the breadth-first search for the shortest
/// path, which takes minutes here: `dtm0 check models/motr-evict-pcrash.toml`).
#[test]
fn eviction_on_arrival_holds_with_an_originator_and_a_participant_crash() {
    let r = check::run(&spec("evict-pcrash", &[]), &opts(Strategy::Dfs, false)).unwrap();
    assert!(r.exhaustive && r.ok, "{:?}", r.violated);
    assert!(r.missing_witnesses.is_empty(), "{:?}", r.missing_witnesses);
}

/// Three originator incarnations: Motr's eviction redoes the first one's
/// dtx again at the second restart, ours once; both hold, and the
/// repeated walks show as more plain states.
#[test]
fn evicting_once_per_incarnation_holds_with_fewer_states_than_motrs_rewalk() {
    let mut o = opts(Strategy::Dfs, false);
    o.reduction = check::Reduction::None;
    let ours = check::run(&spec("evict-twice", &[]), &o).unwrap();
    let motr = check::run(&spec("evict-twice", &["motr-eviction"]), &o).unwrap();
    assert!(ours.exhaustive && ours.ok && motr.exhaustive && motr.ok);
    assert!(
        ours.unique_states < motr.unique_states,
        "{} vs {}",
        ours.unique_states,
        motr.unique_states
    );
}

#[test]
fn hld_redo_skip_persistent_loses_p_knowledge() {
    let r = check::run(
        &spec("put-crash", &["redo-skip-persistent"]),
        &opts(Strategy::Dfs, false),
    )
    .unwrap();
    assert_eq!(violated(&r), vec!["L2"]);
}

#[test]
fn without_own_redo_pruning_stalls() {
    let r = check::run(
        &spec("prune-crash", &["no-own-redo"]),
        &opts(Strategy::Dfs, false),
    )
    .unwrap();
    assert_eq!(violated(&r), vec!["L2"]);
    // and the fix is what makes the difference
    let r = check::run(&spec("prune-crash", &[]), &opts(Strategy::Dfs, false)).unwrap();
    assert!(r.ok);
}

#[test]
fn stable_rules_both_hold_on_small_models() {
    for v in ["stable-first-p", "stable-k-plus-1"] {
        let r = check::run(&spec("put-crash", &[v]), &opts(Strategy::Dfs, false)).unwrap();
        assert!(r.ok, "{v}: {:?}", r.violated);
    }
}

#[test]
fn pruning_variant_prunes_and_stays_safe() {
    let r = check::run(
        &spec("put-crash", &["pruning"]),
        &opts(Strategy::Dfs, false),
    )
    .unwrap();
    assert!(r.ok, "{:?}", r.violated);
    let s7 = r.properties.iter().find(|p| p.id == "S7").unwrap();
    assert_eq!(s7.witness_status, WitnessStatus::Found);
}

/// stateright 0.31's BFS can report a longer path than the shortest (a
/// later discovery overwrites an earlier one). Ours is checked against an
/// independent bound: no violating state exists one step earlier.
#[test]
fn counterexamples_are_shortest() {
    let s = spec("orphan", &["del-absent-no-tombstone"]);
    let r = check::run(&s, &opts(Strategy::Dfs, false)).unwrap();
    let m = build(&s);
    for id in ["S2", "S3"] {
        let p = r.properties.iter().find(|p| p.id == id).unwrap();
        assert_eq!(p.status, Status::Violated);
        let cx = p.counterexample.as_ref().unwrap();
        assert!(cx.shortest, "{}", p.name);
        let check = PROPS.iter().find(|q| q.id == p.id).unwrap().check;
        let len = cx.actions.len();
        assert!(len > 0);
        // the path really ends in a violation
        let states = dtm0::model::replay(&m, &cx.actions).unwrap();
        assert!(!check(&m, states.last().unwrap()), "{}", p.name);
        // and nothing shorter does
        let bad = |st: &dtm0::model::SysState| !check(&m, st);
        let (paths, finished) = shortest_paths(&m, &[&bad], len - 1, 5_000_000);
        assert!(finished);
        assert!(paths[0].is_none(), "{}: a shorter path exists", p.name);
    }
}

#[test]
fn strategies_agree() {
    for (name, v) in [
        ("put-crash", vec![]),
        ("put-crash", vec!["redo-skip-persistent"]),
    ] {
        let s = spec(name, &v);
        let dfs = check::run(&s, &opts(Strategy::Dfs, false)).unwrap();
        let bfs = check::run(&s, &opts(Strategy::Bfs, false)).unwrap();
        let mut a = dfs.violated.clone();
        let mut b = bfs.violated.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{name}");
        if dfs.violated.is_empty() {
            assert_eq!(dfs.unique_states, bfs.unique_states, "{name}");
        }
    }
}

#[test]
fn random_order_changes_the_search_not_the_verdict() {
    let s = spec("put-crash", &[]);
    let plain = check::run(&s, &opts(Strategy::Dfs, false)).unwrap();
    let mut o = opts(Strategy::Dfs, false);
    o.random_order = true;
    let random = check::run(&s, &o).unwrap();
    assert!(plain.ok && random.ok);
    assert_eq!(plain.unique_states, random.unique_states);
}

#[test]
fn symmetry_keeps_verdicts_and_shrinks_the_space() {
    // Two interchangeable participants; a DEL may overtake its PUT.
    for variants in [vec![], vec!["del-absent-no-tombstone"]] {
        let s = spec("unordered", &variants);
        let plain = check::run(&s, &opts(Strategy::Dfs, false)).unwrap();
        let sym = check::run(&s, &opts(Strategy::Dfs, true)).unwrap();
        assert_eq!(plain.violated, sym.violated, "{variants:?}");
        if plain.ok {
            assert!(
                sym.unique_states < plain.unique_states,
                "symmetry: {} vs plain {}",
                sym.unique_states,
                plain.unique_states
            );
        }
    }
}

/// A model whose file asks for symmetry within a class (three-crash: p2
/// and p3) is compared with a plain run that stateright's checker can make:
/// without symmetry (it would rename p1 too).
#[test]
fn a_symmetric_model_is_compared_with_plain_search_without_symmetry() {
    let s = spec("three-crash", &[]);
    let mut o = check::RunOpts::from_spec(&s);
    assert!(o.symmetry, "three-crash asks for symmetry");
    o.timeout = Some(std::time::Duration::from_secs(2));
    o.progress = false;
    let mut r = check::run(&s, &o).unwrap();
    check::compare(&s, &o, &mut r).expect("the plain run is not refused");
    let c = r.comparison.expect("a comparison");
    assert!(c.plain_unique_states > 0);
}

#[test]
fn symmetry_is_refused_where_unsound() {
    // stateright's checker renames every participant alike: equal budgets
    // only.
    let e = check::run(&spec("put-crash", &[]), &opts(Strategy::Dfs, true)).unwrap_err();
    assert_eq!(e, check::Refusal::SymmetryBudgetsDiffer);
    // Our search renames within equal budgets: put-crash has no two
    // participants alike (p1 may crash, p2 not)...
    let mut ours = opts(Strategy::Dfs, true);
    ours.reduction = check::Reduction::Stubborn;
    let e = check::run(&spec("put-crash", &[]), &ours).unwrap_err();
    assert_eq!(e, check::Refusal::SymmetryNoClass);
    // ...three-crash has two (p2 and p3), which stateright's checker
    // cannot use.
    let e = check::run(&spec("three-crash", &[]), &opts(Strategy::Dfs, true)).unwrap_err();
    assert_eq!(e, check::Refusal::SymmetryBudgetsDiffer);
    let e = check::run(&spec("unordered", &[]), &opts(Strategy::Bfs, true)).unwrap_err();
    assert_eq!(e, check::Refusal::SymmetryWithBfs);
}

/// Liveness is checked at settled states; that is sound only if every path
/// is finite. Look for a cycle in the whole state space of the models.
#[test]
fn models_have_no_infinite_path() {
    for name in ["tiny", "put-crash", "prune-crash", "unordered"] {
        let m = build(&spec(name, &[]));
        let visited =
            find_cycle(&m, 2_000_000).unwrap_or_else(|d| panic!("{name}: cycle at depth {d}"));
        assert!(visited > 50, "{name}");
    }
}

#[test]
fn cycle_finder_stops_at_its_cap() {
    let m = build(&spec("put-crash", &[]));
    assert_eq!(find_cycle(&m, 10), Ok(10));
}

/// `models/variants.toml` (the variant matrix of `check --all`) names only
/// models that exist and variants they accept, and every Motr variant of
/// `dtm0 variants` (each cites its Motr source) is in it.
#[test]
fn the_variant_matrix_names_real_models_and_every_motr_variant() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mx = dtm0::engine::suite::load_matrix(&dir.join("variants.toml"))
        .unwrap()
        .expect("models/variants.toml");
    assert!(mx.models.len() >= 10 && mx.variants.len() >= 9);
    for m in &mx.models {
        for v in &mx.variants {
            spec(m, &[v]);
        }
    }
    // Every Motr behaviour that is not the default.
    let default = dtm0::protocol::cluster::Variants::default().names();
    for (name, what) in dtm0::protocol::cluster::VARIANT_NAMES {
        if (what.starts_with("Motr (") && !default.contains(name)) || *name == "motr" {
            assert!(
                mx.variants.iter().any(|v| v == name),
                "{name} not in the matrix"
            );
        }
    }
}

/// Reads: Motr's DEL rule lets a read see a key whose DEL was STABLE
/// (S11's resurrection clause), the tombstone rule does not; one replica
/// asked under Motr's writer returns no record of a STABLE PUT, while
/// every available replica asked (the default, as Motr's DIX GET) finds it
/// under the same writer.
#[test]
fn reads_see_motr_resurrection_and_one_replica_loses_stable_writes() {
    let o = opts(Strategy::Dfs, false);
    let r = check::run(&spec("motr-read-resurrect", &[]), &o).unwrap();
    assert!(violated(&r).contains(&"S11"), "{:?}", violated(&r));
    let s11 = r.properties.iter().find(|p| p.id == "S11").unwrap();
    let cx = s11.counterexample.as_ref().unwrap();
    assert!(
        cx.final_state.contains("GET k1 = k1@10=1"),
        "{}",
        cx.final_state
    );
    let mut fixed = spec("motr-read-resurrect", &[]);
    fixed.cluster.variants.del_rule = dtm0::protocol::types::DelRule::AlwaysTombstone;
    let r = check::run(&fixed, &o).unwrap();
    assert!(r.ok && r.exhaustive, "{:?}", r.violated);

    // S11 alone: the plain checker stops at the first violations, and
    // Motr's writer breaks S2, S5, S6, L2 too.
    let mut o = o;
    o.only = vec!["S11"];
    let r = check::run(&spec("read-one", &[]), &o).unwrap();
    assert_eq!(violated(&r), vec!["S11"]);
    let r = check::run(&spec("read", &["motr-writer"]), &o).unwrap();
    assert!(
        r.exhaustive && !violated(&r).contains(&"S11"),
        "{:?}",
        violated(&r)
    );
}

/// `read-one-replica` asks the first available participant by index:
/// participants are not interchangeable, so symmetry is refused.
#[test]
fn read_one_replica_refuses_symmetry() {
    let o = opts(Strategy::Dfs, true);
    let e = check::run(&spec("read-one", &[]), &o).unwrap_err();
    assert_eq!(e, check::Refusal::SymmetryReadOne);
}
