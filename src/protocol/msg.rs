//! The messages between the processes, and the one timer.
//!
//! Every message to a participant or an originator carries `to`, the
//! receiver's incarnation as the sender knows it. A process drops a message
//! meant for an earlier incarnation of itself: the spec says messages to a
//! crashed process are lost, and in the model they would otherwise wait for
//! the restart.

use crate::protocol::types::{Inc, Key, Mark, Op, Rec, StateVec, TxId, Txr};
use serde::{Deserialize, Serialize};

/// A process state as HA decides it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub enum HaSt {
    #[default]
    Online,
    /// Crashed, may come back. HA learns of a crash when the process
    /// restarts, so a participant is TRANSIENT from its restart until it
    /// says it is ready to recover.
    Transient,
    Recovering,
    /// Permanent. An originator incarnation that restarted as a new one is
    /// FAILED; so is a participant that failed for good (a model's
    /// `[failures]`), whose storage is lost.
    Failed,
}

impl HaSt {
    pub fn name(self) -> &'static str {
        match self {
            HaSt::Online => "ONLINE",
            HaSt::Transient => "TRANSIENT",
            HaSt::Recovering => "RECOVERING",
            HaSt::Failed => "FAILED",
        }
    }
}

/// HA's table: for each participant, then each originator slot, the
/// current incarnation and its state. An originator slot's earlier
/// incarnations are FAILED.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct HaTable(pub Vec<(Inc, HaSt)>);

impl HaTable {
    pub fn get(&self, i: usize) -> (Inc, HaSt) {
        self.0.get(i).copied().unwrap_or((0, HaSt::Online))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    /// originator -> participant: execute this dtx.
    Execute { to: Inc, tx: TxId, op: Op },
    /// participant -> originator: executed (V). `superseded`: the
    /// participant's verdict, true when the key's visible record there
    /// stands above the dtx's version once executed (the op lost to a newer
    /// one, or has been overwritten since); never under
    /// `motr-silent-supersede`.
    Executed { to: Inc, tx: TxId, superseded: Mark },
    /// participant -> participants and originator: the local transaction
    /// holding `tx` is durable; `sv` is the sender's view.
    Persistent { to: Inc, tx: TxId, sv: StateVec },
    /// participant -> participant: re-execute this record. `from` is the
    /// sender's incarnation, for the ack.
    Redo { to: Inc, from: Inc, txr: Txr },
    /// participant -> participant: the REDO of `tx` was executed.
    RedoAck { to: Inc, tx: TxId },
    /// participant -> recovering participant: the restore round of the
    /// sender (incarnation `from`) is complete.
    Eol { to: Inc, from: Inc },
    /// HA -> every process: HA's whole table, numbered. HA broadcasts in one
    /// order; a process keeps the highest `seq` it has seen, so a restarted
    /// process also learns what it missed.
    View {
        to: Inc,
        seq: crate::protocol::types::Seq,
        table: HaTable,
    },
    /// process -> HA: I (incarnation `inc`) have started.
    Starting { inc: Inc },
    /// participant -> HA: ready to recover (TRANSIENT -> RECOVERING).
    Ready { inc: Inc },
    /// participant -> HA: recovery done (RECOVERING -> ONLINE).
    Recovered { inc: Inc },
    /// To HA, from its failure detector (live runtime only; the model's HA
    /// learns of a crash at the restart): this incarnation of the sender
    /// stopped sending heartbeats.
    Down { inc: Inc },
    /// participant -> HA, as it fails for good (a model's `[failures]`;
    /// standing in for the operator or failure detector that declares it
    /// lost): this incarnation and its storage are gone and never return.
    Failed { inc: Inc },
    /// originator -> participant: read `key` (the `rid`-th read of the
    /// sender's incarnation `from`).
    Get {
        to: Inc,
        from: Inc,
        key: Key,
        rid: u8,
    },
    /// participant -> originator: the answer to GET `rid`, the
    /// participant's visible record of the key (alive or tombstone), or
    /// none.
    GetReply {
        to: Inc,
        rid: u8,
        key: Key,
        rec: Option<Rec>,
    },
}

impl Msg {
    /// The receiver incarnation the message is meant for, if it has one.
    pub fn to_inc(&self) -> Option<Inc> {
        match *self {
            Msg::Execute { to, .. }
            | Msg::Executed { to, .. }
            | Msg::Persistent { to, .. }
            | Msg::Redo { to, .. }
            | Msg::RedoAck { to, .. }
            | Msg::Eol { to, .. }
            | Msg::View { to, .. }
            | Msg::Get { to, .. }
            | Msg::GetReply { to, .. } => Some(to),
            Msg::Starting { .. }
            | Msg::Ready { .. }
            | Msg::Recovered { .. }
            | Msg::Down { .. }
            | Msg::Failed { .. } => None,
        }
    }
}

/// A step an actor asks to take on its own.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    /// The local commit of a participant: the fsync completing. A step of
    /// its own, so that a crash can fall between execution and commit.
    Commit,
    /// An originator sending the next EXECUTE of its outbox (models with
    /// `sends = "one-per-step"`): a crash can fall between two sends.
    Send,
    /// A participant failing for good (models with `[failures]` only; the
    /// live runtime never sets it): it loses its storage, tells HA, and
    /// takes no step again. Not a protocol step: the environment's.
    Fail,
}
