//! The runtime of one live process: it drives a `Dtm0` actor (the model's)
//! over a UDP socket. Its `Out` commands become I/O, in order:
//!
//! - `Save` of a participant: one frame appended to its log and fsynced
//!   (`disk::Wal`) before anything later in the list is sent. Sends are
//!   collected per destination and flushed when the step is done, so a
//!   PERSISTENT notice never leaves before the fsync of its commit.
//! - `Save` of an originator: its incarnation counter, replaced atomically.
//! - `SetTimer(Commit)`: the commit fires `commit_delay_ms` after the first
//!   executed dtx of a batch (group commit: one fsync for the batch).
//! - `Send`: batched per destination into as few datagrams as fit, each
//!   the next of this process's session stream to that peer (`session`):
//!   numbered, acknowledged, sent again until acknowledged.
//!
//! Every datagram in or out carries a MAC under the cluster key (`auth`);
//! one without a valid MAC, malformed, from an address that is not its
//! claimed sender's, or a message of a kind its sender never sends or too
//! far ahead (`guard`) is dropped and counted, and summarized in the log
//! at most once a second.
//!
//! Around the actor: heartbeats to HA, HA's failure detector (a process
//! silent for `failure_timeout_ms` is reported `Down`), admin requests
//! (inspect, get), and, with `--faults`, a fault layer that holds back or
//! drops chosen incoming messages so a driver can produce a given order,
//! and loses, duplicates or delays incoming datagrams (`chaos`).

use super::auth::Auth;
use super::boot::{open_participant, Boot};
use super::chaos::{Chaos, ChaosStats};
use super::disk::{write_atomic, Wal};
use super::guard::{self, DropLog};
use super::session::{self, Emit, SessionStats, Sessions};
use super::spec::LiveSpec;
use super::wire::{self, Fault, Filter, Refused, Wire};
use crate::protocol::actor::{Dtm0, Dtm0State, Dtm0Store};
use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::ha::HaState;
use crate::protocol::msg::{HaSt, Msg, Timer};
use crate::protocol::originator::OrigStore;
use crate::protocol::types::Inc;
use serde::Serialize;
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// What a node counts, for `inspect` and the tests.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counters {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub msgs_in: u64,
    pub msgs_out: u64,
    /// Datagrams that did not decode or were oversized.
    pub dropped_malformed: u64,
    /// Protocol datagrams from an address not in the cluster file, or not
    /// the claimed sender's.
    pub dropped_foreign: u64,
    /// Messages the fault layer dropped.
    pub dropped_by_fault: u64,
    pub saves: u64,
    pub commits: u64,
    /// Seconds spent replaying the log at start.
    pub replay_seconds: f64,
    pub replayed_frames: u64,
    pub truncated_bytes: u64,
    /// Datagrams the socket refused to send (a peer down is not one: UDP
    /// does not know).
    pub send_errors: u64,
    /// Self-check of the durability rule: flushes that would have sent a
    /// message queued after a save not yet on disk. Always 0 (tested).
    pub early_sends: u64,
    /// Datagrams without a valid MAC under the cluster key.
    pub dropped_unauthenticated: u64,
    /// Messages refused before the actor (`guard`): of a kind their
    /// sender never sends, a View or Starting too far ahead.
    pub refused_sender: u64,
    pub refused_ahead: u64,
    /// The session layer: sends, retransmissions, duplicates, ...
    pub session: SessionStats,
    /// The wire chaos of the fault layer.
    pub chaos: ChaosStats,
}

pub struct Node {
    pub spec: Arc<LiveSpec>,
    pub id: Id,
    actor: Dtm0,
    /// Owned, not shared: the actor mutates it in place through
    /// `Cow::Owned` (a `Cow::Borrowed` would clone the whole state, log and
    /// catalogue, at every message).
    state: Dtm0State,
    sock: UdpSocket,
    wal: Option<Wal>,
    orig_file: Option<PathBuf>,
    last_store: Option<Dtm0Store>,
    commit_at: Option<Instant>,
    /// `Timer::Send` is set (fired at the next turn of the loop).
    send_due: bool,
    hold_commits: bool,
    faults: bool,
    rules: Vec<(bool, Filter)>,
    held: Vec<(u32, Msg)>,
    outbox: BTreeMap<usize, Vec<Msg>>,
    /// Saves seen in command lists, and saves made durable: a message
    /// queued after the n-th save may leave only once n saves are done.
    saves_issued: u64,
    saves_done: u64,
    send_barrier: u64,
    next_heartbeat: Instant,
    /// HA only: per actor, the last heartbeat and whether it was reported.
    seen: Vec<Option<(Instant, Inc, bool)>>,
    /// HA only: where its table is kept, and the table last written there.
    ha_file: Option<PathBuf>,
    ha_saved: Option<HaDisk>,
    /// HA only: per actor, the highest incarnation ever heard of (kept in
    /// its table file).
    heard: Vec<Inc>,
    pub counters: Counters,
    auth: Auth,
    /// The process's start: `now` of the session layer is milliseconds
    /// since.
    t0: Instant,
    sess: Sessions<Vec<Msg>>,
    drops: DropLog,
    /// The fault layer's wire chaos (incoming Proto and Ack datagrams).
    chaos: Option<Chaos<(Wire, SocketAddr)>>,
    /// The next View may jump any distance ahead: none seen since start,
    /// or HA's stream changed or lost datagrams since the last.
    view_free: bool,
}

/// Where HA keeps its table under its data directory.
pub fn ha_path(data: &Path) -> PathBuf {
    data.join("ha.state")
}

/// HA's table file: magic and format, a fingerprint of the cluster's
/// addresses (a table of another cluster is refused, not adopted), the
/// `HaDisk` (postcard), and a crc32 of everything before it.
const HA_MAGIC: [u8; 8] = *b"DTM0HA\0\x02";

/// What HA keeps across its restarts: the protocol's table, and per actor
/// the highest incarnation HA ever heard of (heartbeats, restarts), which
/// start-up checks ask for (a participant with no storage that HA has
/// heard of lost its storage; one HA never heard of is a first boot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HaDisk {
    pub table: HaState,
    pub heard: Vec<Inc>,
}

fn cluster_fingerprint(spec: &LiveSpec) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for a in &spec.addrs {
        h.update(a.to_string().as_bytes());
        h.update(b";");
    }
    h.finalize()
}

fn encode_ha(h: &HaDisk, spec: &LiveSpec) -> Vec<u8> {
    let mut b = HA_MAGIC.to_vec();
    b.extend_from_slice(&cluster_fingerprint(spec).to_le_bytes());
    b.extend_from_slice(&postcard::to_allocvec(h).expect("encode"));
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// HA's table as a previous run left it, if any. A file that is damaged
/// or belongs to another cluster is an error: starting from scratch would
/// show every process at incarnation 1, view 0, which they ignore.
pub fn load_ha(f: &Path, spec: &LiveSpec) -> Result<Option<HaDisk>, String> {
    let b = match std::fs::read(f) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("ha: cannot read {}: {e}", f.display())),
    };
    let bad = |why: &str| {
        format!(
            "ha: {} is {why}; refusing to start from scratch (processes would ignore a table at view 0); remove the file only if the whole cluster starts afresh",
            f.display()
        )
    };
    if b.len() < HA_MAGIC.len() + 8 || b[..HA_MAGIC.len()] != HA_MAGIC {
        return Err(bad("not an HA table of this format"));
    }
    let (body, crc) = b.split_at(b.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(bad("damaged (checksum mismatch)"));
    }
    let fp = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
    if fp != cluster_fingerprint(spec) {
        return Err(bad("the table of a cluster with other addresses"));
    }
    let h: HaDisk = postcard::from_bytes(&body[12..]).map_err(|_| bad("undecodable"))?;
    if h.table.table.0.len() != spec.addrs.len() - 1 || h.heard.len() != spec.addrs.len() {
        return Err(bad("a table of another cluster size"));
    }
    Ok(Some(h))
}

/// Where a process keeps its storage under its data directory.
pub fn store_path(data: &Path, name: &str) -> PathBuf {
    data.join(format!("{name}.wal"))
}

impl Node {
    /// Starts the process `id` of `spec`: binds its address, loads its
    /// storage from `data` (participants: the log; originators: the
    /// incarnation counter) and runs the actor's `on_start`.
    pub fn start(
        spec: Arc<LiveSpec>,
        cluster: Arc<Cluster>,
        id: Id,
        data: &Path,
        faults: bool,
    ) -> Result<Node, String> {
        Node::start_with(spec, cluster, id, data, faults, &Boot::default())
    }

    /// `start`, with a participant's start-up options (`live::boot`).
    pub fn start_with(
        spec: Arc<LiveSpec>,
        cluster: Arc<Cluster>,
        id: Id,
        data: &Path,
        faults: bool,
        boot: &Boot,
    ) -> Result<Node, String> {
        let addr = spec.addr_of(id).ok_or("no address for this id")?;
        let sock = UdpSocket::bind(addr).map_err(|e| {
            format!(
                "{}: cannot bind {addr}: {e} (is it already running?)",
                spec.name_of(id)
            )
        })?;
        set_buffers(&sock);
        // Never block in recv: `poll` waits with ppoll instead.
        sock.set_nonblocking(true)
            .map_err(|e| format!("{}: {e}", spec.name_of(id)))?;
        let name = spec.name_of(id);
        let mut counters = Counters::default();
        let proc = cluster.proc_of(id);
        let (mut wal, mut orig_file, storage) = (None, None, None::<Dtm0Store>);
        let mut storage = storage;
        let (mut ha_file, mut ha_restored) = (None, None);
        match proc {
            Proc::Participant(_) => {
                let (w, rec) = open_participant(&spec, id, data, boot)?;
                counters.replay_seconds = rec.seconds;
                counters.replayed_frames = rec.frames;
                counters.truncated_bytes = rec.truncated_bytes;
                if rec.truncated_bytes > 0 {
                    warn!(
                        "{name}: cut a torn tail of {} bytes from its log",
                        rec.truncated_bytes
                    );
                }
                storage = rec.store.map(Dtm0Store::Participant);
                wal = Some(w);
            }
            Proc::Originator(_) => {
                std::fs::create_dir_all(data)
                    .map_err(|e| format!("--data {}: {e}", data.display()))?;
                let f = data.join(format!("{name}.inc"));
                if let Ok(b) = std::fs::read(&f) {
                    let st: OrigStore = postcard::from_bytes(&b)
                        .map_err(|e| format!("{}: corrupt: {e}", f.display()))?;
                    storage = Some(Dtm0Store::Originator(st));
                }
                orig_file = Some(f);
            }
            Proc::Ha => {
                std::fs::create_dir_all(data)
                    .map_err(|e| format!("--data {}: {e}", data.display()))?;
                let f = ha_path(data);
                ha_restored = load_ha(&f, &spec)?;
                ha_file = Some(f);
            }
        }
        let actor = Dtm0 {
            cluster: cluster.clone(),
            proc,
        };
        let n_actors = spec.addrs.len();
        let auth = spec.auth.clone();
        if !auth.keyed && !matches!(proc, Proc::Originator(_)) {
            warn!(
                "{name}: the cluster file names no key: datagrams are not authenticated, any local \
                 process can write to this node (`dtm0 keygen FILE`, then key = \"FILE\")"
            );
        }
        let mut node = Node {
            spec,
            id,
            actor,
            state: Dtm0State::placeholder(),
            sock,
            wal,
            orig_file,
            last_store: storage.clone(),
            commit_at: None,
            send_due: false,
            hold_commits: false,
            faults,
            rules: Vec::new(),
            held: Vec::new(),
            outbox: BTreeMap::new(),
            saves_issued: 0,
            saves_done: 0,
            send_barrier: 0,
            next_heartbeat: Instant::now(),
            seen: vec![None; n_actors],
            ha_file,
            ha_saved: None,
            heard: vec![0; n_actors],
            counters,
            auth,
            t0: Instant::now(),
            sess: Sessions::new(session::Config::default(), 0, super::auth::boot_nonce()),
            drops: DropLog::new(1000),
            chaos: None,
            view_free: true,
        };
        let mut o = Out::new();
        let st = node.actor.on_start(id, &storage, &mut o);
        node.state = st;
        if let Some(HaDisk { table: h, heard }) = ha_restored {
            node.heard = heard;
            // A restart of HA: its table and view number as they were,
            // its last view repeated, and every process it knew watched
            // from now on (one that died while HA was down is reported
            // once it stays silent for the timeout).
            let now = Instant::now();
            for (i, slot) in node.seen.iter_mut().enumerate() {
                // Only processes HA ever heard from: a slot no client has
                // used yet is not reported TRANSIENT for its silence.
                let heard = node.heard.get(i).is_some_and(|&h| h > 0);
                if let Some(row) =
                    crate::protocol::ha::row(&node.actor.cluster, Id::from(i)).filter(|_| heard)
                {
                    *slot = Some((now, h.table.get(row).0, false));
                }
            }
            info!(
                "ha: restarted with its table at view #{} (from {})",
                h.seq,
                ha_path(data).display()
            );
            crate::protocol::ha::on_restart(&node.actor.cluster, &h, &mut o);
            node.ha_saved = Some(HaDisk {
                table: h.clone(),
                heard: node.heard.clone(),
            });
            node.state = Dtm0State::Ha(h);
        }
        let inc = node.inc();
        node.sess.set_inc(inc);
        node.apply(o).map_err(|e| format!("{name}: {e}"))?;
        node.flush()?;
        info!(
            "{name} started at {addr} (incarnation {}, log replayed in {:.3}s)",
            node.inc(),
            node.counters.replay_seconds
        );
        Ok(node)
    }

    pub fn state(&self) -> &Dtm0State {
        &self.state
    }

    pub fn last_store(&self) -> Option<&Dtm0Store> {
        self.last_store.as_ref()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.sock.local_addr().expect("bound")
    }

    pub fn inc(&self) -> Inc {
        match &self.state {
            Dtm0State::Participant(p) => p.inc,
            Dtm0State::Originator(o) => o.inc,
            Dtm0State::Ha(_) => 1,
        }
    }

    fn name(&self) -> String {
        self.spec.name_of(self.id)
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), String> {
        while !stop.load(Ordering::Relaxed) {
            self.poll(Duration::from_millis(50))?;
        }
        Ok(())
    }

    /// One turn: waits at most `max_wait` for a datagram, handles it, fires
    /// due timers, sends heartbeats.
    pub fn poll(&mut self, max_wait: Duration) -> Result<(), String> {
        let now = Instant::now();
        let mut deadline = now + max_wait;
        if let Some(t) = self.commit_at.filter(|_| !self.hold_commits) {
            deadline = deadline.min(t);
        }
        deadline = deadline.min(self.next_heartbeat);
        let due = [
            self.sess.next_due(),
            self.chaos.as_ref().and_then(|c| c.next_due()),
            self.drops.next_due(),
        ];
        if let Some(ms) = due.into_iter().flatten().min() {
            deadline = deadline.min(self.t0 + Duration::from_millis(ms));
        }
        let wait = deadline.saturating_duration_since(now);
        let mut buf = [0u8; 65_536];
        if !self.drain(&mut buf)? {
            // Nothing queued: sleep until a datagram or the next timer.
            // (ppoll, not SO_RCVTIMEO: socket timeouts are rounded up to
            // the kernel's tick, 4 ms here, which would stretch a 1 ms
            // group commit to 5.)
            wait_readable(&self.sock, wait);
            self.drain(&mut buf)?;
        }
        self.release_chaos()?;
        self.timers()?;
        self.flush()?;
        if let Some(line) = self.drops.line(self.now_ms()) {
            warn!("{}: {line}", self.name());
        }
        Ok(())
    }

    /// Milliseconds since the process started: the session layer's clock.
    fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    /// Hands over the datagrams the wire chaos held back that are due.
    fn release_chaos(&mut self) -> Result<(), String> {
        let now = self.now_ms();
        let due = match self.chaos.as_mut() {
            Some(c) => c.due(now),
            None => return Ok(()),
        };
        for (w, from) in due {
            self.session_in(w, from)?;
        }
        Ok(())
    }

    /// Handles every datagram already queued (up to a bound, so timers
    /// still fire under load). Returns whether there was any.
    fn drain(&mut self, buf: &mut [u8]) -> Result<bool, String> {
        let mut any = false;
        for _ in 0..512 {
            match self.sock.recv_from(buf) {
                Ok((len, from)) => {
                    any = true;
                    let b = buf[..len].to_vec();
                    self.on_datagram(&b, from)?;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    // e.g. ECONNREFUSED left by an ICMP error: not ours to fail on
                    debug!("{}: recv: {e}", self.name());
                    break;
                }
            }
        }
        Ok(any)
    }

    fn timers(&mut self) -> Result<(), String> {
        while std::mem::take(&mut self.send_due) {
            let mut o = Out::new();
            let mut st = Cow::Owned(std::mem::replace(&mut self.state, Dtm0State::placeholder()));
            self.actor
                .on_timeout(self.id, &mut st, &Timer::Send, &mut o);
            self.state = st.into_owned();
            self.apply(o)?;
        }
        let now = Instant::now();
        if let Some(t) = self.commit_at {
            if t <= now && !self.hold_commits {
                self.commit_at = None;
                self.counters.commits += 1;
                let mut o = Out::new();
                let mut st =
                    Cow::Owned(std::mem::replace(&mut self.state, Dtm0State::placeholder()));
                self.actor
                    .on_timeout(self.id, &mut st, &Timer::Commit, &mut o);
                self.state = st.into_owned();
                self.apply(o)?;
            }
        }
        if now >= self.next_heartbeat {
            let timing = &self.spec.file.timing;
            self.next_heartbeat = now + Duration::from_millis(timing.heartbeat_ms);
            match self.actor.proc {
                Proc::Ha => self.detect(now)?,
                _ => {
                    let hb = wire::seal(
                        &self.auth,
                        &Wire::Heartbeat {
                            from: usize::from(self.id) as u32,
                            inc: self.inc(),
                        },
                    );
                    let ha = self.spec.addr_of(self.actor.cluster.ha_id()).expect("ha");
                    let _ = self.sock.send_to(&hb, ha);
                }
            }
        }
        Ok(())
    }

    /// HA's failure detector: report each process silent for longer than
    /// the timeout, once per incarnation.
    fn detect(&mut self, now: Instant) -> Result<(), String> {
        let timeout = Duration::from_millis(self.spec.file.timing.failure_timeout_ms);
        for i in 0..self.seen.len() {
            let Some((t, inc, reported)) = self.seen[i] else {
                continue;
            };
            if !reported && now.duration_since(t) > timeout {
                self.seen[i] = Some((t, inc, true));
                let Dtm0State::Ha(h) = &self.state else {
                    continue;
                };
                let Some(idx) = crate::protocol::ha::row(&self.actor.cluster, Id::from(i)) else {
                    continue;
                };
                if h.table.get(idx) == (inc, HaSt::Online)
                    || h.table.get(idx) == (inc, HaSt::Recovering)
                {
                    warn!(
                        "ha: {} (incarnation {inc}) silent for {timeout:?}: TRANSIENT",
                        self.spec.name_of(Id::from(i))
                    );
                }
                self.deliver(i as u32, Msg::Down { inc })?;
            }
        }
        Ok(())
    }

    fn on_datagram(&mut self, b: &[u8], from: SocketAddr) -> Result<(), String> {
        self.counters.datagrams_in += 1;
        let w = match wire::open(&self.auth, b) {
            Ok(w) => w,
            Err(Refused::Malformed(e)) => {
                self.counters.dropped_malformed += 1;
                self.drops.note("malformed", 1);
                debug!("{}: dropped a datagram from {from}: {e}", self.name());
                return Ok(());
            }
            Err(Refused::Unauthenticated) => {
                self.counters.dropped_unauthenticated += 1;
                self.drops.note("unauthenticated", 1);
                debug!(
                    "{}: dropped an unauthenticated datagram from {from}",
                    self.name()
                );
                return Ok(());
            }
        };
        match w {
            Wire::Proto { from: src, .. } | Wire::Ack { from: src, .. } => {
                if self.spec.addr_of(Id::from(src as usize)) != Some(from) {
                    self.counters.dropped_foreign += 1;
                    self.drops
                        .note("foreign (not the claimed sender's address)", 1);
                    return Ok(());
                }
                let now = self.now_ms();
                let now_in = match self.chaos.as_mut() {
                    Some(c) => c.admit(now, (w, from)),
                    None => vec![(w, from)],
                };
                for (w, from) in now_in {
                    self.session_in(w, from)?;
                }
            }
            Wire::Heartbeat { from: src, inc } => {
                if self.spec.addr_of(Id::from(src as usize)) != Some(from) {
                    self.counters.dropped_foreign += 1;
                    self.drops
                        .note("foreign (not the claimed sender's address)", 1);
                    return Ok(());
                }
                // Every heartbeat refreshes: a process wrongly reported
                // down that keeps beating is watched again (HA's table
                // moves it back to ONLINE through recovery).
                if let Some(slot) = self.seen.get_mut(src as usize) {
                    *slot = Some((Instant::now(), inc, false));
                }
                if let Some(h) = self.heard.get_mut(src as usize) {
                    *h = (*h).max(inc);
                }
            }
            Wire::Inspect => {
                let j = self.inspect_json();
                self.reply(from, &Wire::Json(j));
            }
            Wire::Get { key } => {
                let (rec, available) = match &self.state {
                    Dtm0State::Participant(p) => {
                        let (inc, st) = p.view.get(usize::from(self.id));
                        (
                            p.kv.get(&key).copied(),
                            inc == p.inc && matches!(st, HaSt::Online | HaSt::Recovering),
                        )
                    }
                    _ => (None, false),
                };
                self.reply(
                    from,
                    &Wire::Record {
                        key,
                        rec,
                        available,
                    },
                );
            }
            Wire::Fault(f) => {
                let answer = if self.faults {
                    self.fault(f)?;
                    serde_json::json!({"ok": true, "held": self.held.len()})
                } else {
                    serde_json::json!({"ok": false, "error": "this node was started without --faults"})
                };
                self.reply(from, &Wire::Json(answer.to_string()));
            }
            Wire::Seen { id } if matches!(self.actor.proc, Proc::Ha) => {
                let inc = self.seen_inc(id as usize);
                self.reply(from, &Wire::SeenInc { id, inc });
            }
            Wire::Record { .. } | Wire::Json(_) | Wire::Seen { .. } | Wire::SeenInc { .. } => {
                self.counters.dropped_malformed += 1;
                self.drops.note("malformed", 1);
            }
        }
        Ok(())
    }

    /// HA: the highest incarnation of actor `i` ever heard of, from its
    /// heartbeats (kept across HA's restarts in its table file) or from a
    /// restart in HA's table (a row above 1 comes only from a `Starting`);
    /// 0 if never. (HA's table starts every row at incarnation 1 ONLINE,
    /// heard of or not.)
    fn seen_inc(&self, i: usize) -> Inc {
        let heard = self.heard.get(i).copied().unwrap_or(0);
        let row = match self.actor.cluster.proc_of(Id::from(i)) {
            Proc::Participant(p) => p,
            Proc::Originator(s) => self.actor.cluster.n + s,
            Proc::Ha => return 0,
        };
        let restarted = match &self.state {
            Dtm0State::Ha(h) => h.table.get(row).0,
            _ => 0,
        };
        heard.max(if restarted > 1 { restarted } else { 0 })
    }

    /// A session datagram (from the address of its claimed sender, past
    /// the wire chaos): its acknowledgement taken, its messages, in the
    /// sender's order and each once, through the guard to the actor.
    fn session_in(&mut self, w: Wire, from: SocketAddr) -> Result<(), String> {
        let now = self.now_ms();
        let me = usize::from(self.id) as u32;
        let (src, hdr, msgs) = match w {
            Wire::Ack { from: src, ack } => {
                self.sess.on_ack(src, &ack, now);
                return Ok(());
            }
            Wire::Proto {
                from: src,
                hdr,
                msgs,
            } => (src, hdr, msgs),
            _ => return Ok(()),
        };
        if hdr.to != me {
            self.counters.dropped_foreign += 1;
            self.drops
                .note("misdirected (meant for another process)", 1);
            debug!(
                "{}: a datagram from {from} for actor {}",
                self.name(),
                hdr.to
            );
            return Ok(());
        }
        let before = self.sess.stats.clone();
        let d = self.sess.on_data(src, &hdr, msgs, now);
        let st = &self.sess.stats;
        self.drops
            .note("duplicate", st.duplicates - before.duplicates);
        self.drops.note(
            "stale (an earlier boot of its sender)",
            st.stale - before.stale,
        );
        self.drops.note(
            "beyond the receive window",
            st.beyond_window - before.beyond_window,
        );
        self.drops
            .note("skipped (given up by its sender)", d.skipped);
        let ha = usize::from(self.actor.cluster.ha_id()) as u32;
        if src == ha && (d.new_stream || d.skipped > 0) {
            self.view_free = true;
        }
        for m in d.payloads.into_iter().flatten() {
            self.counters.msgs_in += 1;
            if self.admit(src, &m) {
                self.incoming(src, m)?;
            }
        }
        Ok(())
    }

    /// The runtime's input validation (`guard`): who may send `m`, and
    /// how far ahead a View or a Starting may be.
    fn admit(&mut self, src: u32, m: &Msg) -> bool {
        let c = &self.actor.cluster;
        if !guard::allowed(c, Id::from(src as usize), self.id, m) {
            self.counters.refused_sender += 1;
            self.drops
                .note("refused (a kind its sender never sends)", 1);
            return false;
        }
        let ahead = match (m, &self.state) {
            (Msg::View { seq, .. }, Dtm0State::Participant(p)) => {
                !self.view_free && *seq > p.seq.saturating_add(guard::AHEAD)
            }
            (Msg::View { seq, .. }, Dtm0State::Originator(o)) => {
                !self.view_free && *seq > o.seq.saturating_add(guard::AHEAD)
            }
            (Msg::Starting { inc }, Dtm0State::Ha(h)) => {
                let row = match c.proc_of(Id::from(src as usize)) {
                    Proc::Participant(p) => p,
                    Proc::Originator(s) => c.n + s,
                    Proc::Ha => return false,
                };
                *inc > h.table.get(row).0.saturating_add(guard::AHEAD)
            }
            _ => false,
        };
        if ahead {
            self.counters.refused_ahead += 1;
            self.drops.note("refused (too far ahead)", 1);
            return false;
        }
        true
    }

    /// The number of the HA view the actor holds (participants and
    /// originators).
    fn view_seq(&self) -> Option<crate::protocol::types::Seq> {
        match &self.state {
            Dtm0State::Participant(p) => Some(p.seq),
            Dtm0State::Originator(o) => Some(o.seq),
            Dtm0State::Ha(_) => None,
        }
    }

    fn reply(&mut self, to: SocketAddr, w: &Wire) {
        let b = wire::seal(&self.auth, w);
        if let Err(e) = self.sock.send_to(&b, to) {
            self.counters.send_errors += 1;
            self.drops.note("send errors", 1);
            debug!("{}: reply to {to}: {e}", self.name());
        }
    }

    fn fault(&mut self, f: Fault) -> Result<(), String> {
        info!("{}: fault layer: {f:?}", self.name());
        match f {
            Fault::Hold(filter) => self.rules.push((false, filter)),
            Fault::Drop(filter) => self.rules.push((true, filter)),
            Fault::Clear => self.rules.clear(),
            Fault::HoldCommits(on) => self.hold_commits = on,
            Fault::Chaos(c) => {
                if c.is_off() {
                    // What is held back goes on now.
                    if let Some(mut ch) = self.chaos.take() {
                        self.counters.chaos = ch.stats.clone();
                        for (w, from) in ch.due(u64::MAX) {
                            self.session_in(w, from)?;
                        }
                    }
                } else {
                    match self.chaos.as_mut() {
                        Some(ch) => ch.set(c),
                        None => self.chaos = Some(Chaos::new(c)),
                    }
                }
                self.flush()?;
            }
            Fault::Release(filter) => {
                let (go, stay): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
                    .into_iter()
                    .partition(|(src, m)| filter.matches(*src, m));
                self.held = stay;
                for (src, m) in go {
                    self.deliver(src, m)?;
                }
                self.flush()?;
            }
        }
        Ok(())
    }

    /// An incoming protocol message, through the fault layer.
    fn incoming(&mut self, src: u32, m: Msg) -> Result<(), String> {
        if self.faults {
            if let Some((drop, _)) = self.rules.iter().find(|(_, f)| f.matches(src, &m)) {
                if *drop {
                    self.counters.dropped_by_fault += 1;
                    self.drops.note("by the fault layer", 1);
                    debug!("{}: fault layer drops {m:?}", self.name());
                } else {
                    self.held.push((src, m));
                }
                return Ok(());
            }
        }
        self.deliver(src, m)
    }

    fn deliver(&mut self, src: u32, m: Msg) -> Result<(), String> {
        debug!("{} <- {}: {m:?}", self.name(), src);
        // A View the actor takes ends the free jump (one it drops, e.g.
        // meant for an earlier incarnation, does not).
        let view = match &m {
            Msg::View { seq, .. } => Some(*seq),
            _ => None,
        };
        let before = self.view_seq();
        let mut o = Out::new();
        let mut st = Cow::Owned(std::mem::replace(&mut self.state, Dtm0State::placeholder()));
        self.actor
            .on_msg(self.id, &mut st, Id::from(src as usize), m, &mut o);
        self.state = st.into_owned();
        if view.is_some() && before != view && self.view_seq() == view {
            self.view_free = false;
        }
        self.apply(o)
    }

    /// Carries out the actor's commands in order.
    fn apply(&mut self, o: Out<Dtm0>) -> Result<(), String> {
        for c in o {
            match c {
                Command::Send(dst, m) => {
                    self.counters.msgs_out += 1;
                    self.send_barrier = self.saves_issued;
                    self.outbox.entry(usize::from(dst)).or_default().push(m);
                }
                Command::SetTimer(Timer::Commit, _) => {
                    if self.commit_at.is_none() {
                        self.commit_at = Some(
                            Instant::now()
                                + Duration::from_millis(self.spec.file.timing.commit_delay_ms),
                        );
                    }
                }
                Command::CancelTimer(Timer::Commit) => self.commit_at = None,
                // An originator's next request (models with one send per
                // step): due at once.
                Command::SetTimer(Timer::Send, _) => self.send_due = true,
                Command::CancelTimer(Timer::Send) => self.send_due = false,
                // Failing for good is a model's event; a live cluster's
                // spec never lets a participant set it.
                Command::SetTimer(Timer::Fail, _) | Command::CancelTimer(Timer::Fail) => {}
                Command::Save(store) => {
                    self.saves_issued += 1;
                    self.save(&store)?;
                    self.saves_done += 1;
                    self.last_store = Some(store);
                }
                Command::ChooseRandom(..) => {}
            }
        }
        Ok(())
    }

    /// Makes a save durable before returning.
    fn save(&mut self, store: &Dtm0Store) -> Result<(), String> {
        self.counters.saves += 1;
        match store {
            Dtm0Store::Participant(p) => self
                .wal
                .as_mut()
                .expect("a participant has a log")
                .save(p)
                .map_err(|e| format!("log write failed: {e}")),
            Dtm0Store::Originator(st) => {
                let b = postcard::to_allocvec(st).expect("encode");
                let f = self.orig_file.as_ref().expect("an originator has a file");
                write_atomic(f, &b).map_err(|e| format!("{}: {e}", f.display()))
            }
        }
    }

    /// HA's table, made durable before the views that announce it leave:
    /// a restarted HA goes on from its last view instead of from scratch
    /// (every process at incarnation 1, view 0, which they would ignore).
    fn save_ha(&mut self) -> Result<(), String> {
        let (Some(f), Dtm0State::Ha(h)) = (&self.ha_file, &self.state) else {
            return Ok(());
        };
        if self
            .ha_saved
            .as_ref()
            .is_some_and(|d| d.table == *h && d.heard == self.heard)
        {
            return Ok(());
        }
        let d = HaDisk {
            table: h.clone(),
            heard: self.heard.clone(),
        };
        write_atomic(f, &encode_ha(&d, &self.spec))
            .map_err(|e| format!("ha: cannot save its table to {}: {e}", f.display()))?;
        self.counters.saves += 1;
        self.ha_saved = Some(d);
        Ok(())
    }

    /// Sends what the last steps produced, batched per destination.
    fn flush(&mut self) -> Result<(), String> {
        self.save_ha()?;
        let me = usize::from(self.id) as u32;
        if self.saves_done < self.send_barrier && !self.outbox.is_empty() {
            self.counters.early_sends += 1;
            tracing::error!("{}: sending before a save is durable", self.name());
        }
        for (dst, msgs) in std::mem::take(&mut self.outbox) {
            if self.spec.addr_of(Id::from(dst)).is_none() {
                continue;
            }
            for (chunk, size) in wire::chunks(msgs) {
                let gave = self.sess.send(dst as u32, chunk, size + wire::OVERHEAD);
                if gave > 0 {
                    self.drops.note("given up (a peer's queue was full)", gave);
                }
            }
        }
        self.transmit(me);
        Ok(())
    }

    /// Sends what the session layer has due: new datagrams, those whose
    /// acknowledgement is late, and acknowledgements.
    fn transmit(&mut self, me: u32) {
        let now = self.now_ms();
        let Node {
            sess,
            sock,
            spec,
            auth,
            counters,
            drops,
            ..
        } = self;
        sess.transmit(now, |e| {
            let (to, b) = match e {
                Emit::Data { to, hdr, payload } => (to, wire::seal_proto(auth, me, hdr, payload)),
                Emit::Ack { to, ack } => (to, wire::seal(auth, &Wire::Ack { from: me, ack })),
            };
            let Some(addr) = spec.addr_of(Id::from(to as usize)) else {
                return;
            };
            counters.datagrams_out += 1;
            let mut tries = 0;
            loop {
                match sock.send_to(&b, addr) {
                    Ok(_) => break,
                    Err(e) if e.kind() == ErrorKind::WouldBlock && tries < 100 => {
                        // Send buffer full: wait a little.
                        tries += 1;
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    Err(e) => {
                        // Not fatal: the datagram stays queued until
                        // acknowledged, and goes again.
                        counters.send_errors += 1;
                        drops.note("send errors", 1);
                        debug!("send to {addr}: {e}");
                        break;
                    }
                }
            }
        });
        self.counters.session = self.sess.stats.clone();
        if let Some(c) = &self.chaos {
            self.counters.chaos = c.stats.clone();
        }
    }

    /// The node's state for `dtm0 inspect`, as JSON (trimmed to fit a
    /// datagram when the log is long).
    pub fn inspect_json(&self) -> String {
        // A large participant state cannot fit one datagram anyway, and
        // serialising it whole (hundreds of milliseconds past 100k
        // records) only to throw it away starved the protocol while a
        // starter polled `inspect` every 200 ms: go to the summary first.
        let large = match &self.state {
            Dtm0State::Participant(p) => p.log.len() + p.kv.len() > INSPECT_FULL_MAX,
            _ => false,
        };
        if large {
            return self.inspect_summary();
        }
        let full = serde_json::json!({
            "id": self.name(),
            "actor": usize::from(self.id),
            "state": &self.state,
            "store": self.last_store,
            "counters": self.counters,
            "held": self.held.len(),
            "commit_pending": self.commit_at.is_some(),
            "hold_commits": self.hold_commits,
            "wal": self.wal.as_ref().map(|w| w.stats()),
        });
        let text = full.to_string();
        if text.len() <= wire::MAX_DATAGRAM - 64 {
            return text;
        }
        self.inspect_summary()
    }

    /// The `inspect` answer for a state too large for one datagram.
    fn inspect_summary(&self) -> String {
        let summary = match &self.state {
            Dtm0State::Participant(p) => serde_json::json!({
                "inc": p.inc, "kv_len": p.kv.len(), "log_len": p.log.len(),
                "ndur": p.ndur, "base": p.base, "view": p.view,
                "log_tail": p.log.iter().rev().take(50).collect::<Vec<_>>(),
            }),
            Dtm0State::Originator(o) => serde_json::json!({
                "inc": o.inc, "dtxs": o.dtxs.len(), "view": o.view,
            }),
            Dtm0State::Ha(h) => serde_json::json!(h),
        };
        serde_json::json!({
            "id": self.name(),
            "actor": usize::from(self.id),
            "truncated": true,
            "summary": summary,
            "counters": self.counters,
            "held": self.held.len(),
        })
        .to_string()
    }
}

/// Past this many log records and keys, `inspect` answers with a summary
/// without trying the whole state.
const INSPECT_FULL_MAX: usize = 512;

/// Sends an admin request to `to` from an ephemeral loopback socket and
/// waits for the answer.
pub fn request(auth: &Auth, to: SocketAddr, w: &Wire, timeout: Duration) -> Result<Wire, String> {
    let bind = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let s = UdpSocket::bind(bind).map_err(|e| format!("bind: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.send_to(&wire::seal(auth, w), to)
        .map_err(|e| format!("send to {to}: {e}"))?;
    let mut buf = [0u8; 65_536];
    let (len, _) = s.recv_from(&mut buf).map_err(|_| {
        format!("{to} did not answer within {timeout:?} (is it running, with this cluster's key?)")
    })?;
    wire::open(auth, &buf[..len]).map_err(|e| format!("answer from {to}: {e}"))
}

/// Waits until the process `name` at `addr`, just started, answers an
/// admin request (short requests: one sent before it binds its port is
/// lost), for at most `wait`.
pub fn wait_answering(
    auth: &Auth,
    addr: SocketAddr,
    name: &str,
    wait: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    while request(auth, addr, &Wire::Inspect, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not answer within {wait:?} of its start"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Blocks until `sock` is readable or `wait` has passed, with sub-millisecond
/// precision.
fn wait_readable(sock: &UdpSocket, wait: Duration) {
    use std::os::fd::AsRawFd;
    let mut fds = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_nsec: wait.subsec_nanos() as libc::c_long,
    };
    // SAFETY: one valid pollfd, a valid timespec, no signal mask.
    unsafe {
        libc::ppoll(&mut fds, 1, &ts, std::ptr::null());
    }
}

/// Socket buffers of 8 MiB each way: a burst of batched datagrams (a
/// client's whole incarnation, the notices of a group commit) must not
/// overflow the default ~200 KiB, since the protocol, like Motr's RPC,
/// assumes the network does not lose messages. As root the kernel's cap
/// (`rmem_max`) is bypassed; otherwise we get what the cap allows.
pub fn set_buffers(sock: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 8 << 20;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        for opt in [force, plain] {
            // SAFETY: a valid fd and a c_int option value of the right size.
            let rc = unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    &size as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::types::{Op, TxId};

    #[test]
    fn ha_table_round_trips_and_a_damaged_or_foreign_one_is_refused() {
        let spec = LiveSpec::parse(&LiveSpec::local_text("t", 3, &["o"], 7100)).unwrap();
        let other = LiveSpec::parse(&LiveSpec::local_text("t", 3, &["o"], 7300)).unwrap();
        let dir = std::env::temp_dir().join(format!("dtm0-ha-table-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = ha_path(&dir);
        assert_eq!(load_ha(&f, &spec).unwrap(), None, "no file: a first start");
        let mut t = crate::protocol::ha::on_start(&spec.cluster);
        t.seq = 7;
        t.table.0[1] = (3, HaSt::Recovering);
        let h = HaDisk {
            table: t,
            heard: vec![1, 3, 0, 0, 0],
        };
        let b = encode_ha(&h, &spec);
        write_atomic(&f, &b).unwrap();
        assert_eq!(load_ha(&f, &spec).unwrap(), Some(h));
        assert!(load_ha(&f, &other).unwrap_err().contains("other addresses"));
        for at in [0, 9, b.len() / 2, b.len() - 1] {
            let mut bad = b.clone();
            bad[at] ^= 1;
            write_atomic(&f, &bad).unwrap();
            let e = load_ha(&f, &spec).unwrap_err();
            assert!(e.contains("refusing"), "{e}");
        }
        write_atomic(&f, &b[..b.len() - 3]).unwrap();
        assert!(load_ha(&f, &spec).is_err(), "a cut file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The runtime's promise: a PERSISTENT notice leaves only after the
    /// commit it reports is in the participant's log file.
    #[test]
    fn a_notice_leaves_after_its_commit_is_in_the_log() {
        let a = crate::live::procs::free_addrs(4).unwrap();
        // p1 is the node under test; p2 and the originator are plain sockets.
        let text = format!(
            "ha = \"{}\"\nparticipants = [\"{}\", \"{}\"]\n[[originators]]\nname = \"o\"\naddr = \"{}\"\n[timing]\ncommit_delay_ms = 5\n",
            a[3], a[0], a[1], a[2]
        );
        let spec = Arc::new(LiveSpec::parse(&text).unwrap());
        // p1's port is for the node; p2 and the originator are bound here.
        let p2 = UdpSocket::bind(a[1]).unwrap();
        let orig = UdpSocket::bind(a[2]).unwrap();
        let dir = std::env::temp_dir().join(format!("dtm0-node-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // No HA runs here: a first boot that does not wait for it.
        let boot = Boot {
            first_boot: true,
            ha_wait: Duration::from_millis(50),
            ..Boot::default()
        };
        let mut node = Node::start_with(
            spec.clone(),
            Arc::new(spec.cluster.clone()),
            Id::from(0),
            &dir,
            false,
            &boot,
        )
        .unwrap();
        let tx = TxId {
            ts: 7,
            slot: 0,
            inc: 1,
        };
        let auth = spec.auth.clone();
        let exec = wire::seal(
            &auth,
            &Wire::Proto {
                from: 2,
                hdr: session::Hdr {
                    to: 0,
                    inc: 1,
                    boot: 1,
                    seq: 1,
                    low: 1,
                    ack: None,
                },
                msgs: vec![Msg::Execute {
                    to: 1,
                    tx,
                    op: Op::Put { key: 1, val: 3 },
                }],
            },
        );
        orig.send_to(&exec, spec.addrs[0]).unwrap();
        // A thread plays p2: the moment the notice arrives it copies p1's
        // log, while p1's node may still be inside the same step. Were the
        // notice flushed before the save, the copy would (most of the
        // time: an fsync outlasts a thread wake-up) miss the record. The
        // order itself is structural: `apply` saves synchronously and
        // `flush` runs after the step.
        let wal = store_path(&dir, "p1");
        let copy = dir.join("copy.wal");
        let (w, cpy) = (wal.clone(), copy.clone());
        p2.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let watcher = std::thread::spawn(move || {
            let mut buf = [0u8; 65_536];
            loop {
                let (len, _) = p2.recv_from(&mut buf).expect("a notice within 5 s");
                let Ok(Wire::Proto { msgs, .. }) = wire::open(&auth, &buf[..len]) else {
                    continue;
                };
                if msgs
                    .iter()
                    .any(|m| matches!(m, Msg::Persistent { tx: t, .. } if *t == tx))
                {
                    std::fs::copy(&w, &cpy).unwrap();
                    return;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !watcher.is_finished() {
            assert!(Instant::now() < deadline, "no PERSISTENT notice");
            node.poll(Duration::from_millis(2)).unwrap();
        }
        watcher.join().unwrap();
        assert_eq!(
            node.counters.early_sends, 0,
            "a message left before its save"
        );
        assert!(node.counters.saves >= 2, "start and commit saved");
        let (_, rec) = Wal::open(&copy).unwrap();
        let store = rec.store.expect("a store");
        assert!(
            store.log.iter().any(|r| r.id == tx),
            "committed record on disk before its notice"
        );
        assert_eq!(store.kv.get(&1).map(|r| r.val), Some(3));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A View far past the one held is refused before the actor, except
    /// the first one taken since the start; a View the actor drops (meant
    /// for an earlier incarnation) does not use up that first jump.
    #[test]
    fn views_far_ahead_are_refused_after_the_first() {
        use crate::protocol::msg::HaTable;
        let a = crate::live::procs::free_addrs(4).unwrap();
        let text = format!(
            "ha = \"{}\"\nparticipants = [\"{}\", \"{}\"]\n[[originators]]\nname = \"o\"\naddr = \"{}\"\n",
            a[3], a[0], a[1], a[2]
        );
        let spec = Arc::new(LiveSpec::parse(&text).unwrap());
        let ha = UdpSocket::bind(a[3]).unwrap();
        let dir = std::env::temp_dir().join(format!("dtm0-node-views-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // HA here is a plain socket that answers nothing: a first boot
        // that does not wait for it.
        let boot = Boot {
            first_boot: true,
            ha_wait: Duration::from_millis(50),
            ..Boot::default()
        };
        let mut node = Node::start_with(
            spec.clone(),
            Arc::new(spec.cluster.clone()),
            Id::from(0),
            &dir,
            false,
            &boot,
        )
        .unwrap();
        let table = HaTable(vec![(1, HaSt::Online); 3]);
        let views = [
            (2, 5),
            (1, 200_000),
            (1, 200_000 + guard::AHEAD + 1),
            (1, 200_001),
        ];
        let mut held = Vec::new();
        for (i, (to, seq)) in views.into_iter().enumerate() {
            let hdr = session::Hdr {
                to: 0,
                inc: 1,
                boot: 7,
                seq: i as u64 + 1,
                low: 1,
                ack: None,
            };
            let m = Msg::View {
                to,
                seq,
                table: table.clone(),
            };
            ha.send_to(&wire::seal_proto(&spec.auth, 3, hdr, &[m]), a[0])
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            while node.counters.msgs_in < i as u64 + 1 {
                assert!(Instant::now() < deadline, "view {i} not received");
                node.poll(Duration::from_millis(5)).unwrap();
            }
            let Dtm0State::Participant(p) = node.state() else {
                unreachable!()
            };
            held.push(p.seq);
        }
        assert_eq!(held, vec![0, 200_000, 200_000, 200_001]);
        assert_eq!(node.counters.refused_ahead, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
