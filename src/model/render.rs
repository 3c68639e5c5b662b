//! Steps and states in protocol terms, in the seed's notation: who sent
//! what to whom, who crashed, what each log and catalogue holds.

use crate::model::{incarnation, store, Action, ModelCfg, SysState};
use crate::protocol::cluster::Proc;
use crate::protocol::msg::{HaTable, Msg, Timer};
use crate::protocol::types::{render_op, Kv, Txr};
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
        Msg::Executed { tx, .. } => format!("EXECUTED {}", c.txid_name(tx)),
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

/// `kvs = {k1@10}, tombstones = {k2@101}` as the seed writes it.
pub fn kv(c: &Kv) -> String {
    let live: Vec<String> = c
        .iter()
        .filter(|(_, r)| r.alive())
        .map(|(k, r)| kv_entry(*k, r))
        .collect();
    let dead: Vec<String> = c
        .iter()
        .filter(|(_, r)| !r.alive())
        .map(|(k, r)| format!("k{k}@{}", r.ver.ts))
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

/// The whole system state, a line or more per process.
pub fn state(cfg: &ModelCfg, s: &SysState) -> String {
    let c = &cfg.cluster;
    let mut out = String::new();
    for p in 0..c.n {
        let name = c.participant_name(p);
        let inc = incarnation(s, p);
        if s.crashed[p] {
            let st = store(s, p);
            let _ = writeln!(
                out,
                "{name} (incarnation {inc}) CRASHED; on disk: log {{{}}}; {}",
                st.log
                    .iter()
                    .map(|r| record(cfg, r))
                    .collect::<Vec<_>>()
                    .join(", "),
                kv(&st.kv)
            );
            continue;
        }
        let ps = s.actor_states[p].participant().expect("participant");
        let mut recs: Vec<String> = ps.durable_log().iter().map(|r| record(cfg, r)).collect();
        recs.extend(
            ps.pending()
                .iter()
                .map(|r| format!("{} (not committed)", record(cfg, r))),
        );
        let _ = writeln!(
            out,
            "{name} (incarnation {inc}): log {{{}}}; {}",
            recs.join(", "),
            kv(&ps.kv)
        );
    }
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        let inc = incarnation(s, i);
        let name = format!("{}{}", c.originators[slot].name, inc);
        if s.crashed[i] {
            let _ = writeln!(out, "{name} CRASHED");
            continue;
        }
        let o = s.actor_states[i].originator().expect("originator");
        let dtxs: Vec<String> = o
            .dtxs
            .iter()
            .map(|d| {
                format!(
                    "{}[{} st={}] {}",
                    c.txid_name(&d.id),
                    render_op(&d.op, d.id.ts),
                    d.sv.render(c.n),
                    d.st.name()
                )
            })
            .collect();
        let _ = writeln!(out, "{name}: {{{}}}", dtxs.join(", "));
    }
    let ha = crate::model::ha(s, c);
    let _ = writeln!(out, "HA #{}: {}", ha.seq, table(cfg, &ha.table));
    let _ = write!(
        out,
        "in flight: {} message(s)",
        crate::model::in_flight(s).len()
    );
    out
}
