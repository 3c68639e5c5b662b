//! The HA service (PROTOCOL.md section 2, HA). It never fails. It keeps one
//! table of process states and broadcasts the whole table, numbered, to
//! every process after each change, so all see changes in one order.
//!
//! HA cannot observe a crash, only a restart: a restarted participant says
//! `Starting`, HA marks it TRANSIENT; it says `Ready`, HA marks it
//! RECOVERING; it says `Recovered`, HA marks it ONLINE. A restarted
//! originator comes back as a new identity: HA records the new incarnation
//! ONLINE, which declares every earlier one FAILED.

use crate::protocol::actor::Dtm0;
use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::msg::{HaSt, HaTable, Msg};
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

pub fn on_msg(c: &Cluster, s: &mut Cow<HaState>, src: Id, msg: Msg, o: &mut Out<Dtm0>) {
    let i = match c.proc_of(src) {
        Proc::Participant(p) => p,
        Proc::Originator(slot) => c.n + slot,
        Proc::Ha => return,
    };
    let (inc, st) = s.table.get(i);
    let next = match (msg, c.proc_of(src)) {
        (Msg::Starting { inc: new }, Proc::Participant(_)) if new > inc => (new, HaSt::Transient),
        (Msg::Starting { inc: new }, Proc::Originator(_)) if new > inc => (new, HaSt::Online),
        (Msg::Ready { inc: at }, _) if at == inc && st == HaSt::Transient => {
            (inc, HaSt::Recovering)
        }
        (Msg::Recovered { inc: at }, _) if at == inc && st == HaSt::Recovering => {
            (inc, HaSt::Online)
        }
        (Msg::Down { inc: at }, _)
            if at == inc && matches!(st, HaSt::Online | HaSt::Recovering) =>
        {
            (inc, HaSt::Transient)
        }
        _ => return, // stale or repeated: nothing changes
    };
    let s = s.to_mut();
    s.table.0[i] = next;
    s.seq += 1;
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
