//! Sleep sets, stored with the state (Godefroid, Holzmann and Pirottin's
//! scheme): a state's entry keeps the bit mask of persistent-set actions
//! not yet explored from it because they were asleep; a later visit with a
//! smaller sleep set explores the difference. So every state the
//! persistent-set search reaches is reached, with fewer transitions.
//! Stored masks assume one depth-first order: sleep sets are used on one
//! thread only (and not with symmetry, whose representatives do not share
//! the state's action list).

use super::parallel::{Frame, Shared};
use super::Engine;
use crate::model::{Action, SysState};
use std::sync::atomic::Ordering;

/// Actions past this index in a state's list are never put to sleep (a
/// stored mask has this many bits).
const MASK_BITS: usize = 16;

/// The bits of `acts` (within the first `MASK_BITS`) that are in `sleep`.
fn mask_of(acts: &[Action], sleep: &[Action]) -> u16 {
    let mut m = 0u16;
    if sleep.is_empty() {
        return 0;
    }
    for (i, a) in acts.iter().enumerate().take(MASK_BITS) {
        if sleep.contains(a) {
            m |= 1 << i;
        }
    }
    m
}

/// Only actions that could be stored stay asleep.
fn storable(sleep: Vec<Action>, acts: &[Action]) -> Vec<Action> {
    sleep
        .into_iter()
        .filter(|a| acts.iter().take(MASK_BITS).any(|b| b == a))
        .collect()
}

impl<'a> Engine<'a> {
    /// The sleep set of the state `action` leads to from `top`: what
    /// sleeps at `top` and is independent of `action`. With sleep sets on,
    /// `action` then sleeps at `top` for the actions explored after it.
    pub(super) fn child_sleep(&self, top: &mut Frame, action: &Action) -> Vec<Action> {
        let child: Vec<Action> = top
            .sleep
            .iter()
            .filter(|u| self.independent(u, action))
            .cloned()
            .collect();
        if self.reduce.sleep {
            top.sleep.push(action.clone());
        }
        child
    }

    /// Splits the persistent set `t` of a new state into what to explore
    /// now and what sleeps (stored with the state's fingerprint), and
    /// keeps the storable part of the sleep set.
    pub(super) fn put_to_sleep(
        &self,
        sh: &Shared,
        fp: u64,
        acts: &[Action],
        t: &[u8],
        sleep: Vec<Action>,
    ) -> (Vec<u8>, Vec<Action>) {
        let sleep_mask = if self.reduce.sleep {
            mask_of(acts, &sleep)
        } else {
            0
        };
        let mut todo = Vec::with_capacity(t.len());
        let mut stored = 0u16;
        for &i in t {
            if (i as usize) < MASK_BITS && sleep_mask & (1 << i) != 0 {
                stored |= 1 << i;
            } else {
                todo.push(i);
            }
        }
        if stored != 0 {
            sh.slept
                .fetch_add(u64::from(stored.count_ones()), Ordering::Relaxed);
            sh.set_mask(fp, stored);
        }
        (todo, storable(sleep, acts))
    }

    /// A state seen before, reached again with `sleep`: the frame of the
    /// actions that slept there and are awake now, if any.
    pub(super) fn wake(
        &self,
        sh: &Shared,
        state: SysState,
        fp: u64,
        depth: usize,
        sleep: Vec<Action>,
    ) -> Option<Frame> {
        let stored = sh.mask(fp);
        if stored == 0 {
            return None;
        }
        let acts = self.actions(&state);
        let now = mask_of(&acts, &sleep);
        let wake = stored & !now;
        sh.set_mask(fp, stored & now);
        if wake == 0 {
            return None;
        }
        let todo: Vec<u8> = (0..acts.len().min(MASK_BITS) as u8)
            .filter(|&j| wake & (1 << j) != 0)
            .collect();
        let sleep = storable(sleep, &acts);
        Some(Frame {
            state,
            acts,
            todo,
            pos: 0,
            sleep,
            depth,
        })
    }
}
