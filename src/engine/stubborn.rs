//! Semantic partial-order reduction (issue 11, items 1, 2 and the
//! independence checks of item 5): conditional independence of actions of
//! one actor, decided from their kinds and the receiver's state, and a
//! stubborn-set closure computed from the current state that uses it.
//!
//! Theory (Valmari's stubborn sets, in Godefroid's persistent-set form).
//! A set `T` of actions (some enabled, some not yet enabled) is closed when
//! (1) for every enabled action `t` of `T`, every action that may be
//! dependent with `t` at some state reachable from `s` by actions outside
//! `T` is in `T`, and (2) for every disabled action of `T`, a necessary
//! enabling set (actions one of which any path enabling it must take) is
//! in `T`. The enabled actions of such a `T` are a persistent set at `s`.
//! Actions are grouped by the actor they belong to (a delivery to its
//! receiver, a timeout, crash or restart to its actor). Actions of
//! different actors commute and neither disables the other (each touches
//! its own actor's state and storage, removes its own message and appends
//! to its own outgoing channels), except crashes and restarts coupled by
//! `max_concurrent_crashes`. Actions of one actor are dependent unless the
//! table below (`indep`) says otherwise, from the two actions' kinds,
//! messages and facts of the receiver's state that no action outside `T`
//! can change (the receiver does not crash or restart along those paths:
//! its crash is in `T` whenever one of its actions is, or it cannot crash).
//!
//! Future actions of an actor `X` of `T` are deliveries of messages not
//! yet deliverable (queued behind a channel's head on an ordered network,
//! or not yet sent) and its commit timeout once set. A future delivery of a
//! kind dependent with an action of `T` at `X` must be kept from happening:
//! on an ordered network by putting the channel's head in `T` (nothing
//! overtakes it); otherwise, if the sender may send that kind to `X` at all
//! (the may-send table, an over-approximation of every send along every
//! path from `s`), by putting in `T` what must happen first for the sender
//! to send it (the trigger table: the kinds of deliveries that make a
//! handler send that kind), recursively. An actor whose crash is in `T` is
//! frozen: all its enabled actions join `T` and every delivery to it is
//! kept from happening.
//!
//! Visibility is ignored here (properties are made local to steps
//! elsewhere). Sets are never empty at a state with an enabled action, so
//! terminal states are kept.

use crate::engine::oracle::{is_persistent, Graph};
use crate::engine::por::actor_of;
use crate::model::{self, steps, visited_fp, Action, Dtm0Model, SysState};
use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::ha::HaState;
use crate::protocol::msg::{HaSt, HaTable, Msg, Timer};
use crate::protocol::originator::{DtxSt, OrigState};
use crate::protocol::participant::{superseded_durably, PartState};
use crate::protocol::types::{Inc, St, TxId, Txr};
use stateright::actor::{ActorModelAction, Id, Network};
use stateright::Model;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

// Kinds of actions, one bit each. Message kinds name the message
// delivered; `NOOP` is a delivery that is a no-op at the receiver in every
// state reachable without the receiver restarting.
pub const EXE: u16 = 1 << 0;
pub const RDO: u16 = 1 << 1;
pub const ACK: u16 = 1 << 2;
pub const PER: u16 = 1 << 3;
pub const EOL: u16 = 1 << 4;
pub const VIEW: u16 = 1 << 5;
pub const EXD: u16 = 1 << 6;
pub const START: u16 = 1 << 7;
pub const READY: u16 = 1 << 8;
pub const RECOV: u16 = 1 << 9;
pub const COMMIT: u16 = 1 << 10;
pub const NOOP: u16 = 1 << 11;
pub const CRASH: u16 = 1 << 12;
pub const RECOVER: u16 = 1 << 13;
pub const DROP: u16 = 1 << 14;
pub const OTHER: u16 = 1 << 15;
/// Every kind a message can have.
pub const MSGS: u16 = EXE | RDO | ACK | PER | EOL | VIEW | EXD | START | READY | RECOV | OTHER;

/// The kind of a message, as sent.
pub fn msg_kind(m: &Msg) -> u16 {
    match m {
        Msg::Execute { .. } => EXE,
        Msg::Redo { .. } => RDO,
        Msg::RedoAck { .. } => ACK,
        Msg::Persistent { .. } => PER,
        Msg::Eol { .. } => EOL,
        Msg::View { .. } => VIEW,
        Msg::Executed { .. } => EXD,
        Msg::Starting { .. } => START,
        Msg::Ready { .. } => READY,
        Msg::Recovered { .. } => RECOV,
        Msg::Down { .. } => OTHER,
    }
}

/// What the table needs to know of one action of an actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    pub kind: u16,
    /// The sender of a delivery (`usize::MAX` otherwise).
    pub src: usize,
    /// The dtx of EXECUTE, REDO, PERSISTENT, EXECUTED, if known.
    pub tx: Option<TxId>,
    /// Kind-specific fact, stable along paths that avoid the set:
    /// participant PERSISTENT: the record is durable here and logs are
    /// never pruned; participant VIEW: it reads no log (starts no round,
    /// evicts nothing or sends nothing when it evicts, see
    /// `eviction_sends_nothing`, cannot lead to `push_own`); participant
    /// EXECUTE and
    /// REDO: the dtx is in the log, which is never pruned (it sets no
    /// timer); participant commit: nothing is pending (it sends no
    /// notice); originator PERSISTENT:
    /// it cannot add to the ghost list of stable dtxs; originator VIEW: it
    /// resends no EXECUTE.
    pub flag: bool,
    /// Second fact. Participant VIEW: bit 0, it keeps every originator
    /// slot's incarnation; bit 1, it keeps every other participant's;
    /// bit 2, `flag` relies on no EOL arriving; bit 3, it changes a peer's
    /// incarnation while a commit with nothing pending is set; bit 4,
    /// `ev_only` and nothing is pending here.
    /// Originator PERSISTENT: the participants its vector shows P;
    /// originator VIEW: the participants it resends EXECUTE to.
    /// Participant EOL: bit 0, the receiver has declared or its view shows
    /// its own incarnation ONLINE (stable: HA never moves an incarnation
    /// back) and the EOL is from the sender's incarnation in that view or
    /// later; bit 1, the receiver has declared (sticky in the model).
    pub mask: u16,
    /// Participant VIEW: the participants (bit per index) whose
    /// incarnation it keeps as the receiver's view shows it.
    pub keep: u16,
    /// Participant VIEW: the participants whose row (incarnation and
    /// state) it keeps as the receiver's view shows it.
    pub same: u16,
    /// A future action (a kind that may arrive), not one known now.
    pub future: bool,
    /// Participant VIEW: its only log read is the eviction of one
    /// originator slot (`ev_slot`, incarnations below `ev_alive`): it
    /// starts no round and cannot lead to `push_own`.
    pub ev_only: bool,
    pub ev_slot: u8,
    pub ev_alive: Inc,
}

impl Desc {
    /// A participant VIEW with `ev_only`: whether it evicts dtx `t`.
    fn evicts(&self, t: TxId) -> bool {
        t.slot == self.ev_slot && t.inc < self.ev_alive
    }

    fn of(kind: u16) -> Desc {
        Desc {
            kind,
            src: usize::MAX,
            tx: None,
            flag: false,
            mask: 0,
            keep: 0,
            same: 0,
            future: false,
            ev_only: false,
            ev_slot: 0,
            ev_alive: 0,
        }
    }
}

/// The kind of process an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Part,
    Orig,
    Ha,
}

/// The independence table of two actions `a`, `b` of one actor, given as
/// descriptions (see `Desc`). True means: at every state reachable from the
/// current one without the actor crashing or restarting, where both are
/// enabled, neither disables the other and both orders reach the same
/// state (on an ordered network, this includes the order of what they
/// append to one channel).
fn indep(c: &Cluster, role: Role, a: &Desc, b: &Desc) -> bool {
    if !c.variants.mutants.is_empty() {
        return false; // the table is argued for the correct protocol only
    }
    // A crash disables every action of its actor; a restart is the only
    // action of a crashed actor.
    if (a.kind | b.kind) & (CRASH | RECOVER) != 0 {
        return false;
    }
    // A delivery that changes nothing and sends nothing (a message to an
    // earlier incarnation, `to != inc`, dropped first thing by every
    // handler; a view not newer than the receiver's `seq`, which only
    // grows; a request from an originator the view shows FAILED, whose
    // incarnation only grows; a notice already merged into a durable
    // record that is never pruned): it commutes with everything.
    if (a.kind | b.kind) & NOOP != 0 {
        return true;
    }
    // A loss only removes its message; it conflicts with the delivery or
    // loss of that message only (compared by the caller), never with a
    // future action (another copy commutes by counts).
    if (a.kind | b.kind) & DROP != 0 {
        return true;
    }
    // Arms name the kinds in increasing bit order.
    let (a, b) = if a.kind <= b.kind { (a, b) } else { (b, a) };
    match role {
        Role::Part => indep_part(c, a, b),
        Role::Orig => indep_orig(c, a, b),
        // Every change of HA's table is numbered and broadcast.
        Role::Ha => false,
    }
}

/// The table for two actions of a participant, `a.kind <= b.kind`
/// (neither a crash, restart, no-op or loss; see `indep`).
fn indep_part(c: &Cluster, a: &Desc, b: &Desc) -> bool {
    let pruning = c.variants.pruning;
    // `check_stop` pushes the log (`push_own`) when both are on.
    let push = c.variants.own_redo && pruning;
    match (a.kind, b.kind) {
        // merge_notice: state vectors merged by maximum into the record
        // or the sorted `early` list; sends nothing; arms the commit
        // timer (a set) when the log's head is all-P, monotone in
        // the merges.
        (PER, PER) => true,
        // receive() of EXECUTE merges `early` (or sends a notice from
        // the unchanged durable catalogue when superseded) and appends
        // a record or merges a zero vector; merge_notice writes only
        // the vector of its dtx, never the log's order or the
        // catalogue; only EXECUTE sends (EXECUTED to the originator).
        (EXE, PER) => true,
        // REDO of another dtx: as EXECUTE. Of the same dtx the REDO
        // may answer with a notice carrying the merged vector.
        (RDO, PER) => matches!((a.tx, b.tx), (Some(x), Some(y)) if x != y),
        // without push_own, EOL writes only `eol`, `declared`,
        // `declared_peers` and sends RECOVERED to HA; the others neither
        // read those nor send to HA.
        // Once declared (bit 1 of the EOL's mask, sticky) the stop
        // condition does nothing, so it cannot push either.
        (PER, EOL) | (EXE, EOL) | (RDO, EOL) | (ACK, EOL) => !push || b.mask & 2 != 0,
        (EOL, COMMIT) => !push || a.mask & 2 != 0,
        // Two EOLs: `eol` entries raised per peer; the stop condition
        // is met by whichever comes last with the same `view`, so the
        // same RECOVERED (and push_own from the same log) goes out.
        (EOL, EOL) => true,
        // EOL raises `eol[src]` and runs the stop condition; a view
        // resets `eol[r]` below the incarnation it shows for a peer whose
        // row changed, and runs the stop condition. With the sender's
        // incarnation kept by the view and the EOL from it or later, the
        // reset cannot touch what the EOL wrote. The stop condition is met
        // by whichever of the two comes last, under the new view, unless
        // the old view already shows the receiver RECOVERING (then the EOL
        // first may declare under the old view, recorded in the ghost):
        // `flag` says it does not, for the view at the channel's head (the
        // next view to arrive); bit 0 of `mask` says it never will, for
        // any later view. Only one of READY (the new view shows the
        // receiver TRANSIENT) and RECOVERED (it shows it RECOVERING) can
        // go to HA. With push_own, the push reads the log, which neither
        // writes, and comes from whichever is last, under the new view:
        // in one order the view's step sends its round and eviction REDOs
        // and then the push, in the other the view's step sends the same
        // REDOs and the EOL's step the push, so every channel gets the
        // same sequence.
        // Unless the view's own description relies on no EOL arriving
        // (bit 2 of its mask: it reads no log only because the stop
        // condition cannot be met yet).
        (EOL, VIEW) => {
            b.mask & 4 == 0
                && (b.keep >> a.src) & 1 != 0
                && if b.future { a.mask & 1 != 0 } else { a.flag }
        }
        // A view that reads no log writes view, seq, rounds and eol,
        // which merge_notice neither reads nor writes. A view whose only
        // log read is an eviction (`ev_only`) reads also the records of
        // the dtxs it evicts (their vectors, for the REDOs it sends);
        // merge_notice about any other dtx writes only that dtx's vector
        // (or `early`) and arms the commit timer (a set), which the view
        // neither reads nor writes.
        (PER, VIEW) => b.flag || (b.ev_only && a.tx.is_some_and(|t| !b.evicts(t))),
        // A view that reads no log and keeps the originators'
        // incarnations (the FAILED test of EXECUTE) and, with pruning,
        // the participants' (the `to` of a superseded dtx's notices).
        // The FAILED test compares the slot's incarnation in the view with
        // the dtx's (at least 1): bit 0 of the view's mask says no slot's
        // outcome can differ. A superseded dtx is answered with notices
        // addressed by the view's incarnations: bit 0 of the EXECUTE's or
        // REDO's mask says it is not superseded (the catalogue changes
        // only by this participant's EXECUTE, REDO and commit, all
        // dependent with it).
        // Not with a view of bit 3 (below, the commit).
        (EXE, VIEW) => {
            b.flag
                && b.mask & 1 != 0
                && b.mask & 8 == 0
                && (!pruning || b.mask & 2 != 0 || a.mask & 1 != 0)
        }
        (RDO, VIEW) => {
            b.flag && b.mask & 8 == 0 && (!pruning || b.mask & 2 != 0 || a.mask & 1 != 0)
        }
        // The commit reads the view for the `to` of its notices only, and
        // sends none when nothing is pending (its flag). Records become
        // pending only by EXECUTE and REDO, dependent with the commit; a
        // view relying on the commit's flag has bit 3, which keeps it
        // dependent with them too: whichever side of the set the two are
        // on, nothing becomes pending along a path that avoids it.
        // A view whose only log read is an eviction, with nothing pending
        // (bit 4): nothing becomes pending along a path that avoids the
        // set (EXECUTE and REDO are dependent with such a view, its flag
        // being false), so the commit sends no notice; it prunes only
        // all-P records, which the eviction would not redo, and saves a
        // store the view does not write.
        (VIEW, COMMIT) => {
            (a.flag && (a.mask & 2 != 0 || (b.flag && a.mask & 8 != 0)))
                || (a.ev_only && a.mask & 16 != 0)
        }
        // Not PERSISTENT with the commit, even for a durable record: the
        // commit saves the whole log with its state vectors.
        // Acks of rounds served to different peers: each advances its
        // own round and sends to its own peer; neither writes the log.
        (ACK, ACK) => a.src != b.src,
        // An ack advances the round served to its sender, reading the log
        // before the round's cutoff and sending to that peer only. A view
        // that reads no log and keeps the sender's row leaves that round
        // alone (`follow_peer` runs for changed rows only) and sends to
        // other peers and HA.
        (ACK, VIEW) => b.flag && (b.same >> a.src) & 1 != 0,
        // advance() reads log records before the round's cutoff;
        // EXECUTE appends after the cutoff or merges a zero vector,
        // and sends to the originator, not to the peer.
        (EXE, ACK) => true,
        _ => false,
    }
}

/// The table for two actions of an originator, `a.kind <= b.kind`
/// (neither a crash, restart, no-op or loss; see `indep`).
fn indep_orig(c: &Cluster, a: &Desc, b: &Desc) -> bool {
    match (a.kind, b.kind) {
        // EXECUTED raises one V bit; EXECUTED state iff all V.
        (EXD, EXD) => true,
        // At FirstP every notice that changes a vector carries its
        // sender's P and makes the dtx STABLE, after which EXECUTED no
        // longer changes the dtx's state; the vector is a maximum.
        (PER, EXD) => {
            c.stable_threshold() <= 1 || matches!((a.tx, b.tx), (Some(x), Some(y)) if x != y)
        }
        // A view resends EXECUTE where the vector is below P, and
        // issues this incarnation's dtxs (not yet answered); EXECUTED
        // raises to V only.
        (VIEW, EXD) => true,
        // Notices merge by maximum; only the ghost list of STABLE
        // dtxs keeps an order, so two dtxs may not both become STABLE.
        (PER, PER) => a.flag || b.flag || matches!((a.tx, b.tx), (Some(x), Some(y)) if x == y),
        // A view resends EXECUTE to participants whose incarnation
        // grew where the vector is below P: a notice showing none of
        // them P changes nothing it reads.
        (PER, VIEW) => b.flag || a.mask & b.mask == 0,
        _ => false,
    }
}

/// Which deliveries (kind, and whether from the destination of the send)
/// make a handler of `role` send a message of kind `k`: the trigger table.
/// `COMMIT` stands for the commit timeout; START comes from a restart.
fn triggers(c: &Cluster, role: Role, k: u16) -> &'static [(u16, bool)] {
    let push = c.variants.own_redo && c.variants.pruning;
    match (role, k) {
        // EXECUTED answers EXECUTE.
        (Role::Part, EXD) => &[(EXE, true)],
        // Notices: the commit of pending records, a superseded EXECUTE or
        // REDO (pruning), the answer to a REDO of a durable record.
        (Role::Part, PER) => &[(COMMIT | EXE | RDO, false)],
        // REDO: a view starts a round or evicts, an ack advances the
        // round to its peer, the stop condition pushes the log.
        (Role::Part, RDO) if push => &[(VIEW | EOL, false), (ACK, true)],
        (Role::Part, RDO) => &[(VIEW, false), (ACK, true)],
        (Role::Part, ACK) => &[(RDO, true)],
        (Role::Part, EOL) => &[(VIEW, false), (ACK, true)],
        (Role::Part, READY) => &[(VIEW, false)],
        (Role::Part, RECOV) => &[(VIEW | EOL, false)],
        (Role::Orig, EXE) => &[(VIEW, false)],
        (Role::Ha, VIEW) => &[(START | READY | RECOV, false)],
        _ => &[],
    }
}

/// Everything the closure reads of one state.
pub struct Ctx<'a> {
    c: &'a Cluster,
    s: &'a SysState,
    na: usize,
    ordered: bool,
    crashed: Vec<bool>,
    /// The actor may crash (crash budget left and within it) or is crashed.
    may_restart: Vec<bool>,
    can_crash_ever: Vec<bool>,
    coupled: bool,
    ha_may_send: bool,
    /// `may_send[src * na + dst]`: the kinds `src` may send to `dst` along
    /// some path from this state.
    may_send: Vec<u16>,
    /// Per actor: views arriving later cannot read the log (participant)
    /// or resend (originator).
    fut_view_flag: Vec<bool>,
    /// Per actor: the `mask` of views arriving later (see `Desc`).
    fut_view_mask: Vec<u16>,
    /// Per participant: the peers whose row every later view keeps as its
    /// view shows it (see `Desc::same`).
    fut_view_same: Vec<u16>,
    /// Per participant: the peers a later view may open a round for.
    fut_rounds: Vec<u16>,
    /// Per originator: every dtx of this incarnation is STABLE (no notice
    /// can add to the ghost list).
    orig_all_stable: Vec<bool>,
    /// Per originator that has issued its dtxs: the only one not yet
    /// STABLE, when there is exactly one. A notice about any other dtx
    /// changes nothing the ghost list keeps an order of (it is about a
    /// STABLE dtx, or about none of this incarnation: a no-op).
    orig_open_tx: Vec<Option<TxId>>,
    /// Ordered network: the messages behind the head of each channel.
    queued: Vec<Vec<Msg>>,
    /// Ordered network: the kinds behind the head of each channel.
    queued_kinds: Vec<u16>,
    /// Ordered network: the descriptions of the deliveries behind the
    /// head of each channel (to a live receiver).
    queued_descs: Vec<Vec<Desc>>,
    /// Ordered network: channels holding a message.
    nonempty: Vec<bool>,
    /// `redo_out[z * n + w]`: participant `z` may send REDO to `w` along
    /// some path from this state.
    redo_out: Vec<bool>,
    /// The same for paths on which no view reaches `z`.
    redo_no_view: Vec<bool>,
    /// Per participant: the dtxs of the EXECUTEs and REDOs in flight to it.
    records_in: Vec<Vec<TxId>>,
}

fn role(c: &Cluster, i: usize) -> Role {
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
fn stop_may_hold(c: &Cluster, x: usize, p: &PartState, table: &HaTable) -> bool {
    !p.declared
        && table.get(x) == (p.inc, HaSt::Recovering)
        && (0..c.n).filter(|&r| r != x).all(|r| {
            let (ri, rs) = table.get(r);
            !matches!(rs, HaSt::Online | HaSt::Recovering) || (p.eol[r] != 0 && p.eol[r] >= ri)
        })
}

fn live_part<'a>(s: &'a SysState, crashed: &[bool], i: usize) -> Option<&'a PartState> {
    if crashed[i] {
        None
    } else {
        s.actor_states[i].participant()
    }
}

/// The live originator state of actor `i` (none when crashed).
fn live_orig<'a>(s: &'a SysState, crashed: &[bool], i: usize) -> Option<&'a OrigState> {
    if crashed[i] {
        None
    } else {
        s.actor_states[i].originator()
    }
}

/// The view number actor `i` holds (0 for HA or a crashed actor).
fn seq_of(s: &SysState, crashed: &[bool], i: usize) -> u32 {
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
type Channels = (Vec<Vec<Msg>>, Vec<u16>, Vec<bool>);

/// Messages in flight, by channel (ordered network only).
fn channels(s: &SysState, na: usize) -> Channels {
    let mut queued: Vec<Vec<Msg>> = vec![Vec::new(); na * na];
    let mut kinds = vec![0u16; na * na];
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
struct Facts<'a> {
    c: &'a Cluster,
    s: &'a SysState,
    na: usize,
    n: usize,
    ha_i: usize,
    crashed: Vec<bool>,
    may_restart: Vec<bool>,
    ha: &'a HaState,
    ha_may_send: bool,
    /// Per actor: the tables of views newer than its own in flight to it.
    views_in: Vec<Vec<&'a HaTable>>,
    /// `inflight[src * na + dst]`: the kinds in flight from `src` to `dst`.
    inflight: Vec<u16>,
    view_may_arrive: Vec<bool>,
    push: bool,
}

impl<'a> Facts<'a> {
    fn new(c: &'a Cluster, s: &'a SysState, crashed: Vec<bool>, may_restart: Vec<bool>) -> Self {
        let na = c.actor_count();
        let n = c.n;
        let ha_i = usize::from(c.ha_id());
        let ha = model::ha(s, c);
        let flight = model::in_flight(s);
        // HA changes its table (and broadcasts) only on a restart, or on
        // READY/RECOVERED of a process it shows TRANSIENT/RECOVERING.
        let mut ha_may_send = (0..ha_i).any(|i| {
            may_restart[i]
                || !matches!(ha.table.get(i).1, HaSt::Online)
                || model::incarnation(s, i) > ha.table.get(i).0
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
        let mut inflight = vec![0u16; na * na];
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
        Facts {
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
        }
    }

    fn part(&self, i: usize) -> Option<&'a PartState> {
        live_part(self.s, &self.crashed, i)
    }

    fn orig(&self, i: usize) -> Option<&'a OrigState> {
        live_orig(self.s, &self.crashed, i)
    }

    fn round_open(&self, q: usize, r: usize) -> bool {
        self.part(q)
            .is_some_and(|p| p.rounds[r].inc != 0 && !p.rounds[r].eol)
    }

    fn eol_out(&self, q: usize, r: usize) -> bool {
        self.crashed[q] || self.view_may_arrive[q] || self.round_open(q, r)
    }

    fn eol_in(&self, r: usize, q: usize) -> bool {
        self.inflight[q * self.na + r] & EOL != 0 || self.eol_out(q, r)
    }

    fn declared(&self, r: usize) -> bool {
        self.part(r).is_some_and(|p| p.declared)
    }

    fn redo_out(&self, r: usize, y: usize) -> bool {
        self.crashed[r]
            || self.view_may_arrive[r]
            || self.round_open(r, y)
            || (self.push && !self.declared(r) && (0..self.n).any(|q| q != r && self.eol_in(r, q)))
    }

    /// `redo_out` along paths on which no view reaches `r` (a view at
    /// `r` is in the set, at the head of HA's channel): only a round `r`
    /// serves to `y` or `push_own` sends REDO then.
    fn redo_out_no_view(&self, r: usize, y: usize) -> bool {
        self.crashed[r]
            || self.round_open(r, y)
            || (self.push && !self.declared(r) && (0..self.n).any(|q| q != r && self.eol_in(r, q)))
    }

    fn redo_in(&self, y: usize, r: usize) -> bool {
        self.inflight[r * self.na + y] & RDO != 0 || self.redo_out(r, y)
    }

    fn exec_in(&self, y: usize, o: usize) -> bool {
        self.inflight[o * self.na + y] & EXE != 0 || self.view_may_arrive[o] || self.crashed[o]
    }

    /// `may_send[src * na + dst]`: the kinds `src` may send to `dst` along
    /// some path from this state.
    fn may_send(&self) -> Vec<u16> {
        let (c, na, crashed) = (self.c, self.na, &self.crashed);
        let mut may_send = vec![0u16; na * na];
        for y in 0..na {
            let row = &mut may_send[y * na..(y + 1) * na];
            match role(c, y) {
                Role::Part if crashed[y] => {
                    for (d, k) in row.iter_mut().enumerate() {
                        *k = match role(c, d) {
                            _ if d == y => 0,
                            Role::Part => RDO | ACK | PER | EOL,
                            Role::Orig => EXD | PER,
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
    fn live_part_row(&self, y: usize, row: &mut [u16]) {
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
                    k
                }
                Role::Ha => {
                    let mut k = 0;
                    if self.may_restart[y] {
                        k |= START | READY | RECOV;
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
    fn ha_behind(&self, i: usize) -> bool {
        model::incarnation(self.s, i) > self.ha.table.get(i).0
    }

    /// No later view changes the incarnation of `i` as `view` shows it.
    fn kept(&self, i: usize, view: &HaTable) -> bool {
        !self.may_restart[i] && model::incarnation(self.s, i) == view.get(i).0
    }

    /// The peers of live participant `x` whose row no later view changes
    /// from what `x`'s view shows: ONLINE there and in HA's table and in
    /// every view in flight to `x`, at the incarnation the peer has, and
    /// the peer cannot restart (HA's row of an incarnation never leaves
    /// ONLINE in the model).
    fn fut_same(&self, x: usize) -> u16 {
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
    fn future_views(&self) -> (Vec<bool>, Vec<u16>, Vec<bool>) {
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
    fn rounds_may_start(&self, x: usize, p: &PartState) -> u16 {
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
    fn part_view_may_read_log(&self, x: usize, p: &PartState) -> bool {
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
        let mut records_in = vec![Vec::new(); n];
        for (_, dst, msg) in model::in_flight(s) {
            let d = usize::from(dst);
            match msg {
                Msg::Execute { tx, .. } if d < n => records_in[d].push(*tx),
                Msg::Redo { txr, .. } if d < n => records_in[d].push(txr.id),
                _ => {}
            }
        }
        let Facts {
            crashed,
            may_restart,
            ha_may_send,
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
    fn evicted_may_reach(&self, x: usize, y: usize, slot: u8, alive: Inc) -> bool {
        self.may_reach(x, y, |t| t.slot == slot && t.inc < alive)
    }

    /// Whether a record of a dtx in `evicted` may reach participant `y`
    /// along paths avoiding a set holding a view at `x` (the head of HA's
    /// channel to `x`), when every such dtx's originator incarnation is
    /// dead: see `evicted_may_reach`.
    fn may_reach(&self, x: usize, y: usize, evicted: impl Fn(&TxId) -> bool) -> bool {
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
    pub fn may_send(&self, src: usize, dst: usize) -> u16 {
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
    fn deliver_to_part(&self, x: usize, p: &PartState, msg: &Msg, mut d: Desc, head: bool) -> Desc {
        let c = self.c;
        let noop_ok = c.variants.mutants.is_empty();
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
                d.mask = u16::from(!superseded_durably(p, &txr));
                if noop_ok && p.view.get(c.n + tx.slot as usize).0 > tx.inc {
                    return noop;
                }
            }
            Msg::Redo { txr, .. } => {
                d.tx = Some(txr.id);
                d.flag = !c.variants.pruning && p.log.iter().any(|r| r.id == txr.id);
                d.mask = u16::from(!superseded_durably(p, txr));
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
    fn deliver_to_orig(&self, x: usize, o: &OrigState, msg: &Msg, mut d: Desc) -> Desc {
        let c = self.c;
        let noop_ok = c.variants.mutants.is_empty();
        let noop = Desc { kind: NOOP, ..d };
        let src = d.src;
        if noop_ok && msg.to_inc().is_some_and(|to| to != o.inc) {
            return noop;
        }
        let find = |tx: &TxId| o.dtxs.iter().find(|d| d.id == *tx);
        match msg {
            Msg::Executed { tx, .. } => {
                d.tx = Some(*tx);
                let done = match find(tx) {
                    None => o.issued,
                    Some(dtx) => src < c.n && dtx.sv.get(src) >= St::V,
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
            _ if noop_ok => return noop,
            _ => {}
        }
        d
    }

    /// `deliver_desc` at HA in state `h`; `d` is the plain description of
    /// the delivery.
    fn deliver_to_ha(&self, h: &HaState, msg: &Msg, d: Desc) -> Desc {
        let c = self.c;
        let noop_ok = c.variants.mutants.is_empty();
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
                _ => true,
            };
            if stale {
                return noop;
            }
        }
        d
    }

    /// Whether the enabled action `a` of `y` may make `y` send a message
    /// of kind `k` to `x`. Exact for a view at a participant whose effect
    /// is known (nothing can overtake it, and what it reads changes only
    /// with views); true otherwise.
    fn may_trigger(&self, a: &Action, y: usize, x: usize, k: u16) -> bool {
        if let ActorModelAction::Timeout(..) = a {
            // The commit sends notices only for the records it makes
            // durable (`handle_commit_timer`): none while nothing is
            // pending. Records become pending only by an EXECUTE or REDO
            // delivered here, which the trigger table lists beside the
            // commit for the same notices, so they are in the set or
            // kept back: the commit still finds nothing pending when it
            // fires along a path that avoids the set.
            return !self.c.variants.mutants.is_empty()
                || live_part(self.s, &self.crashed, y)
                    .is_none_or(|p| p.log.len() > p.ndur as usize);
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
        if !self.c.variants.mutants.is_empty() || !self.view_alone(y) {
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
    fn resends_only_logged(&self, y: usize, x: usize) -> bool {
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
    fn view_alone(&self, x: usize) -> bool {
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
    fn view_reads_no_log(&self, x: usize, p: &PartState, table: &HaTable, head: bool) -> bool {
        let c = self.c;
        let n = c.n;
        let starts_round = (0..n).any(|r| {
            r != x
                && table.get(r) != p.view.get(r)
                && table.get(r).1 == HaSt::Recovering
                && p.rounds[r].inc != table.get(r).0
        });
        let (evicts, push) = self.view_evicts_or_pushes(x, p, table, head);
        !(starts_round || evicts || push) && self.view_alone(x)
    }

    /// A view with `table` at participant `x` (newer than its own) whose
    /// only log read is the eviction of one originator slot: it starts no
    /// round and cannot lead to `push_own` (as `view_reads_no_log`), and
    /// raises the incarnation of exactly one slot. The slot and the
    /// incarnation it raises it to (the dtxs of earlier ones are evicted).
    fn view_evicts_only(
        &self,
        x: usize,
        p: &PartState,
        table: &HaTable,
        head: bool,
    ) -> Option<(u8, Inc)> {
        let c = self.c;
        let n = c.n;
        let starts_round = (0..n).any(|r| {
            r != x
                && table.get(r) != p.view.get(r)
                && table.get(r).1 == HaSt::Recovering
                && p.rounds[r].inc != table.get(r).0
        });
        let (_, push) = self.view_evicts_or_pushes(x, p, table, head);
        if starts_round || push || !self.view_alone(x) || c.mutants().never_evicts() {
            return None;
        }
        let mut evicted = (0..c.m()).filter(|&slot| {
            let ni = table.get(n + slot).0;
            ni > p.view.get(n + slot).0 && ni > 1
        });
        match (evicted.next(), evicted.next()) {
            (Some(slot), None) => Some((slot as u8, table.get(n + slot).0)),
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
    fn eviction_sends_nothing(&self, x: usize, p: &PartState, slot: u8, alive: Inc) -> bool {
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
    fn eviction_spares(&self, y: usize, p: &PartState, table: &HaTable, x: usize) -> bool {
        let n = self.c.n;
        let m = self.c.m();
        let evicted = |t: &TxId| {
            let slot = t.slot as usize;
            let ni = table.get(n + slot).0;
            slot < m && ni > p.view.get(n + slot).0 && ni > 1 && t.inc < ni
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
    fn view_evicts_or_pushes(
        &self,
        x: usize,
        p: &PartState,
        table: &HaTable,
        head: bool,
    ) -> (bool, bool) {
        let c = self.c;
        let n = c.n;
        let evicts = (0..c.m()).any(|slot| {
            let ni = table.get(n + slot).0;
            ni > p.view.get(n + slot).0 && ni > 1
        });
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
    fn eol_facts(&self, x: usize, p: &PartState) -> (bool, bool) {
        let own = p.view.get(x);
        (
            p.declared || own != (p.inc, HaSt::Recovering),
            p.declared || own == (p.inc, HaSt::Online),
        )
    }

    /// The description of a future action of kind `k` at `x` from `src`.
    fn future_desc(&self, x: usize, k: u16, src: usize) -> Desc {
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
                flag: self.c.variants.mutants.is_empty()
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
struct Closure<'c, 'a> {
    ctx: &'c Ctx<'a>,
    acts: &'c [Action],
    descs: &'c [Desc],
    /// Enabled action indices per actor.
    by_actor: &'c [Vec<usize>],
    /// Per channel (src, dst), the index of the enabled head delivery
    /// (ordered network).
    heads: &'c [usize],
    in_t: Vec<bool>,
    touched: Vec<bool>,
    frozen: Vec<bool>,
    blocked: Vec<u16>,
    work: Vec<usize>,
    size: usize,
    /// Give up once the set is this large (a smaller one is known).
    limit: usize,
    /// With `explain`: why each action joined the set.
    why: Option<Vec<(usize, String)>>,
    cur: String,
    /// Ordered network: keep back a message not yet sent by the head of
    /// its channel (true) or by what its sender must do first (false).
    head_first: bool,
    /// A head was taken for a message not yet sent (the policy mattered).
    head_for_later: bool,
}

impl Closure<'_, '_> {
    fn add(&mut self, i: usize) {
        if !self.in_t[i] {
            if let Some(w) = &mut self.why {
                w.push((i, self.cur.clone()));
            }
            self.in_t[i] = true;
            self.size += 1;
            self.work.push(i);
        }
    }

    fn find(&self, x: usize, kind: u16) -> Option<usize> {
        self.by_actor[x]
            .iter()
            .copied()
            .find(|&i| self.descs[i].kind & kind != 0)
    }

    /// Every enabled crash and restart of an actor that may crash.
    fn add_coupled(&mut self) {
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

    fn freeze(&mut self, x: usize) {
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
    fn block(&mut self, y: usize, x: usize, kinds: u16) {
        if self.why.is_some() {
            let saved = std::mem::take(&mut self.cur);
            self.cur = format!("{saved} / block {y}->{x} {kinds:#x}");
            self.block_inner(y, x, kinds);
            self.cur = saved;
        } else {
            self.block_inner(y, x, kinds);
        }
    }

    fn block_inner(&mut self, y: usize, x: usize, kinds: u16) {
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
                self.blocked[idx] = u16::MAX;
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
    fn sender_nes(&mut self, y: usize, x: usize, kinds: u16) {
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
    fn process(&mut self, i: usize) {
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
    fn touch(&mut self, x: usize, d: Desc) {
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
    fn add_dependent_enabled(&mut self, i: usize, x: usize, r: Role) {
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
    fn block_dependent_future(&mut self, x: usize, r: Role, d: Desc) {
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
                    let table_on = ctx.c.variants.mutants.is_empty();
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
    fn add_commit_setters(&mut self, x: usize, r: Role, d: Desc) {
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

    fn run(&mut self, start: usize) -> bool {
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

fn claimed_pair(ctx: &Ctx, r: Role, acts: &[Action], descs: &[Desc], i: usize, j: usize) -> bool {
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

fn same_envelope(e: &stateright::actor::Envelope<Msg>, a: &Action) -> bool {
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
struct Setup<'c, 'a> {
    ctx: &'c Ctx<'a>,
    descs: Vec<Desc>,
    by_actor: Vec<Vec<usize>>,
    heads: Vec<usize>,
}

impl<'c, 'a> Setup<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, acts: &[Action], enabled: &[bool]) -> Self {
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
    fn closure<'s>(
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

fn step(m: &Dtm0Model, s: &SysState, a: &Action) -> Option<SysState> {
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
fn sent(s: &SysState, next: &SysState, a: &Action) -> Vec<(usize, usize, Msg)> {
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
