//! `dtm0 client`: one originator incarnation of a live cluster. It comes
//! up as the next incarnation of its slot (HA marks it ONLINE, which
//! declares the previous one FAILED, so participants evict what that one
//! left unfinished), issues its dtxs, and returns when each is EXECUTED
//! (or STABLE). `get` asks every participant for its record of a key and
//! keeps the highest version among those available (the read rule).

use super::node::{request, Node};
use super::spec::LiveSpec;
use super::wire::Wire;
use crate::protocol::actor::Dtm0State;
use crate::protocol::originator::{DtxSt, OrigStore};
use crate::protocol::types::{Key, Op, Rec, Ts};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    Executed,
    Stable,
    /// Persistent on every participant.
    Done,
}

#[derive(Clone, Debug, Serialize)]
pub struct DtxReport {
    pub txid: String,
    pub op: String,
    pub version: Ts,
    /// The dtx state reached, or `SUPERSEDED` where a participant said
    /// the op lost to a newer version (it had no effect there).
    pub state: &'static str,
    pub superseded: bool,
    pub sv: String,
    /// Microseconds from issue to EXECUTED and to STABLE, where reached.
    pub executed_us: Option<u64>,
    pub stable_us: Option<u64>,
}

/// The key of `k17` or `17`.
pub fn parse_key(s: &str) -> Result<Key, String> {
    s.strip_prefix('k')
        .unwrap_or(s)
        .parse::<Key>()
        .ok()
        .filter(|&k| k > 0)
        .ok_or_else(|| format!("KEY `{s}`: keys are k1, k2, ... (or 1, 2, ...)"))
}

/// Timestamps are `microseconds * SLOT_SPAN + slot`.
pub const SLOT_SPAN: Ts = 64;

/// Microseconds since the epoch: the originator's clock, `max(now, last + 1)`
/// within the run.
pub fn now_us() -> Ts {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as Ts)
        .unwrap_or(1)
}

/// Runs one client incarnation of slot `slot` issuing `ops`.
pub fn run(
    spec: &Arc<LiveSpec>,
    slot: usize,
    data: &Path,
    ops: &[Op],
    wait: Wait,
    timeout: Duration,
) -> Result<Vec<DtxReport>, String> {
    run_with_clock(spec, slot, data, ops, wait, timeout, Duration::ZERO)
}

/// `run` with a clock that lags the real one by `lag` (a client that
/// rebooted with its clock behind): its dtxs can lose to versions written
/// before, and are then reported `SUPERSEDED`.
pub fn run_with_clock(
    spec: &Arc<LiveSpec>,
    slot: usize,
    data: &Path,
    ops: &[Op],
    wait: Wait,
    timeout: Duration,
    lag: Duration,
) -> Result<Vec<DtxReport>, String> {
    let c = &spec.cluster;
    if slot >= c.m() || slot as Ts >= SLOT_SPAN {
        return Err(format!(
            "no originator slot {slot} in the cluster file (at most {SLOT_SPAN})"
        ));
    }
    let name = &c.originators[slot].name;
    std::fs::create_dir_all(data).map_err(|e| format!("--data {}: {e}", data.display()))?;
    let f = data.join(format!("{name}.inc"));
    let last = match std::fs::read(&f) {
        Ok(b) => {
            postcard::from_bytes::<OrigStore>(&b)
                .map_err(|e| format!("{}: corrupt: {e}", f.display()))?
                .inc
        }
        Err(_) => {
            // The configured first incarnation is the cluster's own; a
            // client always comes up as a restart, so HA hears of it.
            let st = OrigStore {
                inc: 1,
                ghost: Default::default(),
            };
            super::disk::write_atomic(&f, &postcard::to_allocvec(&st).expect("encode"))
                .map_err(|e| format!("{}: {e}", f.display()))?;
            1
        }
    };
    let inc = last + 1;
    // The version order breaks timestamp ties by writer, but a cluster
    // may run Motr's order (`motr-version-order`), where a tie keeps
    // whichever record came first: so two slots never draw the same
    // timestamp here (the slot is the low bits, up to 64 slots).
    let now = now_us().saturating_sub(lag.as_micros() as Ts).max(1);
    let t0 = now * SLOT_SPAN + slot as Ts;
    let planned: Vec<(Ts, Op)> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| (t0 + SLOT_SPAN * i as Ts, *op))
        .collect();
    let cluster = Arc::new(spec.cluster_for_client(slot, inc, planned));
    let id = cluster.originator_id(slot);
    let mut node = Node::start(spec.clone(), cluster, id, data, false)?;
    let start = Instant::now();
    let mut executed_at: Vec<Option<u64>> = vec![None; ops.len()];
    let mut stable_at: Vec<Option<u64>> = vec![None; ops.len()];
    let mut issued_at: Option<Instant> = None;
    loop {
        node.poll(Duration::from_millis(5))?;
        let Dtm0State::Originator(o) = node.state() else {
            unreachable!("an originator")
        };
        if o.issued && issued_at.is_none() {
            issued_at = Some(Instant::now());
        }
        if let Some(t) = issued_at {
            let us = t.elapsed().as_micros() as u64;
            for (i, d) in o.dtxs.iter().enumerate() {
                if d.st >= DtxSt::Executed && executed_at[i].is_none() {
                    executed_at[i] = Some(us);
                }
                if d.st >= DtxSt::Stable && stable_at[i].is_none() {
                    stable_at[i] = Some(us);
                }
            }
        }
        let want = match wait {
            Wait::Executed => DtxSt::Executed,
            Wait::Stable => DtxSt::Stable,
            Wait::Done => DtxSt::Done,
        };
        let done = o.issued && o.dtxs.len() == ops.len() && o.dtxs.iter().all(|d| d.st >= want);
        if done || start.elapsed() > timeout {
            let reports: Vec<DtxReport> = o
                .dtxs
                .iter()
                .enumerate()
                .map(|(i, d)| DtxReport {
                    txid: format!("{name}{}@{}", d.id.inc, d.id.ts),
                    op: crate::protocol::types::render_op(&d.op, d.id.ts),
                    version: d.id.ts,
                    state: if d.superseded.0 && d.st >= DtxSt::Executed {
                        "SUPERSEDED"
                    } else {
                        d.st.name()
                    },
                    superseded: d.superseded.0,
                    sv: d.sv.render(spec.n()),
                    executed_us: executed_at[i],
                    stable_us: stable_at[i],
                })
                .collect();
            if !done {
                let what = if o.issued {
                    "not every dtx reached the wanted state"
                } else {
                    "HA did not bring this incarnation ONLINE (is HA running?)"
                };
                let mut by = std::collections::BTreeMap::<&str, usize>::new();
                for r in &reports {
                    *by.entry(r.state).or_insert(0usize) += 1;
                }
                return Err(format!(
                    "timed out after {timeout:?}: {what} (dtxs by state: {by:?})"
                ));
            }
            return Ok(reports);
        }
    }
}

/// The answer of `get`, by the model's read rule (README, "Reads";
/// `types::read_result`): the highest version among the participants
/// available to a read (ONLINE or RECOVERING in their own view of HA).
#[derive(Clone, Debug, Serialize)]
pub struct GetReport {
    pub key: String,
    /// `None`: no live record (absent, or a tombstone is the highest).
    pub value: Option<u64>,
    pub version: Option<Ts>,
    pub tombstone: bool,
    pub asked: Vec<String>,
    /// The participants whose answer counted (ONLINE or RECOVERING).
    pub online: Vec<String>,
}

pub fn get(spec: &LiveSpec, key: Key, timeout: Duration) -> Result<GetReport, String> {
    let mut replies: Vec<Option<Rec>> = Vec::new();
    let mut asked = Vec::new();
    let mut online = Vec::new();
    for p in 0..spec.n() {
        let id = spec.cluster.participant_id(p);
        let name = spec.name_of(id);
        asked.push(name.clone());
        let Ok(Wire::Record { rec, available, .. }) = request(
            &spec.auth,
            spec.addr_of(id).expect("addr"),
            &Wire::Get { key },
            timeout,
        ) else {
            continue;
        };
        if !available {
            continue;
        }
        online.push(name);
        replies.push(rec);
    }
    if online.is_empty() {
        return Err(format!(
            "no ONLINE or RECOVERING participant answered (asked {})",
            asked.join(", ")
        ));
    }
    let best = crate::protocol::types::read_result(replies, spec.cluster.variants.version_order);
    Ok(GetReport {
        key: format!("k{key}"),
        value: best.filter(|r| r.alive()).map(|r| r.val),
        version: best.map(|r| r.ver.ts),
        tombstone: best.is_some_and(|r| !r.alive()),
        asked,
        online,
    })
}
