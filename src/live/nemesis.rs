//! `dtm0 nemesis`, the pure half: the fault schedule drawn from a seed,
//! the history of client operations, and the judgement of a run (the
//! history checks written here, and the model's own property functions on
//! a model state built from the live final states). The half that starts
//! processes and injects the faults is `nemesis_run`.
//!
//! The schedule is a function of the seed and the run's shape only (same
//! seed, same schedule); faults are sequential (one at a time, each ended
//! before the next begins), bounded in count (`max_faults`) and in time
//! (every fault ends at least `TAIL_MS` before the end of the run).

use crate::model::file::{CheckFile, Expect, ModelSpec, NetworkKind, Verdict};
use crate::model::{build, SysState};
use crate::protocol::actor::{Dtm0State, Dtm0Store};
use crate::protocol::cluster::Cluster;
use crate::protocol::ha::HaState;
use crate::protocol::msg::HaSt;
use crate::protocol::originator::OrigStore;
use crate::protocol::participant::PartStore;
use crate::protocol::types::{Inc, Key, Op, Ts, TxId, Version};
use serde::{Deserialize, Serialize};
use stateright::actor::Network;
use stateright::Model;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The kinds of fault the nemesis injects (`--faults`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL of a participant (restarted after a pause) or of a running
    /// client process (its slot's next operation is a new incarnation).
    Kill,
    /// SIGSTOP of a participant past HA's failure timeout, then SIGCONT.
    Stop,
    /// SIGKILL of HA, restarted after a pause.
    RestartHa,
    /// Datagrams lost on the way to a participant.
    Loss,
    /// Datagrams duplicated on the way to a participant.
    Dup,
    /// Datagrams of one kind held back at a participant, then delivered
    /// after later ones.
    Reorder,
    /// Every datagram to a participant held back, then delivered.
    Delay,
    /// A participant stopped, killed, a torn (partial) frame appended to
    /// its log, restarted: the restart must cut it and lose nothing.
    TornTail,
}

impl FaultKind {
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Kill,
        FaultKind::Stop,
        FaultKind::RestartHa,
        FaultKind::Loss,
        FaultKind::Dup,
        FaultKind::Reorder,
        FaultKind::Delay,
        FaultKind::TornTail,
    ];

    /// The kinds on by default: those the runtime absorbs today.
    /// `loss` and `dup` wait for the session layer under the protocol
    /// (and its chaos command).
    pub const DEFAULT: [FaultKind; 6] = [
        FaultKind::Kill,
        FaultKind::Stop,
        FaultKind::RestartHa,
        FaultKind::Reorder,
        FaultKind::Delay,
        FaultKind::TornTail,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Stop => "stop",
            FaultKind::RestartHa => "restart-ha",
            FaultKind::Loss => "loss",
            FaultKind::Dup => "dup",
            FaultKind::Reorder => "reorder",
            FaultKind::Delay => "delay",
            FaultKind::TornTail => "torn-tail",
        }
    }

    /// Faults of this kind kill a process that is then restarted.
    pub fn kills(self) -> bool {
        matches!(
            self,
            FaultKind::Kill | FaultKind::RestartHa | FaultKind::TornTail
        )
    }

    /// Faults on the wire (through the fault layer of the target node).
    pub fn on_wire(self) -> bool {
        matches!(
            self,
            FaultKind::Loss | FaultKind::Dup | FaultKind::Reorder | FaultKind::Delay
        )
    }

    /// How often this kind is drawn, relative to the others enabled:
    /// kills are the nemesis's staple.
    fn weight(self) -> u64 {
        match self {
            FaultKind::Kill => 3,
            _ => 1,
        }
    }
}

/// `kill,stop,...` as kinds, in the order given, without repeats.
pub fn parse_faults(s: &str) -> Result<Vec<FaultKind>, String> {
    let mut out = Vec::new();
    for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let k = FaultKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == w)
            .ok_or_else(|| {
                format!(
                    "--faults: unknown fault kind `{w}` (known: {})",
                    FaultKind::ALL.map(FaultKind::name).join(", ")
                )
            })?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    if out.is_empty() {
        return Err("--faults: name at least one fault kind".into());
    }
    Ok(out)
}

/// One planned fault: at `at_ms` after the start, `kind` on `target`
/// (`p1`, `ha`, or a client slot's name), lasting `hold_ms` (the time a
/// killed process stays down, a stop lasts, a wire fault stays on);
/// `detail` picks the variant (which message kind, how much garbage).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub at_ms: u64,
    pub kind: FaultKind,
    pub target: String,
    pub hold_ms: u64,
    pub detail: u64,
}

/// splitmix64: small, seedable, the same on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6a09_e667_f3bc_c908)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// No fault starts before this (the cluster settles under load first).
pub const HEAD_MS: u64 = 500;
/// Every fault has ended this long before the run's end.
pub const TAIL_MS: u64 = 500;

/// The most faults a run of `duration_ms` may plan: one per 400 ms.
pub fn max_faults(duration_ms: u64) -> usize {
    (duration_ms / 400) as usize
}

/// The shape a schedule is drawn for.
#[derive(Clone, Debug)]
pub struct Shape {
    pub participants: usize,
    pub clients: Vec<String>,
    pub failure_timeout_ms: u64,
}

/// The fault schedule of `seed`: sequential faults from `kinds` over a run
/// of `duration_ms`, each lasting `hold_ms` and followed by a gap of
/// 200-800 ms.
pub fn schedule(seed: u64, duration_ms: u64, kinds: &[FaultKind], shape: &Shape) -> Vec<Planned> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    let total: u64 = kinds.iter().map(|k| k.weight()).sum();
    if total == 0 || shape.participants == 0 {
        return out;
    }
    let mut t = HEAD_MS + r.range(0, 300);
    while out.len() < max_faults(duration_ms) {
        let mut pick = r.next_u64() % total;
        let kind = *kinds
            .iter()
            .find(|k| {
                if pick < k.weight() {
                    true
                } else {
                    pick -= k.weight();
                    false
                }
            })
            .expect("a kind");
        let p = format!("p{}", 1 + r.next_u64() % shape.participants as u64);
        let (target, hold_ms) = match kind {
            // A third of the kills hit a client (it restarts at once, as
            // its slot's next incarnation).
            FaultKind::Kill if !shape.clients.is_empty() && r.next_u64().is_multiple_of(3) => (
                shape.clients[(r.next_u64() % shape.clients.len() as u64) as usize].clone(),
                0,
            ),
            FaultKind::Kill => (p, r.range(50, 600)),
            FaultKind::Stop => (p, shape.failure_timeout_ms + r.range(200, 800)),
            FaultKind::RestartHa => ("ha".to_string(), r.range(100, 600)),
            FaultKind::TornTail => (p, r.range(50, 400)),
            FaultKind::Loss | FaultKind::Dup | FaultKind::Reorder | FaultKind::Delay => {
                (p, r.range(200, 1200))
            }
        };
        let detail = r.next_u64();
        if t + hold_ms + TAIL_MS > duration_ms {
            break;
        }
        out.push(Planned {
            at_ms: t,
            kind,
            target,
            hold_ms,
            detail,
        });
        t += hold_ms + r.range(200, 800);
    }
    out
}

// ---------------------------------------------------------------------
// The history.

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Put { key: Key, val: u64 },
    Del { key: Key },
    Get { key: Key },
}

impl OpKind {
    pub fn key(&self) -> Key {
        match self {
            OpKind::Put { key, .. } | OpKind::Del { key } | OpKind::Get { key } => *key,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Put { .. } => "put",
            OpKind::Del { .. } => "del",
            OpKind::Get { .. } => "get",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The client returned: the dtx reached `state` (STABLE, DONE, or
    /// SUPERSEDED: it lost to a newer version and had no effect).
    Acked {
        state: String,
        ts: Ts,
        inc: Inc,
        superseded: bool,
    },
    /// A read's answer (`version`: the highest version among the available
    /// replicas; a tombstone has a version and no value).
    Read {
        value: Option<u64>,
        version: Option<Ts>,
        tombstone: bool,
    },
    /// The client gave up or failed: the write may or may not have taken
    /// effect.
    Failed { error: String },
    /// The client process was killed by the nemesis: may or may not have
    /// taken effect.
    Killed,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Acked {
                superseded: true, ..
            } => "superseded",
            Outcome::Acked { .. } => "stable",
            Outcome::Read { .. } => "read",
            Outcome::Failed { .. } => "failed",
            Outcome::Killed => "killed",
        }
    }
}

/// One client operation: who, what, when (microseconds since the start of
/// the run: issue and return), and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HOp {
    pub id: u64,
    pub client: String,
    pub slot: usize,
    pub op: OpKind,
    pub start_us: u64,
    pub end_us: u64,
    pub outcome: Outcome,
}

impl HOp {
    /// A write the client saw STABLE (or DONE) and not superseded: what
    /// the cluster promised to keep.
    pub fn acked(&self) -> Option<(Ts, Inc)> {
        match (&self.op, &self.outcome) {
            (
                OpKind::Put { .. } | OpKind::Del { .. },
                Outcome::Acked {
                    ts,
                    inc,
                    superseded: false,
                    ..
                },
            ) => Some((*ts, *inc)),
            _ => None,
        }
    }

    /// The protocol's op of a write.
    pub fn proto_op(&self) -> Option<Op> {
        match self.op {
            OpKind::Put { key, val } => Some(Op::Put { key, val }),
            OpKind::Del { key } => Some(Op::Del { key }),
            OpKind::Get { .. } => None,
        }
    }
}

/// Every read against the writes it overlapped and the writes before it:
/// a read must not return a version older than a write acknowledged
/// STABLE before the read began (for a DEL: no value of a version below
/// it), and a value it returns must be one some PUT of that key wrote,
/// issued before the read returned, at that PUT's version when known.
/// Returns one line per violation.
pub fn check_reads(ops: &[HOp]) -> Vec<String> {
    let mut bad = Vec::new();
    let by_val: BTreeMap<u64, &HOp> = ops
        .iter()
        .filter_map(|o| match o.op {
            OpKind::Put { val, .. } => Some((val, o)),
            _ => None,
        })
        .collect();
    for r in ops {
        let (OpKind::Get { key }, Outcome::Read { value, version, .. }) = (&r.op, &r.outcome)
        else {
            continue;
        };
        let floor = ops
            .iter()
            .filter(|w| w.op.key() == *key && w.end_us < r.start_us)
            .filter_map(|w| w.acked().map(|(ts, _)| (ts, w)))
            .max_by_key(|(ts, _)| *ts);
        if let Some((ts, w)) = floor {
            let what = format!(
                "read #{} of k{key} by {} at {:.3}s",
                r.id,
                r.client,
                r.start_us as f64 / 1e6
            );
            match w.op {
                OpKind::Put { val, .. } if version.is_none_or(|v| v < ts) => bad.push(format!(
                    "{what} returned {} although put #{} (k{key}={val}, version {ts}) was STABLE at {:.3}s",
                    render_read(*value, *version),
                    w.id,
                    w.end_us as f64 / 1e6
                )),
                OpKind::Del { .. } if value.is_some() && version.is_none_or(|v| v < ts) => {
                    bad.push(format!(
                        "{what} returned {} although del #{} (version {ts}) was STABLE at {:.3}s",
                        render_read(*value, *version),
                        w.id,
                        w.end_us as f64 / 1e6
                    ))
                }
                _ => {}
            }
        }
        if let Some(v) = value {
            match by_val.get(v) {
                None => bad.push(format!(
                    "read #{} of k{key} returned {v}, which no put wrote",
                    r.id
                )),
                Some(w) if w.op.key() != *key || w.start_us > r.end_us => bad.push(format!(
                    "read #{} of k{key} returned {v}, written by put #{} of k{} issued at {:.3}s, after the read returned",
                    r.id,
                    w.id,
                    w.op.key(),
                    w.start_us as f64 / 1e6
                )),
                Some(w) => {
                    if let Outcome::Acked { ts, .. } = w.outcome {
                        if *version != Some(ts) {
                            bad.push(format!(
                                "read #{} of k{key} returned {v} at version {:?}; put #{} wrote it at version {ts}",
                                r.id, version, w.id
                            ));
                        }
                    }
                }
            }
        }
    }
    bad
}

fn render_read(value: Option<u64>, version: Option<Ts>) -> String {
    match (value, version) {
        (Some(v), Some(ver)) => format!("{v} (version {ver})"),
        (None, Some(ver)) => format!("a tombstone (version {ver})"),
        _ => "not found".to_string(),
    }
}

/// The acknowledged writes, as dtx ids with their ops.
pub fn acked_writes(ops: &[HOp]) -> Vec<(TxId, Op, &HOp)> {
    ops.iter()
        .filter_map(|o| {
            let (ts, inc) = o.acked()?;
            Some((
                TxId {
                    ts,
                    slot: o.slot as u8,
                    inc,
                },
                o.proto_op()?,
                o,
            ))
        })
        .collect()
}

/// Every acknowledged write durable on every replica (`durable_in`, the
/// model's definition), and every replica's record of each key at least
/// as new as the newest acknowledged write of it. One line per violation.
pub fn check_acked(ops: &[HOp], stores: &[(String, PartStore)], collects: bool) -> Vec<String> {
    use crate::model::properties::{durable_in, logical_kv};
    let mut bad = Vec::new();
    let acked = acked_writes(ops);
    for (name, st) in stores {
        let missing: Vec<String> = acked
            .iter()
            .filter(|(tx, op, _)| !durable_in(collects, st, *tx, op.key(), Version::of(*tx, op)))
            .map(|(tx, op, o)| {
                format!("#{} {}", o.id, crate::protocol::types::render_op(op, tx.ts))
            })
            .collect();
        if !missing.is_empty() {
            bad.push(format!(
                "{name} lacks {} acknowledged write(s): {}",
                missing.len(),
                missing
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let kv = logical_kv(collects, st);
        let mut newest: BTreeMap<Key, (Version, &HOp)> = BTreeMap::new();
        for (tx, op, o) in &acked {
            let v = Version::of(*tx, op);
            let e = newest.entry(op.key()).or_insert((v, o));
            if v > e.0 {
                *e = (v, o);
            }
        }
        for (key, (v, o)) in newest {
            let have = kv.get(&key).map(|r| r.ver);
            // Absent is fine for a DEL where no tombstone need stay.
            if have.is_none_or(|h| h < v) && !(v.del && have.is_none() && collects) {
                bad.push(format!(
                    "{name}: k{key} is at {} but #{} (version {}) was acknowledged",
                    have.map_or("nothing".to_string(), |h| format!("version {}", h.ts)),
                    o.id,
                    v.ts
                ));
            }
        }
    }
    bad
}

// ---------------------------------------------------------------------
// The verdicts.

/// One verdict of a run: a model property (`S1`..) or a history check
/// (`H1`..).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    pub id: String,
    pub name: String,
    pub holds: bool,
    /// What failed (the first few lines), where it failed.
    pub explanation: Option<String>,
}

impl Check {
    pub fn from_lines(id: &str, name: &str, bad: &[String]) -> Check {
        Check {
            id: id.into(),
            name: name.into(),
            holds: bad.is_empty(),
            explanation: (!bad.is_empty()).then(|| {
                let mut s = bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
                if bad.len() > 3 {
                    s += &format!("; and {} more", bad.len() - 3);
                }
                s
            }),
        }
    }
}

/// The model properties judged on a nemesis run's final state: those
/// that read stores, views and scripts (the others read messages, restore
/// rounds or live originators' dtxs, which the final state of a live run
/// does not hold).
pub const MODEL_PROPS: &[&str] = &["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S12"];

/// What the judge reads of a live cluster at the end of a run.
pub struct Final {
    /// The cluster as run (variants, `k`, originator names).
    pub cluster: Cluster,
    /// Keys `1..=keys` were written.
    pub keys: Key,
    /// Each participant's durable store (from its log).
    pub stores: Vec<PartStore>,
    /// Each originator slot's store (its incarnation counter and the
    /// STABLE ghost), if it ran.
    pub orig_stores: Vec<Option<OrigStore>>,
    /// HA's state.
    pub ha: HaState,
}

/// The model's properties on the final state: a model of the cluster
/// whose originator scripts are the writes the run issued (per slot and
/// incarnation, from the history and the stores), and a state whose
/// participants are at rest on their durable stores, with HA's table as
/// HA holds it, nothing in flight and no timer set.
pub fn judge_model(f: &Final, ops: &[HOp]) -> Vec<Check> {
    let mut c = f.cluster.clone();
    c.keys = f.keys;
    c.ghosts = true;
    // Scripts: every dtx id the run is known to have issued.
    let mut issued: BTreeMap<(usize, Inc), BTreeSet<(Ts, Op)>> = BTreeMap::new();
    for o in ops {
        if let (Some((ts, inc)), Some(op)) = (
            match &o.outcome {
                Outcome::Acked { ts, inc, .. } => Some((*ts, *inc)),
                _ => None,
            },
            o.proto_op(),
        ) {
            issued.entry((o.slot, inc)).or_default().insert((ts, op));
        }
    }
    for st in &f.stores {
        let logged = st.log.iter().map(|r| (r.id, r.op));
        for (id, op) in logged.chain(st.ghost.pruned.iter().copied()) {
            issued
                .entry((id.slot as usize, id.inc))
                .or_default()
                .insert((id.ts, op));
        }
    }
    for (slot, o) in c.originators.iter_mut().enumerate() {
        let incs: Vec<Inc> = issued
            .keys()
            .filter(|(s, _)| *s == slot)
            .map(|(_, i)| *i)
            .collect();
        let first = incs.iter().copied().min().unwrap_or(1);
        let last = incs.iter().copied().max().unwrap_or(0);
        o.first_inc = first;
        o.plan = (first..=last)
            .map(|inc| {
                issued
                    .get(&(slot, inc))
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default()
            })
            .collect();
        o.reads = Vec::new();
    }
    let spec = ModelSpec {
        name: "nemesis".into(),
        description: String::new(),
        budgets: vec![0; c.n + c.m() + 1],
        cluster: c.clone(),
        network: NetworkKind::Unordered,
        max_concurrent_crashes: 0,
        check: CheckFile::default(),
        expect: Expect {
            verdict: Verdict::Hold,
            properties: Vec::new(),
        },
        source: String::new(),
        extra_variants: Vec::new(),
    };
    let m = build(&spec);
    let mut s: SysState = m.init_states().remove(0);
    s.network = Network::new_unordered_nonduplicating([]);
    for t in s.timers_set.iter_mut() {
        *t = Default::default();
    }
    for x in s.crashed.iter_mut() {
        *x = false;
    }
    for (p, st) in f.stores.iter().enumerate() {
        let Some(mut ps) = s.actor_states[p].participant().cloned() else {
            continue;
        };
        ps.inc = st.inc;
        ps.kv = st.kv.clone();
        ps.log = st.log.to_vec();
        ps.ndur = st.log.len() as crate::protocol::types::Pos;
        ps.base = st.base;
        ps.seq = f.ha.seq;
        ps.view = f.ha.table.clone();
        ps.early.clear();
        ps.shadow.clear();
        ps.declared = true;
        ps.ghost.durable = st.ghost.clone();
        s.actor_states[p] = Arc::new(Dtm0State::Participant(ps));
        s.actor_storages[p] = Some(Dtm0Store::Participant(st.clone()));
    }
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        let Some(mut os) = s.actor_states[i].originator().cloned() else {
            continue;
        };
        let store = f.orig_stores.get(slot).cloned().flatten();
        os.inc = store.as_ref().map_or(1, |x| x.inc);
        os.seq = f.ha.seq;
        os.view = f.ha.table.clone();
        os.issued = true;
        os.dtxs.clear();
        os.outbox.clear();
        os.reads.clear();
        os.ghost = store.as_ref().map(|x| x.ghost.clone()).unwrap_or_default();
        s.actor_states[i] = Arc::new(Dtm0State::Originator(os));
        s.actor_storages[i] = store.map(Dtm0Store::Originator);
    }
    let hi = usize::from(c.ha_id());
    s.actor_states[hi] = Arc::new(Dtm0State::Ha(f.ha.clone()));
    let quiescent = crate::model::properties::quiescent(&m, &s);
    let mut out = vec![Check {
        id: "Q".into(),
        name: "model: quiescent final state (every participant ONLINE in HA's table)".into(),
        holds: quiescent,
        explanation: (!quiescent).then(|| {
            let t = &f.ha.table;
            let rows: Vec<String> = (0..c.n)
                .map(|p| format!("p{}#{} {}", p + 1, t.get(p).0, t.get(p).1.name()))
                .collect();
            format!(
                "HA's table: {} (S2, S3, S5, S6 hold vacuously off quiescence)",
                rows.join(", ")
            )
        }),
    }];
    for p in crate::model::properties::PROPS {
        if !MODEL_PROPS.contains(&p.id) || (p.id == "S12" && !c.collects()) {
            continue;
        }
        let holds = (p.check)(&m, &s);
        out.push(Check {
            id: p.id.into(),
            name: format!("model: {}", p.name),
            holds,
            explanation: if holds { None } else { (p.why)(&m, &s) },
        });
    }
    out
}

/// Whether every participant is ONLINE in HA's table.
pub fn all_online(ha: &HaState, n: usize) -> bool {
    (0..n).all(|p| ha.table.get(p).1 == HaSt::Online)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            participants: 3,
            clients: vec!["o".into(), "q".into(), "r".into()],
            failure_timeout_ms: 1000,
        }
    }

    #[test]
    fn same_seed_same_schedule_and_seeds_differ() {
        let k = FaultKind::ALL;
        let a = schedule(1, 60_000, &k, &shape());
        assert_eq!(a, schedule(1, 60_000, &k, &shape()));
        assert_ne!(a, schedule(2, 60_000, &k, &shape()));
        assert!(a.len() >= 20, "{} faults in 60 s", a.len());
        // Every kind is drawn on a long run.
        for kind in k {
            assert!(a.iter().any(|p| p.kind == kind), "{kind:?} never drawn");
        }
    }

    #[test]
    fn schedules_are_bounded_sequential_and_use_only_the_kinds_given() {
        for seed in 0..50 {
            for (dur, kinds) in [
                (60_000, FaultKind::DEFAULT.to_vec()),
                (8_000, vec![FaultKind::Kill]),
                (3_000, vec![FaultKind::Stop, FaultKind::Delay]),
                (400, vec![FaultKind::Kill]),
            ] {
                let s = schedule(seed, dur, &kinds, &shape());
                assert!(s.len() <= max_faults(dur));
                let mut end = 0;
                for p in &s {
                    assert!(kinds.contains(&p.kind));
                    assert!(p.at_ms >= HEAD_MS && p.at_ms >= end, "overlap: {s:?}");
                    end = p.at_ms + p.hold_ms;
                    assert!(end + TAIL_MS <= dur, "past the end: {p:?}");
                    if p.kind == FaultKind::Stop {
                        assert!(p.hold_ms > 1000, "a stop outlasts the failure timeout");
                    }
                    let ok = match p.kind {
                        FaultKind::RestartHa => p.target == "ha",
                        FaultKind::Kill => {
                            p.target.starts_with('p') || ["o", "q", "r"].contains(&&*p.target)
                        }
                        _ => ["p1", "p2", "p3"].contains(&&*p.target),
                    };
                    assert!(ok, "{p:?}");
                }
            }
        }
        assert!(schedule(1, 400, &[FaultKind::Kill], &shape()).is_empty());
    }

    #[test]
    fn fault_kinds_parse_or_say_which_is_unknown() {
        assert_eq!(
            parse_faults("kill, torn-tail,kill").unwrap(),
            vec![FaultKind::Kill, FaultKind::TornTail]
        );
        let e = parse_faults("kill,explode").unwrap_err();
        assert!(e.contains("`explode`") && e.contains("restart-ha"), "{e}");
        assert!(!e.contains('\n'));
        assert!(parse_faults(",").is_err());
    }

    fn op(id: u64, op: OpKind, start: u64, end: u64, outcome: Outcome) -> HOp {
        HOp {
            id,
            client: "o".into(),
            slot: 0,
            op,
            start_us: start,
            end_us: end,
            outcome,
        }
    }

    fn acked(ts: Ts) -> Outcome {
        Outcome::Acked {
            state: "STABLE".into(),
            ts,
            inc: 2,
            superseded: false,
        }
    }

    fn read(value: Option<u64>, version: Option<Ts>) -> Outcome {
        Outcome::Read {
            value,
            version,
            tombstone: value.is_none() && version.is_some(),
        }
    }

    /// An honest history: reads see the last STABLE write, or a write
    /// they overlap.
    fn honest() -> Vec<HOp> {
        vec![
            op(1, OpKind::Put { key: 1, val: 1 }, 0, 10, acked(100)),
            op(2, OpKind::Get { key: 1 }, 20, 30, read(Some(1), Some(100))),
            // put 3 overlaps read 4: either answer is fine
            op(3, OpKind::Put { key: 1, val: 3 }, 40, 60, acked(400)),
            op(4, OpKind::Get { key: 1 }, 50, 55, read(Some(1), Some(100))),
            op(5, OpKind::Del { key: 1 }, 70, 80, acked(700)),
            op(6, OpKind::Get { key: 1 }, 90, 95, read(None, Some(700))),
            // a killed put: may show up later, or not
            op(7, OpKind::Put { key: 1, val: 7 }, 100, 105, Outcome::Killed),
            op(
                8,
                OpKind::Get { key: 1 },
                110,
                120,
                read(Some(7), Some(1100)),
            ),
            op(9, OpKind::Get { key: 2 }, 110, 120, read(None, None)),
        ]
    }

    #[test]
    fn an_honest_history_passes() {
        assert_eq!(check_reads(&honest()), Vec::<String>::new());
    }

    #[test]
    fn stale_reads_resurrections_and_invented_values_are_caught() {
        // A read after put 3 was STABLE returns the older value.
        let mut h = honest();
        h[3].start_us = 61;
        h[3].end_us = 65;
        let bad = check_reads(&h);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].contains("read #4") && bad[0].contains("put #3"),
            "{bad:?}"
        );
        // A read after the DEL was STABLE returns the deleted value.
        let mut h = honest();
        h[5].outcome = read(Some(3), Some(400));
        let bad = check_reads(&h);
        assert!(bad.len() == 1 && bad[0].contains("del #5"), "{bad:?}");
        // "not found" after a STABLE put.
        let mut h = honest();
        h[1].outcome = read(None, None);
        assert!(check_reads(&h)[0].contains("not found"));
        // A value nobody wrote, and a value read before its put was issued.
        let mut h = honest();
        h[8].outcome = read(Some(99), Some(5));
        assert!(check_reads(&h)[0].contains("no put wrote"));
        let mut h = honest();
        h[1].outcome = read(Some(3), Some(400));
        assert!(check_reads(&h)
            .iter()
            .any(|l| l.contains("after the read returned")));
        // The right value at the wrong version.
        let mut h = honest();
        h[1].outcome = read(Some(1), Some(101));
        assert!(check_reads(&h)[0].contains("version"));
    }

    #[test]
    fn acknowledged_writes_must_be_on_every_replica() {
        use crate::protocol::types::{Rec, StateVec, Txr};
        let h = honest();
        let tx = |ts| TxId {
            ts,
            slot: 0,
            inc: 2,
        };
        let full = PartStore {
            inc: 1,
            kv: [(
                1,
                Rec {
                    ver: Version::of(tx(700), &Op::Del { key: 1 }),
                    val: 0,
                },
            )]
            .into(),
            log: [
                (100, Op::Put { key: 1, val: 1 }),
                (400, Op::Put { key: 1, val: 3 }),
                (700, Op::Del { key: 1 }),
            ]
            .iter()
            .map(|&(ts, op)| Txr {
                id: tx(ts),
                op,
                sv: StateVec::default(),
            })
            .collect(),
            base: 0,
            ghost: Default::default(),
        };
        assert!(check_acked(&h, &[("p1".into(), full.clone())], false).is_empty());
        // p2 lost the DEL: it lacks it and its k1 is behind.
        let mut lost = full.clone();
        lost.log.make_flat().pop();
        lost.kv.insert(
            1,
            Rec {
                ver: Version::of(tx(400), &Op::Put { key: 1, val: 3 }),
                val: 3,
            },
        );
        let bad = check_acked(&h, &[("p1".into(), full), ("p2".into(), lost)], false);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad.iter().all(|l| l.starts_with("p2")), "{bad:?}");
    }

    /// The model's properties on a fabricated final state: a write on both
    /// replicas passes; the same write on one replica only is caught (S2
    /// convergence, S6 atomicity), so the judge is not vacuous.
    #[test]
    fn the_model_judges_a_final_state_and_catches_a_replica_that_lacks_a_write() {
        use crate::protocol::types::{Rec, St, StateVec, Txr};
        let spec = crate::live::spec::LiveSpec::parse(&crate::live::spec::LiveSpec::local_text(
            "t",
            2,
            &["o"],
            7100,
        ))
        .unwrap();
        let tx = TxId {
            ts: 640,
            slot: 0,
            inc: 2,
        };
        let put = Op::Put { key: 1, val: 7 };
        let mut sv = StateVec::default();
        sv.raise(0, St::P);
        sv.raise(1, St::P);
        let with = PartStore {
            inc: 1,
            kv: [(
                1,
                Rec {
                    ver: Version::of(tx, &put),
                    val: 7,
                },
            )]
            .into(),
            log: vec![Txr {
                id: tx,
                op: put,
                sv,
            }]
            .into(),
            base: 0,
            ghost: Default::default(),
        };
        let without = PartStore {
            kv: Default::default(),
            log: Vec::new().into(),
            ..with.clone()
        };
        let ops = vec![op(1, OpKind::Put { key: 1, val: 7 }, 0, 10, acked(640))];
        let ha = HaState {
            seq: 3,
            table: crate::protocol::msg::HaTable(vec![(1, HaSt::Online); 4]),
        };
        let fin = |stores: Vec<PartStore>| Final {
            cluster: spec.cluster.clone(),
            keys: 1,
            stores,
            orig_stores: vec![Some(OrigStore {
                inc: 2,
                ghost: crate::protocol::originator::OrigGhost { stable: vec![tx] },
            })],
            ha: ha.clone(),
        };
        let good = judge_model(&fin(vec![with.clone(), with.clone()]), &ops);
        assert!(good.iter().all(|c| c.holds), "{good:?}");
        assert!(good.iter().any(|c| c.id == "Q") && good.iter().any(|c| c.id == "S6"));
        let bad = judge_model(&fin(vec![with, without]), &ops);
        let failed: Vec<&str> = bad
            .iter()
            .filter(|c| !c.holds)
            .map(|c| c.id.as_str())
            .collect();
        assert!(failed.contains(&"S2") && failed.contains(&"S6"), "{bad:?}");
        assert!(!failed.contains(&"Q"), "still quiescent: {bad:?}");
    }
}
