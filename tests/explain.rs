//! The explanation of each property (`Prop::why`) against its check: on
//! every state a breadth-first walk reaches in the small models, with the
//! variants and mutants that break them, `why` says something exactly
//! where `check` fails, and what it says names one of the property's
//! clauses. Every property's explanation is exercised on some state.

use dtm0::model::file::ModelSpec;
use dtm0::model::properties::{clause_of, PROPS};
use dtm0::model::{build, visited_fp, SysState};
use stateright::Model;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

fn spec(name: &str, variants: &[&str]) -> ModelSpec {
    let v: Vec<String> = variants.iter().map(|s| s.to_string()).collect();
    ModelSpec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml")))
        .unwrap()
        .with_variants(&v)
        .unwrap()
}

/// Walks at most `limit` states of the model depth-first (deep, settled
/// states come early); per property,
/// the number of states where it fails. Panics where `why` and `check`
/// disagree or an explanation names no clause of its property.
fn walk(s: &ModelSpec, limit: usize) -> BTreeMap<&'static str, usize> {
    let m = build(s);
    let mut seen = HashSet::new();
    let mut stack: Vec<SysState> = m.init_states();
    let mut failing = BTreeMap::new();
    let mut acts = Vec::new();
    while seen.len() < limit {
        let Some(st) = stack.pop() else { break };
        let st = &st;
        {
            if !seen.insert(visited_fp(st)) {
                continue;
            }
            for p in PROPS {
                let holds = (p.check)(&m, st);
                let why = (p.why)(&m, st);
                assert_eq!(
                    holds,
                    why.is_none(),
                    "{} on {}: check says {holds}, why says {why:?}",
                    p.id,
                    s.name
                );
                if let Some(w) = why {
                    let label = clause_of(&w).unwrap_or_else(|| panic!("{}: {w}", p.id));
                    assert!(
                        p.clauses
                            .iter()
                            .any(|c| c.starts_with(&format!("{label}:"))),
                        "{}: `{label}` is not one of its clauses ({w})",
                        p.id
                    );
                    *failing.entry(p.id).or_insert(0) += 1;
                }
            }
            acts.clear();
            m.actions(st, &mut acts);
            for a in acts.drain(..) {
                if let Some(n) = m.next_state(st, a) {
                    if m.within_boundary(&n) && !seen.contains(&visited_fp(&n)) {
                        stack.push(n);
                    }
                }
            }
        }
    }
    failing
}

#[test]
fn every_explanation_agrees_with_its_check() {
    let runs: &[(&str, &[&str])] = &[
        ("tiny", &[]),
        ("tiny", &["p-before-commit"]),
        ("put-crash", &["eol-before-acks"]),
        ("put-crash", &["redo-skip-persistent"]),
        ("put-crash", &["skip-recovering-writer"]),
        ("put-crash", &["eol-wrong-incarnation"]),
        ("prune-crash", &["prune-on-local-p"]),
        ("unordered", &["del-absent-no-tombstone"]),
        ("orphan", &["del-absent-no-tombstone"]),
        ("orphan", &["no-eviction"]),
        ("crash-twice", &["stale-eol"]),
        ("both-crash", &["forget-eol-on-transient-view"]),
        ("lossy", &[]),
        ("equal-ts", &[]),
        ("equal-ts", &["motr-version-order"]),
        ("crash-twice", &["no-epochs"]),
        ("evict-split", &["no-execute-fence"]),
        ("gc", &["collect-on-commit"]),
        ("gc-orphan", &[]),
        ("fail-first-p", &[]),
        ("motr-read-resurrect", &[]),
        ("read-one", &[]),
        ("motr-clock-lag", &[]),
        ("equal-ts", &["motr-silent-supersede"]),
    ];
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (model, variants) in runs {
        for (id, n) in walk(&spec(model, variants), 15_000) {
            *seen.entry(id).or_insert(0) += n;
        }
    }
    let missing: Vec<&str> = PROPS
        .iter()
        .map(|p| p.id)
        .filter(|id| !seen.contains_key(id))
        .collect();
    eprintln!("failing states per property: {seen:?}");
    assert!(
        missing.is_empty(),
        "no state failed {missing:?}: their explanations are untested ({seen:?})"
    );
}

#[test]
fn replicas_differing_only_in_value_or_writer_print_differently() {
    use dtm0::model::render::kv;
    use dtm0::protocol::types::{Kv, Op, Rec, TxId, Version};
    let c = spec("equal-ts", &[]).cluster;
    let rec = |slot: u8, val: u64| {
        let id = TxId {
            ts: 10,
            slot,
            inc: 1,
        };
        let ver = Version::of(id, &Op::Put { key: 1, val });
        Rec { ver, val }
    };
    let none = Default::default();
    let (mut a, mut b, mut q) = (Kv::new(), Kv::new(), Kv::new());
    a.insert(1, rec(0, 1));
    b.insert(1, rec(0, 7));
    q.insert(1, rec(1, 1));
    // A value other than the key's default always shows.
    assert_ne!(
        kv(&c, &a, &none),
        kv(&c, &b, &none),
        "{}",
        kv(&c, &a, &none)
    );
    assert!(
        kv(&c, &b, &none).contains("k1@10=7"),
        "{}",
        kv(&c, &b, &none)
    );
    // Same value, other writer: alike unless the key is marked as differing.
    assert_eq!(kv(&c, &a, &none), kv(&c, &q, &none));
    let differ = [1].into_iter().collect();
    assert!(
        kv(&c, &a, &differ).contains("k1@10=1 by o1"),
        "{}",
        kv(&c, &a, &differ)
    );
    assert!(
        kv(&c, &q, &differ).contains("k1@10=1 by q1"),
        "{}",
        kv(&c, &q, &differ)
    );
}

/// S11's two clauses each explain some state: a visible resurrection (a
/// read of a key whose DEL was STABLE returns Motr's resurrected record)
/// and a lost STABLE write (one replica asked, which lost the PUT).
#[test]
fn reads_explain_both_clauses() {
    let mut labels = std::collections::BTreeSet::new();
    for name in ["motr-read-resurrect", "read-one"] {
        let m = build(&spec(name, &[]));
        let mut seen = HashSet::new();
        let mut stack: Vec<SysState> = m.init_states();
        let mut acts = Vec::new();
        while let Some(st) = stack.pop() {
            if !seen.insert(visited_fp(&st)) {
                continue;
            }
            for (id, w) in dtm0::model::properties::explain(&m, &st) {
                if id == "S11" {
                    labels.insert(clause_of(&w).unwrap().to_string());
                }
            }
            acts.clear();
            m.actions(&st, &mut acts);
            for a in acts.drain(..) {
                if let Some(n) = m.next_state(&st, a) {
                    if m.within_boundary(&n) && !seen.contains(&visited_fp(&n)) {
                        stack.push(n);
                    }
                }
            }
        }
    }
    assert!(labels.contains("no visible resurrection"), "{labels:?}");
    assert!(labels.contains("no lost STABLE write"), "{labels:?}");
}
