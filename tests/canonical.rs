//! Canonical stores (`model::canonical`): the stored state vectors of a
//! participant that can no longer crash are made equal to its live ones.
//! That is sound only if no step and no property can tell the two apart.
//! Checked here on every reachable state of the small models, searched
//! without the canonical map (the exact model):
//! - the map commutes with every step: canonical(next(s, a)) equals the
//!   canonical model's next(canonical(s), a), and both models offer the
//!   same actions;
//! - every property (global form) reads the same on s and canonical(s),
//!   and every step-local form flags the same on both transitions;
//! - the canonical model's terminal states are exactly the images of the
//!   exact model's, and the map merges some states (it is not vacuous).

use dtm0::model::file::ModelSpec;
use dtm0::model::steps::step_violations;
use dtm0::model::{build, canonical, visited_fp, Action, Dtm0Model, SysState};
use stateright::Model;
use std::collections::HashSet;
use std::path::Path;

fn pair(name: &str) -> (Dtm0Model, Dtm0Model) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
    let spec = ModelSpec::load(&path).unwrap();
    let mut exact_spec = spec.clone();
    exact_spec.check.exact_store = Some(true);
    (build(&exact_spec), build(&spec))
}

fn successors(m: &Dtm0Model, s: &SysState) -> Vec<(Action, SysState)> {
    let mut acts = Vec::new();
    m.actions(s, &mut acts);
    acts.into_iter()
        .filter_map(|a| {
            m.next_state(s, a.clone())
                .filter(|n| m.within_boundary(n))
                .map(|n| (a, n))
        })
        .collect()
}

struct Counts {
    exact: usize,
    canonical: usize,
    exact_terminals: usize,
    canonical_terminals: usize,
}

fn check(name: &str) -> Counts {
    let (exact, canon) = pair(name);
    let cfg = exact.cfg().clone();
    let props = exact.properties();
    let mut seen = HashSet::new();
    let mut images = HashSet::new();
    let mut exact_terms = HashSet::new();
    let mut image_terms = HashSet::new();
    let mut stack = exact.init_states();
    while let Some(s) = stack.pop() {
        if !seen.insert(visited_fp(&s)) {
            continue;
        }
        let c = canonical(&cfg, &s);
        images.insert(visited_fp(&c));
        for p in &props {
            assert_eq!(
                (p.condition)(&exact, &s),
                (p.condition)(&canon, &c),
                "{name}: {} reads differently on a canonical state",
                p.name
            );
        }
        let ex = successors(&exact, &s);
        let cn = successors(&canon, &c);
        let ea: Vec<&Action> = ex.iter().map(|x| &x.0).collect();
        let ca: Vec<&Action> = cn.iter().map(|x| &x.0).collect();
        assert_eq!(ea, ca, "{name}: the two models offer different steps");
        if ex.is_empty() {
            exact_terms.insert(visited_fp(&s));
            image_terms.insert(visited_fp(&c));
        }
        for ((a, n), (_, cnext)) in ex.into_iter().zip(cn) {
            assert!(
                visited_fp(&canonical(&cfg, &n)) == visited_fp(&cnext)
                    && canonical(&cfg, &n) == cnext,
                "{name}: the map does not commute with {a:?}"
            );
            assert_eq!(
                step_violations(&exact, &s, &a, &n),
                step_violations(&canon, &c, &a, &cnext),
                "{name}: a step-local form reads differently after {a:?}"
            );
            stack.push(n);
        }
    }
    // The canonical model's own search.
    let mut cseen = HashSet::new();
    let mut cterms = HashSet::new();
    let mut stack = canon.init_states();
    while let Some(s) = stack.pop() {
        if !cseen.insert(visited_fp(&s)) {
            continue;
        }
        let next = successors(&canon, &s);
        if next.is_empty() {
            cterms.insert(visited_fp(&s));
        }
        stack.extend(next.into_iter().map(|x| x.1));
    }
    assert_eq!(
        cseen, images,
        "{name}: the canonical search reaches other states than the images"
    );
    assert_eq!(cterms, image_terms, "{name}: terminal states differ");
    Counts {
        exact: seen.len(),
        canonical: cseen.len(),
        exact_terminals: exact_terms.len(),
        canonical_terminals: cterms.len(),
    }
}

#[test]
fn canonical_stores_commute_with_every_step_and_keep_every_verdict() {
    let mut merged_somewhere = false;
    for name in [
        "tiny",
        "three-nocrash",
        "put-crash",
        "stable-k",
        "prune-crash",
    ] {
        let c = check(name);
        eprintln!(
            "{name}: exact {} states, {} terminal; canonical {} states, {} terminal",
            c.exact, c.exact_terminals, c.canonical, c.canonical_terminals
        );
        assert!(c.canonical <= c.exact && c.canonical_terminals <= c.exact_terminals);
        merged_somewhere |= c.canonical < c.exact;
    }
    assert!(merged_somewhere, "the map merged no state on any model");
}

/// The point of it: a failure-free cluster ends in one state whatever
/// the order of the bookkeeping (3 participants, 1 PUT: 19 terminal
/// states without the map).
#[test]
fn a_failure_free_put_ends_in_one_terminal_state() {
    let c = check("three-nocrash");
    assert!(c.exact_terminals > 1);
    assert_eq!(c.canonical_terminals, 1);
}
