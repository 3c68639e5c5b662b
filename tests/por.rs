//! The reduced search (src/engine/por/) against the plain one: on every small
//! model the same unique states, the same terminal states (fingerprints),
//! the same discoveries; the plain engine against stateright's checker;
//! the cheap enabledness test against the model; and a persistent set
//! smaller than the enabled set where the closure allows one.

use dtm0::engine::check::{self, Reduction, RunOpts};
use dtm0::engine::por::{actor_of, Engine, Outcome, Reduce};
use dtm0::model::file::{ModelSpec, Strategy};
use dtm0::model::symmetry::Renamings;
use dtm0::model::visited_fp as fingerprint;
use dtm0::model::{build, in_flight, Action, Dtm0Model, SysState};
use dtm0::protocol::msg::Msg;
use stateright::actor::{Envelope, Network};
use stateright::Model;
use std::collections::HashSet;
use std::path::Path;

fn spec(name: &str) -> ModelSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
    ModelSpec::load(&path).unwrap()
}

const PLAIN: Reduce = Reduce::PLAIN;
const POR: Reduce = Reduce {
    sleep: true,
    ..Reduce::PERSISTENT
};

fn search(m: &Dtm0Model, r: Reduce) -> Outcome {
    search_on(m, r, 1)
}

fn search_on(m: &Dtm0Model, r: Reduce, threads: usize) -> Outcome {
    let (mut e, _) = Engine::new(m, r, threads);
    e.collect_terminals = true;
    e.run()
}

fn names(o: &Outcome) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = o.found.iter().map(|f| f.0).collect();
    v.sort();
    v
}

/// Small models, each exhaustive in a few seconds in release mode.
const SMALL: &[&str] = &[
    "tiny",
    "put-crash",
    "prune-crash",
    "unordered",
    "orphan",
    "stable-k",
    "lossy",
    "duplicating",
];

#[test]
fn reduced_and_plain_searches_agree_on_every_small_model() {
    for name in SMALL {
        let m = build(&spec(name));
        let plain = search(&m, PLAIN);
        let por = search(&m, POR);
        assert!(plain.complete && por.complete, "{name}");
        // Sleep sets stored with the states lose no state, so the reduced
        // search visits exactly as many unique states...
        assert_eq!(plain.unique, por.unique, "{name}: unique states");
        // ...with fewer transitions (on a duplicating network the
        // reduction is off, and says so),
        let (_, note) = Engine::new(&m, POR, 1);
        if note.is_some() {
            assert_eq!(*name, "duplicating", "{note:?}");
            assert_eq!(por.states, plain.states, "{name}");
        } else {
            assert!(
                por.states < plain.states,
                "{name}: {} vs {}",
                por.states,
                plain.states
            );
        }
        // the same terminal states (a duplicating network has none: a
        // message can always be delivered again),
        assert_eq!(plain.terminals.is_empty(), *name == "duplicating", "{name}");
        assert_eq!(plain.terminals, por.terminals, "{name}: terminal states");
        // and the same verdicts and witnesses.
        assert_eq!(names(&plain), names(&por), "{name}: discoveries");
        // Two threads (persistent sets only, no sleep sets): the same
        // states, every transition taken.
        let two = search_on(&m, POR, 2);
        assert!(two.complete, "{name}");
        assert_eq!(two.unique, plain.unique, "{name}: unique, 2 threads");
        assert_eq!(two.states, plain.states, "{name}: transitions, 2 threads");
        assert_eq!(
            two.terminals, plain.terminals,
            "{name}: terminals, 2 threads"
        );
        assert_eq!(names(&two), names(&plain), "{name}: discoveries, 2 threads");
        println!(
            "{name}: unique {} transitions plain {} reduced {} (factor {:.2}), terminals {}",
            plain.unique,
            plain.states,
            por.states,
            plain.states as f64 / por.states as f64,
            plain.terminals.len()
        );
    }
}

#[test]
fn plain_engine_visits_what_stateright_visits() {
    for name in ["tiny", "put-crash", "unordered"] {
        let s = spec(name);
        let ours = search(&build(&s), PLAIN);
        let opts = RunOpts {
            strategy: Strategy::Dfs,
            threads: 2,
            max_depth: None,
            timeout: None,
            symmetry: false,
            progress: false,
            seed: 1,
            random_order: false,
            stop_at: vec![],
            reduction: Reduction::None,
            only: Vec::new(),
            interrupt: None,
        };
        let r = check::run(&s, &opts).unwrap();
        assert!(r.exhaustive);
        assert_eq!(ours.unique as usize, r.unique_states, "{name}");
        let theirs: Vec<&str> = r.violated.clone();
        assert!(theirs.is_empty(), "{name}: {theirs:?}");
        // Every property stateright saw violated or witnessed, ours did too.
        for p in &r.properties {
            let witnessed = p.witness_status == check::WitnessStatus::Found;
            assert_eq!(
                witnessed,
                ours.found.iter().any(|f| f.0 == p.witness),
                "{name}: {}",
                p.witness
            );
        }
    }
}

#[test]
fn symmetric_reduced_search_keeps_the_verdicts_and_terminal_classes() {
    // Models whose participants are interchangeable (equal crash budgets).
    for name in ["tiny", "unordered"] {
        let m = build(&spec(name));
        let plain = search(&m, PLAIN);
        let sym = search(
            &m,
            Reduce {
                persistent: true,
                sleep: false,
                symmetry: true,
                semantic: false,
            },
        );
        assert!(sym.complete);
        assert!(sym.unique < plain.unique, "{name}: symmetry merged nothing");
        assert_eq!(names(&plain), names(&sym), "{name}");
        // Terminal states up to renaming: the canonical forms of the plain
        // search's terminal states are what the symmetric search stores.
        let (cfg, classes) = (m.cfg(), dtm0::model::symmetry::classes);
        let r = Renamings::new(classes(&cfg.budgets, cfg.cluster.n), cfg.cluster.n);
        let mut reps: Vec<u64> = terminal_states(&m)
            .iter()
            .map(|s| r.canonical_fp(s))
            .collect();
        reps.sort();
        reps.dedup();
        assert_eq!(reps, sym.terminals, "{name}");
    }
}

/// The semantic reduction with symmetry within classes of participants
/// with equal crash budgets (`dtm0 check --symmetry`): the same verdicts
/// and witnesses as the plain search, and the same terminal states up to
/// renaming, compared by an exact canonical form (the least fingerprint
/// over every renaming within the classes), on models with a class, clean
/// and broken; and fewer states than the semantic reduction alone.
#[test]
fn semantic_search_with_symmetry_keeps_verdicts_and_terminal_classes() {
    let cases: &[(&str, &[&str], bool)] = &[
        ("tiny", &[], true),
        ("tiny", &["p-before-commit"], true),
        ("tiny", &["invent-peer-p"], true),
        ("unordered", &[], true),
        ("unordered", &["del-absent-no-tombstone"], true),
        ("three-nocrash", &[], true),
        ("evict", &[], true),
        ("orphan", &["no-eviction"], true),
        ("orphan", &[], true),
    ];
    let sym = Reduce {
        symmetry: true,
        ..Reduce::SEMANTIC
    };
    for &(name, variants, terminals) in cases {
        let variants: Vec<String> = variants.iter().map(|v| v.to_string()).collect();
        let m = build(&spec(name).with_variants(&variants).unwrap());
        let cfg = m.cfg();
        let classes = dtm0::model::symmetry::classes(&cfg.budgets, cfg.cluster.n);
        assert!(!classes.is_empty(), "{name}: no class");
        let run = |r: Reduce| {
            let (mut e, _) = Engine::new(&m, r, 1);
            e.collect_terminals = true;
            e.canonical_terminals = true;
            e.run()
        };
        let plain = run(PLAIN);
        let semantic = run(Reduce::SEMANTIC);
        let both = run(sym);
        assert!(plain.complete && both.complete, "{name} {variants:?}");
        assert_eq!(names(&plain), names(&both), "{name} {variants:?}");
        assert!(
            both.unique < semantic.unique,
            "{name} {variants:?}: symmetry merged nothing ({} vs {})",
            both.unique,
            semantic.unique
        );
        if terminals {
            assert_eq!(plain.terminals, both.terminals, "{name} {variants:?}");
        }
        println!(
            "{name} {variants:?}: plain {} semantic {} with symmetry {}, terminal classes {}",
            plain.unique,
            semantic.unique,
            both.unique,
            both.terminals.len()
        );
    }
}

/// The canonical form symmetry stores is one per class of equivalent
/// states: every renaming within the classes of a reachable state has the
/// same one, and states with different canonical forms are not renamings
/// of each other (checked on three participants, one class of three, and
/// on two classes of one and two).
#[test]
fn canonical_form_is_shared_by_every_renaming_and_only_by_them() {
    use dtm0::model::symmetry::{classes, renamed};
    for name in ["three-nocrash", "three-crash"] {
        let m = build(&spec(name));
        let n = m.cfg().cluster.n;
        let r = Renamings::new(classes(&m.cfg().budgets, n), n);
        let perms: Vec<Vec<usize>> = match name {
            "three-nocrash" => vec![
                vec![0, 2, 1],
                vec![1, 0, 2],
                vec![1, 2, 0],
                vec![2, 0, 1],
                vec![2, 1, 0],
            ],
            _ => vec![vec![0, 2, 1]],
        };
        let mut seen = HashSet::new();
        let mut stack = m.init_states();
        let mut classes_seen = std::collections::HashMap::new();
        while let Some(s) = stack.pop() {
            if !seen.insert(fingerprint(&s)) || seen.len() > 20_000 {
                continue;
            }
            let c = r.canonical_fp(&s);
            for to in &perms {
                let t = renamed(&s, to);
                assert_eq!(r.canonical_fp(&t), c, "{name}: renaming {to:?}");
            }
            // Two states sharing a form are renamings of each other.
            let orbit: HashSet<u64> = std::iter::once(fingerprint(&s))
                .chain(perms.iter().map(|to| fingerprint(&renamed(&s, to))))
                .collect();
            if let Some(other) = classes_seen.insert(c, fingerprint(&s)) {
                assert!(orbit.contains(&other), "{name}: one form, two orbits");
            }
            let mut acts = Vec::new();
            m.actions(&s, &mut acts);
            for a in acts {
                if let Some(n) = m.next_state(&s, a).filter(|n| m.within_boundary(n)) {
                    stack.push(n);
                }
            }
        }
        assert!(
            classes_seen.len() < seen.len(),
            "{name}: no two states merged"
        );
    }
}

/// Every reachable state (plain exploration), for small models.
fn reachable(m: &Dtm0Model) -> Vec<SysState> {
    let mut seen = HashSet::new();
    let mut stack = m.init_states();
    let mut all = Vec::new();
    while let Some(s) = stack.pop() {
        if !seen.insert(fingerprint(&s)) {
            continue;
        }
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        for a in acts {
            if let Some(n) = m.next_state(&s, a).filter(|n| m.within_boundary(n)) {
                stack.push(n);
            }
        }
        all.push(s);
    }
    all
}

fn terminal_states(m: &Dtm0Model) -> Vec<SysState> {
    reachable(m)
        .into_iter()
        .filter(|s| {
            let mut acts = Vec::new();
            m.actions(s, &mut acts);
            acts.into_iter().all(|a| {
                m.next_state(s, a)
                    .filter(|n| m.within_boundary(n))
                    .is_none()
            })
        })
        .collect()
}

#[test]
fn cheap_enabledness_matches_the_model() {
    for name in ["tiny", "put-crash", "unordered", "prune-crash"] {
        let m = build(&spec(name));
        let (e, _) = Engine::new(&m, POR, 1);
        let mut checked = 0;
        for s in reachable(&m) {
            let mut acts: Vec<Action> = Vec::new();
            m.actions(&s, &mut acts);
            for a in acts {
                let real = m
                    .next_state(&s, a.clone())
                    .filter(|n| m.within_boundary(n))
                    .is_some();
                assert_eq!(e.enabled(&s, &a), real, "{name}: {a:?}");
                checked += 1;
            }
        }
        assert!(checked > 100, "{name}");
    }
}

#[test]
fn persistent_set_is_smaller_when_no_outside_actor_can_reach_ha() {
    // tiny's initial state, with one restart notice queued to HA from every
    // other actor: HA's deliveries form a persistent set (whatever the
    // others do, they only queue behind those notices), and HA's actions
    // are invisible to the properties of intermediate states.
    let s = spec("tiny");
    let m = build(&s);
    let init = m.init_states().remove(0);
    let c = &m.cfg().cluster;
    let ha = c.ha_id();
    let mut envs: Vec<Envelope<Msg>> = in_flight(&init)
        .into_iter()
        .map(|(src, dst, msg)| Envelope {
            src,
            dst,
            msg: msg.clone(),
        })
        .collect();
    for i in 0..c.actor_count() - 1 {
        envs.push(Envelope {
            src: i.into(),
            dst: ha,
            msg: Msg::Starting { inc: 1 },
        });
    }
    let mut st = init.clone();
    st.network = Network::new_ordered(envs);
    let (e, _) = Engine::new(&m, POR, 1);
    let t = e.persistent_set(&st);
    let mut all = Vec::new();
    m.actions(&st, &mut all);
    assert!(!t.is_empty());
    assert!(t.len() < all.len(), "{t:?} vs {all:?}");
    assert!(t.iter().all(|a| actor_of(a) == usize::from(ha)), "{t:?}");
    // Remove p1's notice: p1 has a request to execute, so it may act and
    // then send HA a message that no queued one precedes; p1 joins the
    // set, its actions are visible, and the state is expanded fully.
    let p1 = usize::from(c.participant_id(0));
    let envs2: Vec<Envelope<Msg>> = in_flight(&st)
        .into_iter()
        .filter(|(src, dst, _)| !(usize::from(*src) == p1 && *dst == ha))
        .map(|(src, dst, msg)| Envelope {
            src,
            dst,
            msg: msg.clone(),
        })
        .collect();
    st.network = Network::new_ordered(envs2);
    let mut all2 = Vec::new();
    m.actions(&st, &mut all2);
    assert!(all2.iter().any(|a| actor_of(a) == p1), "p1 may act");
    assert_eq!(e.persistent_set(&st).len(), all2.len());
}

/// Every actor-level independence claim, at every reachable state of the
/// small models (the first 60,000 states of the larger ones), holds when both orders are
/// executed: neither disables the other and both end in the same state.
#[test]
fn every_actor_level_claim_holds_in_both_orders() {
    for name in ["tiny", "put-crash", "three-nocrash", "unordered", "lossy"] {
        let m = build(&spec(name));
        let (e, _) = Engine::new(&m, Reduce::PERSISTENT, 1);
        let mut seen = HashSet::new();
        let mut stack = m.init_states();
        let mut claims = 0u64;
        while let Some(s) = stack.pop() {
            if !seen.insert(fingerprint(&s)) || seen.len() > 60_000 {
                continue;
            }
            let mut acts = Vec::new();
            m.actions(&s, &mut acts);
            let en: Vec<&Action> = acts.iter().filter(|a| e.enabled(&s, a)).collect();
            for (i, a) in en.iter().enumerate() {
                for b in &en[i + 1..] {
                    if e.independent(a, b) {
                        claims += 1;
                        dtm0::engine::stubborn::check_independence(&m, &s, a, b)
                            .unwrap_or_else(|err| panic!("{name}: {err}"));
                    }
                }
            }
            for a in acts {
                if let Some(n) = m.next_state(&s, a).filter(|n| m.within_boundary(n)) {
                    stack.push(n);
                }
            }
        }
        assert!(claims > 0, "{name}: no claim was checked");
    }
}
