//! Steps and states in protocol terms, in the seed's notation: who sent
//! what to whom, who crashed, what each log and catalogue holds.

use crate::model::table::{dtx_name, orig_name};
use crate::model::{incarnation, Action, ModelCfg, SysState};
use crate::protocol::cluster::Cluster;
use crate::protocol::cluster::Proc;
use crate::protocol::msg::{HaTable, Msg, Timer};
use crate::protocol::types::{render_op, Key, Kv, Txr};
use stateright::actor::{ActorModelAction, Id};
use std::fmt::Write;

fn proc_name(cfg: &ModelCfg, id: Id, inc: Option<crate::protocol::types::Inc>) -> String {
    let c = &cfg.cluster;
    match c.proc_of(id) {
        Proc::Originator(_) => match inc {
            Some(i) if i > 0 => c.name(id, i),
            _ => c.name(id, 0).trim_end_matches('0').to_string(),
        },
        _ => c.name(id, 0),
    }
}

/// HA's table as `p1 ONLINE, p2 RECOVERING#2, o2 ONLINE`.
pub fn table(cfg: &ModelCfg, t: &HaTable) -> String {
    let c = &cfg.cluster;
    let mut parts = Vec::new();
    for (i, &(inc, st)) in t.0.iter().enumerate() {
        let name = if i < c.n {
            c.participant_name(i)
        } else {
            format!("{}{}", c.originators[i - c.n].name, inc)
        };
        let inc_note = if i < c.n && inc > 1 {
            format!("#{inc}")
        } else {
            String::new()
        };
        parts.push(format!("{name}{inc_note} {}", st.name()));
    }
    parts.join(", ")
}

/// A message as `EXECUTE o1@10 PUT k1 @10`.
pub fn message(cfg: &ModelCfg, msg: &Msg) -> String {
    let c = &cfg.cluster;
    let n = c.n;
    match msg {
        Msg::Execute { tx, op, .. } => {
            format!("EXECUTE {} [{}]", c.txid_name(tx), render_op(op, tx.ts))
        }
        Msg::Executed { tx, superseded, .. } => format!(
            "EXECUTED {}{}",
            c.txid_name(tx),
            if superseded.0 { " superseded" } else { "" }
        ),
        Msg::Persistent { tx, sv, .. } => {
            format!("PERSISTENT {} st={}", c.txid_name(tx), sv.render(n))
        }
        Msg::Redo { txr, .. } => format!("REDO {}", record(cfg, txr)),
        Msg::RedoAck { tx, .. } => format!("REDO-ACK {}", c.txid_name(tx)),
        Msg::Eol { .. } => "EOL".into(),
        Msg::View { seq, table: t, .. } => format!("HA view #{seq}: {}", table(cfg, t)),
        Msg::Starting { inc } => format!("starting (incarnation {inc})"),
        Msg::Ready { .. } => "ready to RECOVERING".into(),
        Msg::Recovered { .. } => "recovered, ready to ONLINE".into(),
        Msg::Down { inc } => format!("down (incarnation {inc}: no heartbeat)"),
        Msg::Failed { inc } => format!("failed for good (incarnation {inc}, storage lost)"),
        Msg::Get { key, .. } => format!("GET k{key}"),
        Msg::GetReply { key, rec, .. } => format!("GET-REPLY {}", read_rec(*key, rec.as_ref())),
    }
}

/// A replica's answer to a GET, or a read's result: `k1@10=1` (alive, with
/// its value), `k1@12 deleted` (a tombstone), `no k1` (no record).
pub fn read_rec(
    key: crate::protocol::types::Key,
    r: Option<&crate::protocol::types::Rec>,
) -> String {
    match r {
        None => format!("no k{key}"),
        Some(r) if r.alive() => format!("k{key}@{}={}", r.ver.ts, r.val),
        Some(r) => format!("k{key}@{} deleted", r.ver.ts),
    }
}

/// A read of an originator: `GET k1 waiting`, `GET k1 asked p1, p2`,
/// `GET k1 = k1@10=1 (2 answered)`, `GET k1 failed (no answer)`.
pub fn read(c: &Cluster, r: &crate::protocol::originator::Read) -> String {
    use crate::protocol::originator::ReadPhase;
    let k = r.key;
    match r.phase {
        ReadPhase::Waiting => format!("GET k{k} waiting"),
        ReadPhase::Asked => {
            let asked: Vec<String> = r
                .pending
                .iter()
                .map(|&(p, _)| c.participant_name(p as usize))
                .collect();
            format!("GET k{k} asked {}", asked.join(", "))
        }
        ReadPhase::Done if r.answered == 0 => format!("GET k{k} failed (no answer)"),
        ReadPhase::Done => format!(
            "GET k{k} = {} ({} answered)",
            read_rec(k, r.best.as_ref()),
            r.answered
        ),
    }
}

/// A log record as `o1@10[CAS PUT k1 @10 st=PVV]`.
pub fn record(cfg: &ModelCfg, r: &Txr) -> String {
    let c = &cfg.cluster;
    format!(
        "{}[CAS {} st={}]",
        c.txid_name(&r.id),
        render_op(&r.op, r.id.ts),
        r.sv.render(c.n)
    )
}

fn sender_inc(msg: &Msg) -> Option<crate::protocol::types::Inc> {
    match msg {
        Msg::Execute { tx, .. } => Some(tx.inc),
        Msg::Starting { inc } => Some(*inc),
        Msg::Get { from, .. } => Some(*from),
        _ => None,
    }
}

/// One step of a path.
pub fn action(cfg: &ModelCfg, a: &Action) -> String {
    match a {
        ActorModelAction::Deliver { src, dst, msg } => format!(
            "{} -> {}: {}",
            proc_name(cfg, *src, sender_inc(msg)),
            proc_name(cfg, *dst, msg.to_inc()),
            message(cfg, msg)
        ),
        ActorModelAction::Drop(env) => format!(
            "network loses {} -> {}: {}",
            proc_name(cfg, env.src, sender_inc(&env.msg)),
            proc_name(cfg, env.dst, env.msg.to_inc()),
            message(cfg, &env.msg)
        ),
        ActorModelAction::Timeout(id, Timer::Commit) => {
            let p = proc_name(cfg, *id, None);
            format!("{p}disk -> {p}: committed")
        }
        ActorModelAction::Timeout(id, Timer::Send) => {
            format!("{}: sends its next request", proc_name(cfg, *id, None))
        }
        ActorModelAction::Timeout(id, Timer::Fail) => {
            format!("{}proc: fails for good", proc_name(cfg, *id, None))
        }
        ActorModelAction::Crash(id) => format!("{}proc: crash", proc_name(cfg, *id, None)),
        ActorModelAction::Recover(id) => format!("{}proc: restart", proc_name(cfg, *id, None)),
        ActorModelAction::SelectRandom { .. } => "random choice".into(),
    }
}

/// A live catalogue entry: `k1@10`, with its value where it is not the
/// default one (a `put k1` writes the key's number): `k1@10=7`. Two
/// replicas that differ only in value print differently.
pub fn kv_entry(key: crate::protocol::types::Key, r: &crate::protocol::types::Rec) -> String {
    if r.val == crate::protocol::types::Val::from(key) {
        format!("k{key}@{}", r.ver.ts)
    } else {
        format!("k{key}@{}={}", r.ver.ts, r.val)
    }
}

/// `kvs = {k1@10}, tombstones = {k2@101}` as the seed writes it. Keys in
/// `differ` (their records differ between replicas) show value and writer
/// too: `k1@10=2 by q1`, tombstone `k1@10 by o1`.
pub fn kv(cl: &Cluster, c: &Kv, differ: &std::collections::BTreeSet<Key>) -> String {
    let by = |r: &crate::protocol::types::Rec| {
        let slot = r.ver.slot as usize;
        if slot < cl.m() {
            format!(" by {}", orig_name(cl, slot, r.ver.inc))
        } else {
            String::new()
        }
    };
    let live: Vec<String> = c
        .iter()
        .filter(|(_, r)| r.alive())
        .map(|(k, r)| {
            if differ.contains(k) {
                format!("k{k}@{}={}{}", r.ver.ts, r.val, by(r))
            } else {
                kv_entry(*k, r)
            }
        })
        .collect();
    let dead: Vec<String> = c
        .iter()
        .filter(|(_, r)| !r.alive())
        .map(|(k, r)| {
            if differ.contains(k) {
                format!("k{k}@{}{}", r.ver.ts, by(r))
            } else {
                format!("k{k}@{}", r.ver.ts)
            }
        })
        .collect();
    let set = |v: Vec<String>| {
        if v.is_empty() {
            "<empty set>".to_string()
        } else {
            format!("{{ {} }}", v.join(", "))
        }
    };
    format!("kvs = {}, tombstones = {}", set(live), set(dead))
}

/// `{ a, b }`, or `{}`.
fn braces(v: &[String]) -> String {
    if v.is_empty() {
        "{}".into()
    } else {
        format!("{{ {} }}", v.join(", "))
    }
}

/// The whole system state, a line per process, in the notation of the
/// seed's table (`table::snapshot`: each log as `R1[CAS PUT k1 @10
/// st=PVV]`, each originator's dtxs, each catalogue), plus what the table
/// leaves out: incarnations, records not yet committed, HA's table, the
/// messages in flight.
pub fn state(cfg: &ModelCfg, s: &SysState) -> String {
    let c = &cfg.cluster;
    let snap = crate::model::table::snapshot(cfg, s, &[]);
    let column = |name: &str| {
        snap.columns
            .iter()
            .find(|col| col.name == name)
            .map(|col| col.entries.clone())
            .unwrap_or_default()
    };
    let mut out = String::new();
    for p in 0..c.n {
        let name = c.participant_name(p);
        let inc = incarnation(s, p);
        let kv = snap
            .kvs
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(String::new(), |(_, kv)| kv.clone());
        if crate::model::failed(s, p) {
            let _ = writeln!(
                out,
                "{name} (incarnation {inc}) FAILED for good: storage lost, never back"
            );
            continue;
        }
        if s.crashed[p] {
            let on_disk: Vec<String> = column(&name).into_iter().skip(1).collect();
            let _ = writeln!(
                out,
                "{name} (incarnation {inc}) CRASHED; on disk: log {}; {kv}",
                braces(&on_disk)
            );
            continue;
        }
        let ndur = s.actor_states[p]
            .participant()
            .map_or(0, |ps| ps.ndur as usize);
        let recs: Vec<String> = column(&name)
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                if i < ndur {
                    e
                } else {
                    format!("{e} (not committed)")
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "{name} (incarnation {inc}): log {}; {kv}",
            braces(&recs)
        );
    }
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        let name = orig_name(c, slot, incarnation(s, i));
        if s.crashed[i] {
            let _ = writeln!(out, "{name} CRASHED");
            continue;
        }
        let reads: Vec<String> = s.actor_states[i]
            .originator()
            .map(|o| o.reads.iter().map(|r| read(c, r)).collect())
            .unwrap_or_default();
        if reads.is_empty() {
            let _ = writeln!(out, "{name}: {}", braces(&column(&name)));
        } else {
            let _ = writeln!(
                out,
                "{name}: {}; reads {}",
                braces(&column(&name)),
                braces(&reads)
            );
        }
    }
    let ha = crate::model::ha(s, c);
    let _ = writeln!(out, "HA view #{}: {}", ha.seq, view_entries(c, &ha.table));
    let _ = write!(
        out,
        "in flight: {} message(s)",
        crate::model::in_flight(s).len()
    );
    out
}

/// HA's table, every entry, in the seed's words: `p1 is RECOVERING, p2 is
/// ONLINE, o1 is FAILED, o2 is ONLINE` (an originator's earlier
/// incarnation shows FAILED once a later one is in the table).
fn view_entries(c: &Cluster, t: &HaTable) -> String {
    let mut parts = Vec::new();
    for (i, &(inc, st)) in t.0.iter().enumerate() {
        if i < c.n {
            parts.push(format!("{} is {}", c.participant_name(i), st.name()));
        } else {
            let slot = i - c.n;
            if inc > c.originators[slot].first_inc {
                parts.push(format!("{} is FAILED", orig_name(c, slot, inc - 1)));
            }
            if inc == 0 {
                parts.push(format!("{} is {}", c.originators[slot].name, st.name()));
            } else {
                parts.push(format!("{} is {}", orig_name(c, slot, inc), st.name()));
            }
        }
    }
    parts.join(", ")
}

fn view_of(s: &SysState, id: Id) -> Option<(crate::protocol::types::Seq, &HaTable)> {
    let i = usize::from(id);
    if s.crashed[i] {
        return None;
    }
    match &*s.actor_states[i] {
        crate::protocol::actor::Dtm0State::Participant(p) => Some((p.seq, &p.view)),
        crate::protocol::actor::Dtm0State::Originator(o) => Some((o.seq, &o.view)),
        crate::protocol::actor::Dtm0State::Ha(_) => None,
    }
}

/// The name of a process in state `s` (originators by their incarnation).
fn who(c: &Cluster, s: &SysState, id: Id) -> String {
    match c.proc_of(id) {
        Proc::Originator(slot) => orig_name(c, slot, incarnation(s, usize::from(id))),
        _ => c.name(id, 0),
    }
}

/// One step in the seed's notation, read against the state before it:
/// the one rendering of a step that text, tables, JSON and saved traces
/// use.
pub fn step(cfg: &ModelCfg, pre: &SysState, a: &Action) -> String {
    let c = &cfg.cluster;
    match a {
        ActorModelAction::Deliver { src, dst, msg } => {
            let from = match (c.proc_of(*src), msg) {
                (Proc::Originator(slot), Msg::Execute { tx, .. }) => orig_name(c, slot, tx.inc),
                (Proc::Originator(slot), Msg::Starting { inc }) => orig_name(c, slot, *inc),
                _ => who(c, pre, *src),
            };
            let to = match (c.proc_of(*dst), msg.to_inc()) {
                (Proc::Originator(slot), Some(inc)) if inc > 0 => orig_name(c, slot, inc),
                _ => who(c, pre, *dst),
            };
            format!("{from} -> {to}: {}", step_message(c, pre, *src, *dst, msg))
        }
        ActorModelAction::Drop(env) => format!(
            "network loses {} -> {}: {}",
            who(c, pre, env.src),
            who(c, pre, env.dst),
            step_message(c, pre, env.src, env.dst, &env.msg)
        ),
        ActorModelAction::Timeout(id, Timer::Commit) => {
            let me = usize::from(*id);
            let p = c.name(*id, 0);
            let ps = pre.actor_states[me].participant();
            let pending: Vec<String> = ps
                .map(|ps| {
                    (ps.ndur as usize..ps.log.len())
                        .map(|i| format!("R{}", ps.base as usize + i + 1))
                        .collect()
                })
                .unwrap_or_default();
            if pending.is_empty() {
                format!("{p}disk -> {p}: committed (prune)")
            } else {
                format!("{p}disk -> {p}: committed({})", pending.join(", "))
            }
        }
        ActorModelAction::Timeout(id, Timer::Fail) => {
            format!("{}: fails for good (storage lost)", c.name(*id, 0))
        }
        ActorModelAction::Timeout(id, Timer::Send) => {
            let me = usize::from(*id);
            let next = pre.actor_states[me]
                .originator()
                .and_then(|o| o.outbox.first().map(|&(p, _, tx)| (p, tx)));
            match next {
                Some((p, tx)) => format!(
                    "{} -> {}: request {} (one per step)",
                    who(c, pre, *id),
                    c.participant_name(p as usize),
                    dtx_name(c, &tx)
                ),
                None => format!("{}: nothing to send", who(c, pre, *id)),
            }
        }
        ActorModelAction::Crash(id) => format!("{}proc: crash", who(c, pre, *id)),
        ActorModelAction::Recover(id) => {
            let i = usize::from(*id);
            match c.proc_of(*id) {
                Proc::Originator(slot) => format!(
                    "{}proc: restart as {}",
                    who(c, pre, *id),
                    orig_name(c, slot, incarnation(pre, i) + 1)
                ),
                _ => format!(
                    "{}proc: restart (incarnation {})",
                    who(c, pre, *id),
                    incarnation(pre, i) + 1
                ),
            }
        }
        ActorModelAction::SelectRandom { .. } => "random choice".into(),
    }
}

fn step_message(c: &Cluster, pre: &SysState, src: Id, dst: Id, msg: &Msg) -> String {
    match msg {
        Msg::Execute { tx, op, .. } => {
            format!("request {} [{}]", dtx_name(c, tx), render_op(op, tx.ts))
        }
        Msg::Executed { tx, superseded, .. } => format!(
            "reply {}{}",
            dtx_name(c, tx),
            if superseded.0 { " (superseded)" } else { "" }
        ),
        Msg::Persistent { tx, sv: v, .. } => {
            format!("PERSISTENT {} st={}", dtx_name(c, tx), v.render(c.n))
        }
        Msg::Redo { txr, .. } => {
            // The seed names a REDO by the sender's log record: `REDO p2.R1`.
            let at = pre.actor_states[usize::from(src)]
                .participant()
                .and_then(|ps| {
                    ps.log
                        .iter()
                        .position(|r| r.id == txr.id)
                        .map(|i| format!("{}.R{} = ", c.name(src, 0), ps.base as usize + i + 1))
                })
                .unwrap_or_default();
            format!(
                "REDO {at}{} [{}]",
                dtx_name(c, &txr.id),
                render_op(&txr.op, txr.id.ts)
            )
        }
        Msg::RedoAck { tx, .. } => format!("REDO-ACK {}", dtx_name(c, tx)),
        Msg::Eol { .. } => "EOL".into(),
        Msg::View { seq, table, .. } => match view_of(pre, dst) {
            Some((have, _)) if have >= *seq => {
                format!("view #{seq} (stale): {}", view_entries(c, table))
            }
            _ => format!("view #{seq}: {}", view_entries(c, table)),
        },
        Msg::Starting { inc } => match c.proc_of(src) {
            Proc::Originator(_) => "started, ready to ONLINE".into(),
            _ => format!("restarted as incarnation {inc}"),
        },
        Msg::Ready { .. } => "ready to RECOVERING".into(),
        Msg::Recovered { .. } => "recovered, ready to ONLINE".into(),
        Msg::Down { inc } => format!("down (incarnation {inc}: no heartbeat)"),
        Msg::Failed { .. } => "failed for good: declare me FAILED".into(),
        Msg::Get { key, .. } => format!("GET k{key}"),
        Msg::GetReply { key, rec, .. } => read_rec(*key, rec.as_ref()),
    }
}
