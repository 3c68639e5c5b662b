//! The semantic reduction (src/engine/stubborn/) on the small models:
//! (a) every independence claim of the table, at every reachable state,
//! holds when both orders are executed, and every send is allowed by the
//! may-send and trigger tables; (b) every set the closure chooses, at every
//! state the reduced search visits, is persistent on the full graph,
//! exactly; (c) the reduced search reaches exactly the plain terminal
//! states; (d) its unique counts against plain and the oracle.

use dtm0::engine::oracle::{oracle, Graph};
use dtm0::engine::stubborn::{self, check_state, claimed_independent, reduced_dfs, Ctx};
use dtm0::model::file::ModelSpec;
use dtm0::model::{build, visited_fp, Dtm0Model, SysState};
use dtm0::protocol::msg::Msg;
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

/// A model by name, `name+variant+...` with variants added.
fn model(name: &str) -> Dtm0Model {
    let mut parts = name.split('+');
    let file = parts.next().unwrap();
    let variants: Vec<String> = parts.map(str::to_string).collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{file}.toml"));
    build(
        &ModelSpec::load(&path)
            .unwrap()
            .with_variants(&variants)
            .unwrap(),
    )
}

const MODELS: &[&str] = &[
    "tiny",
    "evict",
    "three-nocrash",
    "put-crash",
    "prune-crash",
    "unordered",
    "motr-put-crash",
    "equal-ts",
    "motr-equal-ts",
    "evict-split",
    "evict-split+no-execute-fence",
    "put-crash+notice-own-commit",
    "put-crash+no-epochs",
    "fail-two",
    "gc",
    "gc+collect-on-commit",
    "read",
    "read-one",
    "motr-read-resurrect",
    "evict-twice",
];
const CAP: usize = 2_000_000;

/// The graph cap: `CAP`, or `DTM0_STUBBORN_CAP` for larger models run by
/// hand (evict-pcrash: 2.23M plain states).
fn cap() -> usize {
    std::env::var("DTM0_STUBBORN_CAP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CAP)
}

/// The models checked: `MODELS`, or the comma-separated list in
/// `DTM0_STUBBORN_MODELS` (for the larger ones: orphan, crash-twice,
/// stable-k, motr-clock-lag, fail-first-p, gc-orphan take minutes each).
fn models() -> Vec<String> {
    match std::env::var("DTM0_STUBBORN_MODELS") {
        Ok(v) if !v.is_empty() => v.split(',').map(str::to_string).collect(),
        _ => MODELS.iter().map(|s| s.to_string()).collect(),
    }
}

/// Every reachable state of the plain search, depth-first.
fn for_each_state(m: &Dtm0Model, f: impl FnMut(&SysState)) -> usize {
    for_each_state_upto(m, usize::MAX, f)
}

/// `for_each_state`, stopping after `cap` states.
fn for_each_state_upto(m: &Dtm0Model, cap: usize, f: impl FnMut(&SysState)) -> usize {
    walk(
        m,
        cap,
        |_, _, en| (0..en.len()).filter(|&i| en[i]).collect(),
        f,
    )
}

/// Depth-first over the states reached by the actions `choose` picks (by
/// index among `stubborn::actions`), at most `cap` states.
fn walk(
    m: &Dtm0Model,
    cap: usize,
    choose: impl Fn(&SysState, &[dtm0::model::Action], &[bool]) -> Vec<usize>,
    mut f: impl FnMut(&SysState),
) -> usize {
    let mut seen = HashSet::new();
    let mut stack: Vec<SysState> = m.init_states();
    for s in &stack {
        seen.insert(visited_fp(s));
    }
    let mut n = 0;
    while let Some(s) = stack.pop() {
        if n == cap {
            break;
        }
        n += 1;
        f(&s);
        let (acts, en) = stubborn::actions(m, &s);
        for i in choose(&s, &acts, &en) {
            if let Some(next) = m
                .next_state(&s, acts[i].clone())
                .filter(|x| m.within_boundary(x))
            {
                if seen.insert(visited_fp(&next)) {
                    stack.push(next);
                }
            }
        }
    }
    n
}

#[test]
fn every_claim_and_every_send_holds_at_every_reachable_state() {
    for name in &models() {
        let m = model(name);
        let t0 = Instant::now();
        let mut claims = 0;
        let states = for_each_state(&m, |s| {
            claims += check_state(&m, s).unwrap_or_else(|e| panic!("{name}: {e}"));
        });
        // A model whose rules the table was not argued for (no-epochs)
        // claims nothing: its sends are still checked.
        let argued = m.cfg().cluster.table_argued();
        assert!(claims > 0 || !argued, "{name}: the table claimed nothing");
        assert!(argued || claims == 0, "{name}: claims with the table off");
        println!(
            "{name}: {states} states, {claims} independence claims checked in {:.2?}",
            t0.elapsed()
        );
    }
}

#[test]
fn every_chosen_set_is_persistent_and_terminals_are_kept() {
    for name in &models() {
        let m = model(name);
        let t0 = Instant::now();
        let g = Graph::build(&m, cap()).unwrap();
        let built = t0.elapsed();
        let run = reduced_dfs(&m, Some(&g)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(run.checked, run.unique, "{name}: every set checked");
        assert_eq!(run.terminals, g.terminals(), "{name}: terminal states");
        assert!(run.unique < g.len(), "{name}: nothing reduced");
        let o = oracle(&g);
        let fast = reduced_dfs(&m, None).unwrap();
        assert_eq!(fast.unique, run.unique);
        println!(
            "{name}: plain {} unique ({} terminal), stubborn {} ({:.1}x), oracle {} ({:.1}x); \
             graph {built:.2?}, reduced search {:.3}s = {:.0} states/s, {} transitions, {} reduced states",
            g.len(),
            g.terminals().len(),
            run.unique,
            g.len() as f64 / run.unique as f64,
            o.unique,
            g.len() as f64 / o.unique as f64,
            fast.secs,
            fast.transitions as f64 / fast.secs,
            fast.transitions,
            fast.reduced_states,
        );
    }
}

/// The claims where step properties are violated: with Motr's DEL rule
/// (the table is used for variants; only mutants turn it off), the
/// violations along both orders of every claimed pair agree too, and
/// some are met (so the comparison is not vacuous).
#[test]
fn claims_agree_on_step_violations_where_a_variant_violates() {
    for (name, variant) in [
        ("unordered", "del-absent-no-tombstone"),
        ("put-crash", "redo-skip-persistent"),
        ("put-crash", "motr-writer"),
        ("equal-ts", "motr-version-order"),
        ("evict-split", "no-execute-fence"),
        ("put-crash", "notice-own-commit"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
        let spec = ModelSpec::load(&path)
            .unwrap()
            .with_variants(&[variant.to_string()])
            .unwrap();
        let m = build(&spec);
        let mut claims = 0;
        let mut violating = 0;
        let states = for_each_state(&m, |s| {
            claims += check_state(&m, s).unwrap_or_else(|e| panic!("{name} + {variant}: {e}"));
            let (acts, en) = stubborn::actions(&m, s);
            for (a, e) in acts.iter().zip(en) {
                if !e {
                    continue;
                }
                if let Some(n) = m.next_state(s, a.clone()) {
                    if !dtm0::model::steps::step_violations(&m, s, a, &n).is_empty() {
                        violating += 1;
                    }
                }
            }
        });
        assert!(claims > 0, "{name} + {variant}: the table claimed nothing");
        println!(
            "{name} + {variant}: {states} states, {claims} claims, {violating} violating steps"
        );
        if variant == "del-absent-no-tombstone" {
            assert!(
                violating > 0,
                "{name} + {variant}: no step violates: vacuous"
            );
        }
    }
}

/// Motr's stop condition (`motr-stop-condition`) changes what completes a
/// recovery, which the closure's facts about views and EOLs follow
/// (`participant::peers_done`). On both-crash, where a participant may
/// recover while its peer is down (the rule bites), every claim at the
/// first 150,000 states of the plain search is executed in both orders and
/// every send is checked against the may-send table; the walk meets states
/// where the rule decides (a recovering participant whose view shows its
/// peer TRANSIENT).
#[test]
fn claims_hold_under_motr_stop_condition_where_it_bites() {
    use dtm0::protocol::msg::HaSt;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/both-crash.toml");
    let spec = ModelSpec::load(&path)
        .unwrap()
        .with_variants(&["motr-stop-condition".to_string()])
        .unwrap();
    let m = build(&spec);
    let (mut claims, mut bites) = (0, 0);
    let states = for_each_state_upto(&m, 150_000, |s| {
        claims += check_state(&m, s).unwrap_or_else(|e| panic!("both-crash + motr: {e}"));
        for x in 0..2 {
            if s.crashed[x] {
                continue;
            }
            if let Some(p) = s.actor_states[x].participant() {
                let peer = p.view.get(1 - x).1;
                if !p.declared
                    && p.view.get(x) == (p.inc, HaSt::Recovering)
                    && peer == HaSt::Transient
                {
                    bites += 1;
                }
            }
        }
    });
    println!("both-crash + motr-stop-condition: {states} states, {claims} claims, {bites} where the rule decides");
    assert!(claims > 0, "the table claimed nothing");
    assert!(bites > 0, "the walk never met the rule deciding: vacuous");
}

/// The eviction facts (a view whose only log read is an eviction, one
/// whose eviction sends nothing, a view that issues an originator's dtxs)
/// are used on the smallest eviction model, not only argued: some claim
/// of independence pairs a view that evicts with a notice or the commit
/// of its participant (executed in both orders by the first test, which runs on
/// `evict` too), and some state's chosen set is the issuing view at the
/// restarted originator alone, among other enabled actions.
#[test]
fn eviction_facts_are_used() {
    let m = model("evict");
    let c = &m.cfg().cluster;
    let (n, slots) = (c.n, c.m());
    let mut evicting_claims = 0;
    let mut issuing_alone = 0;
    for_each_state(&m, |s| {
        let (acts, en) = stubborn::actions(&m, s);
        let ctx = Ctx::new(&m, s);
        for (i, a) in acts.iter().enumerate() {
            let ActorModelAction::Deliver {
                dst,
                msg: Msg::View { seq, table, .. },
                ..
            } = a
            else {
                continue;
            };
            if !en[i] {
                continue;
            }
            let x = usize::from(*dst);
            if let Some(p) = s.actor_states[x].participant() {
                let evicts = *seq > p.seq
                    && (0..slots).any(|k| {
                        let ni = table.get(n + k).0;
                        ni > p.view.get(n + k).0 && ni > 1
                    });
                if evicts {
                    evicting_claims += acts
                        .iter()
                        .enumerate()
                        .filter(|&(j, b)| {
                            let notice_or_commit = matches!(
                                b,
                                ActorModelAction::Deliver {
                                    msg: Msg::Persistent { .. },
                                    ..
                                } | ActorModelAction::Timeout(..)
                            );
                            en[j] && notice_or_commit && claimed_independent(&ctx, a, b)
                        })
                        .count();
                }
            }
        }
        let set = stubborn::stubborn_set(&m, s, &acts, &en);
        if let [k] = set[..] {
            let k = usize::from(k);
            if let ActorModelAction::Deliver {
                dst,
                msg: Msg::View { .. },
                ..
            } = &acts[k]
            {
                let issuing = s.actor_states[usize::from(*dst)]
                    .originator()
                    .is_some_and(|o| !o.issued);
                if issuing && en.iter().filter(|&&e| e).count() > 1 {
                    issuing_alone += 1;
                }
            }
        }
    });
    println!("evict: {evicting_claims} claims with an evicting view, {issuing_alone} states where the issuing view is the set");
    assert!(evicting_claims > 0, "no claim pairs an evicting view");
    assert!(issuing_alone > 0, "the issuing view is never chosen alone");
}

/// REDOs in flight in `s`.
fn redos_in_flight(s: &SysState) -> usize {
    dtm0::model::in_flight(s)
        .iter()
        .filter(|(_, _, m)| matches!(m, Msg::Redo { .. }))
        .count()
}

/// Every state the reduced search visits (its sets taken from the closure,
/// as in `reduced_dfs`), depth-first.
fn for_each_reduced_state(m: &Dtm0Model, f: impl FnMut(&SysState)) -> usize {
    let choose = |s: &SysState, acts: &[dtm0::model::Action], en: &[bool]| {
        stubborn::stubborn_set(m, s, acts, en)
            .into_iter()
            .map(usize::from)
            .collect()
    };
    walk(m, usize::MAX, choose, f)
}

/// Eviction on arrival (a REDO delivery that sends REDOs) is covered by
/// the claims check: at every state evict-pcrash's reduced search visits
/// (reachable states all; the whole plain graph, 2.23M states, takes
/// minutes: run the first test with DTM0_STUBBORN_MODELS=evict-pcrash),
/// every claim and send holds; some REDO delivery there passes its record
/// on; and some claim pairs a view with a REDO that may pass its record on
/// (new to its participant, after an originator died), the arm of the
/// table that depends on it.
#[test]
fn eviction_on_arrival_is_checked_where_it_passes_a_record_on() {
    let m = model("evict-pcrash");
    let n = m.cfg().cluster.n;
    let (mut claims, mut passed_on, mut paired) = (0, 0, 0);
    let states = for_each_reduced_state(&m, |s| {
        claims += check_state(&m, s).unwrap_or_else(|e| panic!("evict-pcrash: {e}"));
        let (acts, en) = stubborn::actions(&m, s);
        let ctx = Ctx::new(&m, s);
        for (i, a) in acts.iter().enumerate() {
            let ActorModelAction::Deliver {
                dst,
                msg: Msg::Redo { txr, .. },
                ..
            } = a
            else {
                continue;
            };
            if !en[i] {
                continue;
            }
            if let Some(next) = m.next_state(s, a.clone()) {
                if redos_in_flight(&next) >= redos_in_flight(s) {
                    passed_on += 1;
                }
            }
            let Some(p) = s.actor_states[usize::from(*dst)].participant() else {
                continue;
            };
            let after_death = p.view.get(n + txr.id.slot as usize).0 > 1;
            if after_death && !p.log.iter().any(|r| r.id == txr.id) {
                paired += acts
                    .iter()
                    .enumerate()
                    .filter(|&(j, b)| {
                        let view = matches!(b, ActorModelAction::Deliver { dst: d, msg: Msg::View { .. }, .. } if d == dst);
                        en[j] && view && claimed_independent(&ctx, a, b)
                    })
                    .count();
            }
        }
    });
    println!(
        "evict-pcrash: {states} states, {claims} claims, {passed_on} REDO deliveries that pass \
         the record on, {paired} claims pairing a view with a REDO that may"
    );
    assert!(passed_on > 0, "no REDO was passed on");
    assert!(
        paired > 0,
        "no claim pairs a view with a REDO that may be passed on"
    );
}

/// Finding 13, Motr's half: on motr-evict-pcrash's reduced graph (every
/// terminal state of the plain one is kept) some quiescent state has p1
/// holding o1's PUT and p2 nothing: S2 fails there, after p2 restarted.
#[test]
fn motr_eviction_leaves_a_late_redo_on_one_replica() {
    use dtm0::model::properties::PROPS;
    let m = model("motr-evict-pcrash");
    let s2 = PROPS.iter().find(|p| p.id == "S2").unwrap();
    let mut bad = 0;
    for_each_reduced_state(&m, |s| {
        if !(s2.check)(&m, s) {
            let p1 = s.actor_states[0].participant().unwrap();
            let p2 = s.actor_states[1].participant().unwrap();
            assert!(p1.kv.contains_key(&1) && !p2.kv.contains_key(&1), "{s:?}");
            assert!(p2.inc > 1, "p2 restarted");
            bad += 1;
        }
    });
    assert!(bad > 0, "S2 never fails under motr-eviction");
    let m = model("evict-pcrash");
    for_each_reduced_state(&m, |s| assert!((s2.check)(&m, s)));
}

/// The reads' arms of the table are used on the read models: some GET at a
/// participant and some GET reply at an originator are claimed
/// independent of another action of their actor that is not a no-op (so
/// the claims checked above include them), and some reply is classified a
/// no-op (a read that no longer waits for that replica).
#[test]
fn read_arms_are_used() {
    for name in ["read", "motr-read-resurrect"] {
        let m = model(name);
        let (mut get, mut reply) = (0, 0);
        for_each_state(&m, |s| {
            let (acts, en) = stubborn::actions(&m, s);
            let ctx = Ctx::new(&m, s);
            for (i, a) in acts.iter().enumerate() {
                let is_get = matches!(
                    a,
                    ActorModelAction::Deliver {
                        msg: Msg::Get { .. },
                        ..
                    }
                );
                let is_reply = matches!(
                    a,
                    ActorModelAction::Deliver {
                        msg: Msg::GetReply { .. },
                        ..
                    }
                );
                if !en[i] || !(is_get || is_reply) {
                    continue;
                }
                let claimed = acts.iter().enumerate().any(|(j, b)| {
                    en[j]
                        && !matches!(
                            b,
                            ActorModelAction::Deliver {
                                msg: Msg::Get { .. },
                                ..
                            }
                        )
                        && ctx.desc(b).kind != stubborn::NOOP
                        && claimed_independent(&ctx, a, b)
                });
                if claimed && is_get {
                    get += 1;
                }
                if claimed && is_reply {
                    reply += 1;
                }
            }
        });
        println!("{name}: {get} GET claims, {reply} GET-REPLY claims");
        assert!(get > 0, "{name}: no GET claimed independent");
        assert!(reply > 0, "{name}: no GET reply claimed independent");
    }
}
