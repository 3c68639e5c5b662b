//! The seed's "events and states" table for any path of the model: a block
//! per time step, its events in the seed's notation (`o1 -> p1: request
//! o1.R1`, `p1disk -> p1: committed(R1)`, `p1proc: crash`), then per
//! column (`User`, each originator, each participant) the log entries as
//! `R1[CAS PUT k1 @10 st=PVV]`, then each participant's catalogue.
//!
//! Used by `dtm0 scenario`, `dtm0 check --format table` and `dtm0 trace`.

use crate::model::{in_flight, incarnation, store, Action, ModelCfg, SysState};
use crate::protocol::cluster::Cluster;
use crate::protocol::types::{render_op, Kv, St, StateVec, TxId, Txr};
use serde::{Deserialize, Serialize};
use stateright::actor::ActorModelAction;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One time step of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// `@50`, or `#3` for a numbered step of a counterexample.
    pub time: String,
    /// Comment lines (the seed's `# ...`).
    pub notes: Vec<String>,
    pub events: Vec<String>,
    /// The state after the block's events.
    pub columns: Vec<Column>,
    /// Each participant's catalogue after the block, as the seed writes it.
    pub kvs: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub entries: Vec<String>,
}

/// A participant's final catalogue: key to version, live and tombstones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalKv {
    pub live: BTreeMap<String, crate::protocol::types::Ts>,
    pub tombstones: BTreeMap<String, crate::protocol::types::Ts>,
    /// HA's view of the participant: `ONLINE`, `RECOVERING`, ...
    pub ha: String,
}

pub(crate) fn orig_name(c: &Cluster, slot: usize, inc: crate::protocol::types::Inc) -> String {
    format!("{}{}", c.originators[slot].name, inc)
}

/// A dtx in its originator's numbering: `o1.R2` is the second dtx of o1.
pub fn dtx_name(c: &Cluster, tx: &TxId) -> String {
    let pos = c
        .issued_by(tx.slot as usize, tx.inc)
        .position(|(id, _)| id == *tx)
        .map_or("?".to_string(), |i| (i + 1).to_string());
    format!("{}.R{pos}", orig_name(c, tx.slot as usize, tx.inc))
}

/// A participant's record at its log position `pos` (1-based, counting
/// pruned records), with the seed's convention for `st`: the participant
/// assumes its peers executed the dtx ("VVV if no one failed"), so a peer
/// not known P shows as V.
pub fn part_record(c: &Cluster, me: usize, pos: usize, r: &Txr) -> String {
    let st: String = (0..c.n)
        .map(|q| match r.sv.get(q) {
            St::P => 'P',
            St::V => 'V',
            St::I if q == me => 'I',
            St::I => 'V',
        })
        .collect();
    format!("R{pos}[CAS {} st={st}]", render_op(&r.op, r.id.ts))
}

fn sv(c: &Cluster, sv: StateVec) -> String {
    sv.render(c.n)
}

/// The columns and catalogues of a state. `issued` lists the dtxs the
/// block's originators issued, for the `User` column.
pub fn snapshot(
    cfg: &ModelCfg,
    s: &SysState,
    issued: &[(TxId, crate::protocol::types::Op)],
) -> Block {
    let c = &cfg.cluster;
    let mut columns = vec![Column {
        name: "User".into(),
        entries: issued
            .iter()
            .map(|(tx, op)| match op {
                crate::protocol::types::Op::Put { key, .. } => {
                    format!("[DIX PUT k{key} @{}]", tx.ts)
                }
                crate::protocol::types::Op::Del { key } => format!("[DIX DEL k{key}]"),
            })
            .collect(),
    }];
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        let inc = incarnation(s, i);
        let name = orig_name(c, slot, inc);
        let entries = match s.actor_states[i].originator() {
            _ if s.crashed[i] => vec!["(crashed)".into()],
            Some(o) => o
                .dtxs
                .iter()
                .enumerate()
                .map(|(k, d)| {
                    let mut e = format!(
                        "R{}[CAS {} st={}]",
                        k + 1,
                        render_op(&d.op, d.id.ts),
                        sv(c, d.sv)
                    );
                    if d.st >= crate::protocol::originator::DtxSt::Stable {
                        e.push(' ');
                        e.push_str(d.outcome_name());
                    }
                    if d.superseded.0 && d.st < crate::protocol::originator::DtxSt::Done {
                        // Reported SUPERSEDED once DONE.
                        e.push_str(" superseded");
                    }
                    e
                })
                .collect(),
            None => Vec::new(),
        };
        columns.push(Column { name, entries });
    }
    let mut kvs = Vec::new();
    let mut cats = Vec::new();
    for p in 0..c.n {
        let name = c.participant_name(p);
        let (entries, kv) = if s.crashed[p] {
            let st = store(s, p);
            let mut e = vec!["(crashed; on disk:)".to_string()];
            e.extend(
                st.log
                    .iter()
                    .enumerate()
                    .map(|(i, r)| part_record(c, p, st.base as usize + i + 1, r)),
            );
            (e, st.kv.clone())
        } else {
            let ps = s.actor_states[p].participant().expect("participant");
            (
                ps.log
                    .iter()
                    .enumerate()
                    .map(|(i, r)| part_record(c, p, ps.base as usize + i + 1, r))
                    .collect(),
                ps.kv.clone(),
            )
        };
        columns.push(Column {
            name: name.clone(),
            entries,
        });
        cats.push((name, kv));
    }
    // Keys on which two replicas hold different records of one timestamp
    // and kind (two writers, or two values) print with value and writer
    // everywhere, so that diverged replicas never look alike; records
    // of different versions already print differently (the seed's
    // notation).
    let differ: std::collections::BTreeSet<crate::protocol::types::Key> = cats
        .iter()
        .flat_map(|(_, kv)| kv.keys().copied())
        .filter(|k| {
            let recs: Vec<_> = cats.iter().filter_map(|(_, kv)| kv.get(k)).collect();
            recs.iter().any(|a| {
                recs.iter()
                    .any(|b| a != b && (a.ver.ts, a.ver.del) == (b.ver.ts, b.ver.del))
            })
        })
        .collect();
    for (name, kv) in cats {
        kvs.push((name, crate::model::render::kv(c, &kv, &differ)));
    }
    Block {
        time: String::new(),
        notes: Vec::new(),
        events: Vec::new(),
        columns,
        kvs,
    }
}

/// Each participant's catalogue (visible, or on disk while crashed) and
/// its state in HA's table.
pub fn final_kvs(cfg: &ModelCfg, s: &SysState) -> BTreeMap<String, FinalKv> {
    let c = &cfg.cluster;
    let table = &crate::model::ha(s, c).table;
    (0..c.n)
        .map(|p| {
            let kv: &Kv = match crate::model::live(s, p) {
                Some(ps) => &ps.kv,
                None => &store(s, p).kv,
            };
            let pick = |alive: bool| {
                kv.iter()
                    .filter(|(_, r)| r.alive() == alive)
                    .map(|(k, r)| (format!("k{k}"), r.ver.ts))
                    .collect()
            };
            let ha = if s.crashed[p] {
                "CRASHED".to_string()
            } else {
                let (_, st) = table.get(p);
                st.name().to_string()
            };
            (
                c.participant_name(p),
                FinalKv {
                    live: pick(true),
                    tombstones: pick(false),
                    ha,
                },
            )
        })
        .collect()
}

/// The dtxs that `next` shows issued and `pre` did not.
pub fn newly_issued(
    cfg: &ModelCfg,
    pre: &SysState,
    next: &SysState,
) -> Vec<(TxId, crate::protocol::types::Op)> {
    let c = &cfg.cluster;
    let mut v = Vec::new();
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        let before: Vec<TxId> = pre.actor_states[i]
            .originator()
            .filter(|_| !pre.crashed[i])
            .map(|o| o.dtxs.iter().map(|d| d.id).collect())
            .unwrap_or_default();
        if let Some(o) = next.actor_states[i].originator() {
            v.extend(
                o.dtxs
                    .iter()
                    .filter(|d| !before.contains(&d.id))
                    .map(|d| (d.id, d.op)),
            );
        }
    }
    v
}

/// Messages in flight, in the seed's notation, sorted.
pub fn pending_events(cfg: &ModelCfg, s: &SysState) -> Vec<String> {
    let mut v: Vec<String> = in_flight(s)
        .into_iter()
        .map(|(src, dst, msg)| {
            crate::model::render::step(
                cfg,
                s,
                &ActorModelAction::Deliver {
                    src,
                    dst,
                    msg: msg.clone(),
                },
            )
        })
        .collect();
    v.sort();
    v
}

/// One block per step of a path: `#1`, `#2`, ... (the initial state is `#0`).
pub fn blocks_of_path(cfg: &ModelCfg, states: &[SysState], actions: &[Action]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut b = snapshot(cfg, &states[0], &newly_issued(cfg, &states[0], &states[0]));
    b.time = "#0".into();
    b.notes.push("initial state".into());
    out.push(b);
    for (k, a) in actions.iter().enumerate() {
        let (pre, next) = (&states[k], &states[k + 1]);
        let mut b = snapshot(cfg, next, &newly_issued(cfg, pre, next));
        b.time = format!("#{}", k + 1);
        b.events.push(crate::model::render::step(cfg, pre, a));
        out.push(b);
    }
    out
}

/// The table as text, in the layout of the seed: a header row of column
/// names, then per block its time, notes, events, the columns side by side
/// and the catalogues.
pub fn text(blocks: &[Block]) -> String {
    let mut o = String::new();
    let Some(first) = blocks.first() else {
        return o;
    };
    let widths: Vec<usize> = (0..first.columns.len())
        .map(|j| {
            blocks
                .iter()
                .flat_map(|b| b.columns.get(j))
                .flat_map(|c| c.entries.iter().map(|e| e.len() + 1).chain([c.name.len()]))
                .max()
                .unwrap_or(0)
                .max(6)
                + 3
        })
        .collect();
    let rule = "-".repeat(widths.iter().sum::<usize>().max(60));
    let _ = writeln!(
        o,
        "Legend: R<n>[CAS <op> @<version> st=<p1 p2 ...>]: I in progress, V executed, P persistent.\n\
         At a participant a peer not known P shows as V (the seed's \"executed everywhere if no one failed\")."
    );
    for b in blocks {
        let _ = writeln!(o, "{rule}");
        let _ = writeln!(o, "{}:", b.time);
        for n in &b.notes {
            let _ = writeln!(o, "# {n}");
        }
        for e in &b.events {
            let _ = writeln!(o, "{e}");
        }
        // column names, then `{`, entries, `}`
        let rows = b.columns.iter().map(|c| c.entries.len()).max().unwrap_or(0);
        let mut line = String::new();
        for (c, w) in b.columns.iter().zip(&widths) {
            let _ = write!(line, "{:<w$}", c.name, w = *w);
        }
        let _ = writeln!(o, "\n{}", line.trim_end());
        for r in 0..rows + 2 {
            let mut line = String::new();
            for (c, w) in b.columns.iter().zip(&widths) {
                let cell = if c.entries.is_empty() {
                    String::new()
                } else if r == 0 {
                    "{".into()
                } else if r == c.entries.len() + 1 {
                    "}".into()
                } else if r <= c.entries.len() {
                    format!("{},", c.entries[r - 1])
                } else {
                    String::new()
                };
                let _ = write!(line, "{cell:<w$}", w = *w);
            }
            let _ = writeln!(o, "{}", line.trim_end());
        }
        for (p, kv) in &b.kvs {
            let _ = writeln!(o, "{p}: {kv}");
        }
    }
    let _ = writeln!(o, "{rule}");
    o
}
