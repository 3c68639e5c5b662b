//! An originator: a client without persistent
//! storage. Each incarnation runs its part of the script: it draws
//! timestamps from its clock, sends EXECUTE to every replica, and follows
//! each dtx INPROGRESS -> EXECUTED -> STABLE -> DONE from the replies and
//! PERSISTENT notices.
//!
//! After a crash it comes back as a new identity (`o1` -> `o2`): the
//! incarnation counter is the only thing it keeps, the way a restarted
//! process gets a new process id. Its old dtxs are orphaned; participants
//! evict them.
//!
//! When HA shows that a participant restarted, the originator sends the
//! EXECUTE of each of its dtxs not yet P there again, to the new
//! incarnation (the request was lost with the old one). Motr's writer
//! (variant `motr-writer`) does neither: it skips participants HA shows
//! TRANSIENT or FAILED and never sends an EXECUTE again.
//!
//! A script's reads (`get k1`) wait for the dtxs before them: a GET goes
//! out once every earlier dtx of the incarnation is STABLE (a client that
//! reads after its writes are stable; later dtxs do not wait for it). It
//! asks every replica the view shows ONLINE or RECOVERING (one, under
//! `read-one-replica`) and completes when each answered or the view shows
//! it gone; the result is the highest version (`types::read_result`).
//!
//! The steps, one handler each (`on_msg` dispatches): `handle_executed`,
//! `handle_persistent`, `handle_view`, `handle_get_reply`. What only the properties read is in
//! `ghost` (`OrigGhost`).

use crate::protocol::actor::{Dtm0, Dtm0Store};
use crate::protocol::cluster::Cluster;
use crate::protocol::msg::{HaSt, HaTable, Msg, Timer};
use crate::protocol::types::{
    read_merge, Inc, Key, Mark, Op, Rec, Seq, St, StateVec, TxId, Version,
};
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DtxSt {
    InProgress,
    Executed,
    Stable,
    Done,
}

impl DtxSt {
    pub fn name(self) -> &'static str {
        match self {
            DtxSt::InProgress => "INPROGRESS",
            DtxSt::Executed => "EXECUTED",
            DtxSt::Stable => "STABLE",
            DtxSt::Done => "DONE",
        }
    }
}

/// Where a read of the script is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReadPhase {
    /// Waiting for the dtxs before it to be STABLE.
    Waiting,
    /// GET sent; waiting for the replies.
    Asked,
    /// Complete: every replica asked answered or is gone.
    Done,
}

/// A read (`get k1`) of this incarnation's script.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Read {
    pub key: Key,
    /// Issued once the first `after` dtxs of the incarnation are STABLE.
    pub after: u32,
    pub phase: ReadPhase,
    /// The replicas asked that have not answered, each with the
    /// incarnation the GET was addressed to.
    pub pending: Vec<(u8, Inc)>,
    /// How many replicas answered: none means the read failed (no replica
    /// was available, or every one asked went away), which the user sees
    /// as an error, not as data.
    pub answered: u8,
    /// The result so far (`types::read_merge` of the replies).
    pub best: Option<Rec>,
    /// Ghost (S11), written at issue and never read by the protocol: the
    /// highest version of the key among the dtxs this originator (any
    /// incarnation) had seen STABLE when it issued the GET.
    pub must: Option<Version>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dtx {
    pub id: TxId,
    pub op: Op,
    pub sv: StateVec,
    pub st: DtxSt,
    /// The outcome: some participant's EXECUTED said superseded (a version
    /// above the dtx's stood at that replica). Set by the first such
    /// verdict, whenever it arrives (before or after DONE), never cleared;
    /// a DONE dtx with it is reported SUPERSEDED (README, "Superseded
    /// writes").
    pub superseded: Mark,
}

impl Dtx {
    /// The dtx state as the originator reports it: DONE becomes SUPERSEDED
    /// for a dtx some participant said was superseded.
    pub fn outcome_name(&self) -> &'static str {
        if self.superseded.0 && self.st == DtxSt::Done {
            "SUPERSEDED"
        } else {
            self.st.name()
        }
    }
}

/// What survives an originator crash: its incarnation counter, and the
/// ghost.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrigStore {
    pub inc: Inc,
    /// Read by properties only. Last, as the live client file encodes it.
    pub ghost: OrigGhost,
}

/// An originator's ghost: what the protocol writes for the properties and
/// never reads, so that it changes no step. It survives crashes (it is
/// saved with the store), so that it spans incarnations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrigGhost {
    /// Dtxs seen STABLE by any incarnation (S5).
    pub stable: Vec<TxId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrigState {
    /// The slot comes first so that, under symmetry, sorting actor states
    /// never swaps two originators.
    pub slot: u8,
    pub inc: Inc,
    pub seq: crate::protocol::types::Seq,
    pub view: HaTable,
    pub issued: bool,
    pub dtxs: Vec<Dtx>,
    /// EXECUTEs not yet sent, in order, with `one_send_per_step`: each
    /// `(participant, incarnation it is addressed to, dtx)`; one goes out
    /// per `Timer::Send` step. Always empty otherwise.
    pub outbox: Vec<(u8, Inc, TxId)>,
    /// Read by properties only (S5).
    pub ghost: OrigGhost,
    /// This incarnation's reads, in script order (empty without `get`).
    pub reads: Vec<Read>,
}

impl OrigState {
    fn store(&self) -> OrigStore {
        OrigStore {
            inc: self.inc,
            ghost: self.ghost.clone(),
        }
    }
}

/// Start: the first incarnation issues its dtxs at once; a restarted one
/// is a new identity that tells HA it is starting and issues once HA's
/// view shows it ONLINE. Either way the store (the incarnation counter) is
/// saved.
pub fn on_start(
    c: &Cluster,
    slot: usize,
    storage: &Option<OrigStore>,
    o: &mut Out<Dtm0>,
) -> OrigState {
    let mut s = OrigState {
        slot: slot as u8,
        inc: 1,
        seq: 0,
        view: HaTable(vec![(1, HaSt::Online); c.n + c.m()]),
        issued: false,
        dtxs: Vec::new(),
        outbox: Vec::new(),
        ghost: OrigGhost::default(),
        reads: Vec::new(),
    };
    match storage {
        None => {
            s.reads = new_reads(c, slot, s.inc);
            issue(c, &mut s, o)
        }
        Some(st) => {
            s.inc = st.inc + 1;
            s.ghost = st.ghost.clone();
            s.reads = new_reads(c, slot, s.inc);
            s.view = HaTable::default();
            o.send(c.ha_id(), Msg::Starting { inc: s.inc });
        }
    }
    o.save(Dtm0Store::Originator(s.store()));
    s
}

/// Issues this incarnation's dtxs: one EXECUTE per replica each.
fn issue(c: &Cluster, s: &mut OrigState, o: &mut Out<Dtm0>) {
    s.issued = true;
    for (tx, op) in c.issued_by(s.slot as usize, s.inc) {
        s.dtxs.push(Dtx {
            id: tx,
            op,
            sv: StateVec::default(),
            st: DtxSt::InProgress,
            superseded: Mark(false),
        });
        for p in 0..c.n {
            if writes_to(c, &s.view, p) {
                let to = s.view.get(p).0;
                send_execute(c, s, p, to, tx, op, o);
            }
        }
    }
    issue_reads(c, s, o);
}

/// The reads of incarnation `inc`'s script, none issued yet.
fn new_reads(c: &Cluster, slot: usize, inc: Inc) -> Vec<Read> {
    c.reads_of(slot, inc)
        .iter()
        .map(|&(after, key)| Read {
            key,
            after,
            phase: ReadPhase::Waiting,
            pending: Vec::new(),
            answered: 0,
            best: None,
            must: None,
        })
        .collect()
}

/// Whether a GET may ask participant `p` under `view`: HA shows it
/// ONLINE or RECOVERING (Motr's DIX skips only the units whose device is
/// OFFLINE or failed: `dix/req.c`, `dix_pg_unit_pd_assign`,
/// `dix_pg_unit_skip`), at incarnation `inc`.
fn readable(view: &HaTable, p: usize) -> Option<Inc> {
    match view.get(p) {
        (inc, HaSt::Online | HaSt::Recovering) => Some(inc),
        _ => None,
    }
}

/// Issues every waiting read whose earlier dtxs are all STABLE: a GET to
/// every replica the view shows available (the first one only, under
/// `read-one-replica`). With none available the read completes at once,
/// unanswered (it fails).
fn issue_reads(c: &Cluster, s: &mut OrigState, o: &mut Out<Dtm0>) {
    if !s.issued {
        return;
    }
    for rid in 0..s.reads.len() {
        let r = &s.reads[rid];
        let after = r.after as usize;
        if r.phase != ReadPhase::Waiting
            || s.dtxs.len() < after
            || s.dtxs[..after].iter().any(|d| d.st < DtxSt::Stable)
        {
            continue;
        }
        let key = r.key;
        let mut pending = Vec::new();
        for p in 0..c.n {
            if let Some(inc) = readable(&s.view, p) {
                pending.push((p as u8, inc));
                if c.variants.read_one {
                    break;
                }
            }
        }
        for &(p, to) in &pending {
            o.send(
                c.participant_id(p as usize),
                Msg::Get {
                    to,
                    from: s.inc,
                    key,
                    rid: rid as u8,
                },
            );
        }
        let must = if c.ghosts {
            stable_version(c, &s.ghost, key)
        } else {
            None
        };
        let r = &mut s.reads[rid];
        r.phase = if pending.is_empty() {
            ReadPhase::Done
        } else {
            ReadPhase::Asked
        };
        r.pending = pending;
        r.must = must;
    }
}

/// The highest version of `key` among the dtxs of `ghost` (seen STABLE).
pub fn stable_version(c: &Cluster, ghost: &OrigGhost, key: Key) -> Option<Version> {
    ghost
        .stable
        .iter()
        .filter_map(|&tx| {
            c.issued_by(tx.slot as usize, tx.inc)
                .find(|(id, _)| *id == tx)
                .map(|(_, op)| (op, tx))
        })
        .filter(|(op, _)| op.key() == key)
        .map(|(op, tx)| Version::of(tx, &op))
        .max()
}

/// Sends EXECUTE of `tx` to participant `p` (incarnation `to`), or queues
/// it for a later step of its own (`one_send_per_step`).
fn send_execute(
    c: &Cluster,
    s: &mut OrigState,
    p: usize,
    to: Inc,
    tx: TxId,
    op: Op,
    o: &mut Out<Dtm0>,
) {
    if c.one_send_per_step {
        if s.outbox.is_empty() {
            o.set_timer(Timer::Send, crate::protocol::actor::send_timeout());
        }
        s.outbox.push((p as u8, to, tx));
        return;
    }
    o.send(c.participant_id(p), Msg::Execute { to, tx, op });
}

/// The originator's timer: the next EXECUTE of the outbox goes out.
pub fn on_timeout(c: &Cluster, s: &mut Cow<OrigState>, timer: &Timer, o: &mut Out<Dtm0>) {
    match timer {
        Timer::Send => handle_send_timer(c, s, o),
        Timer::Commit | Timer::Fail => {}
    }
}

/// One queued EXECUTE goes out; the timer stays set while more wait.
fn handle_send_timer(c: &Cluster, s: &mut Cow<OrigState>, o: &mut Out<Dtm0>) {
    if s.outbox.is_empty() {
        return;
    }
    let s = s.to_mut();
    let (p, to, tx) = s.outbox.remove(0);
    let op = s
        .dtxs
        .iter()
        .find(|d| d.id == tx)
        .map(|d| d.op)
        .expect("a queued EXECUTE is of an issued dtx");
    o.send(c.participant_id(p as usize), Msg::Execute { to, tx, op });
    if !s.outbox.is_empty() {
        o.set_timer(Timer::Send, crate::protocol::actor::send_timeout());
    }
}

/// Whether a writer sends participant `p` an EXECUTE under `view`: always
/// in the default protocol; not when the view shows it TRANSIENT (mutant
/// `skip-recovering-writer`), or TRANSIENT or FAILED (Motr's writer,
/// `motr-writer`).
fn writes_to(c: &Cluster, view: &HaTable, p: usize) -> bool {
    let st = view.get(p).1;
    let skipped = (c.mutants().writer_skips_transient() && st == HaSt::Transient)
        || (c.variants.motr_writer && matches!(st, HaSt::Transient | HaSt::Failed));
    !skipped
}

/// The originator's messages: one handler each.
pub fn on_msg(c: &Cluster, s: &mut Cow<OrigState>, src: Id, msg: Msg, o: &mut Out<Dtm0>) {
    match msg {
        // A reply to an earlier incarnation: lost with it.
        _ if msg.to_inc().is_some_and(|to| to != s.inc) && !c.variants.no_epochs => {}
        Msg::Executed { tx, superseded, .. } => handle_executed(c, s, src, tx, superseded.0, o),
        Msg::Persistent { tx, sv, .. } => handle_persistent(c, s, src, tx, sv, o),
        Msg::View { seq, table, .. } => handle_view(c, s, seq, table, o),
        Msg::GetReply { rid, rec, .. } => handle_get_reply(c, s, src, rid, rec),
        // Not for an originator.
        Msg::Execute { .. }
        | Msg::Redo { .. }
        | Msg::RedoAck { .. }
        | Msg::Eol { .. }
        | Msg::Starting { .. }
        | Msg::Ready { .. }
        | Msg::Recovered { .. }
        | Msg::Down { .. }
        | Msg::Failed { .. }
        | Msg::Get { .. } => {}
    }
}

/// GET reply (from a replica asked): its record joins the result
/// (`types::read_merge`); the read completes once every replica asked has
/// answered or is gone.
fn handle_get_reply(c: &Cluster, s: &mut Cow<OrigState>, src: Id, rid: u8, rec: Option<Rec>) {
    let p = usize::from(src);
    let Some(r) = s.reads.get(rid as usize) else {
        return;
    };
    let Some(j) = r.pending.iter().position(|&(q, _)| q as usize == p) else {
        return; // not asked, or gone from the view already
    };
    if r.phase != ReadPhase::Asked {
        return;
    }
    let r = &mut s.to_mut().reads[rid as usize];
    r.pending.remove(j);
    r.answered += 1;
    r.best = read_merge(r.best, rec, c.variants.version_order);
    if r.pending.is_empty() {
        r.phase = ReadPhase::Done;
    }
}

/// EXECUTED (from a participant): the dtx is V there; EXECUTED once V at
/// every participant. A superseded verdict marks the dtx's outcome, even
/// when the participant is already V or P in its vector (on an unordered
/// network a PERSISTENT notice can overtake the reply) and even after DONE.
fn handle_executed(
    c: &Cluster,
    s: &mut Cow<OrigState>,
    src: Id,
    tx: TxId,
    superseded: bool,
    o: &mut Out<Dtm0>,
) {
    let p = usize::from(src);
    if p >= c.n {
        return; // only participants reply
    }
    let Some(i) = s.dtxs.iter().position(|d| d.id == tx) else {
        return;
    };
    if superseded && !s.dtxs[i].superseded.0 {
        s.to_mut().dtxs[i].superseded = Mark(true);
    }
    if s.dtxs[i].sv.get(p) >= St::V {
        return;
    }
    let d = &mut s.to_mut().dtxs[i];
    d.sv.raise(p, St::V);
    if d.st == DtxSt::InProgress && d.sv.all(c.n, St::V) {
        d.st = DtxSt::Executed;
        if c.mutants().stable_on_executed() {
            d.st = DtxSt::Stable;
            if c.ghosts {
                let s = s.to_mut();
                s.ghost.stable.push(tx);
                o.save(Dtm0Store::Originator(s.store()));
            }
            if !s.reads.is_empty() {
                issue_reads(c, s.to_mut(), o);
            }
        }
    }
}

/// PERSISTENT (from a participant): merge its state vector; the dtx is
/// STABLE once enough participants are P (`Cluster::stable_threshold`),
/// DONE once all are.
fn handle_persistent(
    c: &Cluster,
    s: &mut Cow<OrigState>,
    src: Id,
    tx: TxId,
    sv: StateVec,
    o: &mut Out<Dtm0>,
) {
    if usize::from(src) >= c.n {
        return; // only participants reply
    }
    let Some(i) = s.dtxs.iter().position(|d| d.id == tx) else {
        return;
    };
    let merged = s.dtxs[i].sv.merge(sv);
    if merged == s.dtxs[i].sv {
        return;
    }
    let s = s.to_mut();
    let d = &mut s.dtxs[i];
    d.sv = merged;
    let mut newly_stable = false;
    if d.st < DtxSt::Stable && d.sv.count(c.n, St::P) >= c.stable_threshold() {
        d.st = DtxSt::Stable;
        newly_stable = true;
    }
    if d.st < DtxSt::Done && d.sv.all(c.n, St::P) {
        d.st = DtxSt::Done;
    }
    if newly_stable && c.ghosts {
        s.ghost.stable.push(tx);
        o.save(Dtm0Store::Originator(s.store()));
    }
    if newly_stable && !s.reads.is_empty() {
        issue_reads(c, s, o);
    }
}

/// HA's view, if newer than the one held: resend the EXECUTE of each dtx
/// not yet P at a participant that restarted, to its new incarnation; a
/// restarted originator issues its dtxs once the view shows it ONLINE.
fn handle_view(c: &Cluster, s: &mut Cow<OrigState>, seq: Seq, table: HaTable, o: &mut Out<Dtm0>) {
    if seq <= s.seq {
        return;
    }
    let s = s.to_mut();
    let old = std::mem::replace(&mut s.view, table);
    s.seq = seq;
    for p in 0..c.n {
        let ni = s.view.get(p).0;
        if ni <= old.get(p).0 || c.mutants().writer_never_resends() || c.variants.motr_writer {
            continue;
        }
        if !writes_to(c, &s.view, p) {
            continue;
        }
        let open: Vec<(TxId, Op)> = s
            .dtxs
            .iter()
            .filter(|d| d.sv.get(p) < St::P)
            .map(|d| (d.id, d.op))
            .collect();
        for (tx, op) in open {
            send_execute(c, s, p, ni, tx, op, o);
        }
    }
    // A GET asked of a replica the view no longer shows available (crashed
    // and restarted, or gone) gets no answer: the read stops waiting for it.
    for r in s.reads.iter_mut().filter(|r| r.phase == ReadPhase::Asked) {
        r.pending
            .retain(|&(p, inc)| readable(&s.view, p as usize) == Some(inc));
        if r.pending.is_empty() {
            r.phase = ReadPhase::Done;
        }
    }
    let me = c.n + s.slot as usize;
    if !s.issued && s.view.get(me) == (s.inc, HaSt::Online) {
        issue(c, s, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::actor::Command;

    /// Two participants and one originator that PUTs k1 at 10.
    fn one_put(one_send_per_step: bool) -> Cluster {
        Cluster {
            n: 2,
            originators: vec![crate::protocol::cluster::OriginatorCfg {
                name: "o".into(),
                plan: vec![vec![(10, Op::Put { key: 1, val: 1 })]],
                first_inc: 1,
                reads: Vec::new(),
            }],
            keys: 1,
            variants: Default::default(),
            k: 1,
            ghosts: true,
            one_send_per_step,
            may_fail: Vec::new(),
        }
    }

    /// With one send per step, issuing queues the EXECUTEs and each
    /// `Timer::Send` step sends one, in order; the timer is set again
    /// while more wait.
    #[test]
    fn one_send_per_step_sends_one_execute_per_timer_step() {
        let c = one_put(true);
        let sends = |o: &Out<Dtm0>| {
            o.iter()
                .filter_map(|x| match x {
                    Command::Send(dst, Msg::Execute { .. }) => Some(usize::from(*dst)),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let timer_set = |o: &Out<Dtm0>| {
            o.iter()
                .any(|x| matches!(x, Command::SetTimer(Timer::Send, _)))
        };
        let mut o = Out::new();
        let mut s: Cow<OrigState> = Cow::Owned(on_start(&c, 0, &None, &mut o));
        assert!(sends(&o).is_empty(), "nothing sent at issue");
        assert!(timer_set(&o));
        assert_eq!(s.outbox.len(), 2);
        let mut o = Out::new();
        on_timeout(&c, &mut s, &Timer::Send, &mut o);
        assert_eq!(sends(&o), vec![0]);
        assert!(timer_set(&o), "one more waits");
        let mut o = Out::new();
        on_timeout(&c, &mut s, &Timer::Send, &mut o);
        assert_eq!(sends(&o), vec![1]);
        assert!(!timer_set(&o) && s.outbox.is_empty());
    }

    /// A superseded verdict marks the dtx whenever it arrives: after the
    /// participant's P notice (an unordered network) and after DONE; DONE
    /// is then reported SUPERSEDED. A verdict that took effect marks
    /// nothing.
    #[test]
    fn a_superseded_verdict_marks_the_dtx_even_after_a_notice_or_done() {
        let c = one_put(false);
        let tx = TxId {
            ts: 10,
            slot: 0,
            inc: 1,
        };
        let mut s: Cow<OrigState> = Cow::Owned(on_start(&c, 0, &None, &mut Out::new()));
        let pp = StateVec::default().with(0, St::P).with(1, St::P);
        let notice = Msg::Persistent { to: 1, tx, sv: pp };
        on_msg(&c, &mut s, c.participant_id(0), notice, &mut Out::new());
        assert_eq!(s.dtxs[0].st, DtxSt::Done);
        assert_eq!(s.dtxs[0].outcome_name(), "DONE");
        let reply = |superseded| Msg::Executed {
            to: 1,
            tx,
            superseded: Mark(superseded),
        };
        on_msg(
            &c,
            &mut s,
            c.participant_id(0),
            reply(false),
            &mut Out::new(),
        );
        assert!(!s.dtxs[0].superseded.0);
        on_msg(
            &c,
            &mut s,
            c.participant_id(1),
            reply(true),
            &mut Out::new(),
        );
        assert!(s.dtxs[0].superseded.0);
        assert_eq!(s.dtxs[0].outcome_name(), "SUPERSEDED");
        on_msg(
            &c,
            &mut s,
            c.participant_id(0),
            reply(false),
            &mut Out::new(),
        );
        assert!(s.dtxs[0].superseded.0, "never cleared");
    }

    #[test]
    fn the_ghost_struct_adds_nothing_to_the_encoded_store() {
        // A live client keeps `OrigStore` in a postcard file: grouping the
        // ghost in a struct of its own must keep the flat layout's bytes.
        let tx = TxId {
            ts: 10,
            slot: 0,
            inc: 1,
        };
        let store = OrigStore {
            inc: 3,
            ghost: OrigGhost { stable: vec![tx] },
        };
        assert_eq!(
            postcard::to_allocvec(&store).unwrap(),
            postcard::to_allocvec(&(3 as Inc, vec![tx])).unwrap()
        );
    }
}
