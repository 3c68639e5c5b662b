//! The stubborn-set closure (`Closure`): from each start, the dependent
//! actions, the future deliveries kept back and the senders' necessary
//! enabling sets; the smallest closure is the set (`stubborn_set`).

use super::context::Ctx;
use super::facts::*;
use super::table::*;
use crate::engine::por::actor_of;
use crate::model::{self, Action, Dtm0Model, SysState};
use crate::protocol::msg::Msg;
use crate::protocol::types::Inc;
use stateright::actor::{ActorModelAction, Network};
use stateright::Model;

/// Whether `a` leads to a state within the boundary: a delivery to a
/// crashed actor waits, a crash past the actor's budget leaves the
/// boundary; everything else the model lists is enabled.
pub fn enabled(m: &Dtm0Model, s: &SysState, a: &Action) -> bool {
    match a {
        ActorModelAction::Deliver { dst, .. } => !s.crashed[usize::from(*dst)],
        ActorModelAction::Crash(id) => {
            let i = usize::from(*id);
            model::incarnation(s, i) <= Inc::from(m.cfg().budgets.get(i).copied().unwrap_or(0))
        }
        _ => true,
    }
}

/// Two actions of one actor that the table claims independent here.
pub fn claimed_independent(ctx: &Ctx, a: &Action, b: &Action) -> bool {
    let x = actor_of(a);
    if x != actor_of(b) || a == b {
        return false;
    }
    if let (ActorModelAction::Drop(e), other) | (other, ActorModelAction::Drop(e)) = (a, b) {
        let same = match other {
            ActorModelAction::Deliver { src, dst, msg } => {
                *src == e.src && *dst == e.dst && *msg == e.msg
            }
            ActorModelAction::Drop(f) => f == e,
            _ => false,
        };
        if same {
            return false;
        }
    }
    indep(ctx.c, role(ctx.c, x), &ctx.desc(a), &ctx.desc(b))
}

/// The closure's working state.
pub(super) struct Closure<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) acts: &'c [Action],
    pub(super) descs: &'c [Desc],
    /// Enabled action indices per actor.
    pub(super) by_actor: &'c [Vec<usize>],
    /// Per channel (src, dst), the index of the enabled head delivery
    /// (ordered network).
    pub(super) heads: &'c [usize],
    pub(super) in_t: Vec<bool>,
    pub(super) touched: Vec<bool>,
    pub(super) frozen: Vec<bool>,
    pub(super) blocked: Vec<Kinds>,
    pub(super) work: Vec<usize>,
    pub(super) size: usize,
    /// Give up once the set is this large (a smaller one is known).
    pub(super) limit: usize,
    /// With `explain`: why each action joined the set.
    pub(super) why: Option<Vec<(usize, String)>>,
    pub(super) cur: String,
    /// Ordered network: keep back a message not yet sent by the head of
    /// its channel (true) or by what its sender must do first (false).
    pub(super) head_first: bool,
    /// A head was taken for a message not yet sent (the policy mattered).
    pub(super) head_for_later: bool,
}

impl Closure<'_, '_> {
    pub(super) fn add(&mut self, i: usize) {
        if !self.in_t[i] {
            if let Some(w) = &mut self.why {
                w.push((i, self.cur.clone()));
            }
            self.in_t[i] = true;
            self.size += 1;
            self.work.push(i);
        }
    }

    pub(super) fn find(&self, x: usize, kind: Kinds) -> Option<usize> {
        self.by_actor[x]
            .iter()
            .copied()
            .find(|&i| self.descs[i].kind & kind != 0)
    }

    /// Every enabled crash and restart of an actor that may crash.
    pub(super) fn add_coupled(&mut self) {
        for x in 0..self.ctx.na {
            if self.ctx.can_crash_ever[x] {
                for k in 0..self.by_actor[x].len() {
                    let i = self.by_actor[x][k];
                    if self.descs[i].kind & (CRASH | RECOVER) != 0 {
                        self.add(i);
                    }
                }
            }
        }
    }

    pub(super) fn freeze(&mut self, x: usize) {
        if self.frozen[x] {
            return;
        }
        self.frozen[x] = true;
        for k in 0..self.by_actor[x].len() {
            let i = self.by_actor[x][k];
            self.add(i);
        }
        if !self.ctx.crashed[x] {
            for y in 0..self.ctx.na {
                if y != x {
                    self.block(y, x, MSGS);
                }
            }
        }
    }

    /// Keeps every delivery from `y` to `x` of a kind in `kinds` that is
    /// not enabled now from happening along paths avoiding the set.
    pub(super) fn block(&mut self, y: usize, x: usize, kinds: Kinds) {
        if self.why.is_some() {
            let saved = std::mem::take(&mut self.cur);
            self.cur = format!("{saved} / block {y}->{x} {kinds:#x}");
            self.block_inner(y, x, kinds);
            self.cur = saved;
        } else {
            self.block_inner(y, x, kinds);
        }
    }

    pub(super) fn block_inner(&mut self, y: usize, x: usize, kinds: Kinds) {
        let idx = y * self.ctx.na + x;
        let new = kinds & !self.blocked[idx];
        if new == 0 {
            return;
        }
        self.blocked[idx] |= new;
        let ctx = self.ctx;
        if ctx.ordered && ctx.nonempty[idx] {
            // What is queued behind the head comes only after it: nothing
            // overtakes the head. What is sent later queues behind it too,
            // but is also kept back by what its sender must do first
            // (below), which is often less.
            let queued = ctx.queued_kinds[idx];
            let later = if self.head_first {
                ctx.may_send(y, x)
            } else {
                0
            };
            if (queued | later) & new != 0 {
                if queued & new == 0 {
                    self.head_for_later = true;
                }
                self.blocked[idx] = Kinds::MAX;
                if ctx.crashed[x] {
                    if let Some(i) = self.find(x, RECOVER) {
                        self.add(i);
                    }
                } else if self.heads[idx] != usize::MAX {
                    self.add(self.heads[idx]);
                }
                return;
            }
        }
        let fk = ctx.may_send(y, x) & new;
        if fk == 0 {
            return;
        }
        if ctx.crashed[x] {
            // Deliveries to x wait for its restart.
            if let Some(i) = self.find(x, RECOVER) {
                self.add(i);
            }
            return;
        }
        self.sender_nes(y, x, fk);
    }

    /// A necessary enabling set for `y` sending a message of a kind in
    /// `kinds` to `x`.
    pub(super) fn sender_nes(&mut self, y: usize, x: usize, kinds: Kinds) {
        let ctx = self.ctx;
        if ctx.crashed[y] {
            if let Some(i) = self.find(y, RECOVER) {
                self.add(i);
            }
            return;
        }
        let ry = role(ctx.c, y);
        let mut k = kinds;
        while k != 0 {
            let bit = k & k.wrapping_neg();
            k &= !bit;
            if bit == START {
                match self.find(y, CRASH) {
                    Some(i) => self.add(i),
                    None if ctx.coupled => self.add_coupled(),
                    None => {}
                }
                continue;
            }
            let trig = triggers(ctx.c, ry, bit);
            if trig.is_empty() {
                // No trigger known: keep the sender from acting at all.
                self.freeze(y);
                return;
            }
            for &(tk, from_dst) in trig {
                // A REDO triggers a REDO only by eviction on arrival.
                let tk = if bit == RDO && !ctx.pass_on {
                    tk & !RDO
                } else {
                    tk
                };
                // The enabled deliveries (and commit) that may trigger it.
                for j in 0..self.by_actor[y].len() {
                    let i = self.by_actor[y][j];
                    let d = self.descs[i];
                    if d.kind & tk != 0
                        && (!from_dst || d.src == x)
                        && ctx.may_trigger(&self.acts[i], y, x, bit)
                    {
                        self.add(i);
                    }
                }
                let msgs = tk & MSGS;
                if msgs != 0 {
                    for z in 0..ctx.na {
                        if z != y && (!from_dst || z == x) {
                            self.block(z, y, msgs);
                        }
                    }
                }
            }
        }
    }

    /// Adds the dependencies of set action `i`.
    pub(super) fn process(&mut self, i: usize) {
        let ctx = self.ctx;
        let x = actor_of(&self.acts[i]);
        let d = self.descs[i];
        if self.why.is_some() {
            self.cur = format!("deps of #{i}");
        }
        self.touch(x, d);
        if self.frozen[x] {
            return;
        }
        let r = role(ctx.c, x);
        if self.why.is_some() {
            self.cur = format!("dependent with #{i}");
        }
        self.add_dependent_enabled(i, x, r);
        if self.why.is_some() {
            self.cur = format!("future of #{i}");
        }
        self.block_dependent_future(x, r, d);
        if self.why.is_some() {
            self.cur = format!("commit setters for #{i}");
        }
        self.add_commit_setters(x, r, d);
    }

    /// The crash (or the crashed state) of `x` on its first set action,
    /// the coupled crashes and restarts, and the freeze of a crash `d`.
    pub(super) fn touch(&mut self, x: usize, d: Desc) {
        let ctx = self.ctx;
        if !self.touched[x] {
            self.touched[x] = true;
            if self.why.is_some() {
                self.cur = format!("touch {x}");
            }
            if ctx.crashed[x] {
                self.frozen[x] = true; // stays crashed: its restart is in the set
            } else if let Some(c) = self.find(x, CRASH) {
                self.add(c);
            }
            if ctx.coupled && ctx.can_crash_ever[x] && ctx.may_restart[x] && !ctx.crashed[x] {
                self.add_coupled();
            }
        }
        if d.kind & (CRASH | RECOVER) != 0 && ctx.coupled {
            self.add_coupled();
        }
        if d.kind == CRASH {
            if self.why.is_some() {
                self.cur = format!("freeze {x}");
            }
            self.freeze(x);
        }
    }

    /// Enabled actions of x dependent with set action `i`.
    pub(super) fn add_dependent_enabled(&mut self, i: usize, x: usize, r: Role) {
        let ctx = self.ctx;
        for k in 0..self.by_actor[x].len() {
            let j = self.by_actor[x][k];
            if !self.in_t[j] && !claimed_pair(ctx, r, self.acts, self.descs, i, j) {
                self.add(j);
            }
        }
    }

    /// Future deliveries to x dependent with `d`: those queued behind a
    /// channel's head, and those of kinds a sender may still send.
    pub(super) fn block_dependent_future(&mut self, x: usize, r: Role, d: Desc) {
        let ctx = self.ctx;
        for y in 0..ctx.na {
            if y == x {
                continue;
            }
            let q = &ctx.queued[y * ctx.na + x];
            if !q.is_empty() {
                let behind = ctx.queued_descs[y * ctx.na + x]
                    .iter()
                    .any(|b| !indep(ctx.c, r, &d, b));
                if behind {
                    self.block(y, x, MSGS);
                }
            }
            let fk = ctx.may_send(y, x);
            let mut dep = 0;
            let mut k = fk;
            while k != 0 {
                let bit = k & k.wrapping_neg();
                k &= !bit;
                if !indep(ctx.c, r, &d, &ctx.future_desc(x, bit, y)) {
                    // A view whose only log read is an eviction depends
                    // on notices about the dtxs it evicts only.
                    let table_on = ctx.c.table_argued();
                    let evicted_only = table_on
                        && bit == PER
                        && d.kind == VIEW
                        && d.ev_only
                        && r == Role::Part
                        && !ctx.evicted_may_reach(x, y, d.ev_slot, d.ev_alive);
                    // An originator that has not issued its dtxs does so
                    // only on a view; with this view in the set (the head
                    // of HA's channel), every notice reaching it along
                    // paths avoiding the set is about an earlier
                    // incarnation's dtx (no participant holds one of its
                    // own yet): addressed to that incarnation, a no-op.
                    let before_issue = table_on
                        && bit == PER
                        && d.kind == VIEW
                        && r == Role::Orig
                        && live_orig(ctx.s, &ctx.crashed, x).is_some_and(|o| !o.issued);
                    if !evicted_only && !before_issue {
                        dep |= bit;
                    }
                }
            }
            if dep != 0 {
                self.block(y, x, dep);
            }
        }
    }

    /// A commit timeout not set yet, dependent with `d`: the actions
    /// that may set it.
    pub(super) fn add_commit_setters(&mut self, x: usize, r: Role, d: Desc) {
        let ctx = self.ctx;
        if r == Role::Part
            && self.find(x, COMMIT).is_none()
            && !indep(ctx.c, r, &d, &Desc::of(COMMIT))
        {
            // A notice arms the timer only to prune a durable all-P head
            // of the log: none while nothing here is durable (only a
            // commit makes records durable, and none is set).
            let durable = live_part(ctx.s, &ctx.crashed, x).is_some_and(|p| p.ndur > 0);
            let arms = if ctx.c.variants.pruning && durable {
                EXE | RDO | PER
            } else {
                EXE | RDO
            };
            for k in 0..self.by_actor[x].len() {
                let j = self.by_actor[x][k];
                let dj = self.descs[j];
                // Without pruning, a dtx already logged stays logged and its
                // EXECUTE or REDO sets no timer.
                let logged = dj.kind & (EXE | RDO) != 0 && dj.flag;
                if dj.kind & arms != 0 && !logged {
                    self.add(j);
                }
            }
            for y in 0..ctx.na {
                if y != x {
                    let k = if ctx.resends_only_logged(y, x) {
                        arms & !EXE
                    } else {
                        arms
                    };
                    self.block(y, x, k);
                }
            }
        }
    }

    pub(super) fn run(&mut self, start: usize) -> bool {
        self.add(start);
        while let Some(i) = self.work.pop() {
            if self.size >= self.limit {
                return false;
            }
            self.process(i);
        }
        true
    }
}

pub(super) fn claimed_pair(
    ctx: &Ctx,
    r: Role,
    acts: &[Action],
    descs: &[Desc],
    i: usize,
    j: usize,
) -> bool {
    if let ActorModelAction::Drop(e) = &acts[i] {
        if same_envelope(e, &acts[j]) {
            return false;
        }
    }
    if let ActorModelAction::Drop(e) = &acts[j] {
        if same_envelope(e, &acts[i]) {
            return false;
        }
    }
    indep(ctx.c, r, &descs[i], &descs[j])
}

pub(super) fn same_envelope(e: &stateright::actor::Envelope<Msg>, a: &Action) -> bool {
    match a {
        ActorModelAction::Deliver { src, dst, msg } => {
            *src == e.src && *dst == e.dst && *msg == e.msg
        }
        ActorModelAction::Drop(f) => f == e,
        _ => false,
    }
}

/// What every closure at one state shares: the context, each enabled
/// action's description, the enabled actions per actor, and per channel
/// the index of its enabled head delivery (`usize::MAX`: none).
pub(super) struct Setup<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) descs: Vec<Desc>,
    pub(super) by_actor: Vec<Vec<usize>>,
    pub(super) heads: Vec<usize>,
}

impl<'c, 'a> Setup<'c, 'a> {
    pub(super) fn new(ctx: &'c Ctx<'a>, acts: &[Action], enabled: &[bool]) -> Self {
        let descs = acts
            .iter()
            .enumerate()
            .map(|(i, a)| if enabled[i] { ctx.desc(a) } else { Desc::of(0) })
            .collect();
        let mut by_actor = vec![Vec::new(); ctx.na];
        let mut heads = vec![usize::MAX; ctx.na * ctx.na];
        for (i, a) in acts.iter().enumerate().filter(|&(i, _)| enabled[i]) {
            by_actor[actor_of(a)].push(i);
            if let ActorModelAction::Deliver { src, dst, .. } = a {
                heads[usize::from(*src) * ctx.na + usize::from(*dst)] = i;
            }
        }
        Setup {
            ctx,
            descs,
            by_actor,
            heads,
        }
    }

    /// An empty closure over `acts` (`explain`: record why each action
    /// joins).
    pub(super) fn closure<'s>(
        &'s self,
        acts: &'s [Action],
        head_first: bool,
        limit: usize,
        explain: bool,
    ) -> Closure<'s, 'a> {
        let na = self.ctx.na;
        Closure {
            ctx: self.ctx,
            acts,
            descs: &self.descs,
            by_actor: &self.by_actor,
            heads: &self.heads,
            in_t: vec![false; acts.len()],
            touched: vec![false; na],
            frozen: vec![false; na],
            blocked: vec![0; na * na],
            work: Vec::new(),
            size: 0,
            limit,
            why: explain.then(Vec::new),
            cur: if explain {
                "start".into()
            } else {
                String::new()
            },
            head_first,
            head_for_later: false,
        }
    }
}

/// The stubborn set at `s`: indices into `acts` of enabled actions
/// (`enabled` marks them), never empty when one is enabled. Every enabled
/// non-crash action, and every restart, is tried as the start; the
/// smallest closure wins.
pub fn stubborn_set(m: &Dtm0Model, s: &SysState, acts: &[Action], enabled: &[bool]) -> Vec<u8> {
    let all: Vec<u8> = (0..acts.len())
        .filter(|&i| enabled[i])
        .map(|i| i as u8)
        .collect();
    if all.len() <= 1 || matches!(s.network, Network::UnorderedDuplicating(..)) {
        return all;
    }
    let ctx = Ctx::new(m, s);
    let setup = Setup::new(&ctx, acts, enabled);
    let mut best: Option<Vec<bool>> = None;
    let mut best_size = all.len();
    let policies: &[bool] = if ctx.ordered { &[true, false] } else { &[true] };
    // Set when the head-first closure of the current start ran to its end
    // without taking a head for a message not yet sent: the other policy
    // would build the same closure.
    let mut same_either_way = false;
    for (&start, &head_first) in all
        .iter()
        .flat_map(|s| policies.iter().map(move |p| (s, p)))
    {
        let start = start as usize;
        if matches!(acts[start], ActorModelAction::Crash(_)) {
            continue;
        }
        if !head_first && same_either_way {
            continue;
        }
        let mut cl = setup.closure(acts, head_first, best_size, false);
        let ok = cl.run(start);
        same_either_way = head_first && ok && !cl.head_for_later;
        if ok && cl.size < best_size {
            best_size = cl.size;
            best = Some(cl.in_t);
            if best_size == 1 {
                break;
            }
        }
    }
    match best {
        Some(t) => (0..acts.len())
            .filter(|&i| t[i] && enabled[i])
            .map(|i| i as u8)
            .collect(),
        None => all,
    }
}

/// Debugging: the closure started at `start`, with why each action joined
/// (index, reason), in order.
pub fn explain(
    m: &Dtm0Model,
    s: &SysState,
    acts: &[Action],
    enabled: &[bool],
    start: usize,
) -> Vec<(usize, String)> {
    let ctx = Ctx::new(m, s);
    let setup = Setup::new(&ctx, acts, enabled);
    let mut cl = setup.closure(acts, true, usize::MAX, true);
    cl.run(start);
    cl.why.unwrap_or_default()
}

/// The model's actions at `s` and which are enabled.
pub fn actions(m: &Dtm0Model, s: &SysState) -> (Vec<Action>, Vec<bool>) {
    let mut acts = Vec::new();
    m.actions(s, &mut acts);
    let en = acts.iter().map(|a| enabled(m, s, a)).collect();
    (acts, en)
}
