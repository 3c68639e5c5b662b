//! Datagrams: protocol messages (batched per destination), heartbeats, and
//! the admin requests of `dtm0 client get`, `dtm0 inspect` and the fault
//! layer, encoded with postcard. Decoding never panics: a datagram that
//! does not decode, is too large, or claims to come from a process whose
//! address it does not come from is dropped and counted by the runtime.

use crate::protocol::msg::Msg;
use crate::protocol::types::{Inc, Key, Rec, Ts};
use serde::{Deserialize, Serialize};

/// The largest datagram we send or accept. Loopback carries 64 KiB; this
/// leaves room and keeps a bad sender from making us parse megabytes.
pub const MAX_DATAGRAM: usize = 60_000;

/// The wire format, the first byte of every datagram. 2: catalogue records
/// carry their writer (`Version`'s slot and incarnation). 3: EXECUTED
/// carries the participant's superseded verdict. A node drops a
/// datagram of another format (counted as undecodable), so nodes of
/// different formats never misread each other.
pub const WIRE_FORMAT: u8 = 3;

/// Which protocol messages a fault rule matches. Empty fields match all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Filter {
    /// `execute`, `executed`, `persistent`, `redo`, `redo-ack`, `eol`,
    /// `view`, `starting`, `ready`, `recovered`, `down`.
    pub kind: Option<String>,
    /// Sender actor id.
    pub from: Option<u32>,
    /// The dtx's timestamp, for messages that carry one.
    pub ts: Option<Ts>,
}

impl Filter {
    pub fn matches(&self, from: u32, m: &Msg) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind(m))
            && self.from.is_none_or(|f| f == from)
            && self.ts.is_none_or(|t| tx_ts(m) == Some(t))
    }
}

pub fn kind(m: &Msg) -> &'static str {
    match m {
        Msg::Execute { .. } => "execute",
        Msg::Executed { .. } => "executed",
        Msg::Persistent { .. } => "persistent",
        Msg::Redo { .. } => "redo",
        Msg::RedoAck { .. } => "redo-ack",
        Msg::Eol { .. } => "eol",
        Msg::View { .. } => "view",
        Msg::Starting { .. } => "starting",
        Msg::Ready { .. } => "ready",
        Msg::Recovered { .. } => "recovered",
        Msg::Down { .. } => "down",
        Msg::Failed { .. } => "failed",
        Msg::Get { .. } => "get",
        Msg::GetReply { .. } => "get-reply",
    }
}

fn tx_ts(m: &Msg) -> Option<Ts> {
    match m {
        Msg::Execute { tx, .. }
        | Msg::Executed { tx, .. }
        | Msg::Persistent { tx, .. }
        | Msg::RedoAck { tx, .. } => Some(tx.ts),
        Msg::Redo { txr, .. } => Some(txr.id.ts),
        _ => None,
    }
}

/// Commands of the fault layer (accepted only by a node started with
/// `--faults`): hold back or drop chosen incoming messages, release held
/// ones in an order of the driver's choosing, hold the commit back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// Keep matching messages aside, undelivered, until released.
    Hold(Filter),
    /// Lose matching messages.
    Drop(Filter),
    /// Deliver the held messages that match, in arrival order.
    Release(Filter),
    /// Remove every hold and drop rule (held messages stay held).
    Clear,
    /// While true, the commit timer does not fire (executed dtxs stay
    /// uncommitted, as if the fsync were slow).
    HoldCommits(bool),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wire {
    /// Protocol messages from actor `from`, in send order.
    Proto {
        from: u32,
        msgs: Vec<Msg>,
    },
    /// To HA: actor `from` (incarnation `inc`) is alive.
    Heartbeat {
        from: u32,
        inc: Inc,
    },
    /// Admin: dump your state (answered with `Json`).
    Inspect,
    /// Admin: your record of `key` (answered with `Record`).
    Get {
        key: Key,
    },
    Record {
        key: Key,
        rec: Option<Rec>,
        /// The participant is available to a read in its own view of HA:
        /// ONLINE or RECOVERING (the model's read rule, README "Reads").
        available: bool,
    },
    /// Admin: a fault-layer command (answered with `Json` saying ok/refused).
    Fault(Fault),
    Json(String),
    /// Admin, to HA: the highest incarnation of actor `id` you have seen
    /// (answered with `SeenInc`). A participant with no storage at all
    /// asks before it starts empty (`live::boot`).
    Seen {
        id: u32,
    },
    /// HA's answer to `Seen`: 0 if it has never heard of `id`.
    SeenInc {
        id: u32,
        inc: Inc,
    },
}

pub fn encode(w: &Wire) -> Vec<u8> {
    postcard::to_extend(w, vec![WIRE_FORMAT]).expect("encoding into memory does not fail")
}

pub fn decode(b: &[u8]) -> Result<Wire, String> {
    if b.len() > MAX_DATAGRAM {
        return Err(format!("oversized datagram ({} bytes)", b.len()));
    }
    match b.split_first() {
        None => Err("empty datagram".into()),
        Some((&f, rest)) if f == WIRE_FORMAT => {
            postcard::from_bytes(rest).map_err(|e| format!("undecodable datagram: {e}"))
        }
        Some((&f, _)) => Err(format!(
            "datagram of wire format {f}; this node speaks format {WIRE_FORMAT}"
        )),
    }
}

/// Splits `msgs` into datagrams no larger than `MAX_DATAGRAM`.
pub fn batches(from: u32, msgs: Vec<Msg>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Vec<Msg> = Vec::new();
    let mut size = 16;
    for m in msgs {
        let len = postcard::to_allocvec(&m).map(|v| v.len()).unwrap_or(0);
        if !cur.is_empty() && size + len > MAX_DATAGRAM {
            out.push(encode(&Wire::Proto {
                from,
                msgs: std::mem::take(&mut cur),
            }));
            size = 16;
        }
        size += len;
        cur.push(m);
    }
    if !cur.is_empty() {
        out.push(encode(&Wire::Proto { from, msgs: cur }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::types::{Op, TxId};

    fn exec(ts: Ts) -> Msg {
        Msg::Execute {
            to: 1,
            tx: TxId {
                ts,
                slot: 0,
                inc: 1,
            },
            op: Op::Put { key: 1, val: 9 },
        }
    }

    #[test]
    fn round_trip_and_garbage_is_an_error() {
        let w = Wire::Proto {
            from: 3,
            msgs: vec![exec(10), exec(11)],
        };
        assert_eq!(decode(&encode(&w)).unwrap(), w);
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&vec![0u8; MAX_DATAGRAM + 1])
            .unwrap_err()
            .contains("oversized"));
        // a truncated datagram does not decode
        let b = encode(&w);
        assert!(decode(&b[..b.len() - 1]).is_err());
        // another format is refused by its first byte, even if the rest
        // would decode
        assert_eq!(b[0], WIRE_FORMAT);
        let mut old = b.clone();
        old[0] = 1;
        assert!(decode(&old).unwrap_err().contains("wire format 1"));
        assert!(
            decode(&b[1..]).is_err(),
            "a datagram without the format byte"
        );
    }

    #[test]
    fn batches_respect_the_size_limit_and_keep_order() {
        let msgs: Vec<Msg> = (0..10_000).map(exec).collect();
        let grams = batches(3, msgs.clone());
        assert!(grams.len() > 1);
        let mut back = Vec::new();
        for g in &grams {
            assert!(g.len() <= MAX_DATAGRAM);
            match decode(g).unwrap() {
                Wire::Proto { from: 3, msgs } => back.extend(msgs),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, msgs);
    }

    #[test]
    fn filters_match_kind_sender_and_timestamp() {
        let f = Filter {
            kind: Some("execute".into()),
            from: Some(3),
            ts: Some(11),
        };
        assert!(f.matches(3, &exec(11)));
        assert!(!f.matches(3, &exec(10)));
        assert!(!f.matches(2, &exec(11)));
        assert!(Filter::default().matches(0, &Msg::Eol { to: 1, from: 1 }));
    }
}
