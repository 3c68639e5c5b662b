//! Checks that can fail: both orders of every claimed pair
//! (`check_independence`), every send against the may-send and trigger
//! tables (`check_sends`), and the reduced search with every chosen set
//! checked exactly on the full graph (`reduced_dfs`).

use super::closure::*;
use super::context::Ctx;
use super::facts::*;
use super::table::*;
use crate::engine::oracle::{is_persistent, Graph};
use crate::engine::por::actor_of;
use crate::model::{self, steps, visited_fp, Action, Dtm0Model, SysState};
use crate::protocol::cluster::Cluster;
use crate::protocol::msg::Msg;
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

pub(super) fn step(m: &Dtm0Model, s: &SysState, a: &Action) -> Option<SysState> {
    m.next_state(s, a.clone()).filter(|n| m.within_boundary(n))
}

/// At `s`, where the table claims `a` and `b` (both enabled, one actor)
/// independent: both orders are enabled and reach the same state.
pub fn check_independence(
    m: &Dtm0Model,
    s: &SysState,
    a: &Action,
    b: &Action,
) -> Result<(), String> {
    let name = |x: &Action| m.format_action(x);
    let sa = step(m, s, a).ok_or_else(|| format!("{} is not enabled", name(a)))?;
    let sb = step(m, s, b).ok_or_else(|| format!("{} is not enabled", name(b)))?;
    let sab = step(m, &sa, b).ok_or_else(|| format!("{} disables {}", name(a), name(b)))?;
    let sba = step(m, &sb, a).ok_or_else(|| format!("{} disables {}", name(b), name(a)))?;
    if sab != sba {
        return Err(format!(
            "{} and {} end apart:\n{}\nvs\n{}",
            name(a),
            name(b),
            crate::model::render::state(m.cfg(), &sab),
            crate::model::render::state(m.cfg(), &sba)
        ));
    }
    // The step-local properties violated along each order must agree too
    // (the augmented system of README, "Soundness of the semantic
    // reduction").
    let along = |x: &Action, sx: &SysState, y: &Action, sxy: &SysState| {
        let mut v = steps::step_violations(m, s, x, sx);
        v.extend(steps::step_violations(m, sx, y, sxy));
        v.sort_unstable();
        v.dedup();
        v
    };
    let (vab, vba) = (along(a, &sa, b, &sab), along(b, &sb, a, &sba));
    if vab != vba {
        return Err(format!(
            "{} and {} reach the same state but violate different step properties on the way: {vab:?} vs {vba:?}",
            name(a),
            name(b)
        ));
    }
    Ok(())
}

/// The messages `a` sends from `s` (to `next`): what is in flight after it
/// and was not before, with the delivered one put back.
pub(super) fn sent(s: &SysState, next: &SysState, a: &Action) -> Vec<(usize, usize, Msg)> {
    let mut count: HashMap<(usize, usize, &Msg), i64> = HashMap::new();
    for (src, dst, m) in model::in_flight(next) {
        *count
            .entry((usize::from(src), usize::from(dst), m))
            .or_default() += 1;
    }
    for (src, dst, m) in model::in_flight(s) {
        *count
            .entry((usize::from(src), usize::from(dst), m))
            .or_default() -= 1;
    }
    let removed = match a {
        ActorModelAction::Deliver { src, dst, msg } => {
            Some((usize::from(*src), usize::from(*dst), msg))
        }
        ActorModelAction::Drop(e) => Some((usize::from(e.src), usize::from(e.dst), &e.msg)),
        _ => None,
    };
    if let Some(k) = removed {
        *count.entry(k).or_default() += 1;
    }
    let mut out = Vec::new();
    for ((src, dst, m), n) in count {
        for _ in 0..n.max(0) {
            out.push((src, dst, m.clone()));
        }
    }
    out
}

/// Every message `a` sends at `s` is allowed by the may-send table of its
/// sender at `s`, and by the trigger table for the kind of `a`; and the
/// may-send table at the successor is within the one at `s` (so that it
/// bounds every send along every path).
pub fn check_sends(m: &Dtm0Model, s: &SysState, a: &Action) -> Result<(), String> {
    let Some(next) = step(m, s, a) else {
        return Ok(());
    };
    let ctx = Ctx::new(m, s);
    let c: &Cluster = &m.cfg().cluster;
    let y = actor_of(a);
    let d = ctx.desc(a);
    for (src, dst, msg) in sent(s, &next, a) {
        let k = msg_kind(&msg);
        if src != y {
            return Err(format!(
                "{} sent {msg:?} from another actor",
                m.format_action(a)
            ));
        }
        if ctx.may_send(src, dst) & k == 0 {
            return Err(format!(
                "{} sends {msg:?} to {dst}, not in the may-send table of {src} ({:#x})",
                m.format_action(a),
                ctx.may_send(src, dst)
            ));
        }
        let ok = if k == START {
            d.kind == RECOVER
        } else {
            triggers(c, role(c, y), k)
                .iter()
                .any(|&(tk, from_dst)| d.kind & tk != 0 && (!from_dst || d.src == dst))
        };
        if !ok {
            return Err(format!(
                "{} (kind {:#x}) sends {msg:?} to {dst}: not a trigger of that kind",
                m.format_action(a),
                d.kind
            ));
        }
    }
    let after = Ctx::new(m, &next);
    for (i, (&x, &y)) in after.may_send.iter().zip(&ctx.may_send).enumerate() {
        if x & !y != 0 {
            return Err(format!(
                "after {} the may-send table of {} to {} grows from {y:#x} to {x:#x}",
                m.format_action(a),
                i / ctx.na,
                i % ctx.na
            ));
        }
    }
    Ok(())
}

/// What a reduced search did.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub unique: usize,
    pub transitions: usize,
    /// Fingerprints of the terminal states reached, sorted.
    pub terminals: Vec<u64>,
    /// States where the set was smaller than the enabled set.
    pub reduced_states: usize,
    /// Sets checked exactly on the graph.
    pub checked: usize,
    pub secs: f64,
}

/// A depth-first search following the stubborn sets; with a graph, each
/// set is checked with `oracle::is_persistent` on it.
pub fn reduced_dfs(m: &Dtm0Model, graph: Option<&Graph>) -> Result<Run, String> {
    let t0 = Instant::now();
    let mut run = Run::default();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut stack: Vec<SysState> = Vec::new();
    for init in m.init_states() {
        if m.within_boundary(&init) && seen.insert(visited_fp(&init)) {
            stack.push(init);
        }
    }
    while let Some(s) = stack.pop() {
        run.unique += 1;
        let (acts, en) = actions(m, &s);
        let n_en = en.iter().filter(|&&e| e).count();
        let set = stubborn_set(m, &s, &acts, &en);
        if set.len() < n_en {
            run.reduced_states += 1;
        }
        if let Some(g) = graph {
            let i = g
                .index_of(&s)
                .ok_or("a state of the reduced search is not in the graph")?;
            let chosen: Vec<Action> = set.iter().map(|&k| acts[k as usize].clone()).collect();
            is_persistent(g, i, &chosen).map_err(|w| {
                format!(
                    "the set of {} action(s) (of {n_en} enabled) at state {i} is not persistent: {}\nstate:\n{}",
                    chosen.len(),
                    w.describe(m),
                    crate::model::render::state(m.cfg(), &s)
                )
            })?;
            run.checked += 1;
        }
        let mut any = false;
        for &k in &set {
            let Some(next) = step(m, &s, &acts[k as usize]) else {
                continue;
            };
            any = true;
            run.transitions += 1;
            if seen.insert(visited_fp(&next)) {
                stack.push(next);
            }
        }
        if !any {
            run.terminals.push(visited_fp(&s));
        }
    }
    run.terminals.sort_unstable();
    run.secs = t0.elapsed().as_secs_f64();
    Ok(run)
}

/// Every pair of enabled actions of one actor at `s` that the table claims
/// independent, as now known or as a future action of its kind would be
/// described, passes `check_independence`; every enabled action passes
/// `check_sends`. The number of claims checked.
pub fn check_state(m: &Dtm0Model, s: &SysState) -> Result<usize, String> {
    let (acts, en) = actions(m, s);
    let ctx = Ctx::new(m, s);
    let c: &Cluster = &m.cfg().cluster;
    let mut claims = 0;
    for i in 0..acts.len() {
        if !en[i] {
            continue;
        }
        check_sends(m, s, &acts[i])?;
        for j in i + 1..acts.len() {
            if !en[j] || actor_of(&acts[i]) != actor_of(&acts[j]) {
                continue;
            }
            let x = actor_of(&acts[i]);
            let now = claimed_independent(&ctx, &acts[i], &acts[j]);
            // The claim made about j before it was known, from its kind.
            let dj = ctx.desc(&acts[j]);
            let future = dj.kind & MSGS != 0
                && indep(
                    c,
                    role(c, x),
                    &ctx.desc(&acts[i]),
                    &ctx.future_desc(x, dj.kind, dj.src),
                );
            if now || future {
                claims += 1;
                check_independence(m, s, &acts[i], &acts[j])
                    .map_err(|e| format!("claimed independent ({now}, {future}): {e}"))?;
            }
        }
    }
    Ok(claims)
}
