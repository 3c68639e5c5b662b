//! The HA service. It never fails. It keeps one
//! table of process states and broadcasts the whole table, numbered, to
//! every process after each change, so all see changes in one order.
//!
//! HA cannot observe a crash, only a restart: a restarted participant says
//! `Starting`, HA marks it TRANSIENT; it says `Ready`, HA marks it
//! RECOVERING; it says `Recovered`, HA marks it ONLINE. A restarted
//! originator comes back as a new identity: HA records the new incarnation
//! ONLINE, which declares every earlier one FAILED.
//!
//! The steps, one handler each (`on_msg` dispatches): `handle_starting`,
//! `handle_ready`, `handle_recovered`, `handle_down` (from the live
//! runtime's failure detector only), `handle_failed` (a participant that
//! failed for good, in models with `[failures]`: FAILED is final).

use crate::protocol::actor::Dtm0;
use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::msg::{HaSt, HaTable, Msg};
use crate::protocol::types::Inc;
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HaState {
    pub seq: crate::protocol::types::Seq,
    pub table: HaTable,
}

pub fn on_start(c: &Cluster) -> HaState {
    HaState {
        seq: 0,
        table: HaTable(vec![(1, HaSt::Online); c.n + c.m()]),
    }
}

/// HA's messages: one handler each.
pub fn on_msg(c: &Cluster, s: &mut Cow<HaState>, src: Id, msg: Msg, o: &mut Out<Dtm0>) {
    match msg {
        Msg::Starting { inc } => handle_starting(c, s, src, inc, o),
        Msg::Ready { inc } => handle_ready(c, s, src, inc, o),
        Msg::Recovered { inc } => handle_recovered(c, s, src, inc, o),
        Msg::Down { inc } => handle_down(c, s, src, inc, o),
        Msg::Failed { inc } => handle_failed(c, s, src, inc, o),
        // Not for HA.
        Msg::Execute { .. }
        | Msg::Executed { .. }
        | Msg::Persistent { .. }
        | Msg::Redo { .. }
        | Msg::RedoAck { .. }
        | Msg::Eol { .. }
        | Msg::View { .. }
        | Msg::Get { .. }
        | Msg::GetReply { .. } => {}
    }
}

/// Starting (a process restarted as incarnation `new`): a participant is
/// TRANSIENT until it says it is ready to recover; an originator, a new
/// identity, is ONLINE at once (which declares its earlier incarnations
/// FAILED).
fn handle_starting(c: &Cluster, s: &mut Cow<HaState>, src: Id, new: Inc, o: &mut Out<Dtm0>) {
    let Some(i) = row(c, src) else { return };
    let (inc, _) = s.table.get(i);
    let next = match c.proc_of(src) {
        Proc::Participant(_) => HaSt::Transient,
        Proc::Originator(_) | Proc::Ha => HaSt::Online,
    };
    if new > inc {
        decide(c, s, i, (new, next), o);
    }
}

/// Ready (a TRANSIENT participant is ready to recover): RECOVERING.
fn handle_ready(c: &Cluster, s: &mut Cow<HaState>, src: Id, at: Inc, o: &mut Out<Dtm0>) {
    let Some(i) = row(c, src) else { return };
    let (inc, st) = s.table.get(i);
    if at == inc && st == HaSt::Transient {
        decide(c, s, i, (inc, HaSt::Recovering), o);
    }
}

/// Recovered (a RECOVERING participant met its stop condition): ONLINE.
fn handle_recovered(c: &Cluster, s: &mut Cow<HaState>, src: Id, at: Inc, o: &mut Out<Dtm0>) {
    let Some(i) = row(c, src) else { return };
    let (inc, st) = s.table.get(i);
    if at == inc && st == HaSt::Recovering {
        decide(c, s, i, (inc, HaSt::Online), o);
    }
}

/// Down (the live failure detector lost this incarnation's heartbeats):
/// an ONLINE or RECOVERING incarnation goes back to TRANSIENT.
fn handle_down(c: &Cluster, s: &mut Cow<HaState>, src: Id, at: Inc, o: &mut Out<Dtm0>) {
    let Some(i) = row(c, src) else { return };
    let (inc, st) = s.table.get(i);
    if at == inc && matches!(st, HaSt::Online | HaSt::Recovering) {
        decide(c, s, i, (inc, HaSt::Transient), o);
    }
}

/// Failed (a participant failed for good, storage lost): FAILED, final.
/// Peers then skip it in their stop condition and count it as P when
/// pruning.
fn handle_failed(c: &Cluster, s: &mut Cow<HaState>, src: Id, at: Inc, o: &mut Out<Dtm0>) {
    let Some(i) = row(c, src) else { return };
    let (inc, st) = s.table.get(i);
    if at == inc && st != HaSt::Failed {
        decide(c, s, i, (inc, HaSt::Failed), o);
    }
}

/// The row of HA's table for the sender (none for HA itself). A message
/// that changes nothing (stale or repeated) is dropped by its handler.
pub fn row(c: &Cluster, src: Id) -> Option<usize> {
    match c.proc_of(src) {
        Proc::Participant(p) => Some(p),
        Proc::Originator(slot) => Some(c.n + slot),
        Proc::Ha => None,
    }
}

/// Records HA's decision for row `i`, and broadcasts the new table.
fn decide(c: &Cluster, s: &mut Cow<HaState>, i: usize, next: (Inc, HaSt), o: &mut Out<Dtm0>) {
    let s = s.to_mut();
    s.table.0[i] = next;
    s.seq += 1;
    broadcast(c, s, o);
}

/// A restarted HA whose table its runtime restored (the live runtime keeps
/// HA's table on disk; the model's HA never fails) repeats its last view
/// to every process. A process that already has it drops it (its sequence
/// number does not rise, see the participants' and originators' view
/// handlers); one whose copy the crash cut off adopts it. A repeated view
/// is thus no new behaviour: it is the duplicate of a message already
/// sent, which the view handlers ignore.
pub fn on_restart(c: &Cluster, s: &HaState, o: &mut Out<Dtm0>) {
    broadcast(c, s, o);
}

fn broadcast(c: &Cluster, s: &HaState, o: &mut Out<Dtm0>) {
    for i in 0..c.n + c.m() {
        let id = if i < c.n {
            c.participant_id(i)
        } else {
            c.originator_id(i - c.n)
        };
        o.send(
            id,
            Msg::View {
                to: s.table.get(i).0,
                seq: s.seq,
                table: s.table.clone(),
            },
        );
    }
}
