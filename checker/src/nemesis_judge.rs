//! The model's half of the nemesis's verdicts: H1 (every acknowledged
//! write durable on every replica, by the model's `durable_in`) and the
//! model's properties on a live run's final state. They live here, beside
//! the CLI, because the live runtime does not see the model (the arrows
//! point down: protocol <- model <- checker, protocol <- live <- checker).

use dtm0::live::nemesis::{acked_writes, Check, Final, HOp, Outcome};
use dtm0::model::file::{CheckFile, Expect, ModelSpec, NetworkKind, Verdict};
use dtm0::model::{build, SysState};
use dtm0::protocol::actor::{Dtm0State, Dtm0Store};
use dtm0::protocol::participant::PartStore;
use dtm0::protocol::types::{Inc, Key, Op, Ts, Version};
use stateright::actor::Network;
use stateright::Model;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The model properties judged on a nemesis run's final state: those
/// that read stores, views and scripts (the others read messages, restore
/// rounds or live originators' dtxs, which the final state of a live run
/// does not hold).
pub const MODEL_PROPS: &[&str] = &["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S12"];

/// Every acknowledged write durable on every replica (`durable_in`, the
/// model's definition), and every replica's record of each key at least
/// as new as the newest acknowledged write of it. One line per violation.
pub fn check_acked(ops: &[HOp], stores: &[(String, PartStore)], collects: bool) -> Vec<String> {
    use dtm0::model::properties::{durable_in, logical_kv};
    let mut bad = Vec::new();
    let acked = acked_writes(ops);
    for (name, st) in stores {
        let missing: Vec<String> = acked
            .iter()
            .filter(|(tx, op, _)| !durable_in(collects, st, *tx, op.key(), Version::of(*tx, op)))
            .map(|(tx, op, o)| format!("#{} {}", o.id, dtm0::protocol::types::render_op(op, tx.ts)))
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
        ps.ndur = st.log.len() as dtm0::protocol::types::Pos;
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
    let quiescent = dtm0::model::properties::quiescent(&m, &s);
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
    for p in dtm0::model::properties::PROPS {
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

#[cfg(test)]
mod tests {
    use super::*;
    use dtm0::live::nemesis::fixtures::*;
    use dtm0::live::nemesis::OpKind;
    use dtm0::protocol::ha::HaState;
    use dtm0::protocol::msg::HaSt;
    use dtm0::protocol::originator::OrigStore;
    use dtm0::protocol::types::TxId;

    #[test]
    fn acknowledged_writes_must_be_on_every_replica() {
        use dtm0::protocol::types::{Rec, StateVec, Txr};
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
        use dtm0::protocol::types::{Rec, St, StateVec, Txr};
        let spec = dtm0::live::spec::LiveSpec::parse(&dtm0::live::spec::LiveSpec::local_text(
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
            table: dtm0::protocol::msg::HaTable(vec![(1, HaSt::Online); 4]),
        };
        let fin = |stores: Vec<PartStore>| Final {
            cluster: spec.cluster.clone(),
            keys: 1,
            stores,
            orig_stores: vec![Some(OrigStore {
                inc: 2,
                ghost: dtm0::protocol::originator::OrigGhost { stable: vec![tx] },
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
