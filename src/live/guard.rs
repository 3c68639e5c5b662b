//! Input validation of the runtime, before a message reaches the actor,
//! and the rate-limited log of what it drops.
//!
//! - Who sends what: each message kind has its senders in the protocol
//!   (only HA sends a View, only a participant a REDO, ...). A message
//!   from another kind of process is refused: the model never produces
//!   it, so the actor need not judge it.
//! - How far ahead: HA numbers its views one by one and sends each to
//!   every process, and each process's incarnation grows by one per
//!   restart. A View more than `AHEAD` past the one held (after the first
//!   since start, or since HA's stream changed or lost datagrams), or a
//!   Starting more than `AHEAD` past HA's row, is not something a working
//!   cluster produces and would lock the process (or the slot) out for
//!   good: refused.

use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::msg::Msg;
use stateright::actor::Id;
use std::collections::BTreeMap;

/// How far a View's number or a Starting's incarnation may run ahead.
pub const AHEAD: u32 = 1 << 16;

/// Whether the protocol has a process of `src`'s kind send `m` to one of
/// `dst`'s kind.
pub fn allowed(c: &Cluster, src: Id, dst: Id, m: &Msg) -> bool {
    use Proc::{Ha, Originator as O, Participant as P};
    let (s, d) = (c.proc_of(src), c.proc_of(dst));
    match m {
        Msg::Execute { .. } | Msg::Get { .. } => matches!((s, d), (O(_), P(_))),
        Msg::Executed { .. } | Msg::GetReply { .. } => matches!((s, d), (P(_), O(_))),
        Msg::Persistent { .. } => matches!((s, d), (P(_), P(_) | O(_))),
        Msg::Redo { .. } | Msg::RedoAck { .. } | Msg::Eol { .. } => {
            matches!((s, d), (P(_), P(_)))
        }
        Msg::View { .. } => matches!((s, d), (Ha, P(_) | O(_))),
        Msg::Starting { .. } => matches!((s, d), (P(_) | O(_), Ha)),
        Msg::Ready { .. } | Msg::Recovered { .. } | Msg::Failed { .. } => {
            matches!((s, d), (P(_), Ha))
        }
        // HA's own failure detector makes these; never from the wire.
        Msg::Down { .. } => false,
    }
}

/// Counts of dropped datagrams and refused messages by reason, written as
/// one summary line per interval at most, instead of a line per drop (a
/// flood of junk would otherwise flood the log).
#[derive(Debug)]
pub struct DropLog {
    interval_ms: u64,
    /// When the last line was written (`None`: never).
    last: Option<u64>,
    pending: BTreeMap<&'static str, u64>,
    /// Lines written so far.
    pub lines: u64,
}

impl DropLog {
    pub fn new(interval_ms: u64) -> DropLog {
        DropLog {
            interval_ms,
            last: None,
            pending: BTreeMap::new(),
            lines: 0,
        }
    }

    pub fn note(&mut self, reason: &'static str, n: u64) {
        if n > 0 {
            *self.pending.entry(reason).or_insert(0) += n;
        }
    }

    /// The summary line due at `now`, if any: something was noted and the
    /// last line is at least an interval old.
    pub fn line(&mut self, now: u64) -> Option<String> {
        if self.pending.is_empty() || self.last.is_some_and(|t| now < t + self.interval_ms) {
            return None;
        }
        let since = match self.last {
            Some(t) => format!("in the last {:.1} s", (now - t) as f64 / 1000.0),
            None => "since start".to_string(),
        };
        let parts: Vec<String> = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        self.last = Some(now);
        self.lines += 1;
        Some(format!("dropped {since}: {}", parts.join(", ")))
    }

    /// When a pending line becomes due (`None`: nothing pending).
    pub fn next_due(&self) -> Option<u64> {
        if self.pending.is_empty() {
            None
        } else {
            Some(self.last.map_or(0, |t| t + self.interval_ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::spec::LiveSpec;
    use crate::protocol::types::{Op, TxId};

    #[test]
    fn one_line_per_interval_with_counts_by_reason() {
        let mut d = DropLog::new(1000);
        assert_eq!(d.line(0), None);
        d.note("malformed", 1);
        let first = d.line(5).unwrap();
        assert!(first.contains("malformed 1"), "{first}");
        for t in 0..100_000u64 {
            d.note(if t % 3 == 0 { "foreign" } else { "malformed" }, 1);
            let _ = d.line(5 + t / 100);
        }
        // 100k drops over 1 s of clock: the first line and one more at most
        assert!(d.lines <= 2, "{}", d.lines);
        let last = d.line(10_000).unwrap();
        assert!(
            last.contains("foreign") && last.contains("malformed"),
            "{last}"
        );
        assert_eq!(d.next_due(), None);
    }

    #[test]
    fn senders_are_checked_by_kind() {
        let s = LiveSpec::parse(&LiveSpec::local_text("t", 3, &["o"], 7100)).unwrap();
        let c = &s.cluster;
        let (p1, p2, o, ha) = (Id::from(0), Id::from(1), Id::from(3), Id::from(4));
        let tx = TxId {
            ts: 1,
            slot: 0,
            inc: 1,
        };
        let exec = Msg::Execute {
            to: 1,
            tx,
            op: Op::Put { key: 1, val: 1 },
        };
        assert!(allowed(c, o, p1, &exec));
        assert!(!allowed(c, p2, p1, &exec));
        let view = Msg::View {
            to: 1,
            seq: u32::MAX,
            table: Default::default(),
        };
        assert!(allowed(c, ha, p1, &view));
        assert!(!allowed(c, o, p1, &view), "a View from a client slot");
        assert!(allowed(c, o, ha, &Msg::Starting { inc: 2 }));
        assert!(!allowed(c, o, p1, &Msg::Starting { inc: 2 }));
        assert!(!allowed(c, p1, ha, &Msg::Down { inc: 1 }));
        let eol = Msg::Eol { to: 1, from: 1 };
        assert!(allowed(c, p2, p1, &eol));
        assert!(!allowed(c, o, p1, &eol), "a REDO round from a client slot");
    }
}
