//! Facts of one state the closure relies on: live process states, the
//! stop condition, messages in flight by channel, and the may-send and
//! future-view analyses (`Facts`).

use super::table::*;
use crate::model::{self, SysState};
use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::ha::HaState;
use crate::protocol::msg::{HaSt, HaTable, Msg};
use crate::protocol::originator::{DtxSt, OrigState};
use crate::protocol::participant::{peers_done, PartState};
use crate::protocol::types::{St, TxId};
use stateright::actor::{Id, Network};

pub(super) fn role(c: &Cluster, i: usize) -> Role {
    match c.proc_of(Id::from(i)) {
        Proc::Participant(_) => Role::Part,
        Proc::Originator(_) => Role::Orig,
        Proc::Ha => Role::Ha,
    }
}

/// The live participant state of actor `i` (none when crashed).
/// Whether a view with `table`, delivered to live participant `x` (state
/// `p`) now, may meet the stop condition (`check_stop`: declare, send
/// RECOVERED, and with pruning and own REDO push the log). It needs `x`
/// undeclared, shown RECOVERING at its incarnation, and an EOL held from
/// every peer the table shows ONLINE or RECOVERING, of that incarnation or
/// later; the view itself can only clear EOLs (`follow_peer`, the
/// TRANSIENT reset), so false here is false after it. Valid along every
/// path that avoids a stubborn set wherever the closure relies on it: an
/// answer of false matters only when the view and another action of `x`
/// are on opposite sides of the set, or when the view is asked whether it
/// may trigger a send; in the first case every EOL delivery to `x` is
/// dependent with both (the table: EOL with anything but NOOP while
/// undeclared, with push on; with the view because its description says
/// it relies on this, bit 2 of its mask), in the second the trigger table
/// lists EOL for the same sends; either way every EOL to `x` is in the set
/// or kept back, so `eol` and `declared` do not change along such paths.
pub(super) fn stop_may_hold(c: &Cluster, x: usize, p: &PartState, table: &HaTable) -> bool {
    !p.declared && table.get(x) == (p.inc, HaSt::Recovering) && peers_done(c, x, p, table)
}

pub(super) fn live_part<'a>(s: &'a SysState, crashed: &[bool], i: usize) -> Option<&'a PartState> {
    if crashed[i] {
        None
    } else {
        s.actor_states[i].participant()
    }
}

/// The live originator state of actor `i` (none when crashed).
pub(super) fn live_orig<'a>(s: &'a SysState, crashed: &[bool], i: usize) -> Option<&'a OrigState> {
    if crashed[i] {
        None
    } else {
        s.actor_states[i].originator()
    }
}

/// The view number actor `i` holds (0 for HA or a crashed actor).
pub(super) fn seq_of(s: &SysState, crashed: &[bool], i: usize) -> u32 {
    if let Some(p) = live_part(s, crashed, i) {
        p.seq
    } else if let Some(o) = live_orig(s, crashed, i) {
        o.seq
    } else {
        0
    }
}

/// Ordered network, per channel `src * na + dst`: the messages behind the
/// head, their kinds, and whether the channel holds a message.
pub(super) type Channels = (Vec<Vec<Msg>>, Vec<Kinds>, Vec<bool>);

/// Messages in flight, by channel (ordered network only).
pub(super) fn channels(s: &SysState, na: usize) -> Channels {
    let mut queued: Vec<Vec<Msg>> = vec![Vec::new(); na * na];
    let mut kinds: Vec<Kinds> = vec![0; na * na];
    let mut nonempty = vec![false; na * na];
    if let Network::Ordered(map) = &s.network {
        for (&(src, dst), q) in map {
            if q.is_empty() {
                continue;
            }
            let i = usize::from(src) * na + usize::from(dst);
            nonempty[i] = true;
            for m in q.iter().skip(1) {
                kinds[i] |= msg_kind(m);
                queued[i].push(m.clone());
            }
        }
    }
    (queued, kinds, nonempty)
}

/// The facts of one state that `Ctx::new` builds the may-send and
/// future-view tables from.
pub(super) struct Facts<'a> {
    pub(super) c: &'a Cluster,
    pub(super) s: &'a SysState,
    pub(super) na: usize,
    pub(super) n: usize,
    pub(super) ha_i: usize,
    pub(super) crashed: Vec<bool>,
    pub(super) may_restart: Vec<bool>,
    pub(super) ha: &'a HaState,
    pub(super) ha_may_send: bool,
    /// Per actor: the tables of views newer than its own in flight to it.
    pub(super) views_in: Vec<Vec<&'a HaTable>>,
    /// `inflight[src * na + dst]`: the kinds in flight from `src` to `dst`.
    pub(super) inflight: Vec<Kinds>,
    pub(super) view_may_arrive: Vec<bool>,
    pub(super) push: bool,
    /// Per participant: the dtxs of the EXECUTEs and REDOs in flight to it.
    pub(super) records_in: Vec<Vec<TxId>>,
    /// Eviction on arrival may happen at all: the default eviction, and
    /// some originator incarnation is, or may become, dead.
    pub(super) pass_on: bool,
    /// Per participant: it may pass on a REDO it receives (eviction on
    /// arrival, the default eviction): its view shows, or a view may
    /// come to show, an originator incarnation dead.
    pub(super) may_forward: Vec<bool>,
    /// `may_forward` along paths on which no view reaches it: its view
    /// shows an originator incarnation dead now.
    pub(super) forwards_now: Vec<bool>,
    /// Per participant: a REDO may reach it along some path (one in
    /// flight, or one a peer may send, passing on included).
    pub(super) may_get_redo: Vec<bool>,
}

impl<'a> Facts<'a> {
    pub(super) fn new(
        c: &'a Cluster,
        s: &'a SysState,
        crashed: Vec<bool>,
        may_restart: Vec<bool>,
    ) -> Self {
        let na = c.actor_count();
        let n = c.n;
        let ha_i = usize::from(c.ha_id());
        let ha = model::ha(s, c);
        let flight = model::in_flight(s);
        let mut records_in = vec![Vec::new(); n];
        for &(_, dst, msg) in &flight {
            let d = usize::from(dst);
            match msg {
                Msg::Execute { tx, .. } if d < n => records_in[d].push(*tx),
                Msg::Redo { txr, .. } if d < n => records_in[d].push(txr.id),
                _ => {}
            }
        }
        // HA changes its table (and broadcasts) only on a restart, on
        // READY/RECOVERED of a process it shows TRANSIENT/RECOVERING, or on
        // the report of a participant that failed for good (one that may
        // still fail, or has and HA does not show it FAILED yet).
        let mut ha_may_send = (0..ha_i).any(|i| {
            may_restart[i]
                || !matches!(ha.table.get(i).1, HaSt::Online)
                || model::incarnation(s, i) > ha.table.get(i).0
                || (i < n && c.may_fail(i) && ha.table.get(i).1 != HaSt::Failed)
        });
        for &(src, dst, msg) in &flight {
            if usize::from(dst) == ha_i {
                if let Msg::Starting { inc } = msg {
                    if *inc > ha.table.get(usize::from(src)).0 {
                        ha_may_send = true;
                    }
                }
            }
        }
        // A view newer than the receiver's may be in flight to it.
        let mut views_in: Vec<Vec<&HaTable>> = vec![Vec::new(); na];
        let mut inflight: Vec<Kinds> = vec![0; na * na];
        for &(src, dst, msg) in &flight {
            let (si, di) = (usize::from(src), usize::from(dst));
            inflight[si * na + di] |= msg_kind(msg);
            if let Msg::View { seq, table, .. } = msg {
                if *seq > seq_of(s, &crashed, di) || crashed[di] {
                    views_in[di].push(table);
                }
            }
        }
        let view_may_arrive: Vec<bool> = (0..na)
            .map(|i| ha_may_send || !views_in[i].is_empty())
            .collect();
        let pruning = c.variants.pruning;
        let push = c.variants.own_redo && pruning;
        // Only if some originator incarnation is, or may become, dead.
        let fwd = !c.variants.motr_evict
            && (n..ha_i).any(|k| may_restart[k] || model::incarnation(s, k) > 1);
        let forwards_now: Vec<bool> = (0..n)
            .map(|i| {
                fwd && live_part(s, &crashed, i)
                    .is_some_and(|p| (0..c.m()).any(|k| p.view.get(n + k).0 > 1))
            })
            .collect();
        let may_forward: Vec<bool> = (0..n)
            .map(|i| fwd && (forwards_now[i] || crashed[i] || view_may_arrive[i]))
            .collect();
        let mut f = Facts {
            c,
            s,
            na,
            n,
            ha_i,
            crashed,
            may_restart,
            ha,
            ha_may_send,
            views_in,
            inflight,
            view_may_arrive,
            push,
            records_in,
            pass_on: fwd,
            may_forward,
            forwards_now,
            may_get_redo: vec![false; n],
        };
        // A REDO may reach `r` if one is in flight to it, a peer may send
        // one by its own rules, or a peer that may get one passes it on:
        // a fixed point over at most n rounds.
        let mut get: Vec<bool> = (0..n)
            .map(|r| {
                (0..n)
                    .any(|q| q != r && (f.inflight[q * na + r] & RDO != 0 || f.own_redo_out(q, r)))
            })
            .collect();
        loop {
            let next: Vec<bool> = (0..n)
                .map(|r| get[r] || (0..n).any(|q| q != r && get[q] && f.may_forward[q]))
                .collect();
            if next == get {
                break;
            }
            get = next;
        }
        f.may_get_redo = get;
        f
    }

    pub(super) fn part(&self, i: usize) -> Option<&'a PartState> {
        live_part(self.s, &self.crashed, i)
    }

    pub(super) fn orig(&self, i: usize) -> Option<&'a OrigState> {
        live_orig(self.s, &self.crashed, i)
    }

    pub(super) fn round_open(&self, q: usize, r: usize) -> bool {
        self.part(q)
            .is_some_and(|p| p.rounds[r].inc != 0 && !p.rounds[r].eol)
    }

    pub(super) fn eol_out(&self, q: usize, r: usize) -> bool {
        self.crashed[q] || self.view_may_arrive[q] || self.round_open(q, r)
    }

    pub(super) fn eol_in(&self, r: usize, q: usize) -> bool {
        self.inflight[q * self.na + r] & EOL != 0 || self.eol_out(q, r)
    }

    pub(super) fn declared(&self, r: usize) -> bool {
        self.part(r).is_some_and(|p| p.declared)
    }

    /// Participant `r` may send a REDO to `y` along some path: by its own
    /// rules (`own_redo_out`) or passing one on (eviction on arrival).
    pub(super) fn redo_out(&self, r: usize, y: usize) -> bool {
        self.own_redo_out(r, y) || (self.may_forward[r] && self.may_get_redo[r])
    }

    /// A REDO `r` may send on its own (not passing one on): a view's
    /// round or eviction, a round it serves to `y`, `push_own`, or
    /// anything after a restart.
    fn own_redo_out(&self, r: usize, y: usize) -> bool {
        self.crashed[r]
            || self.view_may_arrive[r]
            || self.round_open(r, y)
            || (self.push && !self.declared(r) && (0..self.n).any(|q| q != r && self.eol_in(r, q)))
    }

    /// `redo_out` along paths on which no view reaches `r` (a view at
    /// `r` is in the set, at the head of HA's channel): only a round `r`
    /// serves to `y`, `push_own`, or passing on under the view it holds
    /// sends REDO then.
    pub(super) fn redo_out_no_view(&self, r: usize, y: usize) -> bool {
        self.crashed[r]
            || self.round_open(r, y)
            || (self.push && !self.declared(r) && (0..self.n).any(|q| q != r && self.eol_in(r, q)))
            || (self.forwards_now[r] && self.may_get_redo[r])
    }

    pub(super) fn redo_in(&self, y: usize, r: usize) -> bool {
        self.inflight[r * self.na + y] & RDO != 0 || self.redo_out(r, y)
    }

    pub(super) fn exec_in(&self, y: usize, o: usize) -> bool {
        self.inflight[o * self.na + y] & EXE != 0
            || self.view_may_arrive[o]
            || self.crashed[o]
            || self.queued_exec(o, y)
    }

    /// Originator `o` holds an EXECUTE to participant `y` in its outbox
    /// (one send per step).
    pub(super) fn queued_exec(&self, o: usize, y: usize) -> bool {
        self.orig(o)
            .is_some_and(|st| st.outbox.iter().any(|e| e.0 as usize == y))
    }

    /// `may_send[src * na + dst]`: the kinds `src` may send to `dst` along
    /// some path from this state.
    pub(super) fn may_send(&self) -> Vec<Kinds> {
        let (c, na, crashed) = (self.c, self.na, &self.crashed);
        let mut may_send: Vec<Kinds> = vec![0; na * na];
        for y in 0..na {
            let row = &mut may_send[y * na..(y + 1) * na];
            match role(c, y) {
                Role::Part if crashed[y] => {
                    for (d, k) in row.iter_mut().enumerate() {
                        *k = match role(c, d) {
                            _ if d == y => 0,
                            Role::Part => RDO | ACK | PER | EOL,
                            Role::Orig if reads_of_slot(c, d) => EXD | PER | GETR,
                            Role::Orig => EXD | PER,
                            Role::Ha if c.may_fail(y) => START | READY | RECOV | OTHER,
                            Role::Ha => START | READY | RECOV,
                        };
                    }
                }
                Role::Part => self.live_part_row(y, row),
                Role::Orig => {
                    // EXECUTE goes out when the dtxs are issued (a new
                    // incarnation, on a view showing it ONLINE) and on a
                    // view raising a participant's incarnation, for the
                    // dtxs it does not show P (vectors only grow).
                    let o = self.orig(y);
                    for (d, k) in row.iter_mut().enumerate() {
                        *k = match (role(c, d), o) {
                            (Role::Part, None) => EXE,
                            (Role::Part, Some(_)) if self.queued_exec(y, d) => EXE,
                            (Role::Part, Some(_)) if self.may_restart[y] => EXE,
                            (Role::Part, Some(o)) if self.view_may_arrive[y] => {
                                let raised = self.may_restart[d]
                                    || model::incarnation(self.s, d) > o.view.get(d).0;
                                let open = o.dtxs.iter().any(|x| x.sv.get(d) < St::P);
                                if !o.issued || (raised && open) {
                                    EXE
                                } else {
                                    0
                                }
                            }
                            (Role::Ha, _) if self.may_restart[y] => START,
                            _ => 0,
                        };
                        // GET goes out when a waiting read's earlier dtxs
                        // are STABLE (on a notice, or at issue on a view),
                        // also by a later incarnation.
                        let waiting = o.is_none_or(|o| {
                            o.reads
                                .iter()
                                .any(|r| r.phase == crate::protocol::originator::ReadPhase::Waiting)
                        });
                        if role(c, d) == Role::Part
                            && reads_of_slot(c, y)
                            && (waiting || self.may_restart[y])
                        {
                            *k |= GET;
                        }
                    }
                }
                Role::Ha => {
                    if self.ha_may_send {
                        for (d, k) in row.iter_mut().enumerate() {
                            if d != y {
                                *k = VIEW;
                            }
                        }
                    }
                }
            }
        }
        may_send
    }

    /// The may-send row of live participant `y`.
    pub(super) fn live_part_row(&self, y: usize, row: &mut [Kinds]) {
        let (c, n, ha_i) = (self.c, self.n, self.ha_i);
        let p = self.part(y).expect("a live participant");
        let per = p.log.len() > p.ndur as usize
            || (n..ha_i).any(|o| self.exec_in(y, o))
            || (0..n).any(|r| r != y && self.redo_in(y, r));
        for (d, k) in row.iter_mut().enumerate() {
            *k = match role(c, d) {
                _ if d == y => 0,
                Role::Part => {
                    let mut k = 0;
                    if per {
                        k |= PER;
                    }
                    if self.redo_out(y, d) {
                        k |= RDO;
                    }
                    if self.redo_in(y, d) {
                        k |= ACK;
                    }
                    if self.eol_out(y, d) {
                        k |= EOL;
                    }
                    k
                }
                Role::Orig => {
                    let mut k = 0;
                    if per {
                        k |= PER;
                    }
                    if self.exec_in(y, d) {
                        k |= EXD;
                    }
                    // GET-REPLY answers a GET (a slot without reads sends
                    // none).
                    if reads_of_slot(c, d) {
                        k |= GETR;
                    }
                    k
                }
                Role::Ha => {
                    let mut k = 0;
                    if self.may_restart[y] {
                        k |= START | READY | RECOV;
                    }
                    // Failing for good, it reports to HA.
                    if c.may_fail(y) && !p.failed {
                        k |= OTHER;
                    }
                    // READY answers a view showing this incarnation
                    // TRANSIENT; RECOVERED is sent once per incarnation,
                    // when the view shows it RECOVERING. HA's row of a
                    // process moves TRANSIENT, RECOVERING, ONLINE for one
                    // incarnation and never back (the model's HA has no
                    // failure detector), and every later view carries
                    // HA's table as it will be.
                    let own = |st: HaSt| {
                        self.ha_behind(y)
                            || self.ha.table.get(y) == (p.inc, st)
                            || self.views_in[y].iter().any(|t| t.get(y) == (p.inc, st))
                    };
                    if own(HaSt::Transient) {
                        k |= READY;
                    }
                    let may_recover = own(HaSt::Transient)
                        || own(HaSt::Recovering)
                        || p.view.get(y) == (p.inc, HaSt::Recovering);
                    if !p.declared && may_recover {
                        k |= RECOV;
                    }
                    k
                }
            };
        }
    }

    /// A process restarted that HA has not heard of yet: HA's table will
    /// show its new incarnation (TRANSIENT, then RECOVERING).
    pub(super) fn ha_behind(&self, i: usize) -> bool {
        model::incarnation(self.s, i) > self.ha.table.get(i).0
    }

    /// No later view changes the incarnation of `i` as `view` shows it.
    pub(super) fn kept(&self, i: usize, view: &HaTable) -> bool {
        !self.may_restart[i] && model::incarnation(self.s, i) == view.get(i).0
    }

    /// The peers of live participant `x` whose row no later view changes
    /// from what `x`'s view shows: ONLINE there and in HA's table and in
    /// every view in flight to `x`, at the incarnation the peer has, and
    /// the peer cannot restart (HA's row of an incarnation never leaves
    /// ONLINE in the model).
    pub(super) fn fut_same(&self, x: usize) -> u16 {
        let Some(p) = self.part(x) else {
            return 0;
        };
        (0..self.n)
            .filter(|&r| {
                let row = p.view.get(r);
                r != x
                    && row == (model::incarnation(self.s, r), HaSt::Online)
                    && !self.may_restart[r]
                    && self.ha.table.get(r) == row
                    && self.views_in[x].iter().all(|t| t.get(r) == row)
            })
            .fold(0, |m, r| m | 1 << r)
    }

    /// Future views: which table changes they may bring. Per actor, the
    /// `fut_view_flag`, `fut_view_mask` and `orig_all_stable` of `Ctx`.
    pub(super) fn future_views(&self) -> (Vec<bool>, Vec<u16>, Vec<bool>) {
        let (c, s, na, n) = (self.c, self.s, self.na, self.n);
        let mut fut_view_flag = vec![false; na];
        let mut orig_all_stable = vec![false; na];
        let mut fut_view_mask = vec![0u16; na];
        for x in 0..na {
            if let Some(p) = self.part(x) {
                fut_view_flag[x] = !self.part_view_may_read_log(x, p);
                let slots = (n..n + c.m()).all(|i| {
                    !self.may_restart[i]
                        && model::incarnation(s, i).max(1) == p.view.get(i).0.max(1)
                });
                let peers = (0..n).all(|r| r == x || self.kept(r, &p.view));
                fut_view_mask[x] = u16::from(slots) | (u16::from(peers) << 1);
            } else if let Some(o) = self.orig(x) {
                fut_view_mask[x] = (0..n)
                    .filter(|&p| self.may_restart[p] || model::incarnation(s, p) > o.view.get(p).0)
                    .fold(0, |m, p| m | 1 << p);
                fut_view_flag[x] = fut_view_mask[x] == 0;
                orig_all_stable[x] = o.issued && o.dtxs.iter().all(|d| d.st >= DtxSt::Stable);
            }
        }
        (fut_view_flag, fut_view_mask, orig_all_stable)
    }

    /// The peers (bit per index) for which a later view at live
    /// participant `x` may start a restore round: one showing the peer
    /// RECOVERING at an incarnation other than the round's, from HA's row
    /// of the peer (a later incarnation if it restarts) or a view in
    /// flight.
    pub(super) fn rounds_may_start(&self, x: usize, p: &PartState) -> u16 {
        let ha = self.ha;
        (0..self.n)
            .filter(|&r| {
                let (ir, st) = ha.table.get(r);
                r != x
                    && (self.may_restart[r]
                        || self.ha_behind(r)
                        || (st != HaSt::Online && p.rounds[r].inc != ir)
                        || self.views_in[x].iter().any(|t| {
                            t.get(r).1 == HaSt::Recovering && p.rounds[r].inc != t.get(r).0
                        }))
            })
            .fold(0, |m, r| m | 1 << r)
    }

    /// A later view at live participant `x` may start a round, evict an
    /// originator or lead to `push_own`.
    pub(super) fn part_view_may_read_log(&self, x: usize, p: &PartState) -> bool {
        let (c, n, ha) = (self.c, self.n, self.ha);
        let may_round = self.rounds_may_start(x, p) != 0;
        let may_evict = (0..c.m()).any(|slot| {
            self.may_restart[n + slot]
                || model::incarnation(self.s, n + slot) > p.view.get(n + slot).0
        });
        let may_push = self.push
            && !p.declared
            && (self.may_restart[x]
                || self.ha_behind(x)
                || (ha.table.get(x).0 == p.inc && ha.table.get(x).1 != HaSt::Online)
                || self.views_in[x]
                    .iter()
                    .any(|t| t.get(x) == (p.inc, HaSt::Recovering)));
        may_round || may_evict || may_push
    }
}

/// Whether actor `i` is an originator whose scripts read (`get`).
fn reads_of_slot(c: &crate::protocol::cluster::Cluster, i: usize) -> bool {
    i >= c.n && i < c.n + c.m() && c.originators[i - c.n].reads.iter().any(|r| !r.is_empty())
}
