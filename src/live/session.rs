//! Sessions: the channel under the protocol, what Motr's RPC gives DTM0 and
//! UDP does not. Per (sender, receiver) pair the sender numbers its
//! datagrams, keeps each until the receiver acknowledges it and sends it
//! again after a timeout; the receiver drops duplicates, holds early
//! datagrams back (a bounded window) and hands the payloads over in send
//! order, each once. Sans-IO: no socket, no clock; the runtime passes
//! `now` (milliseconds) and carries the datagrams `transmit` emits.
//!
//! A sending stream is named by the sender's incarnation and a random
//! boot nonce drawn at process start, so a restarted sender opens a new
//! stream (numbered from 1) and a datagram of an earlier boot is refused
//! as stale: a replay is a duplicate or stale, never a new message. A
//! receiver that restarted lost its streams; each datagram carries the
//! sender's lowest unacknowledged number (`low`), so the receiver takes
//! the stream up from there. Messages the sender had queued for the
//! receiver's previous life are thus delivered to its new one, as in the
//! model (a message to a crashed actor waits for its restart); the
//! protocol fences them by the receiver's incarnation (`to`).
//!
//! Memory is bounded: at most `window` datagrams in flight per peer, the
//! same window buffered out of order per stream, and at most
//! `cap_datagrams` / `cap_bytes` queued per peer. A peer that acknowledges
//! nothing for that long (down, or stopped) makes the queue full: the
//! sender gives up its oldest datagrams, counts them (`gave_up`), and
//! moves `low` past them, so the receiver, when it is back, skips the gap
//! and counts it (`skipped`). The spec loses messages to a crashed process
//! anyway; the protocol's recovery (REDO/EOL, HA's numbered views) covers
//! them, and the runtime warns. A live peer on loopback acknowledges
//! within milliseconds and never comes near the cap.
//!
//! Not covered: a sender that crashes loses what it had not got
//! acknowledged (as a Motr process loses its RPC items): the receiver
//! keeps what had arrived.

use crate::protocol::types::Inc;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// An actor id on the wire.
pub type Peer = u32;

/// A cumulative acknowledgement of the stream `boot`: every datagram
/// numbered below `next` arrived; bit `i` of `sack` says `next + 1 + i`
/// arrived too (held back, waiting for `next`). `by` is the acknowledging
/// process's own boot: held-back datagrams die with it, so the sender
/// forgets the `sack` bits of an earlier boot of the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub boot: u64,
    pub next: u64,
    pub sack: u64,
    pub by: u64,
}

/// The session header of a data datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hdr {
    /// The receiver's actor id (a datagram meant for another is refused).
    pub to: Peer,
    /// The sender's incarnation and boot nonce: its stream.
    pub inc: Inc,
    pub boot: u64,
    /// This datagram's number in the stream, from 1.
    pub seq: u64,
    /// The sender's lowest unacknowledged number: everything below was
    /// acknowledged (or given up).
    pub low: u64,
    /// Piggybacked acknowledgement of the receiver's stream to the sender.
    pub ack: Option<Ack>,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// First retransmission timeout; doubled per try up to `rto_max_ms`.
    pub rto_ms: u64,
    pub rto_max_ms: u64,
    /// Datagrams in flight per peer, and buffered out of order per stream.
    pub window: u64,
    /// Queued (unacknowledged or waiting) datagrams and bytes per peer.
    pub cap_datagrams: usize,
    pub cap_bytes: usize,
    /// Streams kept per sender (the current one and a previous boot's,
    /// whose late datagrams are still deduplicated and delivered).
    pub streams: usize,
    /// Boot nonces remembered per sender after their stream is dropped:
    /// their datagrams are refused as stale.
    pub retired: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rto_ms: 20,
            rto_max_ms: 1000,
            window: 256,
            cap_datagrams: 4096,
            cap_bytes: 32 << 20,
            streams: 2,
            retired: 32,
        }
    }
}

/// What the sessions count (part of a node's counters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SessionStats {
    /// Data datagrams sent the first time, sent again, pure acks sent.
    pub sent: u64,
    pub retransmits: u64,
    pub acks_sent: u64,
    /// Payloads handed over in order.
    pub delivered: u64,
    /// Data datagrams refused: already had, of a stale stream (an earlier
    /// boot or incarnation), beyond the receive window.
    pub duplicates: u64,
    pub stale: u64,
    pub beyond_window: u64,
    /// Streams opened (a sender's boot seen for the first time).
    pub new_streams: u64,
    /// Datagrams a sender gave up (gaps the receiver skipped), and those
    /// this node gave up because a peer's queue was full.
    pub skipped: u64,
    pub gave_up: u64,
    /// Data datagrams refused for opening a stream whose incarnation is
    /// more than `AHEAD` past the sender's last (a restart counts one).
    pub ahead: u64,
}

/// How far a new stream's incarnation may run past the sender's last.
pub const AHEAD: Inc = 1 << 16;

struct Pending<T> {
    seq: u64,
    payload: T,
    size: usize,
    sent_at: Option<u64>,
    tries: u32,
    sacked: bool,
}

struct Tx<T> {
    next_seq: u64,
    q: VecDeque<Pending<T>>,
    bytes: usize,
    /// Every datagram numbered below this was sent at least once.
    sent_upto: u64,
    /// No retransmission is due before this time.
    wake: u64,
    /// The receiver's boot, as its last ack said.
    peer_boot: Option<u64>,
    /// Some queued datagram went more than once (its timeout grew).
    backed_off: bool,
}

impl<T> Tx<T> {
    fn low(&self) -> u64 {
        self.q.front().map_or(self.next_seq, |p| p.seq)
    }
}

struct Stream<T> {
    inc: Inc,
    boot: u64,
    next: u64,
    buf: BTreeMap<u64, T>,
    ack_due: bool,
}

impl<T> Stream<T> {
    fn ack(&self, by: u64) -> Ack {
        let mut sack = 0u64;
        for &s in self
            .buf
            .range(self.next + 1..self.next + 65)
            .map(|(s, _)| s)
        {
            sack |= 1 << (s - self.next - 1);
        }
        Ack {
            boot: self.boot,
            next: self.next,
            sack,
            by,
        }
    }
}

struct Rx<T> {
    /// In the order they were opened; the last is the current one.
    streams: Vec<Stream<T>>,
    retired: VecDeque<u64>,
    max_inc: Inc,
}

/// One datagram `transmit` asks the runtime to send.
pub enum Emit<'a, T> {
    Data { to: Peer, hdr: Hdr, payload: &'a T },
    Ack { to: Peer, ack: Ack },
}

/// What one incoming data datagram gave.
pub struct Delivery<T> {
    /// Payloads to hand to the protocol, in order.
    pub payloads: Vec<T>,
    /// Datagrams the sender gave up that this stream skipped now.
    pub skipped: u64,
    /// The datagram opened a new stream (a sender's new boot).
    pub new_stream: bool,
}

/// All the sessions of one process: one sending queue per peer it sends
/// to, the receiving streams of each peer that sends to it.
pub struct Sessions<T> {
    pub cfg: Config,
    inc: Inc,
    boot: u64,
    tx: BTreeMap<Peer, Tx<T>>,
    rx: BTreeMap<Peer, Rx<T>>,
    pub stats: SessionStats,
}

impl<T> Sessions<T> {
    /// The sessions of a process in incarnation `inc`, boot nonce `boot`
    /// (random, drawn once per process start).
    pub fn new(cfg: Config, inc: Inc, boot: u64) -> Sessions<T> {
        Sessions {
            cfg,
            inc,
            boot,
            tx: BTreeMap::new(),
            rx: BTreeMap::new(),
            stats: SessionStats::default(),
        }
    }

    /// The incarnation our streams carry (a process learns it at start).
    pub fn set_inc(&mut self, inc: Inc) {
        self.inc = inc;
    }

    pub fn boot(&self) -> u64 {
        self.boot
    }

    /// Queues `payload` (`size` bytes on the wire) for `to` as the next
    /// datagram of our stream; `transmit` sends it. Returns how many of
    /// the oldest queued datagrams were given up to respect the caps.
    pub fn send(&mut self, to: Peer, payload: T, size: usize) -> u64 {
        let tx = self.tx.entry(to).or_insert_with(|| Tx {
            next_seq: 1,
            q: VecDeque::new(),
            bytes: 0,
            sent_upto: 1,
            wake: u64::MAX,
            peer_boot: None,
            backed_off: false,
        });
        let seq = tx.next_seq;
        tx.next_seq += 1;
        tx.q.push_back(Pending {
            seq,
            payload,
            size,
            sent_at: None,
            tries: 0,
            sacked: false,
        });
        tx.bytes += size;
        let mut gave = 0;
        while tx.q.len() > 1
            && (tx.q.len() > self.cfg.cap_datagrams || tx.bytes > self.cfg.cap_bytes)
        {
            let p = tx.q.pop_front().expect("not empty");
            tx.bytes -= p.size;
            gave += 1;
        }
        tx.sent_upto = tx.sent_upto.max(tx.low());
        self.stats.gave_up += gave;
        gave
    }

    /// A data datagram from `from`. Payloads come out in the sender's
    /// order, each once; the piggybacked ack is taken.
    pub fn on_data(&mut self, from: Peer, hdr: &Hdr, payload: T, now: u64) -> Delivery<T> {
        if let Some(a) = hdr.ack {
            self.on_ack(from, &a, now);
        }
        let mut d = Delivery {
            payloads: Vec::new(),
            skipped: 0,
            new_stream: false,
        };
        let rx = self.rx.entry(from).or_insert_with(|| Rx {
            streams: Vec::new(),
            retired: VecDeque::new(),
            max_inc: 0,
        });
        let i = match rx
            .streams
            .iter()
            .position(|s| s.boot == hdr.boot && s.inc == hdr.inc)
        {
            Some(i) => i,
            None => {
                if hdr.inc < rx.max_inc || rx.retired.contains(&hdr.boot) || hdr.seq == 0 {
                    self.stats.stale += 1;
                    return d;
                }
                if rx.max_inc > 0 && hdr.inc > rx.max_inc.saturating_add(AHEAD) {
                    self.stats.ahead += 1;
                    return d;
                }
                // A new boot of the sender (or our own restart): take the
                // stream up from the sender's lowest unacknowledged.
                rx.max_inc = hdr.inc;
                rx.streams.push(Stream {
                    inc: hdr.inc,
                    boot: hdr.boot,
                    next: hdr.low.max(1),
                    buf: BTreeMap::new(),
                    ack_due: false,
                });
                while rx.streams.len() > self.cfg.streams.max(1) {
                    let old = rx.streams.remove(0);
                    rx.retired.push_back(old.boot);
                    if rx.retired.len() > self.cfg.retired {
                        rx.retired.pop_front();
                    }
                }
                self.stats.new_streams += 1;
                d.new_stream = true;
                rx.streams.len() - 1
            }
        };
        let s = &mut rx.streams[i];
        // Acknowledge every data datagram, even a duplicate: its sender
        // did not hear our last ack.
        s.ack_due = true;
        if hdr.low > s.next {
            // The sender gave up what lies below `low`: deliver what we
            // hold of it, skip the rest.
            let keep: Vec<u64> = s.buf.range(..hdr.low).map(|(k, _)| *k).collect();
            d.skipped = hdr.low - s.next - keep.len() as u64;
            for k in keep {
                d.payloads.push(s.buf.remove(&k).expect("held"));
            }
            s.next = hdr.low;
            self.stats.skipped += d.skipped;
        }
        if hdr.seq < s.next || s.buf.contains_key(&hdr.seq) {
            self.stats.duplicates += 1;
        } else if hdr.seq >= s.next + self.cfg.window {
            self.stats.beyond_window += 1;
        } else {
            s.buf.insert(hdr.seq, payload);
        }
        while let Some(p) = s.buf.remove(&s.next) {
            d.payloads.push(p);
            s.next += 1;
        }
        self.stats.delivered += d.payloads.len() as u64;
        d
    }

    /// An acknowledgement from `from` of our stream to it. Acks of an
    /// earlier boot of ours are ignored.
    pub fn on_ack(&mut self, from: Peer, ack: &Ack, now: u64) {
        if ack.boot != self.boot {
            return;
        }
        let Some(tx) = self.tx.get_mut(&from) else {
            return;
        };
        if tx.peer_boot != Some(ack.by) {
            // A restarted receiver lost what it held back: send it all.
            if tx.peer_boot.is_some() {
                for p in tx.q.iter_mut() {
                    p.sacked = false;
                    p.tries = p.tries.min(1);
                }
                tx.wake = 0;
            }
            tx.peer_boot = Some(ack.by);
        }
        while tx.q.front().is_some_and(|p| p.seq < ack.next) {
            let p = tx.q.pop_front().expect("not empty");
            tx.bytes -= p.size;
        }
        if ack.sack != 0 {
            for p in tx.q.iter_mut() {
                let d = p.seq.wrapping_sub(ack.next + 1);
                if p.seq > ack.next && d < 64 && ack.sack & (1 << d) != 0 {
                    p.sacked = true;
                }
            }
        }
        tx.sent_upto = tx.sent_upto.max(tx.low());
        if tx.backed_off {
            // The receiver is alive (again): what went unacknowledged while
            // it was away goes again one first timeout after its last
            // send, not after the long one it had backed off to.
            for p in tx.q.iter_mut() {
                p.tries = p.tries.min(1);
            }
            tx.backed_off = false;
            tx.wake = tx.wake.min(now);
        }
    }

    /// Emits what is due at `now`: first sends of queued datagrams within
    /// the window, retransmissions whose timeout passed, and the acks owed
    /// (piggybacked on a data datagram to the same peer, else alone).
    pub fn transmit(&mut self, now: u64, mut emit: impl FnMut(Emit<'_, T>)) {
        let window = self.cfg.window;
        let (rto_ms, rto_max) = (self.cfg.rto_ms, self.cfg.rto_max_ms);
        let rto = |tries: u32| (rto_ms << tries.saturating_sub(1).min(16)).min(rto_max);
        for (&to, tx) in self.tx.iter_mut() {
            let low = tx.low();
            let limit = low + window;
            let scan_all = now >= tx.wake;
            if !scan_all && tx.sent_upto >= limit.min(tx.next_seq) {
                continue;
            }
            let by = self.boot;
            let ack = self
                .rx
                .get_mut(&to)
                .and_then(|r| r.streams.last_mut())
                .map(|s| {
                    s.ack_due = false;
                    s.ack(by)
                });
            let start = if scan_all {
                0
            } else {
                (tx.sent_upto - low) as usize
            };
            let mut wake = if scan_all { u64::MAX } else { tx.wake };
            for p in tx.q.iter_mut().skip(start) {
                if p.seq >= limit {
                    break;
                }
                // A datagram the receiver said it holds goes again only
                // after the longest timeout (in case it lost it after all).
                let wait = if p.sacked { rto_max } else { rto(p.tries) };
                let due = p.sent_at.is_none_or(|t| now >= t + wait);
                if due {
                    let hdr = Hdr {
                        to,
                        inc: self.inc,
                        boot: self.boot,
                        seq: p.seq,
                        low,
                        ack,
                    };
                    emit(Emit::Data {
                        to,
                        hdr,
                        payload: &p.payload,
                    });
                    if p.sent_at.is_none() {
                        self.stats.sent += 1;
                    } else {
                        self.stats.retransmits += 1;
                        tx.backed_off = true;
                    }
                    p.sent_at = Some(now);
                    p.tries += 1;
                }
                let again = if p.sacked { rto_max } else { rto(p.tries) };
                wake = wake.min(p.sent_at.expect("sent") + again);
            }
            tx.sent_upto = tx.sent_upto.max(limit.min(tx.next_seq));
            tx.wake = wake;
        }
        for (&to, rx) in self.rx.iter_mut() {
            for s in rx.streams.iter_mut().filter(|s| s.ack_due) {
                s.ack_due = false;
                self.stats.acks_sent += 1;
                emit(Emit::Ack {
                    to,
                    ack: s.ack(self.boot),
                });
            }
        }
    }

    /// The earliest time `transmit` has something to do (`None`: nothing
    /// queued, no ack owed).
    pub fn next_due(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        for tx in self.tx.values() {
            let limit = tx.low() + self.cfg.window;
            if tx.sent_upto < limit.min(tx.next_seq) {
                return Some(0);
            }
            if !tx.q.is_empty() {
                t = Some(t.map_or(tx.wake, |x| x.min(tx.wake)));
            }
        }
        if self
            .rx
            .values()
            .any(|r| r.streams.iter().any(|s| s.ack_due))
        {
            return Some(0);
        }
        t
    }

    /// Datagrams queued for `to` (unacknowledged or waiting), and bytes.
    pub fn queued(&self, to: Peer) -> (usize, usize) {
        self.tx.get(&to).map_or((0, 0), |t| (t.q.len(), t.bytes))
    }

    /// Datagrams queued for every peer.
    pub fn queued_total(&self) -> usize {
        self.tx.values().map(|t| t.q.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator for the simulated link.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn pct(&mut self, p: u64) -> bool {
            self.next() % 100 < p
        }
    }

    #[derive(Clone, Debug)]
    enum Gram {
        Data(Hdr, Vec<u64>),
        Ack(Ack),
    }

    /// A link that loses, duplicates and reorders (random delay), both ways.
    struct Link {
        rng: Rng,
        loss: u64,
        dup: u64,
        max_delay: u64,
        /// (arrival time, tiebreak, to, from, datagram)
        flight: Vec<(u64, u64, Peer, Peer, Gram)>,
        /// Every data datagram ever sent to B (for the replay test).
        captured: Vec<Gram>,
    }

    impl Link {
        fn new(seed: u64, loss: u64, dup: u64, max_delay: u64) -> Link {
            Link {
                rng: Rng(seed),
                loss,
                dup,
                max_delay,
                flight: Vec::new(),
                captured: Vec::new(),
            }
        }

        fn put(&mut self, now: u64, from: Peer, to: Peer, g: Gram) {
            if to == B {
                if let Gram::Data(..) = g {
                    self.captured.push(g.clone());
                }
            }
            if self.rng.pct(self.loss) {
                return;
            }
            let copies = if self.rng.pct(self.dup) { 2 } else { 1 };
            for _ in 0..copies {
                let at = now + self.rng.next() % (self.max_delay + 1);
                let tie = self.rng.next();
                self.flight.push((at, tie, to, from, g.clone()));
            }
        }

        fn due(&mut self, now: u64) -> Vec<(Peer, Peer, Gram)> {
            self.flight.sort_by_key(|(at, tie, ..)| (*at, *tie));
            let k = self.flight.partition_point(|(at, ..)| *at <= now);
            self.flight
                .drain(..k)
                .map(|(_, _, to, from, g)| (to, from, g))
                .collect()
        }
    }

    const A: Peer = 1;
    const B: Peer = 2;

    fn out(s: &mut Sessions<Vec<u64>>, me: Peer, now: u64, link: &mut Link) {
        let mut v = Vec::new();
        s.transmit(now, |e| match e {
            Emit::Data { to, hdr, payload } => v.push((to, Gram::Data(hdr, payload.clone()))),
            Emit::Ack { to, ack } => v.push((to, Gram::Ack(ack))),
        });
        for (to, g) in v {
            link.put(now, me, to, g);
        }
    }

    fn input(s: &mut Sessions<Vec<u64>>, from: Peer, g: Gram, now: u64, got: &mut Vec<u64>) {
        match g {
            Gram::Data(h, p) => {
                for x in s.on_data(from, &h, p, now).payloads {
                    got.extend(x);
                }
            }
            Gram::Ack(a) => s.on_ack(from, &a, now),
        }
    }

    /// Runs A sending `msgs` to B (B also sends a few back) until all are
    /// delivered or `limit` ms pass; returns what B delivered.
    fn run(
        a: &mut Sessions<Vec<u64>>,
        b: &mut Sessions<Vec<u64>>,
        link: &mut Link,
        msgs: std::ops::Range<u64>,
        t0: u64,
        limit: u64,
    ) -> (Vec<u64>, u64) {
        let mut got = Vec::new();
        let mut back = Vec::new();
        let mut next = msgs.start;
        let mut now = t0;
        let total = msgs.end - msgs.start;
        let last = msgs.end - 1;
        while ((got.len() as u64) < total || got.last() != Some(&last)) && now < t0 + limit {
            // A sends up to 3 messages a tick, one or two per datagram.
            for _ in 0..3 {
                if next < msgs.end {
                    let n = if next.is_multiple_of(2) && next + 1 < msgs.end {
                        2
                    } else {
                        1
                    };
                    a.send(B, (next..next + n).collect(), 16 * n as usize);
                    next += n;
                }
            }
            if now.is_multiple_of(7) {
                b.send(A, vec![now], 16);
            }
            out(a, A, now, link);
            out(b, B, now, link);
            for (to, from, g) in link.due(now) {
                if to == B {
                    input(b, from, g, now, &mut got);
                } else {
                    input(a, from, g, now, &mut back);
                }
            }
            now += 1;
        }
        // `back` is B's side traffic: in order, once.
        assert!(back.windows(2).all(|w| w[0] < w[1]), "B->A out of order");
        (got, now)
    }

    fn cfg() -> Config {
        Config {
            rto_ms: 10,
            rto_max_ms: 200,
            ..Config::default()
        }
    }

    #[test]
    fn a_lossy_duplicating_reordering_link_delivers_everything_once_in_order() {
        for seed in [1, 2, 3] {
            let mut a = Sessions::new(cfg(), 1, 0xa1);
            let mut b = Sessions::new(cfg(), 1, 0xb1);
            let mut link = Link::new(seed, 20, 10, 8);
            let (got, _) = run(&mut a, &mut b, &mut link, 0..10_000, 0, 200_000);
            assert_eq!(got.len(), 10_000, "seed {seed}");
            assert!(
                got.iter().enumerate().all(|(i, &x)| x == i as u64),
                "seed {seed}: not in order or not once"
            );
            let st = &b.stats;
            assert!(st.duplicates > 0, "the link duplicated: {st:?}");
            assert!(a.stats.retransmits > 0, "the link lost: {:?}", a.stats);
            assert_eq!(st.skipped, 0);
            assert_eq!(a.stats.gave_up, 0);
            // Everything acknowledged in the end: drain the link.
            let mut sink = Vec::new();
            for now in 200_000..202_000 {
                out(&mut a, A, now, &mut link);
                out(&mut b, B, now, &mut link);
                for (to, from, g) in link.due(now) {
                    if to == B {
                        input(&mut b, from, g, now, &mut sink);
                    } else {
                        input(&mut a, from, g, now, &mut Vec::new());
                    }
                }
            }
            assert_eq!(a.queued(B), (0, 0), "seed {seed}: A still holds datagrams");
            assert!(sink.is_empty(), "nothing delivered twice: {sink:?}");
        }
    }

    #[test]
    fn a_perfect_link_needs_no_retransmission() {
        let mut a = Sessions::new(cfg(), 1, 0xa1);
        let mut b = Sessions::new(cfg(), 1, 0xb1);
        let mut link = Link::new(9, 0, 0, 0);
        let (got, _) = run(&mut a, &mut b, &mut link, 0..1000, 0, 10_000);
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        assert_eq!(a.stats.retransmits, 0);
        assert_eq!(b.stats.duplicates, 0);
    }

    #[test]
    fn replayed_datagrams_deliver_nothing() {
        let mut a = Sessions::new(cfg(), 1, 0xa1);
        let mut b = Sessions::new(cfg(), 1, 0xb1);
        let mut link = Link::new(5, 10, 10, 4);
        let (got, now) = run(&mut a, &mut b, &mut link, 0..500, 0, 100_000);
        assert_eq!(got.len(), 500);
        // Every datagram A ever sent, replayed, in reverse too.
        let mut again = Vec::new();
        let captured = std::mem::take(&mut link.captured);
        for g in captured.iter().chain(captured.iter().rev()) {
            input(&mut b, A, g.clone(), now, &mut again);
        }
        assert!(again.is_empty(), "a replay was delivered: {again:?}");
        // A restarted A (new boot, next incarnation) is a new stream; the
        // old boot's datagrams are then stale or duplicates, still nothing.
        let mut a2: Sessions<Vec<u64>> = Sessions::new(cfg(), 2, 0xa2);
        let mut link2 = Link::new(6, 0, 0, 0);
        let (got2, now2) = run(&mut a2, &mut b, &mut link2, 1000..1010, now, 10_000);
        assert_eq!(got2, (1000..1010).collect::<Vec<_>>());
        for g in &captured {
            input(&mut b, A, g.clone(), now2, &mut again);
        }
        assert!(again.is_empty(), "an earlier boot's datagram was delivered");
        // Once a third boot pushed the first out of the kept streams, the
        // first boot is remembered as retired: stale.
        let mut a3: Sessions<Vec<u64>> = Sessions::new(cfg(), 3, 0xa3);
        let (got3, now3) = run(&mut a3, &mut b, &mut link2, 2000..2010, now2, 10_000);
        assert_eq!(got3.len(), 10);
        let stale = b.stats.stale;
        for g in &captured {
            input(&mut b, A, g.clone(), now3, &mut again);
        }
        assert!(again.is_empty());
        assert_eq!(b.stats.stale, stale + captured.len() as u64);
        // The same incarnation with a new boot (e.g. HA, always 1): a new
        // stream; the old boot, once retired, is refused.
        let mut c: Sessions<Vec<u64>> = Sessions::new(cfg(), 1, 0xc1);
        let mut d: Sessions<Vec<u64>> = Sessions::new(cfg(), 1, 0xd1);
        let mut l3 = Link::new(7, 0, 0, 0);
        let (g1, t1) = run(&mut c, &mut d, &mut l3, 0..5, 0, 1000);
        assert_eq!(g1.len(), 5);
        let old = std::mem::take(&mut l3.captured);
        for boot in [0xc2, 0xc3] {
            let mut c2: Sessions<Vec<u64>> = Sessions::new(cfg(), 1, boot);
            let (g2, _) = run(&mut c2, &mut d, &mut l3, 10..15, t1, 1000);
            assert_eq!(g2, (10..15).collect::<Vec<_>>());
        }
        for g in &old {
            input(&mut d, A, g.clone(), t1 + 2000, &mut again);
        }
        assert!(again.is_empty());
        // A stream far past the sender's last incarnation is refused.
        let far = Hdr {
            to: B,
            inc: 3 + AHEAD + 1,
            boot: 0xf,
            seq: 1,
            low: 1,
            ack: None,
        };
        assert!(b.on_data(A, &far, vec![1], now3).payloads.is_empty());
        assert_eq!(b.stats.ahead, 1);
    }

    #[test]
    fn a_restarted_receiver_takes_the_stream_up_where_the_sender_is() {
        let mut a = Sessions::new(cfg(), 1, 0xa1);
        let mut b = Sessions::new(cfg(), 1, 0xb1);
        let mut link = Link::new(11, 20, 10, 6);
        let (got, now) = run(&mut a, &mut b, &mut link, 0..3000, 0, 100_000);
        assert_eq!(got.len(), 3000);
        // B crashes with datagrams in flight and A's queue not empty: queue
        // more, and let B restart with no state (new boot, inc 2).
        for x in 3000..3100 {
            a.send(B, vec![x], 16);
        }
        out(&mut a, A, now, &mut link);
        link.flight.clear();
        let mut b2: Sessions<Vec<u64>> = Sessions::new(cfg(), 2, 0xb2);
        let (got2, _) = run(&mut a, &mut b2, &mut link, 3100..5000, now + 1, 100_000);
        // Everything queued for the old B and after reaches the new one, in
        // order, once; what the old B had acknowledged is not sent again.
        assert!(
            got2.len() >= 1900,
            "{} {:?} {:?} {:?}",
            got2.len(),
            &got2[..got2.len().min(5)],
            b2.stats,
            a.stats
        );
        let first = got2[0];
        assert!(first <= 3000, "resumed at A's lowest unacked: {first}");
        assert!(
            got2 == (first..5000).collect::<Vec<_>>(),
            "not {first}..5000 in order: {} delivered",
            got2.len()
        );
        assert_eq!(b2.stats.skipped, 0);
    }

    #[test]
    fn a_restarted_sender_opens_a_new_stream() {
        let mut a = Sessions::new(cfg(), 1, 0xa1);
        let mut b = Sessions::new(cfg(), 1, 0xb1);
        let mut link = Link::new(12, 20, 10, 6);
        let (got, now) = run(&mut a, &mut b, &mut link, 0..1000, 0, 100_000);
        assert_eq!(got.len(), 1000);
        // A crashes with unacknowledged datagrams: they are lost with it.
        for x in 1000..1050 {
            a.send(B, vec![x], 16);
        }
        out(&mut a, A, now, &mut link);
        let mut a2: Sessions<Vec<u64>> = Sessions::new(cfg(), 2, 0xa2);
        let (got2, _) = run(&mut a2, &mut b, &mut link, 5000..6000, now + 1, 100_000);
        // The old boot's datagrams still in flight may land (in order,
        // before or between), the new stream is complete and in order.
        let new: Vec<u64> = got2.iter().copied().filter(|&x| x >= 5000).collect();
        assert_eq!(new, (5000..6000).collect::<Vec<_>>());
        let old: Vec<u64> = got2.iter().copied().filter(|&x| x < 5000).collect();
        assert!(old.windows(2).all(|w| w[1] == w[0] + 1), "{old:?}");
        assert_eq!(b.stats.new_streams, 2);
    }

    #[test]
    fn a_silent_peer_fills_a_bounded_queue_and_the_gap_is_counted() {
        let c = Config {
            cap_datagrams: 100,
            window: 16,
            ..cfg()
        };
        let mut a: Sessions<Vec<u64>> = Sessions::new(c.clone(), 1, 0xa1);
        let mut b: Sessions<Vec<u64>> = Sessions::new(c, 1, 0xb1);
        // B is stopped: nothing reaches it, A keeps queueing.
        let mut gave = 0;
        for x in 0..1000u64 {
            gave += a.send(B, vec![x], 16);
            a.transmit(x, |_| {});
        }
        assert_eq!(gave, 900);
        assert_eq!(a.stats.gave_up, 900);
        assert_eq!(a.queued(B).0, 100);
        // B comes back (same boot, its stream at 1): it skips the gap,
        // counts it, and gets the last 100 in order.
        let mut link = Link::new(3, 0, 0, 0);
        let mut got = Vec::new();
        // B had opened A's stream before it stopped.
        let first = Hdr {
            to: B,
            inc: 1,
            boot: 0xa1,
            seq: 1,
            low: 1,
            ack: None,
        };
        let _ = b.on_data(A, &first, vec![0], 0);
        for now in 10_000..20_000 {
            out(&mut a, A, now, &mut link);
            out(&mut b, B, now, &mut link);
            for (to, from, g) in link.due(now) {
                if to == B {
                    input(&mut b, from, g, now, &mut got);
                } else {
                    input(&mut a, from, g, now, &mut Vec::new());
                }
            }
        }
        assert_eq!(got, (900..1000).collect::<Vec<_>>());
        assert_eq!(b.stats.skipped, 899);
        assert_eq!(a.queued(B), (0, 0));
    }

    #[test]
    fn memory_is_bounded_by_the_window_and_the_byte_cap() {
        let c = Config {
            cap_bytes: 1000,
            window: 8,
            ..cfg()
        };
        let mut a: Sessions<Vec<u64>> = Sessions::new(c.clone(), 1, 0xa1);
        for x in 0..50 {
            a.send(B, vec![x], 100);
        }
        assert_eq!(a.queued(B), (10, 1000));
        // Only the window is in flight.
        let mut n = 0;
        a.transmit(0, |_| n += 1);
        assert_eq!(n, 8);
        // A receiver holds at most a window of early datagrams.
        let mut b: Sessions<Vec<u64>> = Sessions::new(c, 1, 0xb1);
        for seq in 2..100 {
            let h = Hdr {
                to: B,
                inc: 1,
                boot: 9,
                seq,
                low: 1,
                ack: None,
            };
            assert!(b.on_data(A, &h, vec![seq], 0).payloads.is_empty());
        }
        assert_eq!(b.stats.beyond_window, 98 - 7);
        let h = Hdr {
            to: B,
            inc: 1,
            boot: 9,
            seq: 1,
            low: 1,
            ack: None,
        };
        let d = b.on_data(A, &h, vec![1], 0);
        assert_eq!(d.payloads.concat(), (1..9).collect::<Vec<_>>());
    }

    #[test]
    fn a_receiver_that_comes_back_gets_the_backlog_at_once() {
        let mut a: Sessions<Vec<u64>> = Sessions::new(cfg(), 1, 0xa1);
        // B is down for a second: A backs off to 200 ms.
        a.send(B, vec![1], 16);
        for now in 0..1000 {
            a.transmit(now, |_| {});
        }
        // B (new) comes up; A's next datagram reaches it, B acks (missing
        // the first), and the first goes again within the first timeout.
        let mut b: Sessions<Vec<u64>> = Sessions::new(cfg(), 1, 0xb1);
        a.send(B, vec![2], 16);
        let mut link = Link::new(1, 0, 0, 0);
        let mut got = Vec::new();
        let mut at = None;
        for now in 1000..1200 {
            out(&mut a, A, now, &mut link);
            out(&mut b, B, now, &mut link);
            for (to, from, g) in link.due(now) {
                if to == B {
                    input(&mut b, from, g, now, &mut got);
                } else {
                    input(&mut a, from, g, now, &mut Vec::new());
                }
            }
            if got.len() == 2 && at.is_none() {
                at = Some(now);
            }
        }
        assert_eq!(got, vec![1, 2]);
        assert!(at.unwrap() <= 1000 + 2 * 10, "took until {at:?}");
    }

    #[test]
    fn retransmission_backs_off_to_the_cap() {
        let mut a: Sessions<Vec<u64>> = Sessions::new(cfg(), 1, 0xa1);
        a.send(B, vec![1], 16);
        let mut times = Vec::new();
        for now in 0..2000 {
            a.transmit(now, |_| times.push(now));
            assert!(a.next_due().unwrap() > now, "nothing left due at {now}");
        }
        // 0, +10, +20, +40, +80, +160, then every 200 ms
        assert_eq!(&times[..7], &[0, 10, 30, 70, 150, 310, 510]);
        assert_eq!(times[7] - times[6], 200);
    }
}
