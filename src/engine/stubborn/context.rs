//! One state's context for the closure (`Ctx`): the may-send table, the
//! future-view facts, the queued deliveries, and each action's
//! description (`Ctx::desc`).

use super::facts::*;
use super::table::*;
use crate::model::{self, Action, Dtm0Model, SysState};
use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::ha::HaState;
use crate::protocol::msg::{HaSt, HaTable, Msg, Timer};
use crate::protocol::originator::{DtxSt, OrigState, ReadPhase};
use crate::protocol::participant::{superseded_durably, PartState};
use crate::protocol::types::{Inc, St, TxId, Txr};
use stateright::actor::{ActorModelAction, Id, Network};

/// Everything the closure reads of one state.
pub struct Ctx<'a> {
    pub(super) c: &'a Cluster,
    pub(super) s: &'a SysState,
    pub(super) na: usize,
    pub(super) ordered: bool,
    pub(super) crashed: Vec<bool>,
    /// The actor may crash (crash budget left and within it) or is crashed.
    pub(super) may_restart: Vec<bool>,
    pub(super) can_crash_ever: Vec<bool>,
    pub(super) coupled: bool,
    pub(super) ha_may_send: bool,
    /// `may_send[src * na + dst]`: the kinds `src` may send to `dst` along
    /// some path from this state.
    pub(super) may_send: Vec<Kinds>,
    /// Per actor: views arriving later cannot read the log (participant)
    /// or resend (originator).
    pub(super) fut_view_flag: Vec<bool>,
    /// Per actor: the `mask` of views arriving later (see `Desc`).
    pub(super) fut_view_mask: Vec<u16>,
    /// Per participant: the peers whose row every later view keeps as its
    /// view shows it (see `Desc::same`).
    pub(super) fut_view_same: Vec<u16>,
    /// Per participant: the peers a later view may open a round for.
    pub(super) fut_rounds: Vec<u16>,
    /// Per originator: every dtx of this incarnation is STABLE (no notice
    /// can add to the ghost list).
    pub(super) orig_all_stable: Vec<bool>,
    /// Per originator that has issued its dtxs: the only one not yet
    /// STABLE, when there is exactly one. A notice about any other dtx
    /// changes nothing the ghost list keeps an order of (it is about a
    /// STABLE dtx, or about none of this incarnation: a no-op).
    pub(super) orig_open_tx: Vec<Option<TxId>>,
    /// Ordered network: the messages behind the head of each channel.
    pub(super) queued: Vec<Vec<Msg>>,
    /// Ordered network: the kinds behind the head of each channel.
    pub(super) queued_kinds: Vec<Kinds>,
    /// Ordered network: the descriptions of the deliveries behind the
    /// head of each channel (to a live receiver).
    pub(super) queued_descs: Vec<Vec<Desc>>,
    /// Ordered network: channels holding a message.
    pub(super) nonempty: Vec<bool>,
    /// `redo_out[z * n + w]`: participant `z` may send REDO to `w` along
    /// some path from this state.
    pub(super) redo_out: Vec<bool>,
    /// The same for paths on which no view reaches `z`.
    pub(super) redo_no_view: Vec<bool>,
    /// Per participant: the dtxs of the EXECUTEs and REDOs in flight to it.
    pub(super) records_in: Vec<Vec<TxId>>,
    /// Eviction on arrival may happen in this state's future (see
    /// `Facts::pass_on`).
    pub(super) pass_on: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(m: &'a Dtm0Model, s: &'a SysState) -> Ctx<'a> {
        let cfg = m.cfg();
        let c: &Cluster = &cfg.cluster;
        let na = c.actor_count();
        let crashed = s.crashed.clone();
        let budget = |i: usize| Inc::from(cfg.budgets.get(i).copied().unwrap_or(0));
        let can_crash_ever: Vec<bool> = (0..na).map(|i| budget(i) > 0).collect();
        let may_restart: Vec<bool> = (0..na)
            .map(|i| crashed[i] || (budget(i) > 0 && model::incarnation(s, i) <= budget(i)))
            .collect();
        let n_crashable = can_crash_ever.iter().filter(|&&x| x).count();
        let coupled = cfg.max_crashes < n_crashable;
        let ordered = matches!(s.network, Network::Ordered(_));
        let (queued, queued_kinds, nonempty) = channels(s, na);
        let facts = Facts::new(c, s, crashed, may_restart);
        let may_send = facts.may_send();
        let (fut_view_flag, fut_view_mask, orig_all_stable) = facts.future_views();
        let fut_view_same = (0..na).map(|x| facts.fut_same(x)).collect();
        let fut_rounds = (0..na)
            .map(|x| {
                facts
                    .part(x)
                    .map_or(u16::MAX, |p| facts.rounds_may_start(x, p))
            })
            .collect();
        let n = c.n;
        let redo_out = (0..n * n)
            .map(|i| i / n != i % n && facts.redo_out(i / n, i % n))
            .collect();
        let redo_no_view = (0..n * n)
            .map(|i| i / n != i % n && facts.redo_out_no_view(i / n, i % n))
            .collect();
        let Facts {
            crashed,
            may_restart,
            ha_may_send,
            records_in,
            pass_on,
            ..
        } = facts;
        let orig_open_tx = (0..na)
            .map(|x| {
                let o = live_orig(s, &crashed, x).filter(|o| o.issued)?;
                let mut open = o.dtxs.iter().filter(|d| d.st < DtxSt::Stable);
                match (open.next(), open.next()) {
                    (Some(d), None) => Some(d.id),
                    _ => None,
                }
            })
            .collect();
        let mut ctx = Ctx {
            c,
            s,
            na,
            ordered,
            orig_open_tx,
            crashed,
            may_restart,
            can_crash_ever,
            coupled,
            ha_may_send,
            may_send,
            fut_view_flag,
            fut_view_mask,
            fut_view_same,
            fut_rounds,
            orig_all_stable,
            queued,
            queued_kinds,
            queued_descs: Vec::new(),
            nonempty,
            redo_out,
            redo_no_view,
            records_in,
            pass_on,
        };
        ctx.queued_descs = (0..na * na)
            .map(|i| {
                let (y, x) = (i / na, i % na);
                if ctx.queued[i].is_empty() || ctx.crashed[x] {
                    return Vec::new();
                }
                ctx.queued[i]
                    .iter()
                    .map(|m| ctx.deliver_desc(y, x, m, false))
                    .collect()
            })
            .collect();
        ctx
    }

    /// Whether participant `y` may send a PERSISTENT notice about a dtx
    /// that a view at `x` (in the set, at the head of HA's channel to `x`)
    /// evicts: slot `slot`, incarnations below `alive`, all of them dead
    /// (HA shows a later one), so no EXECUTE of theirs is sent any more.
    /// A participant notifies about a dtx only on its commit (a pending
    /// record) or on an EXECUTE or REDO of it (`execute_record`): it must
    /// hold such a record, or be sent one. Holders: every crashed
    /// participant (its store), every one with such a record in its log or
    /// an EXECUTE or REDO of one in flight to it; then, repeatedly, every
    /// participant a holder may send a REDO to (`redo_out`; for `x`,
    /// which no view reaches along paths avoiding the set, only a round it
    /// serves or `push_own`). True if `y` is a holder.
    pub(super) fn evicted_may_reach(&self, x: usize, y: usize, slot: u8, alive: Inc) -> bool {
        self.may_reach(x, y, |t| t.slot == slot && t.inc < alive)
    }

    /// Whether a record of a dtx in `evicted` may reach participant `y`
    /// along paths avoiding a set holding a view at `x` (the head of HA's
    /// channel to `x`; `usize::MAX` when no view is known to be kept
    /// back), when every such dtx's originator incarnation is dead: see
    /// `evicted_may_reach`.
    pub(super) fn may_reach(&self, x: usize, y: usize, evicted: impl Fn(&TxId) -> bool) -> bool {
        let n = self.c.n;
        let mut h: Vec<bool> = (0..n)
            .map(|q| match live_part(self.s, &self.crashed, q) {
                None => true,
                Some(p) => p.log.iter().any(|r| evicted(&r.id)),
            })
            .collect();
        for (d, txs) in self.records_in.iter().enumerate() {
            if txs.iter().any(&evicted) {
                h[d] = true;
            }
        }
        let mut work: Vec<usize> = (0..n).filter(|&q| h[q]).collect();
        while let Some(z) = work.pop() {
            let row = if z == x {
                &self.redo_no_view[z * n..(z + 1) * n]
            } else {
                &self.redo_out[z * n..(z + 1) * n]
            };
            for (w, &may) in row.iter().enumerate() {
                if may && !h[w] {
                    h[w] = true;
                    work.push(w);
                }
            }
        }
        h[y]
    }

    /// The kinds `src` may send to `dst` along some path from the state.
    pub fn may_send(&self, src: usize, dst: usize) -> Kinds {
        self.may_send[src * self.na + dst]
    }

    /// The description of a delivery of `msg` from `src` to `x` at this
    /// state (`x` not crashed).
    /// `head`: the message is deliverable now (the head of its channel
    /// on an ordered network), not queued behind another.
    pub fn deliver_desc(&self, src: usize, x: usize, msg: &Msg, head: bool) -> Desc {
        let d = Desc {
            src,
            ..Desc::of(msg_kind(msg))
        };
        match &*self.s.actor_states[x] {
            crate::protocol::actor::Dtm0State::Participant(p) => {
                self.deliver_to_part(x, p, msg, d, head)
            }
            crate::protocol::actor::Dtm0State::Originator(o) => self.deliver_to_orig(x, o, msg, d),
            crate::protocol::actor::Dtm0State::Ha(h) => self.deliver_to_ha(h, msg, d),
        }
    }

    /// `deliver_desc` at participant `x` in state `p`; `d` is the plain
    /// description of the delivery.
    pub(super) fn deliver_to_part(
        &self,
        x: usize,
        p: &PartState,
        msg: &Msg,
        mut d: Desc,
        head: bool,
    ) -> Desc {
        let c = self.c;
        let noop_ok = c.table_argued();
        let noop = Desc { kind: NOOP, ..d };
        if noop_ok {
            if let Some(to) = msg.to_inc() {
                if to != 0 && to != p.inc {
                    return noop;
                }
            }
        }
        match msg {
            Msg::Execute { tx, op, .. } => {
                d.tx = Some(*tx);
                d.flag = !c.variants.pruning && p.log.iter().any(|r| r.id == *tx);
                let txr = Txr {
                    id: *tx,
                    op: *op,
                    sv: Default::default(),
                };
                d.mask = u16::from(!superseded_durably(c, p, &txr));
                // Dropped unread (the fence), unless the variant has none.
                let fenced =
                    !c.variants.no_execute_fence && p.view.get(c.n + tx.slot as usize).0 > tx.inc;
                if noop_ok && fenced {
                    return noop;
                }
            }
            Msg::Redo { txr, .. } => {
                d.tx = Some(txr.id);
                d.flag = !c.variants.pruning && p.log.iter().any(|r| r.id == txr.id);
                let forwards = self.redo_may_pass_on(p, txr.id);
                d.mask = u16::from(!superseded_durably(c, p, txr)) | (u16::from(forwards) << 1);
            }
            Msg::Persistent { tx, sv, .. } => {
                d.tx = Some(*tx);
                let durable = if c.variants.pruning {
                    None
                } else {
                    p.durable_log().iter().find(|r| r.id == *tx).map(|r| r.sv)
                };
                if let Some(have) = durable {
                    if noop_ok && have.merge(*sv) == have {
                        return noop;
                    }
                    d.flag = true;
                }
            }
            Msg::View { seq, table, .. } => {
                if noop_ok && *seq <= p.seq {
                    return noop;
                }
                d.flag = self.view_reads_no_log(x, p, table, head);
                if !d.flag {
                    if let Some((slot, alive)) = self.view_evicts_only(x, p, table, head) {
                        if self.eviction_sends_nothing(x, p, slot, alive) {
                            d.flag = true;
                        } else {
                            d.ev_only = true;
                            d.ev_slot = slot;
                            d.ev_alive = alive;
                        }
                    }
                }
                let n = c.n;
                let slots =
                    (0..c.m()).all(|k| table.get(n + k).0.max(1) == p.view.get(n + k).0.max(1));
                let peers = (0..n).all(|r| r == x || table.get(r).0 == p.view.get(r).0);
                if self.view_alone(x) {
                    // Bit 2: `flag` holds only because the stop condition
                    // cannot be met now (`stop_may_hold`), which stays so
                    // only while no EOL reaches `x`: such a view stays
                    // dependent with EOLs (see the table).
                    let relies = head
                        && c.variants.own_redo
                        && c.variants.pruning
                        && !p.declared
                        && table.get(x) == (p.inc, HaSt::Recovering)
                        && !stop_may_hold(c, x, p, table);
                    // Bit 3: it changes a peer's incarnation while a commit
                    // with nothing pending is set here: it commutes with
                    // that commit (which sends no notice) only while
                    // nothing becomes pending, so it stays dependent with
                    // EXECUTE and REDO (see the table).
                    let idle_commit = !peers
                        && p.log.len() == p.ndur as usize
                        && self.s.timers_set[x].iter().any(|t| *t == Timer::Commit);
                    d.mask = u16::from(slots)
                        | (u16::from(peers) << 1)
                        | (u16::from(relies) << 2)
                        | (u16::from(idle_commit) << 3);
                    d.keep = (0..n)
                        .filter(|&r| r != x && table.get(r).0 == p.view.get(r).0)
                        .fold(0, |m, r| m | 1 << r);
                    d.same = (0..n)
                        .filter(|&r| r != x && table.get(r) == p.view.get(r))
                        .fold(0, |m, r| m | 1 << r);
                    // Bit 4: it only evicts, and nothing is pending here.
                    if d.ev_only && p.log.len() == p.ndur as usize {
                        d.mask |= 16;
                    }
                    // Bit 5: every other participant's row is kept.
                    if (0..n).all(|r| r == x || table.get(r) == p.view.get(r)) {
                        d.mask |= 32;
                    }
                }
            }
            Msg::Eol { from, .. } => {
                let ok = d.src < c.n && *from >= p.view.get(d.src).0;
                let (flag, stable) = self.eol_facts(x, p);
                d.flag = ok && flag;
                d.mask = u16::from(ok && stable) | (u16::from(p.declared) << 1);
            }
            // An ack nobody awaits (of an eviction or push_own REDO, or a
            // stale one) changes nothing, and stays so while the round for
            // its sender is closed and no view can open one.
            // A GET is answered from the catalogue (never a no-op: it sends).
            Msg::Get { .. } => {}
            Msg::RedoAck { tx, .. } => {
                let r = d.src;
                let closed = r < c.n
                    && p.rounds[r].awaiting != Some(*tx)
                    && (p.rounds[r].inc == 0 || p.rounds[r].eol)
                    && (self.fut_rounds[x] >> r) & 1 == 0;
                if noop_ok && closed {
                    return noop;
                }
            }
            _ if noop_ok => return noop,
            _ => {}
        }
        d
    }

    /// `deliver_desc` at originator `x` in state `o`; `d` is the plain
    /// description of the delivery.
    pub(super) fn deliver_to_orig(&self, x: usize, o: &OrigState, msg: &Msg, mut d: Desc) -> Desc {
        let c = self.c;
        let noop_ok = c.table_argued();
        let noop = Desc { kind: NOOP, ..d };
        let src = d.src;
        if noop_ok && msg.to_inc().is_some_and(|to| to != o.inc) {
            return noop;
        }
        let find = |tx: &TxId| o.dtxs.iter().find(|d| d.id == *tx);
        match msg {
            Msg::Executed { tx, superseded, .. } => {
                d.tx = Some(*tx);
                // A superseded verdict marks a dtx not yet marked, even
                // where the sender is V or P already.
                let done = match find(tx) {
                    None => o.issued,
                    Some(dtx) => {
                        src < c.n && dtx.sv.get(src) >= St::V && (!superseded.0 || dtx.superseded.0)
                    }
                };
                if noop_ok && (done || src >= c.n) {
                    return noop;
                }
            }
            Msg::Persistent { tx, sv, .. } => {
                d.tx = Some(*tx);
                let (gone, flag) = match find(tx) {
                    None => (o.issued, o.issued),
                    Some(dtx) => (dtx.sv.merge(*sv) == dtx.sv, dtx.st >= DtxSt::Stable),
                };
                if noop_ok && (gone || src >= c.n) {
                    return noop;
                }
                d.flag = flag || !c.ghosts;
                d.issues = !flag && waiting_read(o);
                d.mask = (0..c.n)
                    .filter(|&p| sv.get(p) == St::P)
                    .fold(0, |m, p| m | 1 << p);
            }
            Msg::View { seq, table, .. } => {
                if noop_ok && *seq <= o.seq {
                    return noop;
                }
                let resend = (0..c.n)
                    .filter(|&p| table.get(p).0 > o.view.get(p).0)
                    .fold(0u16, |m, p| m | 1 << p);
                if self.view_alone(x) {
                    d.flag = resend == 0;
                    d.mask = resend;
                } else {
                    d.mask = u16::MAX;
                }
            }
            // A reply for a read that is complete, or that no longer
            // waits for this replica (its view removed it), changes
            // nothing, and stays so: a read leaves `Asked` only for `Done`
            // and its pending replicas only go.
            Msg::GetReply { rid, .. } => {
                let stale = o.reads.get(*rid as usize).is_none_or(|r| {
                    r.phase == ReadPhase::Done
                        || (r.phase == ReadPhase::Asked
                            && !r.pending.iter().any(|&(q, _)| q as usize == src))
                });
                if noop_ok && stale {
                    return noop;
                }
            }
            _ if noop_ok => return noop,
            _ => {}
        }
        d
    }

    /// `deliver_desc` at HA in state `h`; `d` is the plain description of
    /// the delivery.
    pub(super) fn deliver_to_ha(&self, h: &HaState, msg: &Msg, d: Desc) -> Desc {
        let c = self.c;
        let noop_ok = c.table_argued();
        let noop = Desc { kind: NOOP, ..d };
        let src = d.src;
        if noop_ok {
            let i = match c.proc_of(Id::from(src)) {
                Proc::Participant(p) => p,
                Proc::Originator(slot) => c.n + slot,
                Proc::Ha => return noop,
            };
            let (inc, st) = h.table.get(i);
            let stale = match msg {
                Msg::Starting { inc: new } => *new <= inc,
                Msg::Ready { inc: at } => *at < inc || (*at == inc && st != HaSt::Transient),
                Msg::Recovered { inc: at } => *at < inc || (*at == inc && st == HaSt::Online),
                Msg::Down { .. } => false,
                Msg::Failed { inc: at } => *at < inc || st == HaSt::Failed,
                _ => true,
            };
            if stale {
                return noop;
            }
        }
        d
    }

    /// A REDO of dtx `t` delivered to live participant `p` may pass its
    /// record on (eviction on arrival, the default eviction): the dtx is
    /// not in the log (it never comes back once there: a pruned record is
    /// superseded durably and not logged again), and its originator
    /// incarnation is dead or may die (a later incarnation exists or may).
    pub(super) fn redo_may_pass_on(&self, p: &PartState, t: TxId) -> bool {
        let slot = self.c.n + t.slot as usize;
        let dead = model::incarnation(self.s, slot) > t.inc || self.may_restart[slot];
        self.pass_on && dead && !p.log.iter().any(|r| r.id == t)
    }

    /// Whether the enabled action `a` of `y` may make `y` send a message
    /// of kind `k` to `x`. Exact for a view at a participant whose effect
    /// is known (nothing can overtake it, and what it reads changes only
    /// with views); true otherwise.
    pub(super) fn may_trigger(&self, a: &Action, y: usize, x: usize, k: Kinds) -> bool {
        if let ActorModelAction::Timeout(..) = a {
            // The commit sends notices only for the records it makes
            // durable (`handle_commit_timer`): none while nothing is
            // pending. Records become pending only by an EXECUTE or REDO
            // delivered here, which the trigger table lists beside the
            // commit for the same notices, so they are in the set or
            // kept back: the commit still finds nothing pending when it
            // fires along a path that avoids the set.
            return !self.c.table_argued()
                || live_part(self.s, &self.crashed, y)
                    .is_none_or(|p| p.log.len() > p.ndur as usize);
        }
        if let ActorModelAction::Deliver {
            msg: Msg::Redo { txr, .. },
            ..
        } = a
        {
            // A REDO sends REDOs only by passing its record on.
            return k & RDO == 0
                || !self.c.table_argued()
                || live_part(self.s, &self.crashed, y)
                    .is_none_or(|p| self.redo_may_pass_on(p, txr.id));
        }
        let ActorModelAction::Deliver {
            msg: Msg::View { seq, table, .. },
            ..
        } = a
        else {
            return true;
        };
        let Some(p) = live_part(self.s, &self.crashed, y) else {
            return true;
        };
        if !self.c.table_argued() || !self.view_alone(y) {
            return true;
        }
        if *seq <= p.seq {
            return false;
        }
        let c = self.c;
        let n = c.n;
        let own = table.get(y);
        let (evicts, push) = self.view_evicts_or_pushes(y, p, table, true);
        let evicts = evicts && !(x < n && self.eviction_spares(y, p, table, x));
        let sends = if x == usize::from(c.ha_id()) {
            let mut s = 0;
            if own == (p.inc, HaSt::Transient) {
                s |= READY;
            }
            if stop_may_hold(c, y, p, table) {
                s |= RECOV;
            }
            s
        } else if x < n {
            let round = table.get(x) != p.view.get(x)
                && table.get(x).1 == HaSt::Recovering
                && p.rounds[x].inc != table.get(x).0;
            let mut s = 0;
            if round {
                s |= RDO | EOL;
            }
            if evicts || push {
                s |= RDO;
            }
            s
        } else {
            0 // a participant sends nothing to an originator on a view
        };
        sends & k != 0
    }

    /// Without pruning: every EXECUTE originator `y` may still send to
    /// participant `x` is for a dtx `x` has logged (and keeps), so it sets
    /// no commit timer. True when `y` has issued, cannot restart (a new
    /// incarnation issues new dtxs) and every dtx it holds is in `x`'s log.
    pub(super) fn resends_only_logged(&self, y: usize, x: usize) -> bool {
        if self.c.variants.pruning || self.may_restart[y] {
            return false;
        }
        let (Some(o), Some(p)) = (
            live_orig(self.s, &self.crashed, y),
            live_part(self.s, &self.crashed, x),
        ) else {
            return false;
        };
        o.issued && o.dtxs.iter().all(|d| p.log.iter().any(|r| r.id == d.id))
    }

    /// On an unordered network a view may be overtaken by another: its
    /// effect is known only when no other view can reach the receiver.
    pub(super) fn view_alone(&self, x: usize) -> bool {
        if self.ordered {
            return true; // the head of HA's channel: nothing overtakes it
        }
        if self.ha_may_send {
            return false;
        }
        let ha_i = usize::from(self.c.ha_id());
        let views = model::in_flight(self.s)
            .into_iter()
            .filter(|&(src, dst, m)| {
                usize::from(src) == ha_i && usize::from(dst) == x && matches!(m, Msg::View { .. })
            })
            .count();
        views <= 1
    }

    /// A view with `table` at participant `x` (newer than its own): it
    /// starts no round, evicts nothing and cannot lead to `push_own`.
    pub(super) fn view_reads_no_log(
        &self,
        x: usize,
        p: &PartState,
        table: &HaTable,
        head: bool,
    ) -> bool {
        let starts_round = view_starts_round(self.c, x, p, table);
        let (evicts, push) = self.view_evicts_or_pushes(x, p, table, head);
        !(starts_round || evicts || push) && self.view_alone(x)
    }

    /// A view with `table` at participant `x` (newer than its own) whose
    /// only log read is the eviction of one originator slot: it starts no
    /// round and cannot lead to `push_own` (as `view_reads_no_log`), and
    /// raises the incarnation of exactly one slot. The slot and the
    /// incarnation it raises it to (the dtxs of earlier ones are evicted).
    pub(super) fn view_evicts_only(
        &self,
        x: usize,
        p: &PartState,
        table: &HaTable,
        head: bool,
    ) -> Option<(u8, Inc)> {
        let c = self.c;
        let starts_round = view_starts_round(c, x, p, table);
        let (_, push) = self.view_evicts_or_pushes(x, p, table, head);
        if starts_round || push || !self.view_alone(x) || c.mutants().never_evicts() {
            return None;
        }
        let mut evicted =
            (0..c.m()).filter_map(|slot| Some((slot, evicted_below(c, p, table, slot)?)));
        match (evicted.next(), evicted.next()) {
            (Some((slot, alive)), None) => Some((slot as u8, alive)),
            _ => None,
        }
    }

    /// An eviction at live participant `x` (by a view at the head of HA's
    /// channel to it, in the set) of slot `slot` below incarnation `alive`
    /// sends nothing along every path that avoids the set: every record
    /// it would evict is all-P here (P bits only grow; a pruned record is
    /// gone), and no record of another evicted dtx can reach `x` first
    /// (`may_reach`: those originator incarnations are dead, so only a
    /// peer holding one may pass it on by REDO; a REDO of a dtx `x` holds
    /// merges into its all-P record).
    pub(super) fn eviction_sends_nothing(
        &self,
        x: usize,
        p: &PartState,
        slot: u8,
        alive: Inc,
    ) -> bool {
        let n = self.c.n;
        let evicted = |t: &TxId| t.slot == slot && t.inc < alive;
        p.log.iter().all(|r| !evicted(&r.id) || r.sv.all(n, St::P))
            && !self.may_reach(x, x, |t| evicted(t) && !p.log.iter().any(|r| r.id == *t))
    }

    /// The eviction a view with `table` brings to live participant `y`
    /// sends no REDO to participant `x`, whenever it is delivered (the
    /// view need not be in the set): every record it would evict is P at
    /// `x` here (P bits only grow), and no record of another evicted dtx
    /// can reach `y` (`may_reach`, with no view assumed kept back).
    pub(super) fn eviction_spares(
        &self,
        y: usize,
        p: &PartState,
        table: &HaTable,
        x: usize,
    ) -> bool {
        let c = self.c;
        let evicted = |t: &TxId| {
            let slot = t.slot as usize;
            slot < c.m() && evicted_below(c, p, table, slot).is_some_and(|alive| t.inc < alive)
        };
        p.log
            .iter()
            .all(|r| !evicted(&r.id) || r.sv.get(x) == St::P)
            && !self.may_reach(usize::MAX, y, |t| {
                evicted(t) && !p.log.iter().any(|r| r.id == *t)
            })
    }

    /// A view with `table` at participant `x`: whether it evicts an
    /// originator incarnation, and whether it may lead to `push_own` (it
    /// shows `x` RECOVERING, undeclared, with pruning and own REDO on, and,
    /// for the view at the channel's `head`, the stop condition can be met
    /// under it: see `stop_may_hold`).
    pub(super) fn view_evicts_or_pushes(
        &self,
        x: usize,
        p: &PartState,
        table: &HaTable,
        head: bool,
    ) -> (bool, bool) {
        let c = self.c;
        let evicts = (0..c.m()).any(|slot| evicted_below(c, p, table, slot).is_some());
        let push = c.variants.own_redo
            && c.variants.pruning
            && (if head {
                stop_may_hold(c, x, p, table)
            } else {
                !p.declared && table.get(x) == (p.inc, HaSt::Recovering)
            });
        (evicts, push)
    }

    /// At participant `x`: whether an EOL cannot complete the stop
    /// condition under the current view (it has declared, or the view does
    /// not show it RECOVERING), and whether no later view can let it
    /// (declared, or the view shows its incarnation ONLINE).
    pub(super) fn eol_facts(&self, x: usize, p: &PartState) -> (bool, bool) {
        let own = p.view.get(x);
        (
            p.declared || own != (p.inc, HaSt::Recovering),
            p.declared || own == (p.inc, HaSt::Online),
        )
    }

    /// The description of a future action of kind `k` at `x` from `src`.
    pub(super) fn future_desc(&self, x: usize, k: Kinds, src: usize) -> Desc {
        let mut d = Desc::of(k);
        d.src = src;
        d.future = true;
        match (role(self.c, x), k) {
            (Role::Part, VIEW) => {
                d.flag = self.fut_view_flag[x];
                d.mask = self.fut_view_mask[x];
                if d.mask & 2 != 0 {
                    d.keep = u16::MAX;
                }
                d.same = self.fut_view_same[x];
                // Bit 5: every other participant's row is kept.
                if (0..self.c.n).all(|r| r == x || (d.same >> r) & 1 != 0) {
                    d.mask |= 32;
                }
            }
            (_, VIEW) => {
                d.flag = self.fut_view_flag[x];
                d.mask = self.fut_view_mask[x];
            }
            // Not yet sent: from the sender's incarnation then, which is
            // at least the one the receiver's view shows.
            (Role::Part, EOL) => {
                if let Some(p) = live_part(self.s, &self.crashed, x) {
                    let (flag, stable) = self.eol_facts(x, p);
                    d.flag = flag;
                    d.mask = u16::from(stable) | (u16::from(p.declared) << 1);
                }
            }
            (Role::Orig, PER) => {
                d.flag = self.orig_all_stable[x] || !self.c.ghosts;
                d.issues = live_orig(self.s, &self.crashed, x).is_none_or(waiting_read);
                d.mask = u16::MAX;
                d.tx = self.orig_open_tx[x];
            }
            _ => {}
        }
        d
    }

    /// The description of an action at this state.
    pub fn desc(&self, a: &Action) -> Desc {
        match a {
            ActorModelAction::Deliver { src, dst, msg } => {
                self.deliver_desc(usize::from(*src), usize::from(*dst), msg, true)
            }
            ActorModelAction::Timeout(id, _) => Desc {
                // Nothing pending: the commit sends no notice.
                flag: self.c.table_argued()
                    && live_part(self.s, &self.crashed, usize::from(*id))
                        .is_some_and(|p| p.log.len() == p.ndur as usize),
                ..Desc::of(COMMIT)
            },
            ActorModelAction::Crash(_) => Desc::of(CRASH),
            ActorModelAction::Recover(_) => Desc::of(RECOVER),
            ActorModelAction::Drop(e) => Desc {
                src: usize::from(e.src),
                ..Desc::of(DROP)
            },
            ActorModelAction::SelectRandom { .. } => Desc::of(OTHER),
        }
    }
}

/// A view with `table` at participant `x` (state `p`, the view newer than
/// its own) starts a restore round: it shows a peer's row changed, now
/// RECOVERING at an incarnation other than the round's.
fn view_starts_round(c: &Cluster, x: usize, p: &PartState, table: &HaTable) -> bool {
    (0..c.n).any(|r| {
        r != x
            && table.get(r) != p.view.get(r)
            && table.get(r).1 == HaSt::Recovering
            && p.rounds[r].inc != table.get(r).0
    })
}

/// A view with `table` at participant `x` (state `p`) evicts originator
/// slot `slot` when it shows the slot at a later incarnation than `p`'s
/// view (and not the first): the incarnation, below which every dtx of the
/// slot is evicted (`handle_view`, `evict`).
fn evicted_below(c: &Cluster, p: &PartState, table: &HaTable, slot: usize) -> Option<Inc> {
    let ni = table.get(c.n + slot).0;
    (ni > p.view.get(c.n + slot).0 && ni > 1).then_some(ni)
}

/// Originator `o` has a read waiting for its earlier dtxs to be STABLE.
fn waiting_read(o: &OrigState) -> bool {
    o.reads.iter().any(|r| r.phase == ReadPhase::Waiting)
}
