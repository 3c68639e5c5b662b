//! Searches of our own over the model, where stateright 0.31 falls short:
//! the shortest path to a violation (its BFS may report a longer path,
//! because a later discovery overwrites an earlier one), and a check that
//! the model has no cycle (every path finite), on which the liveness
//! checks at settled states rely.

use crate::model::{visited_fp as fp, Action, Dtm0Model, SysState};
use stateright::Model;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a long search reports and ends early: progress lines on standard
/// error (at most one every two seconds), and a flag that stops it (the
/// paths found so far are returned, the search unfinished).
#[derive(Default)]
pub struct Ctl<'a> {
    pub progress: bool,
    pub stop: Option<&'a AtomicBool>,
}

/// Breadth-first, level by level, from the initial state, looking for
/// states where each of the `bad` predicates holds; the first level where
/// one does gives a shortest path to it. Returns, per predicate, the
/// actions of a shortest path (or `None` if none within `max_depth`
/// steps), and whether the search finished (`false`: stopped at
/// `max_states` before every predicate was found or the depth reached).
pub fn shortest_paths(
    m: &Dtm0Model,
    bad: &[&dyn Fn(&SysState) -> bool],
    max_depth: usize,
    max_states: usize,
) -> (Vec<Option<Vec<Action>>>, bool) {
    shortest_paths_ctl(m, bad, max_depth, max_states, &Ctl::default())
}

/// `shortest_paths`, with progress lines and a stop flag (`ctl`).
pub fn shortest_paths_ctl(
    m: &Dtm0Model,
    bad: &[&dyn Fn(&SysState) -> bool],
    max_depth: usize,
    max_states: usize,
    ctl: &Ctl,
) -> (Vec<Option<Vec<Action>>>, bool) {
    let start = Instant::now();
    let mut last = Instant::now();
    let mut found: Vec<Option<Vec<Action>>> = vec![None; bad.len()];
    let mut parent: HashMap<u64, (u64, Action)> = HashMap::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let path_to = |parent: &HashMap<u64, (u64, Action)>, mut at: u64| {
        let mut path = Vec::new();
        while let Some((p, a)) = parent.get(&at) {
            path.push(a.clone());
            at = *p;
        }
        path.reverse();
        path
    };
    let mut frontier: Vec<SysState> = Vec::new();
    for s in m.init_states() {
        if seen.insert(fp(&s)) {
            for (i, b) in bad.iter().enumerate() {
                if found[i].is_none() && b(&s) {
                    found[i] = Some(vec![]);
                }
            }
            frontier.push(s);
        }
    }
    let mut actions = Vec::new();
    for depth in 0..max_depth {
        if found.iter().all(|f| f.is_some()) {
            return (found, true);
        }
        let mut next = Vec::new();
        for s in &frontier {
            if ctl.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
                return (found, false);
            }
            if ctl.progress && last.elapsed() >= Duration::from_secs(2) {
                last = Instant::now();
                eprintln!(
                    "shortest counterexamples: {:>6.1}s  depth {depth} of at most {max_depth}  states {} (limit {max_states})  found {} of {}",
                    start.elapsed().as_secs_f64(),
                    seen.len(),
                    found.iter().filter(|f| f.is_some()).count(),
                    found.len()
                );
            }
            let sfp = fp(s);
            actions.clear();
            m.actions(s, &mut actions);
            for a in actions.drain(..) {
                let Some(n) = m.next_state(s, a.clone()) else {
                    continue;
                };
                if !m.within_boundary(&n) {
                    continue;
                }
                let nfp = fp(&n);
                if !seen.insert(nfp) {
                    continue;
                }
                parent.insert(nfp, (sfp, a));
                for (i, b) in bad.iter().enumerate() {
                    if found[i].is_none() && b(&n) {
                        found[i] = Some(path_to(&parent, nfp));
                    }
                }
                next.push(n);
                if seen.len() > max_states {
                    return (found, false);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    (found, true)
}

/// Depth-first search for a cycle among the reachable states within the
/// boundary. Returns the number of states visited, or `Err` with the
/// length of the path that closes a cycle. Stops with `Ok` at `max_states`
/// (then the answer covers only what was visited).
pub fn find_cycle(m: &Dtm0Model, max_states: usize) -> Result<usize, usize> {
    // 0: on the stack, 1: done.
    let mut mark: HashMap<u64, u8> = HashMap::new();
    let init = m
        .init_states()
        .into_iter()
        .next()
        .expect("one initial state");
    let mut stack: Vec<(SysState, Vec<Action>, usize)> = Vec::new();
    let mut acts = Vec::new();
    m.actions(&init, &mut acts);
    mark.insert(fp(&init), 0);
    stack.push((init, acts, 0));
    while let Some((s, acts, i)) = stack.last_mut() {
        if *i == acts.len() {
            let f = fp(s);
            mark.insert(f, 1);
            stack.pop();
            continue;
        }
        let a = acts[*i].clone();
        *i += 1;
        let Some(n) = m.next_state(s, a) else {
            continue;
        };
        if !m.within_boundary(&n) || n == *s {
            continue;
        }
        let nfp = fp(&n);
        match mark.get(&nfp) {
            Some(0) => return Err(stack.len()),
            Some(_) => continue,
            None => {}
        }
        if mark.len() >= max_states {
            return Ok(mark.len());
        }
        mark.insert(nfp, 0);
        let mut next_acts = Vec::new();
        m.actions(&n, &mut next_acts);
        stack.push((n, next_acts, 0));
    }
    Ok(mark.len())
}
