//! Enabledness and persistent sets.
//!
//! At a state, the set explored is the enabled actions of a set `A` of
//! actors, closed so that no path of actions outside `A` can give an actor
//! of `A` a new action: an actor outside `A` that may still act (it has an
//! enabled action, or can be woken by one that has; any actor may send to
//! any other) and may send to an actor of `A` a message that is not queued
//! behind one already in flight (ordered: its channel is empty; unordered:
//! always) joins `A`. The set must hold an enabled action that is not a
//! crash; if the set holds an action visible to a property checked on
//! intermediate states (any participant or originator action), the state
//! is expanded fully. See README, "Partial-order reduction", for why every
//! property keeps its verdict.

use super::{actor_of, Engine};
use crate::model::{Action, SysState};
use stateright::actor::{ActorModelAction, Network};

impl<'a> Engine<'a> {
    /// Whether `a` leads to a state within the boundary: a delivery to a
    /// crashed actor waits, a crash past the actor's budget is outside the
    /// boundary; everything else the model lists is enabled. (Tested
    /// against `next_state` on every shipped small model.)
    pub fn enabled(&self, s: &SysState, a: &Action) -> bool {
        match a {
            ActorModelAction::Deliver { dst, .. } => !s.crashed[usize::from(*dst)],
            ActorModelAction::Crash(id) => {
                let i = usize::from(*id);
                crate::model::incarnation(s, i)
                    <= crate::protocol::types::Inc::from(
                        self.m.cfg().budgets.get(i).copied().unwrap_or(0),
                    )
            }
            _ => true,
        }
    }

    /// The indices of `acts` (enabled ones, marked in `en`) in a
    /// persistent set at `s` (all enabled ones when no smaller set
    /// qualifies).
    pub(super) fn persistent(&self, s: &SysState, acts: &[Action], en: &[bool]) -> Vec<u8> {
        let all: Vec<u8> = (0..acts.len() as u8).filter(|&i| en[i as usize]).collect();
        if !self.reduce.persistent || all.len() <= 1 {
            return all;
        }
        if self.reduce.semantic {
            return crate::engine::stubborn::stubborn_set(self.m, s, acts, en);
        }
        // A set holding a visible action is no use (the state would be
        // expanded fully), so only invisible actors with an enabled action
        // that is not a crash can seed one. Most states have none: return
        // before any more work (this runs at every new state).
        let seeds: Vec<usize> = (0..self.n_actors)
            .filter(|&p| {
                !self.visible_actor[p]
                    && all.iter().any(|&i| {
                        let a = &acts[i as usize];
                        actor_of(a) == p && !matches!(a, ActorModelAction::Crash(_))
                    })
            })
            .collect();
        if seeds.is_empty() {
            return all;
        }
        let mut active = vec![false; self.n_actors];
        for &i in &all {
            active[actor_of(&acts[i as usize])] = true;
        }
        let mut best: Option<Vec<u8>> = None;
        for p in seeds {
            let in_a = self.closure(s, p, &active);
            let t: Vec<u8> = all
                .iter()
                .copied()
                .filter(|&i| in_a[actor_of(&acts[i as usize])])
                .collect();
            if t.len() == all.len() {
                continue;
            }
            if t.iter()
                .any(|&i| self.visible_actor[actor_of(&acts[i as usize])])
            {
                continue;
            }
            if best.as_ref().is_none_or(|b| t.len() < b.len()) {
                best = Some(t);
            }
        }
        best.unwrap_or(all)
    }

    /// The actions the reduced search explores first at `s` (before sleep
    /// sets): a persistent set.
    pub fn persistent_set(&self, s: &SysState) -> Vec<Action> {
        let acts = self.actions(s);
        let en: Vec<bool> = acts.iter().map(|a| self.enabled(s, a)).collect();
        self.persistent(s, &acts, &en)
            .into_iter()
            .map(|i| acts[i as usize].clone())
            .collect()
    }

    /// The actors `A` closed from `p` (see the module comment).
    fn closure(&self, s: &SysState, p: usize, active: &[bool]) -> Vec<bool> {
        let n = self.n_actors;
        let mut in_a = vec![false; n];
        in_a[p] = true;
        loop {
            let mut changed = false;
            if self.crash_coupled && (0..n).any(|i| in_a[i] && self.crashable[i]) {
                for (a, &crashable) in in_a.iter_mut().zip(&self.crashable) {
                    if crashable && !*a {
                        *a = true;
                        changed = true;
                    }
                }
            }
            // Any actor may send to any other, so if one actor outside A
            // may act, every actor outside A may (it can be woken).
            let outside_active = (0..n).any(|k| !in_a[k] && active[k]);
            if outside_active {
                for k in 0..n {
                    if in_a[k] {
                        continue;
                    }
                    let may_add_action =
                        (0..n).any(|i| in_a[i] && (!self.ordered || channel_empty(s, k, i)));
                    if may_add_action {
                        in_a[k] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return in_a;
            }
        }
    }
}

/// True when channel `src -> dst` holds no message (ordered network).
fn channel_empty(s: &SysState, src: usize, dst: usize) -> bool {
    match &s.network {
        Network::Ordered(map) => map
            .get(&(src.into(), dst.into()))
            .is_none_or(|q| q.is_empty()),
        _ => true,
    }
}
