//! Datagrams: protocol messages (batched per destination, numbered and
//! acknowledged by the session layer, `session`), heartbeats, and the
//! admin requests of `dtm0 client get`, `dtm0 inspect` and the fault
//! layer, encoded with postcard: the format byte, the body, and an
//! HMAC-SHA256 tag of both under the cluster key (`auth`). Opening never
//! panics: a datagram that is too large, of another format, without a
//! valid tag, or that does not decode is refused with the reason, and the
//! runtime drops and counts it, as one whose claimed sender is not the
//! address it came from.

use super::auth::{Auth, TAG};
use super::chaos::WireChaos;
use super::session::{Ack, Hdr};
use crate::protocol::msg::Msg;
use crate::protocol::types::{Inc, Key, Rec, Ts};
use serde::{Deserialize, Serialize};

/// The largest datagram we send or accept. Loopback carries 64 KiB; this
/// leaves room and keeps a bad sender from making us parse megabytes.
pub const MAX_DATAGRAM: usize = 60_000;

/// The wire format, the first byte of every datagram. 2: catalogue records
/// carry their writer (`Version`'s slot and incarnation). 3: EXECUTED
/// carries the participant's superseded verdict. 4: sessions (numbered,
/// acknowledged protocol datagrams) and a MAC on every datagram. A node
/// drops a datagram of another format (counted as malformed), so nodes of
/// different formats never misread each other.
pub const WIRE_FORMAT: u8 = 4;

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
    /// Loss, duplication and reordering of incoming session datagrams,
    /// below the session layer (all zero: off).
    Chaos(WireChaos),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wire {
    /// Protocol messages from actor `from`, in send order: one datagram
    /// of `from`'s session stream to `hdr.to`.
    Proto {
        from: u32,
        hdr: Hdr,
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
    /// An acknowledgement of the receiver's session stream to `from`
    /// (when no data datagram goes back to carry it).
    Ack {
        from: u32,
        ack: Ack,
    },
}

/// `Wire::Proto` by reference: encodes to the same bytes (postcard writes
/// an enum's variant index and its fields; `Proto` is variant 0 of both),
/// so a retransmission needs no copy of its messages.
#[derive(Serialize)]
enum WireRef<'a> {
    Proto {
        from: u32,
        hdr: Hdr,
        msgs: &'a [Msg],
    },
}

/// Why a datagram was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Empty, oversized, of another format, too short, undecodable.
    Malformed(String),
    /// A tag that is not the datagram's under our key.
    Unauthenticated,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Malformed(e) => write!(f, "{e}"),
            Refused::Unauthenticated => write!(f, "no valid MAC under the cluster key"),
        }
    }
}

fn seal_body(auth: &Auth, w: &impl Serialize) -> Vec<u8> {
    let mut b =
        postcard::to_extend(w, vec![WIRE_FORMAT]).expect("encoding into memory does not fail");
    let t = auth.tag(&b);
    b.extend_from_slice(&t);
    b
}

/// The datagram of `w`: format byte, body, tag under `auth`.
pub fn seal(auth: &Auth, w: &Wire) -> Vec<u8> {
    seal_body(auth, w)
}

/// The datagram of a `Wire::Proto` from `from` with `hdr` and `msgs`.
pub fn seal_proto(auth: &Auth, from: u32, hdr: Hdr, msgs: &[Msg]) -> Vec<u8> {
    seal_body(auth, &WireRef::Proto { from, hdr, msgs })
}

/// Checks a datagram's format and tag, then decodes it.
pub fn open(auth: &Auth, b: &[u8]) -> Result<Wire, Refused> {
    let bad = |s: String| Err(Refused::Malformed(s));
    if b.len() > MAX_DATAGRAM {
        return bad(format!("oversized datagram ({} bytes)", b.len()));
    }
    match b.first() {
        None => return bad("empty datagram".into()),
        Some(&f) if f != WIRE_FORMAT => {
            return bad(format!(
                "datagram of wire format {f}; this node speaks format {WIRE_FORMAT}"
            ))
        }
        Some(_) => {}
    }
    if b.len() < 1 + TAG {
        return bad(format!("datagram of {} bytes, without a MAC", b.len()));
    }
    let (body, tag) = b.split_at(b.len() - TAG);
    if !auth.verify(body, tag) {
        return Err(Refused::Unauthenticated);
    }
    postcard::from_bytes(&body[1..])
        .map_err(|e| Refused::Malformed(format!("undecodable datagram: {e}")))
}

/// Bytes a datagram carries besides its messages (format, variant, ids,
/// session header, tag), at most.
pub const OVERHEAD: usize = 128;

/// Splits `msgs` into the message lists of datagrams no larger than
/// `MAX_DATAGRAM`, with the size of each list's messages.
pub fn chunks(msgs: Vec<Msg>) -> Vec<(Vec<Msg>, usize)> {
    let mut out = Vec::new();
    let mut cur: Vec<Msg> = Vec::new();
    let mut size = 0;
    for m in msgs {
        let len = postcard::experimental::serialized_size(&m).unwrap_or(0);
        if !cur.is_empty() && OVERHEAD + size + len > MAX_DATAGRAM {
            out.push((std::mem::take(&mut cur), size));
            size = 0;
        }
        size += len;
        cur.push(m);
    }
    if !cur.is_empty() {
        out.push((cur, size));
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

    fn hdr() -> Hdr {
        Hdr {
            to: 1,
            inc: 2,
            boot: 77,
            seq: 5,
            low: 3,
            ack: Some(Ack {
                boot: 9,
                next: 4,
                sack: 0b101,
                by: 8,
            }),
        }
    }

    #[test]
    fn round_trip_and_garbage_is_an_error() {
        let a = Auth::from_key(&[3; 32]);
        let w = Wire::Proto {
            from: 3,
            hdr: hdr(),
            msgs: vec![exec(10), exec(11)],
        };
        let b = seal(&a, &w);
        assert_eq!(open(&a, &b).unwrap(), w);
        // by reference: the same bytes
        assert_eq!(seal_proto(&a, 3, hdr(), &[exec(10), exec(11)]), b);
        let malformed = |r: Result<Wire, Refused>| matches!(r, Err(Refused::Malformed(_)));
        assert!(malformed(open(&a, &[0xff, 0xff, 0xff, 0xff, 0xff])));
        assert!(malformed(open(&a, &[])));
        assert!(matches!(open(&a, &vec![0u8; MAX_DATAGRAM + 1]),
            Err(Refused::Malformed(e)) if e.contains("oversized")));
        // another format is refused by its first byte
        assert_eq!(b[0], WIRE_FORMAT);
        let mut old = b.clone();
        old[0] = 3;
        assert!(
            matches!(open(&a, &old), Err(Refused::Malformed(e)) if e.contains("wire format 3"))
        );
        assert!(
            malformed(open(&a, &[WIRE_FORMAT, 0, 1, 0])),
            "no room for a MAC"
        );
    }

    #[test]
    fn a_datagram_is_accepted_under_its_key_only_and_never_altered() {
        let a = Auth::from_key(&[3; 32]);
        let w = Wire::Inspect;
        let b = seal(&a, &w);
        assert_eq!(open(&a, &b).unwrap(), w);
        assert_eq!(
            open(&Auth::from_key(&[4; 32]), &b),
            Err(Refused::Unauthenticated)
        );
        assert_eq!(open(&Auth::keyless(), &b), Err(Refused::Unauthenticated));
        // every single bit flipped (past the format byte) is caught
        let p = seal(
            &a,
            &Wire::Proto {
                from: 3,
                hdr: hdr(),
                msgs: vec![exec(1)],
            },
        );
        for i in 1..p.len() {
            for bit in 0..8 {
                let mut x = p.clone();
                x[i] ^= 1 << bit;
                assert_eq!(open(&a, &x), Err(Refused::Unauthenticated), "byte {i}");
            }
        }
        // a truncated datagram is refused
        assert!(open(&a, &p[..p.len() - 1]).is_err());
    }

    #[test]
    fn chunks_respect_the_size_limit_and_keep_order() {
        let a = Auth::keyless();
        let msgs: Vec<Msg> = (0..10_000).map(exec).collect();
        let parts = chunks(msgs.clone());
        assert!(parts.len() > 1);
        let mut back = Vec::new();
        for (c, _) in &parts {
            let g = seal_proto(&a, 3, hdr(), c);
            assert!(g.len() <= MAX_DATAGRAM, "{}", g.len());
            match open(&a, &g).unwrap() {
                Wire::Proto { from: 3, msgs, .. } => back.extend(msgs),
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
