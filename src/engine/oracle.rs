//! Exact soundness checks of the partial-order reduction on small models
//! (issue 11, item 5): the full state graph of a model, an exact test that
//! a set of actions is persistent on it, the reduced search every set of
//! our engine chooses checked with that test, and an oracle: the reduced
//! search that takes, at each state, the first persistent set among the
//! single non-crash actions, each actor's enabled actions and everything.
//!
//! Persistence (Godefroid, 1996): a set `T` of actions enabled at `s` is
//! persistent at `s` when along every path from `s` made of actions outside
//! `T`, every action taken is independent of every action of `T`. On the
//! graph this reads: at every state `u` reachable from `s` by actions
//! outside `T`, every `t` of `T` is enabled, and for every enabled `a`
//! outside `T`, with `u -a-> v`: `t` is enabled at `v`, `a` is enabled at
//! `t(u)`, and `t(v) == a(t(u))` (the diamond closes on the same state).
//! Enabled means what the search takes: `next_state` gives a successor and
//! it is within the boundary.
//!
//! The oracle ignores visibility, and its sets are exact on the graph: it
//! shows what a reduction choosing among the same candidates can reach at
//! best. It is not a bound for every reduction: a set made of several
//! actors, or of some of one actor's actions, is not among its candidates,
//! and its count depends on the depth-first order and on taking the first
//! persistent candidate (the outside prototype of issue 11, with closures
//! of any shape, reached 974 on put-crash and 1,685 on unordered, where
//! this oracle takes 1,020 and 2,587). Persistent sets that are never
//! empty where an action is enabled keep every terminal state (Godefroid,
//! Theorem 4.3), which the tests compare with the plain search.

use crate::engine::por::{actor_of, Engine};
use crate::model::{visited_fp, Action, Dtm0Model, SysState};
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

/// One enabled action of a state: the action's number in the graph's table
/// of actions and the successor's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub action: u32,
    pub to: u32,
}

/// The reachable state graph of a model within its boundary. States are
/// numbered in the order they are found (the initial state is 0) and kept
/// only as their fingerprints (`visited_fp`); actions are interned.
pub struct Graph {
    actions: Vec<Action>,
    ids: HashMap<Action, u32>,
    fps: Vec<u64>,
    index: HashMap<u64, u32>,
    /// Per state, its range in `edges`, in the model's order of actions.
    ranges: Vec<(u32, u32)>,
    edges: Vec<Edge>,
}

impl Graph {
    /// Explores every state reachable from the initial states; an error
    /// when more than `cap` states are found (or the model's stop flag is
    /// set, which cuts the graph short).
    pub fn build(m: &Dtm0Model, cap: usize) -> Result<Graph, String> {
        let mut g = Graph {
            actions: Vec::new(),
            ids: HashMap::new(),
            fps: Vec::new(),
            index: HashMap::new(),
            ranges: Vec::new(),
            edges: Vec::new(),
        };
        let too_many = || format!("more than {cap} states: the graph is not built");
        // States wait here until expanded; the graph keeps none.
        let mut stack: Vec<(u32, SysState)> = Vec::new();
        for init in m.init_states() {
            if !m.within_boundary(&init) {
                continue;
            }
            let fp = visited_fp(&init);
            if g.index.contains_key(&fp) {
                continue;
            }
            let i = g.add_state(fp, cap).ok_or_else(too_many)?;
            stack.push((i, init));
        }
        let mut acts = Vec::new();
        while let Some((i, s)) = stack.pop() {
            acts.clear();
            m.actions(&s, &mut acts);
            let start = g.edges.len();
            for a in acts.drain(..) {
                let Some(next) = m.next_state(&s, a.clone()).filter(|n| m.within_boundary(n))
                else {
                    continue;
                };
                let aid = g.intern(a);
                if g.edges[start..].iter().any(|e| e.action == aid) {
                    continue; // listed twice: the same step
                }
                let fp = visited_fp(&next);
                let to = match g.index.get(&fp) {
                    Some(&j) => j,
                    None => {
                        let j = g.add_state(fp, cap).ok_or_else(too_many)?;
                        stack.push((j, next));
                        j
                    }
                };
                g.edges.push(Edge { action: aid, to });
            }
            let end = u32::try_from(g.edges.len()).map_err(|_| "more than 2^32 edges")?;
            g.ranges[i as usize] = (start as u32, end);
        }
        if m.cfg().stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Err("the model's stop flag is set: the graph is cut short".into());
        }
        Ok(g)
    }

    fn add_state(&mut self, fp: u64, cap: usize) -> Option<u32> {
        if self.fps.len() >= cap || self.fps.len() >= u32::MAX as usize {
            return None;
        }
        let i = self.fps.len() as u32;
        self.fps.push(fp);
        self.index.insert(fp, i);
        self.ranges.push((0, 0));
        Some(i)
    }

    fn intern(&mut self, a: Action) -> u32 {
        if let Some(&id) = self.ids.get(&a) {
            return id;
        }
        let id = self.actions.len() as u32;
        self.actions.push(a.clone());
        self.ids.insert(a, id);
        id
    }

    /// Unique states: what the plain search counts.
    pub fn len(&self) -> usize {
        self.fps.len()
    }
    pub fn is_empty(&self) -> bool {
        self.fps.is_empty()
    }
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }
    /// Distinct actions over the whole graph.
    pub fn action_count(&self) -> usize {
        self.actions.len()
    }
    /// The fingerprint (`visited_fp`) of state `i`.
    pub fn fp(&self, i: usize) -> u64 {
        self.fps[i]
    }
    /// The index of a state, if it is in the graph.
    pub fn index_of(&self, s: &SysState) -> Option<usize> {
        self.index.get(&visited_fp(s)).map(|&i| i as usize)
    }
    /// The position of state `i`'s first edge among all edges (its
    /// edges follow it): indexes what `singletons` returns.
    pub fn first_edge(&self, i: usize) -> usize {
        self.ranges[i].0 as usize
    }
    /// The enabled actions of state `i`, in the model's order.
    pub fn edges(&self, i: usize) -> &[Edge] {
        let (a, b) = self.ranges[i];
        &self.edges[a as usize..b as usize]
    }
    pub fn action(&self, id: u32) -> &Action {
        &self.actions[id as usize]
    }
    /// The number of an action, if it is enabled somewhere in the graph.
    pub fn action_id(&self, a: &Action) -> Option<u32> {
        self.ids.get(a).copied()
    }
    /// The successor of `i` by action `aid`, if enabled there.
    pub fn succ(&self, i: usize, aid: u32) -> Option<usize> {
        self.edges(i)
            .iter()
            .find(|e| e.action == aid)
            .map(|e| e.to as usize)
    }
    /// Fingerprints of the states with no enabled action, sorted.
    pub fn terminals(&self) -> Vec<u64> {
        let mut t: Vec<u64> = (0..self.len())
            .filter(|&i| self.edges(i).is_empty())
            .map(|i| self.fps[i])
            .collect();
        t.sort_unstable();
        t
    }
}

/// Why a set is not persistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The set is empty while the state has an enabled action.
    Empty,
    /// `t` is not enabled at the state the path leads to.
    NotEnabled,
    /// The outside action disables `t`.
    Disables,
    /// `t` disables the outside action.
    Disabled,
    /// Both orders are enabled but end in different states.
    Apart,
}

/// A path of actions outside the set, from the state checked to where a set
/// action `t` fails with the outside action taken there.
#[derive(Clone, Debug)]
pub struct Witness {
    pub path: Vec<Action>,
    pub t: Option<Action>,
    pub outside: Option<Action>,
    pub failure: Failure,
}

impl Witness {
    /// The witness in the model's words.
    pub fn describe(&self, m: &Dtm0Model) -> String {
        let path: Vec<String> = self.path.iter().map(|a| m.format_action(a)).collect();
        let name = |a: &Option<Action>| a.as_ref().map(|a| m.format_action(a));
        format!(
            "{:?}: set action {:?}, outside action {:?}, after outside path [{}]",
            self.failure,
            name(&self.t),
            name(&self.outside),
            path.join("; ")
        )
    }
}

impl fmt::Display for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: set action {:?}, outside action {:?}, after outside path {:?}",
            self.failure, self.t, self.outside, self.path
        )
    }
}

/// Whether `set` (actions enabled at state `s`) is persistent at `s` on the
/// graph; otherwise a witness (boxed: failures are rare, results many). An action of `set` that is not enabled at
/// `s` fails with an empty path; an empty set passes only at a terminal
/// state.
pub fn is_persistent(g: &Graph, s: usize, set: &[Action]) -> Result<(), Box<Witness>> {
    let mut ids = Vec::with_capacity(set.len());
    for a in set {
        match g.action_id(a) {
            Some(id) => ids.push(id),
            None => {
                return Err(Box::new(Witness {
                    path: vec![],
                    t: Some(a.clone()),
                    outside: None,
                    failure: Failure::NotEnabled,
                }))
            }
        }
    }
    persistent_ids(g, s, &ids)
}

/// `is_persistent` on action numbers: a breadth-first walk of the states
/// reachable from `s` by actions outside `set` (nearest first, so most
/// failures show at once), stopping at the first failure.
pub fn persistent_ids(g: &Graph, s: usize, set: &[u32]) -> Result<(), Box<Witness>> {
    let s = s as u32;
    // Parent of each state of the region: (state, action) it was reached by.
    let mut parent: HashMap<u32, (u32, u32)> = HashMap::new();
    parent.insert(s, (u32::MAX, u32::MAX));
    let fail = |parent: &HashMap<u32, (u32, u32)>, at: u32, t: Option<u32>, a: Option<u32>, f| {
        let mut path = Vec::new();
        let mut x = at;
        while let Some(&(p, act)) = parent.get(&x) {
            if p == u32::MAX {
                break;
            }
            path.push(g.action(act).clone());
            x = p;
        }
        path.reverse();
        Err(Box::new(Witness {
            path,
            t: t.map(|t| g.action(t).clone()),
            outside: a.map(|a| g.action(a).clone()),
            failure: f,
        }))
    };
    if set.is_empty() && !g.edges(s as usize).is_empty() {
        return fail(&parent, s, None, None, Failure::Empty);
    }
    let mut queue = VecDeque::from([s]);
    while let Some(u) = queue.pop_front() {
        let ui = u as usize;
        // Successors of u by the set's actions.
        let mut tu = Vec::with_capacity(set.len());
        for &t in set {
            match g.succ(ui, t) {
                Some(x) => tu.push(x),
                None => return fail(&parent, u, Some(t), None, Failure::NotEnabled),
            }
        }
        for e in g.edges(ui) {
            if set.contains(&e.action) {
                continue;
            }
            let v = e.to as usize;
            for (k, &t) in set.iter().enumerate() {
                let Some(tv) = g.succ(v, t) else {
                    return fail(&parent, u, Some(t), Some(e.action), Failure::Disables);
                };
                let Some(atu) = g.succ(tu[k], e.action) else {
                    return fail(&parent, u, Some(t), Some(e.action), Failure::Disabled);
                };
                if atu != tv {
                    return fail(&parent, u, Some(t), Some(e.action), Failure::Apart);
                }
            }
            if let std::collections::hash_map::Entry::Vacant(x) = parent.entry(e.to) {
                x.insert((u, e.action));
                queue.push_back(e.to);
            }
        }
    }
    Ok(())
}

/// For every edge `s -t-> ...` of the graph, whether `{t}` is persistent
/// at `s`, for all edges at once. `{t}` fails at `s` exactly when a path of
/// actions other than `t`, along which `t` stays enabled, reaches a state
/// where some other enabled action does not close a diamond with `t` or
/// disables it (a "bad" state for `t`): the bad states are found locally,
/// and failure is carried backwards along edges of other actions between
/// states where `t` is enabled. Costs about edges × out-degree.
pub fn singletons(g: &Graph) -> Vec<bool> {
    let n = g.len();
    let edge_index = |i: usize, aid: u32| -> Option<usize> {
        let (a, b) = g.ranges[i];
        (a as usize..b as usize).find(|&k| g.edges[k].action == aid)
    };
    // Bad: the local diamond test of t against every other enabled action.
    let mut failed = vec![false; g.edges.len()];
    let mut work: Vec<(u32, u32)> = Vec::new();
    for u in 0..n {
        let lo = g.first_edge(u);
        for (j, &Edge { action: t, to: tu }) in g.edges(u).iter().enumerate() {
            let k = lo + j;
            let bad = g.edges(u).iter().any(|e| {
                e.action != t
                    && match (g.succ(e.to as usize, t), g.succ(tu as usize, e.action)) {
                        (Some(x), Some(y)) => x != y,
                        _ => true,
                    }
            });
            if bad {
                failed[k] = true;
                work.push((u as u32, t));
            }
        }
    }
    // Predecessors (state, action) of each state.
    let mut pred_start = vec![0u32; n + 1];
    for e in &g.edges {
        pred_start[e.to as usize + 1] += 1;
    }
    for i in 0..n {
        pred_start[i + 1] += pred_start[i];
    }
    let mut fill = pred_start.clone();
    let mut preds = vec![(0u32, 0u32); g.edges.len()];
    for u in 0..n {
        for e in g.edges(u) {
            let slot = &mut fill[e.to as usize];
            preds[*slot as usize] = (u as u32, e.action);
            *slot += 1;
        }
    }
    // Carry failure backwards along other actions, within states where t
    // is enabled (a predecessor where t is not enabled is bad already or
    // not in the region of any state where t is).
    while let Some((u, t)) = work.pop() {
        let (a, b) = (pred_start[u as usize], pred_start[u as usize + 1]);
        for &(p, act) in &preds[a as usize..b as usize] {
            if act == t {
                continue;
            }
            if let Some(k) = edge_index(p as usize, t) {
                if !failed[k] {
                    failed[k] = true;
                    work.push((p, t));
                }
            }
        }
    }
    failed.into_iter().map(|f| !f).collect()
}

/// Which kind of candidate the oracle took at a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Terminal,
    Single,
    Actor,
    All,
}

/// The oracle's reduced search.
#[derive(Clone, Debug, Default)]
pub struct OracleOutcome {
    pub unique: usize,
    /// Transitions taken.
    pub transitions: usize,
    /// Fingerprints of the terminal states reached, sorted.
    pub terminals: Vec<u64>,
    /// States where the set taken was a single action, an actor's enabled
    /// actions, or every enabled action (with more than one enabled).
    pub single: usize,
    pub actor: usize,
    pub all: usize,
}

fn is_crash(a: &Action) -> bool {
    matches!(a, ActorModelAction::Crash(_))
}

/// The set the oracle takes at state `s`, with `ok` from `singletons`:
/// the first persistent one of each enabled non-crash action alone, each
/// actor's enabled actions (actors in order, when they include a non-crash
/// action and are not every enabled action), every enabled action.
pub fn oracle_set(g: &Graph, ok: &[bool], s: usize) -> (Vec<u32>, Choice) {
    let edges = g.edges(s);
    if edges.is_empty() {
        return (vec![], Choice::Terminal);
    }
    let all: Vec<u32> = edges.iter().map(|e| e.action).collect();
    if all.len() == 1 {
        return (all, Choice::All);
    }
    let lo = g.ranges[s].0 as usize;
    for (k, e) in edges.iter().enumerate() {
        if ok[lo + k] && !is_crash(g.action(e.action)) {
            return (vec![e.action], Choice::Single);
        }
    }
    let mut actors: Vec<usize> = all.iter().map(|&a| actor_of(g.action(a))).collect();
    actors.sort_unstable();
    actors.dedup();
    for p in actors {
        let t: Vec<u32> = all
            .iter()
            .copied()
            .filter(|&a| actor_of(g.action(a)) == p)
            .collect();
        let non_crash = t.iter().filter(|&&a| !is_crash(g.action(a))).count();
        // A lone non-crash action was tried above.
        if t.len() == all.len() || non_crash == 0 || t.len() == 1 {
            continue;
        }
        if persistent_ids(g, s, &t).is_ok() {
            return (t, Choice::Actor);
        }
    }
    (all, Choice::All)
}

/// The oracle's reduced depth-first search from the initial state.
pub fn oracle(g: &Graph) -> OracleOutcome {
    let ok = singletons(g);
    let mut out = OracleOutcome::default();
    if g.is_empty() {
        return out;
    }
    let mut seen = vec![false; g.len()];
    let mut stack = vec![0usize];
    seen[0] = true;
    while let Some(s) = stack.pop() {
        out.unique += 1;
        let (set, choice) = oracle_set(g, &ok, s);
        match choice {
            Choice::Terminal => out.terminals.push(g.fp(s)),
            Choice::Single => out.single += 1,
            Choice::Actor => out.actor += 1,
            Choice::All if set.len() > 1 => out.all += 1,
            Choice::All => {}
        }
        for t in set {
            let to = g.succ(s, t).expect("the set is enabled");
            out.transitions += 1;
            if !seen[to] {
                seen[to] = true;
                stack.push(to);
            }
        }
    }
    out.terminals.sort_unstable();
    out
}

/// The exact check of every set our reduced search chooses: a search from
/// the initial state that follows, at each state, the actions of
/// `engine.persistent_set` (those enabled on the graph), checking each set
/// with `is_persistent`. The number of sets checked, or the first failure.
/// Sets are checked on concrete states (no symmetry).
pub fn check_chosen_sets(m: &Dtm0Model, g: &Graph, engine: &Engine) -> Result<usize, String> {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut stack: Vec<(u64, SysState)> = Vec::new();
    for init in m.init_states() {
        let fp = visited_fp(&init);
        if m.within_boundary(&init) && seen.insert(fp) {
            stack.push((fp, init));
        }
    }
    let mut checked = 0;
    while let Some((fp, s)) = stack.pop() {
        let i = *g
            .index
            .get(&fp)
            .ok_or("a state of the reduced search is not in the graph")? as usize;
        let chosen = engine.persistent_set(&s);
        let ids: Vec<u32> = chosen
            .iter()
            .filter_map(|a| g.action_id(a).filter(|&id| g.succ(i, id).is_some()))
            .collect();
        persistent_ids(g, i, &ids).map_err(|w| {
            format!(
                "the set of {} action(s) chosen at state {i} (of {} enabled) is not persistent: {}",
                ids.len(),
                g.edges(i).len(),
                w.describe(m)
            )
        })?;
        checked += 1;
        for a in chosen {
            let Some(next) = m.next_state(&s, a).filter(|n| m.within_boundary(n)) else {
                continue;
            };
            let fp = visited_fp(&next);
            if seen.insert(fp) {
                stack.push((fp, next));
            }
        }
    }
    Ok(checked)
}

/// Unique states of the plain search and of the oracle's reduced search,
/// for `dtm0 check --compare`; an error past `cap` states.
pub fn plain_and_oracle_unique(m: &Dtm0Model, cap: usize) -> Result<(usize, usize), String> {
    let g = Graph::build(m, cap)?;
    Ok((g.len(), oracle(&g).unique))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::actor::Id;

    /// Action `k` of a hand-made graph: a restart of actor `k` (a
    /// non-crash action of its own actor).
    fn act(k: usize) -> Action {
        ActorModelAction::Recover(Id::from(k))
    }

    /// A graph from `(state, action, state)` triples; states are 0..n.
    fn graph(n: usize, triples: &[(u32, usize, u32)]) -> Graph {
        let mut g = Graph {
            actions: vec![],
            ids: HashMap::new(),
            fps: (1..=n as u64).collect(),
            index: (1..=n as u64).map(|fp| (fp, fp as u32 - 1)).collect(),
            ranges: vec![],
            edges: vec![],
        };
        for u in 0..n as u32 {
            let start = g.edges.len() as u32;
            for &(from, a, to) in triples.iter().filter(|x| x.0 == u) {
                let action = g.intern(act(a));
                g.edges.push(Edge { action, to });
                assert_eq!(from, u);
            }
            g.ranges.push((start, g.edges.len() as u32));
        }
        g
    }

    /// a and b commute from 0 (a diamond to 3); then c after b.
    const DIAMOND: &[(u32, usize, u32)] = &[(0, 0, 1), (0, 1, 2), (1, 1, 3), (2, 0, 3)];

    #[test]
    fn a_closed_diamond_is_persistent() {
        let g = graph(4, DIAMOND);
        assert!(is_persistent(&g, 0, &[act(0)]).is_ok());
        assert!(is_persistent(&g, 0, &[act(1)]).is_ok());
        assert!(is_persistent(&g, 0, &[act(0), act(1)]).is_ok());
        assert!(singletons(&g).iter().all(|&ok| ok));
        let o = oracle(&g);
        assert_eq!((o.unique, o.terminals.len()), (3, 1));
        assert_eq!(o.terminals, g.terminals());
    }

    #[test]
    fn a_diamond_that_ends_apart_is_rejected() {
        // b then a ends in 4, a then b in 3.
        let g = graph(5, &[(0, 0, 1), (0, 1, 2), (1, 1, 3), (2, 0, 4)]);
        let w = is_persistent(&g, 0, &[act(0)]).unwrap_err();
        assert_eq!(w.failure, Failure::Apart);
        assert!(w.path.is_empty());
        assert_eq!((w.t, w.outside), (Some(act(0)), Some(act(1))));
        // The oracle must then take both, and keeps both terminal states.
        let ok = singletons(&g);
        assert_eq!(oracle_set(&g, &ok, 0).1, Choice::All);
        assert_eq!(oracle(&g).terminals, g.terminals());
    }

    #[test]
    fn a_conflict_behind_a_path_is_found() {
        // The diamond of a and b closes at 0, but after b, c disables a
        // (at 2, c leads to 4 where a is not enabled). {a} is not
        // persistent at 0; {b} is; at 2, {a} is not persistent.
        let mut t = DIAMOND.to_vec();
        t.extend([(2, 2, 4), (3, 2, 5), (4, 3, 6)]);
        let g = graph(7, &t);
        let w = is_persistent(&g, 0, &[act(0)]).unwrap_err();
        assert_eq!(w.failure, Failure::Disables);
        assert_eq!(w.path, vec![act(1)]);
        assert_eq!(w.outside, Some(act(2)));
        let ok = singletons(&g);
        let single = |s: usize, a: usize| {
            let k = g
                .edges(s)
                .iter()
                .position(|e| g.action(e.action) == &act(a));
            ok[g.first_edge(s) + k.unwrap()]
        };
        assert!(!single(0, 0) && !single(2, 0));
        assert_eq!(single(0, 1), is_persistent(&g, 0, &[act(1)]).is_ok());
        // Every result for a single action matches the region walk.
        for s in 0..g.len() {
            for (k, e) in g.edges(s).iter().enumerate() {
                assert_eq!(
                    ok[g.first_edge(s) + k],
                    persistent_ids(&g, s, &[e.action]).is_ok(),
                    "state {s} action {k}"
                );
            }
        }
        assert_eq!(oracle(&g).terminals, g.terminals());
    }

    #[test]
    fn a_set_action_that_is_not_enabled_or_an_empty_set_is_rejected() {
        let g = graph(4, DIAMOND);
        let w = is_persistent(&g, 1, &[act(0)]).unwrap_err();
        assert_eq!(w.failure, Failure::NotEnabled);
        assert_eq!(
            is_persistent(&g, 0, &[act(9)]).unwrap_err().failure,
            Failure::NotEnabled
        );
        assert_eq!(
            is_persistent(&g, 0, &[]).unwrap_err().failure,
            Failure::Empty
        );
        assert!(is_persistent(&g, 3, &[]).is_ok());
    }
}
