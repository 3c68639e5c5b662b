//! The properties S1-S10 and L1-L3 (defined in the README, "Properties"),
//! one function each, each with a reachability witness ("sometimes") so
//! that none holds vacuously, its definition and clauses, and a `why` that
//! names the clause that fails and the data.
//!
//! Liveness (L1-L3) is checked at *settled* states: states where no step
//! other than a crash (or, on a lossy network, a loss) changes anything.
//! Every path of a model is finite (scripts are finite, crashes are
//! budgeted, no timer re-arms forever), so when failures stop every run
//! ends in a settled state; a property that holds at every settled state
//! holds eventually on every such run. This replaces stateright's
//! `eventually`, which misses violations on paths that join.

use crate::model::file::{ModelSpec, NetworkKind};
use crate::model::{failed, ha, in_flight, incarnation, live, store, up, Dtm0Model, SysState};
use crate::protocol::msg::{HaSt, Msg, Timer};
use crate::protocol::participant::PartStore;
use crate::protocol::types::{Key, Op, St, TxId, Version};
use stateright::actor::ActorModelAction;
use stateright::{Model, Property};

/// Every property id, in report order.
pub const PROPERTY_IDS: &[&str] = &[
    "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "S12", "L1", "L2", "L3",
];

type Cond = fn(&Dtm0Model, &SysState) -> bool;

/// Why a property fails at a state: the clause that fails and the data
/// that make it fail, in one line; `None` where the property holds.
pub type Why = fn(&Dtm0Model, &SysState) -> Option<String>;

/// What a model must contain for a witness to be reachable at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// A participant crash budget.
    ParticipantCrash,
    /// Any crash budget (participant or originator).
    AnyCrash,
    /// A DEL in some script.
    Del,
    /// Pruning on.
    Pruning,
    /// Tombstone collection on (`tombstone-gc`, or its mutant).
    Collection,
    /// A read (`get`) in some script.
    Read,
    /// A write that can lose to a newer version while its originator
    /// lives: a key written by two originator slots, or by a lagging clock.
    Supersede,
}

/// One spec property with its witness.
pub struct Prop {
    pub id: &'static str,
    pub name: &'static str,
    pub check: Cond,
    pub witness_name: &'static str,
    pub witness: Cond,
    pub needs: Needs,
    /// Liveness: not checked on lossy networks (loss is a failure that
    /// never stops there).
    pub liveness: bool,
    /// Judged only at quiescent or settled states, which every reduction
    /// keeps; the others are read on intermediate states, which the
    /// semantic reduction may skip.
    pub at_rest: bool,
    /// What the property says, in one sentence.
    pub definition: &'static str,
    /// The clauses it checks, each `label: meaning`; an explanation starts
    /// with the label of the clause that failed.
    pub clauses: &'static [&'static str],
    /// The failing clause and its data (`why(m, s).is_none()` exactly when
    /// `check(m, s)` holds).
    pub why: Why,
}

pub const PROPS: &[Prop] = &[
    Prop {
        id: "S1",
        name: "S1 monotone store",
        check: s1_monotone_store,
        witness_name: "S1 witness: a restarted participant reloaded durable records",
        witness: w1_restart_reloaded,
        needs: Needs::ParticipantCrash,
        liveness: false,
        at_rest: false,
        definition: "a participant's durable catalogue is exactly what the versioned apply (a tombstone for every DEL, the default version order) makes of its pruned records and its durable log, and its visible catalogue is never behind the durable one: versions never go back across a crash",
        clauses: &[
            "catalogue is the log's: the durable catalogue equals the versioned apply (a tombstone for every DEL, the default version order) of the records pruned from the durable log and of the durable log: version, writer and value of every key",
            "visible not behind durable: a live participant shows, for every key, a version at least the one on its disk",
        ],
        why: s1_why,
    },
    Prop {
        id: "S2",
        name: "S2 convergence",
        check: s2_convergence,
        witness_name: "S2 witness: quiescent with a record on every replica",
        witness: w2_quiescent_all_hold,
        needs: Needs::Nothing,
        liveness: false,
        at_rest: true,
        definition: "at quiescence every non-FAILED replica holds the same record for every key",
        clauses: &[
            "replicas agree: at a quiescent state every non-FAILED participant's durable catalogue holds the same record (version and value) for every key",
        ],
        why: s2_why,
    },
    Prop {
        id: "S3",
        name: "S3 no resurrection",
        check: s3_no_resurrection,
        witness_name: "S3 witness: quiescent with a tombstone on every replica",
        witness: w3_quiescent_tombstone_everywhere,
        needs: Needs::Del,
        liveness: false,
        at_rest: true,
        definition: "at quiescence, a key whose highest durable op is a DEL is alive nowhere",
        clauses: &[
            "no resurrection: at a quiescent state, a key whose highest durable op (logged, applied or pruned anywhere) is a DEL is alive at no participant",
        ],
        why: s3_why,
    },
    Prop {
        id: "S4",
        name: "S4 honest P",
        check: s4_honest_p,
        witness_name: "S4 witness: a record shows P for another participant",
        witness: w4_p_for_other,
        needs: Needs::Nothing,
        liveness: false,
        at_rest: false,
        definition: "whenever anything (a log record, an early notice, an originator's dtx, a notice or REDO in flight) shows P for participant `q`, the dtx is durable at `q`, unless `q` failed for good",
        clauses: &[
            "honest P: every P bit for a participant q, in a log record, an early notice, an originator's dtx, a PERSISTENT or REDO in flight, is on a dtx durable at q (or q failed for good, its store lost)",
        ],
        why: s4_why,
    },
    Prop {
        id: "S5",
        name: "S5 durability of STABLE",
        check: s5_stable_durable,
        witness_name: "S5 witness: an originator saw a dtx STABLE",
        witness: w5_stable_seen,
        needs: Needs::Nothing,
        liveness: false,
        at_rest: false,
        definition: "once an originator saw a dtx STABLE, some non-FAILED participant keeps it durable, and at quiescence all do",
        clauses: &[
            "STABLE kept: a dtx an originator saw STABLE is durable at some non-FAILED participant",
            "STABLE everywhere: at a quiescent state it is durable at every non-FAILED participant",
        ],
        why: s5_why,
    },
    Prop {
        id: "S6",
        name: "S6 atomicity",
        check: s6_atomicity,
        witness_name: "S6 witness: quiescent after a crash, a dtx durable everywhere",
        witness: w6_quiescent_after_crash,
        needs: Needs::AnyCrash,
        liveness: false,
        at_rest: true,
        definition: "at quiescence, a dtx durable at one non-FAILED participant is durable at all of them",
        clauses: &[
            "all or nothing: at a quiescent state a dtx durable at one non-FAILED participant is durable at every non-FAILED participant",
        ],
        why: s6_why,
    },
    Prop {
        id: "S7",
        name: "S7 safe pruning",
        check: s7_safe_pruning,
        witness_name: "S7 witness: a record was pruned",
        witness: w7_pruned,
        needs: Needs::Pruning,
        liveness: false,
        at_rest: false,
        definition: "a record pruned at a non-FAILED `p` is durable at every non-FAILED participant",
        clauses: &[
            "safe pruning: a record pruned at a non-FAILED participant is durable at every non-FAILED participant",
        ],
        why: s7_why,
    },
    Prop {
        id: "S8",
        name: "S8 sound recovery",
        check: s8_sound_recovery,
        witness_name: "S8 witness: a participant declared recovery after REDOs",
        witness: w8_declared_after_redo,
        needs: Needs::ParticipantCrash,
        liveness: false,
        at_rest: false,
        definition: "once `p` declared itself recovered, every record a peer logged before its restore cutoff for this incarnation of `p` has been applied at `p`",
        clauses: &[
            "heard every peer: when p has declared, no peer it had to hear from (the same incarnation) is still redoing to it without an EOL",
            "applied before declared: every record a peer logged before its cutoff for this incarnation of p (a round closed by EOL) is applied at p",
        ],
        why: s8_why,
    },
    Prop {
        id: "S9",
        name: "S9 EOL order",
        check: s9_eol_order,
        witness_name: "S9 witness: an EOL was sent after acked REDOs",
        witness: w9_eol_after_acks,
        needs: Needs::ParticipantCrash,
        liveness: false,
        at_rest: false,
        definition: "an EOL is sent only after every REDO of its round was acked",
        clauses: &[
            "EOL after acks: a round closed with an EOL has as many REDOs acked as sent",
        ],
        why: s9_why,
    },
    Prop {
        id: "S10",
        name: "S10 honest outcome",
        check: s10_honest_outcome,
        witness_name: "S10 witness: an originator was told a dtx was superseded",
        witness: w10_superseded_reported,
        needs: Needs::Supersede,
        liveness: false,
        at_rest: true,
        definition: "at quiescence, no dtx its originator holds DONE (not SUPERSEDED) lost to a newer version at every participant",
        clauses: &[
            "honest outcome: at a quiescent state, a dtx a live originator holds DONE without a superseded verdict took effect at some participant (its execution there was not covered by a newer version of the key)",
        ],
        why: s10_why,
    },
    Prop {
        id: "S11",
        name: "S11 reads see STABLE writes",
        check: s11_reads_see_stable,
        witness_name: "S11 witness: a read answered after a STABLE write of its key",
        witness: w11_read_after_stable,
        needs: Needs::Read,
        liveness: false,
        at_rest: false,
        definition: "a read that got an answer returns neither a version older than a PUT of its key that its originator (any incarnation) had seen STABLE when it issued the GET, nor a live record older than such a DEL",
        clauses: &[
            "no lost STABLE write: the result of a completed read is a record of version at least the highest STABLE write of its key at issue, when that write is a PUT",
            "no visible resurrection: the result of a completed read is not a live record older than the highest STABLE write of its key at issue, when that write is a DEL",
        ],
        why: s11_why,
    },
    Prop {
        id: "S12",
        name: "S12 safe collection",
        check: s12_safe_collection,
        witness_name: "S12 witness: a participant collected a tombstone",
        witness: w12_collected,
        needs: Needs::Collection,
        liveness: false,
        at_rest: false,
        definition: "where tombstones are collected (`tombstone-gc`), a tombstone collected at a non-FAILED participant is durable at every non-FAILED one, and no older op on its key is applied after it",
        clauses: &[
            "replicas hold it: a tombstone a non-FAILED participant collected is durable, at its version or above, at every non-FAILED participant (in its catalogue, or collected there too)",
            "not undone: no non-FAILED participant's durable catalogue holds, for a key, a record older than the newest DEL of that key among its records (an older op applied after the tombstone was collected)",
        ],
        why: s12_why,
    },
    Prop {
        id: "L1",
        name: "L1 recovery ends",
        check: l1_recovery_ends,
        witness_name: "L1 witness: settled with a restarted participant ONLINE",
        witness: wl1_restarted_online,
        needs: Needs::ParticipantCrash,
        liveness: true,
        at_rest: true,
        definition: "at a settled state every non-FAILED participant is ONLINE",
        clauses: &[
            "recovery ends: at a settled state every non-FAILED participant is ONLINE in HA's table",
        ],
        why: l1_why,
    },
    Prop {
        id: "L2",
        name: "L2 P everywhere",
        check: l2_p_everywhere,
        witness_name: "L2 witness: settled with a dtx durable everywhere",
        witness: wl2_durable_everywhere,
        needs: Needs::Nothing,
        liveness: true,
        at_rest: true,
        definition: "at a settled state a dtx durable at a non-FAILED participant is durable at every one, and P for every one in every record of it",
        clauses: &[
            "durable everywhere: at a settled state a dtx durable at one non-FAILED participant is durable at every non-FAILED participant",
            "P everywhere: at a settled state every record of a live participant's log is P for every non-FAILED participant",
        ],
        why: l2_why,
    },
    Prop {
        id: "L3",
        name: "L3 dtx completes",
        check: l3_dtx_completes,
        witness_name: "L3 witness: settled with a dtx STABLE at its originator",
        witness: wl3_stable_settled,
        needs: Needs::Nothing,
        liveness: true,
        at_rest: true,
        definition: "at a settled state every dtx of a live originator is STABLE or DONE, and every read of its script complete",
        clauses: &[
            "dtx completes: at a settled state every dtx of a live originator is STABLE or DONE",
            "read completes: at a settled state every read of a live originator's script is complete (answered, or every replica asked gone)",
        ],
        why: l3_why,
    },
];

/// A property registered with the model: stateright's `Property`, and the
/// spec property it checks (`always`) or witnesses (`sometimes`).
#[derive(Clone)]
pub struct Registered {
    pub spec: &'static Prop,
    pub property: Property<Dtm0Model>,
}

/// Why a property or its witness does not apply to a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotApplicable {
    /// Liveness on a lossy network (loss is a failure that never stops).
    LossyNetwork,
    NoParticipantCrash,
    NoCrash,
    NoDel,
    NoPruning,
    NoCollection,
    NoRead,
    NoSupersede,
    /// `motr-silent-supersede`: no participant ever says superseded.
    SilentSupersede,
}

impl NotApplicable {
    /// The reason in words, as reports print it.
    pub fn describe(self) -> &'static str {
        match self {
            NotApplicable::LossyNetwork => "liveness needs a reliable network",
            NotApplicable::NoParticipantCrash => "no participant may crash",
            NotApplicable::NoCrash => "no process may crash",
            NotApplicable::NoDel => "no DEL in any script",
            NotApplicable::NoPruning => "pruning is off",
            NotApplicable::NoCollection => "tombstone collection is off",
            NotApplicable::NoRead => "no get in any script",
            NotApplicable::NoSupersede => {
                "no key written by two originator slots or by a lagging clock"
            }
            NotApplicable::SilentSupersede => {
                "participants never say superseded (motr-silent-supersede)"
            }
        }
    }
}

impl std::fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Reports carry the reason in words.
impl serde::Serialize for NotApplicable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.describe())
    }
}

/// Why a property or its witness does not apply to a model, if it does not.
pub fn not_applicable(p: &Prop, spec: &ModelSpec) -> Option<NotApplicable> {
    let c = &spec.cluster;
    if p.liveness && spec.network == NetworkKind::Lossy {
        return Some(NotApplicable::LossyNetwork);
    }
    let participant_crash = spec.budgets[..c.n].iter().any(|&b| b > 0);
    let has_del = c
        .originators
        .iter()
        .flat_map(|o| o.plan.iter().flatten())
        .any(|(_, op)| op.is_del());
    match p.needs {
        Needs::Nothing => None,
        Needs::ParticipantCrash if !participant_crash => Some(NotApplicable::NoParticipantCrash),
        Needs::AnyCrash if spec.total_crashes() == 0 => Some(NotApplicable::NoCrash),
        Needs::Del if !has_del => Some(NotApplicable::NoDel),
        Needs::Pruning if !c.variants.pruning => Some(NotApplicable::NoPruning),
        Needs::Collection if !c.collects() => Some(NotApplicable::NoCollection),
        Needs::Read if !c.has_reads() => Some(NotApplicable::NoRead),
        Needs::Supersede if !can_supersede(c) => Some(NotApplicable::NoSupersede),
        Needs::Supersede if c.variants.silent_supersede => Some(NotApplicable::SilentSupersede),
        _ => None,
    }
}

/// Whether a dtx can lose to a newer version while its originator
/// incarnation lives: some key is written by two originator slots, or by
/// an incarnation whose version is below one an earlier incarnation of its
/// slot wrote (a lagging clock). (An earlier incarnation's write losing to
/// a later one's is reported to a dead incarnation.)
fn can_supersede(c: &crate::protocol::cluster::Cluster) -> bool {
    let mut writes: Vec<(Key, usize, usize, Version)> = Vec::new();
    for (slot, o) in c.originators.iter().enumerate() {
        for (j, script) in o.plan.iter().enumerate() {
            let inc = o.first_inc + j as crate::protocol::types::Inc;
            for &(ts, op) in script {
                let id = TxId {
                    ts,
                    slot: slot as u8,
                    inc,
                };
                writes.push((op.key(), slot, j, Version::of(id, &op)));
            }
        }
    }
    writes.iter().any(|a| {
        writes
            .iter()
            .any(|b| a.0 == b.0 && (a.1 != b.1 || (a.2 > b.2 && a.3 < b.3)))
    })
}

/// The properties registered with the model: each check as `always`, and
/// each applicable witness as `sometimes`.
pub fn registered(spec: &ModelSpec) -> Vec<Registered> {
    let mut v = Vec::new();
    for p in PROPS {
        let liveness_off = p.liveness && spec.network == NetworkKind::Lossy;
        if !liveness_off {
            v.push(Registered {
                spec: p,
                property: Property::always(p.name, p.check),
            });
        }
        if not_applicable(p, spec).is_none() {
            v.push(Registered {
                spec: p,
                property: Property::sometimes(p.witness_name, p.witness),
            });
        }
    }
    v
}

// ---------------------------------------------------------------------
// Definitions of section 7.

/// `durable(p, tx)`: tx is in p's persistent log, or p's persistent
/// catalogue holds a version >= tx's for its key.
pub fn durable(st: &PartStore, tx: TxId, key: Key, ver: Version) -> bool {
    st.log.iter().any(|r| r.id == tx) || st.kv.get(&key).is_some_and(|r| r.ver >= ver)
}

/// `durable` where participants may collect tombstones (`collects`): a
/// collected tombstone still stands for its DEL, so the key absent from
/// the catalogue with a DEL of version >= `ver` among its records (logged
/// or pruned) counts as a version >= `ver`.
pub fn durable_in(collects: bool, st: &PartStore, tx: TxId, key: Key, ver: Version) -> bool {
    durable(st, tx, key, ver) || (collects && collected(st, key).is_some_and(|v| v >= ver))
}

/// The catalogue `st` stands for: its durable catalogue, plus, where
/// tombstones are collected (`collects`), every tombstone it collected.
pub fn logical_kv(collects: bool, st: &PartStore) -> crate::protocol::types::Kv {
    let mut kv = st.kv.clone();
    if collects {
        let keys: std::collections::BTreeSet<Key> = st
            .ghost
            .pruned
            .iter()
            .map(|x| x.1.key())
            .chain(st.log.iter().map(|r| r.op.key()))
            .collect();
        for k in keys {
            if let Some(v) = collected(st, k) {
                kv.insert(k, crate::protocol::types::Rec { ver: v, val: 0 });
            }
        }
    }
    kv
}

/// The version of the tombstone `st` collected on `key`, if it did: the
/// key is absent from its durable catalogue while its records (pruned and
/// logged) end on `key` with a DEL.
pub fn collected(st: &PartStore, key: Key) -> Option<Version> {
    if st.kv.contains_key(&key) {
        return None;
    }
    let pruned = st.ghost.pruned.iter().map(|&(id, op)| (id, op));
    pruned
        .chain(st.log.iter().map(|r| (r.id, r.op)))
        .filter(|(_, op)| op.key() == key)
        .map(|(id, op)| Version::of(id, &op))
        .max()
        .filter(|v| v.del)
}

/// The op of a dtx, from the scripts (ids are unique per originator
/// incarnation and clock reading).
pub fn op_of(m: &Dtm0Model, tx: TxId) -> Option<Op> {
    m.cfg()
        .cluster
        .issued_by(tx.slot as usize, tx.inc)
        .find(|(id, _)| *id == tx)
        .map(|(_, op)| op)
}

fn durable_at(m: &Dtm0Model, s: &SysState, p: usize, tx: TxId) -> bool {
    match op_of(m, tx) {
        Some(op) => durable_in(
            m.cfg().cluster.collects(),
            store(s, p),
            tx,
            op.key(),
            Version::of(tx, &op),
        ),
        None => false,
    }
}

/// No step other than a crash or a loss changes the state: nothing to
/// deliver that matters, no commit pending, nobody down.
pub fn settled(m: &Dtm0Model, s: &SysState) -> bool {
    // A participant's failure for good is a failure, as a crash is: its
    // timer does not keep a state from being settled.
    let pending = |t: &stateright::actor::Timers<Timer>| t.iter().any(|t| *t != Timer::Fail);
    if s.crashed.iter().any(|&c| c) || s.timers_set.iter().any(pending) {
        return false;
    }
    if m.cfg().network == NetworkKind::Ordered {
        return s.network.len() == 0;
    }
    let mut actions = Vec::new();
    m.actions(s, &mut actions);
    actions.into_iter().all(|a| match a {
        ActorModelAction::Deliver { .. } => match m.next_state(s, a) {
            None => true,
            Some(next) => no_change(&next, s),
        },
        ActorModelAction::Timeout(_, Timer::Fail) => true,
        ActorModelAction::Timeout(..) | ActorModelAction::Recover(_) => false,
        _ => true,
    })
}

/// Equal states, except for the last message a duplicating network
/// delivered (stateright records it there; redelivering a message that
/// changes nothing else is no step of the protocol).
fn no_change(next: &SysState, s: &SysState) -> bool {
    use stateright::actor::Network::UnorderedDuplicating;
    let net = match (&next.network, &s.network) {
        (UnorderedDuplicating(a, _), UnorderedDuplicating(b, _)) => a == b,
        (a, b) => a == b,
    };
    net && next.actor_states == s.actor_states
        && next.actor_storages == s.actor_storages
        && next.timers_set == s.timers_set
        && next.crashed == s.crashed
}

/// `quiescent`: settled, and every participant that has not failed for
/// good ONLINE.
pub fn quiescent(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    all_online(m, s) && settled(m, s) && (0..c.n).all(|p| live(s, p).is_some())
}

fn all_online(m: &Dtm0Model, s: &SysState) -> bool {
    let t = &ha(s, &m.cfg().cluster).table;
    up(m.cfg(), s)
        .into_iter()
        .all(|p| t.get(p).1 == HaSt::Online)
}

/// Every dtx id recorded anywhere durable: storage logs and pruned ghosts.
fn durable_txs(m: &Dtm0Model, s: &SysState) -> Vec<TxId> {
    let mut v: Vec<TxId> = (0..m.cfg().cluster.n)
        .flat_map(|p| {
            let st = store(s, p);
            st.log
                .iter()
                .map(|r| r.id)
                .chain(st.ghost.pruned.iter().map(|x| x.0))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

// ---------------------------------------------------------------------
// Safety.

/// S1: the durable catalogue is exactly what the reference versioned apply
/// (a tombstone for every DEL, the default version order: a maximum, so
/// the order of the records does not matter) makes of the records pruned
/// from the durable log and the durable log itself (so a tombstone exactly
/// when the highest op logged is a DEL, and every record's version, writer
/// and value as its dtx wrote them). A variant that applies otherwise
/// (Motr's DEL rule or version order) violates it where its catalogue
/// departs from its log. And a live participant's visible
/// catalogue is never behind its durable one: a restart reloads the
/// durable one, so versions never decrease across crashes.
pub fn s1_monotone_store(m: &Dtm0Model, s: &SysState) -> bool {
    let collects = m.cfg().cluster.collects();
    (0..m.cfg().cluster.n).all(|p| s1_at(collects, s, p))
}

/// The catalogue the durable records of `st` make under the reference
/// rules: its pruned records and its log, each applied with a tombstone
/// for every DEL and the default version order.
pub fn replayed_kv(st: &PartStore) -> crate::protocol::types::Kv {
    use crate::protocol::types::{apply, DelRule, Kv, VersionOrder};
    let mut kv = Kv::new();
    let records = st.ghost.pruned.iter().copied();
    for (id, op) in records.chain(st.log.iter().map(|r| (r.id, r.op))) {
        apply(
            &mut kv,
            &op,
            id,
            DelRule::AlwaysTombstone,
            VersionOrder::Writer,
        );
    }
    kv
}

/// S1 at one participant `p` (S1 is the conjunction over participants;
/// the step-local form checks it at the stepping participant).
pub fn s1_at(collects: bool, s: &SysState, p: usize) -> bool {
    s1_store(collects, store(s, p)) && s1_ahead(s, p)
}

/// S1's first clause, on a store: its catalogue is its records' (reads
/// the store only). Where participants collect tombstones (`collects`), a
/// tombstone of the records may be missing from the catalogue.
pub fn s1_store(collects: bool, st: &PartStore) -> bool {
    let want = replayed_kv(st);
    if !collects {
        return want == st.kv;
    }
    let mut have = st.kv.clone();
    for (k, r) in &want {
        if !r.alive() && !have.contains_key(k) {
            have.insert(*k, *r);
        }
    }
    want == have
}

/// S1's second clause at `p`: a live participant's visible catalogue is
/// not behind its durable one.
pub fn s1_ahead(s: &SysState, p: usize) -> bool {
    let st = store(s, p);
    live(s, p).is_none_or(|ls| {
        st.kv
            .iter()
            .all(|(k, d)| ls.kv.get(k).is_some_and(|v| v.ver >= d.ver))
    })
}

/// S2: quiescent => all replicas of every key hold the same record.
pub fn s2_convergence(m: &Dtm0Model, s: &SysState) -> bool {
    let ups = up(m.cfg(), s);
    let collects = m.cfg().cluster.collects();
    let kvs: Vec<_> = ups
        .iter()
        .map(|&p| logical_kv(collects, store(s, p)))
        .collect();
    let same = kvs.iter().all(|kv| *kv == kvs[0]);
    same || !quiescent(m, s)
}

/// Every version of `key` durable in `st`: logged, in the catalogue, or
/// pruned (S3).
fn durable_versions(st: &PartStore, key: Key) -> impl Iterator<Item = Version> + '_ {
    let logged = st.log.iter().filter(move |r| r.op.key() == key);
    let pruned = st.ghost.pruned.iter().filter(move |x| x.1.key() == key);
    logged
        .map(|r| r.version())
        .chain(st.kv.get(&key).map(|r| r.ver))
        .chain(pruned.map(|x| Version::of(x.0, &x.1)))
}

/// S3: quiescent => a key whose highest op is a DEL that some participant
/// made durable is alive nowhere.
pub fn s3_no_resurrection(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    let mut resurrected = false;
    for key in 1..=c.keys {
        let mut highest: Option<Version> = None;
        for p in 0..c.n {
            let st = store(s, p);
            for v in durable_versions(st, key) {
                highest = highest.max(Some(v));
            }
        }
        if highest.is_some_and(|v| v.del)
            && (0..c.n).any(|p| store(s, p).kv.get(&key).is_some_and(|r| r.alive()))
        {
            resurrected = true;
        }
    }
    !resurrected || !quiescent(m, s)
}

/// S4: whenever a record (a participant's log or early notice, an
/// originator's dtx, a notice or REDO in flight) shows P for `q`, the dtx
/// is durable at `q`.
pub fn s4_honest_p(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    // A participant that failed for good lost its store: a P bit for it
    // is honest (it was durable there before it failed, as S4 held then).
    let honest = |tx: TxId, sv: crate::protocol::types::StateVec| {
        (0..c.n).all(|q| sv.get(q) != St::P || failed(s, q) || durable_at(m, s, q, tx))
    };
    for p in 0..c.n {
        let ok = match live(s, p) {
            Some(ls) => {
                ls.log.iter().all(|r| honest(r.id, r.sv))
                    && ls.early.iter().all(|&(tx, sv)| honest(tx, sv))
            }
            None => store(s, p).log.iter().all(|r| honest(r.id, r.sv)),
        };
        if !ok {
            return false;
        }
    }
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        if s.crashed[i] {
            continue;
        }
        if let Some(o) = s.actor_states[i].originator() {
            if !o.dtxs.iter().all(|d| honest(d.id, d.sv)) {
                return false;
            }
        }
    }
    in_flight(s).into_iter().all(|(_, _, msg)| match msg {
        Msg::Persistent { tx, sv, .. } => honest(*tx, *sv),
        Msg::Redo { txr, .. } => honest(txr.id, txr.sv),
        _ => true,
    })
}

fn stable_ghost(m: &Dtm0Model, s: &SysState) -> Vec<TxId> {
    let c = &m.cfg().cluster;
    (0..c.m())
        .filter_map(|slot| {
            s.actor_storages[usize::from(c.originator_id(slot))]
                .as_ref()
                .and_then(|x| x.originator())
        })
        .flat_map(|o| o.ghost.stable.iter().copied())
        .collect()
}

/// S5: once an originator saw a dtx STABLE, some participant keeps it
/// durable, and at quiescence all do.
pub fn s5_stable_durable(m: &Dtm0Model, s: &SysState) -> bool {
    let ups = up(m.cfg(), s);
    let stable = stable_ghost(m, s);
    if !stable
        .iter()
        .all(|&tx| ups.iter().any(|&p| durable_at(m, s, p, tx)))
    {
        return false;
    }
    let everywhere = stable
        .iter()
        .all(|&tx| ups.iter().all(|&p| durable_at(m, s, p, tx)));
    everywhere || !quiescent(m, s)
}

/// S6 (redo-only atomicity): quiescent and durable at one participant =>
/// durable at every participant.
pub fn s6_atomicity(m: &Dtm0Model, s: &SysState) -> bool {
    let ups = up(m.cfg(), s);
    let atomic = durable_txs(m, s)
        .into_iter()
        .all(|tx| ups.iter().all(|&p| durable_at(m, s, p, tx)));
    atomic || !quiescent(m, s)
}

/// Whether dtx `tx` (op `op`) lost to a newer version at participant `p`,
/// from `p`'s durable history (its pruned records, then its durable log, in
/// execution order; read at quiescence, when nothing is pending): where the
/// dtx took effect there, the catalogue the records before it make (under
/// the cluster's own rules) held a record on its key standing above its
/// version; where it is in no record, the durable catalogue holds such a
/// record (a REDO or EXECUTE answered from the catalogue under pruning).
/// The ground truth of S10, derived from the history the participant
/// keeps, so that it needs no ghost of its own.
pub fn superseded_at(m: &Dtm0Model, s: &SysState, p: usize, tx: TxId, op: Op) -> bool {
    use crate::protocol::types::{apply, Kv};
    let c = &m.cfg().cluster;
    let (rule, order) = (c.variants.del_rule, c.variants.version_order);
    let st = store(s, p);
    let ver = Version::of(tx, &op);
    let above = |kv: &Kv| {
        kv.get(&op.key())
            .is_some_and(|r| r.ver != ver && order.covers(r.ver, ver))
    };
    let history = st
        .ghost
        .pruned
        .iter()
        .copied()
        .chain(st.log.iter().map(|r| (r.id, r.op)));
    let mut kv = Kv::new();
    for (id, o) in history {
        if id == tx {
            return above(&kv);
        }
        apply(&mut kv, &o, id, rule, order);
    }
    above(&st.kv)
}

/// The dtxs live originators hold DONE without a superseded verdict.
fn done_as_applied(m: &Dtm0Model, s: &SysState) -> Vec<(TxId, Op)> {
    let c = &m.cfg().cluster;
    (0..c.m())
        .filter_map(|slot| {
            let i = usize::from(c.originator_id(slot));
            (!s.crashed[i]).then(|| s.actor_states[i].originator())?
        })
        .flat_map(|o| o.dtxs.iter())
        .filter(|d| d.st == crate::protocol::originator::DtxSt::Done && !d.superseded.0)
        .map(|d| (d.id, d.op))
        .collect()
}

/// S10: at quiescence (every reply delivered, so every verdict in), no
/// dtx a live originator holds DONE without a superseded verdict lost to
/// a newer version at every participant.
pub fn s10_honest_outcome(m: &Dtm0Model, s: &SysState) -> bool {
    s10_why(m, s).is_none()
}

fn s10_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let done = done_as_applied(m, s);
    if done.is_empty() || !quiescent(m, s) {
        return None;
    }
    let n = m.cfg().cluster.n;
    let &(tx, _) = done
        .iter()
        .find(|&&(tx, op)| (0..n).all(|p| superseded_at(m, s, p, tx, op)))?;
    fail(
        "honest outcome",
        format!(
            "at quiescence {} is DONE at its originator, yet it lost to a newer version of its key at every participant",
            dtx_op(m, tx)
        ),
    )
}

/// S10's witness: a live originator holds a dtx some participant said
/// was superseded.
fn w10_superseded_reported(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    (0..c.m()).any(|slot| {
        let i = usize::from(c.originator_id(slot));
        !s.crashed[i]
            && s.actor_states[i]
                .originator()
                .is_some_and(|o| o.dtxs.iter().any(|d| d.superseded.0))
    })
}

/// S7: a record pruned at `p` is durable at every participant.
pub fn s7_safe_pruning(m: &Dtm0Model, s: &SysState) -> bool {
    let ups = up(m.cfg(), s);
    let collects = m.cfg().cluster.collects();
    ups.iter().all(|&p| {
        store(s, p).ghost.pruned.iter().all(|&(tx, op)| {
            let ver = Version::of(tx, &op);
            ups.iter()
                .all(|&q| durable_in(collects, store(s, q), tx, op.key(), ver))
        })
    })
}

/// S8: when `p` has declared itself recovered, every record that a peer
/// logged before its cutoff for `p` (in a completed round for this
/// incarnation of `p`) has been applied at `p`.
pub fn s8_sound_recovery(m: &Dtm0Model, s: &SysState) -> bool {
    let n = m.cfg().cluster.n;
    for p in 0..n {
        let Some(ps) = live(s, p) else { continue };
        if !ps.declared {
            continue;
        }
        for q in (0..n).filter(|&q| q != p && !failed(s, q)) {
            let Some(qs) = live(s, q) else { continue };
            let rd = &qs.rounds[p];
            // A peer the stop condition had to hear from (ONLINE or
            // RECOVERING in p's view when p declared), still that same
            // incarnation, is still redoing to p: p declared too early.
            let counted = ps.ghost.declared_peers.get(q).copied().unwrap_or(0);
            if counted != 0 && counted == qs.inc && rd.inc == ps.inc && !rd.eol {
                return false;
            }
            if rd.inc != ps.inc || !rd.eol {
                continue;
            }
            for pos in qs.base..rd.cutoff {
                let r = &qs.log[(pos - qs.base) as usize];
                let applied = ps.log.iter().any(|x| x.id == r.id)
                    || ps.kv.get(&r.op.key()).is_some_and(|k| k.ver >= r.version());
                if !applied {
                    return false;
                }
            }
        }
    }
    true
}

/// S9: EOL is sent only after every REDO of the round was acked.
pub fn s9_eol_order(m: &Dtm0Model, s: &SysState) -> bool {
    (0..m.cfg().cluster.n).all(|q| {
        live(s, q).is_none_or(|qs| qs.rounds.iter().all(|rd| !rd.eol || rd.sent == rd.acked))
    })
}

/// S12 at one participant `p` (its step-local form is this, after each
/// step of `p`): the clause that fails, with its data.
pub fn s12_at(m: &Dtm0Model, s: &SysState, p: usize) -> Option<String> {
    let c = &m.cfg().cluster;
    if !c.collects() || failed(s, p) {
        return None;
    }
    let st = store(s, p);
    let want = replayed_kv(st);
    for (&key, r) in &want {
        if r.alive() {
            continue;
        }
        match st.kv.get(&key) {
            Some(have) if have.ver < r.ver => {
                return fail(
                    "not undone",
                    format!(
                        "{} holds {} although its records end with {}: the tombstone was collected and an older op came back",
                        pname(m, p),
                        rec_text(m, key, Some(have)),
                        ver_text(m, key, r.ver)
                    ),
                )
            }
            Some(_) => {}
            None => {
                let lacking = up(m.cfg(), s).into_iter().find(|&q| {
                    let sq = store(s, q);
                    !(sq.kv.get(&key).is_some_and(|x| x.ver >= r.ver)
                        || collected(sq, key).is_some_and(|v| v >= r.ver))
                });
                if let Some(q) = lacking {
                    return fail(
                        "replicas hold it",
                        format!(
                            "{} collected its tombstone {}, which {} does not hold durably",
                            pname(m, p),
                            ver_text(m, key, r.ver),
                            pname(m, q)
                        ),
                    );
                }
            }
        }
    }
    None
}

/// S12: where tombstones are collected, a collected tombstone is durable
/// at every non-FAILED participant, and no older op on its key is applied
/// after it.
pub fn s12_safe_collection(m: &Dtm0Model, s: &SysState) -> bool {
    (0..m.cfg().cluster.n).all(|p| s12_at(m, s, p).is_none())
}

fn s12_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    (0..m.cfg().cluster.n).find_map(|p| s12_at(m, s, p))
}

fn w12_collected(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    up(m.cfg(), s)
        .into_iter()
        .any(|p| (1..=c.keys).any(|k| collected(store(s, p), k).is_some()))
}

/// S11: a completed read with an answer sees every write its originator
/// had seen STABLE before issuing it: not older than the highest STABLE
/// PUT of its key (no lost STABLE write), not a live record older than
/// the highest STABLE DEL (no visible resurrection). The conjunction over
/// originators of `s11_at`.
pub fn s11_reads_see_stable(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    (0..c.m()).all(|slot| s11_at(s, usize::from(c.originator_id(slot))))
}

/// The clause a completed read breaks, if any: 0 (lost STABLE write) or
/// 1 (visible resurrection). A read without an answer (no replica was
/// available) shows the user an error, not data: not judged.
pub fn s11_broken(r: &crate::protocol::originator::Read) -> Option<usize> {
    use crate::protocol::originator::ReadPhase;
    let must = r.must?;
    if r.phase != ReadPhase::Done || r.answered == 0 {
        return None;
    }
    match r.best {
        _ if !must.del => r.best.is_none_or(|b| b.ver < must).then_some(0),
        Some(b) if b.alive() && b.ver < must => Some(1),
        _ => None,
    }
}

/// S11 at originator actor `i` (the step-local form checks it at the
/// stepping originator): it reads only i's live state.
pub fn s11_at(s: &SysState, i: usize) -> bool {
    s.crashed[i]
        || s.actor_states[i]
            .originator()
            .is_none_or(|o| o.reads.iter().all(|r| s11_broken(r).is_none()))
}

// ---------------------------------------------------------------------
// Liveness, at settled states.

/// L1: every RECOVERING participant becomes ONLINE.
pub fn l1_recovery_ends(m: &Dtm0Model, s: &SysState) -> bool {
    all_online(m, s) || !settled(m, s)
}

/// L2: every dtx durable somewhere becomes durable everywhere, and P in
/// every participant's record of it (pruned, where pruning is on).
pub fn l2_p_everywhere(m: &Dtm0Model, s: &SysState) -> bool {
    let ups = up(m.cfg(), s);
    let all_p = |r: &crate::protocol::types::Txr| ups.iter().all(|&q| r.sv.get(q) == St::P);
    let goal = durable_txs(m, s)
        .into_iter()
        .all(|tx| ups.iter().all(|&p| durable_at(m, s, p, tx)))
        && ups
            .iter()
            .all(|&p| live(s, p).is_none_or(|ls| ls.log.iter().all(all_p)));
    goal || !settled(m, s)
}

/// L3: every dtx of a live originator reaches STABLE (or DONE).
pub fn l3_dtx_completes(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    let goal = (0..c.m()).all(|slot| {
        let i = usize::from(c.originator_id(slot));
        s.crashed[i]
            || s.actor_states[i].originator().is_none_or(|o| {
                o.dtxs
                    .iter()
                    .all(|d| d.st >= crate::protocol::originator::DtxSt::Stable)
                    && o.reads
                        .iter()
                        .all(|r| r.phase == crate::protocol::originator::ReadPhase::Done)
            })
    });
    goal || !settled(m, s)
}

// ---------------------------------------------------------------------
// Witnesses.

fn w1_restart_reloaded(m: &Dtm0Model, s: &SysState) -> bool {
    (0..m.cfg().cluster.n)
        .any(|p| live(s, p).is_some() && incarnation(s, p) >= 2 && !store(s, p).kv.is_empty())
}

fn w2_quiescent_all_hold(m: &Dtm0Model, s: &SysState) -> bool {
    let collects = m.cfg().cluster.collects();
    up(m.cfg(), s)
        .into_iter()
        .all(|p| !logical_kv(collects, store(s, p)).is_empty())
        && quiescent(m, s)
}

fn w3_quiescent_tombstone_everywhere(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    let ups = up(m.cfg(), s);
    let kvs: Vec<_> = ups
        .iter()
        .map(|&p| logical_kv(c.collects(), store(s, p)))
        .collect();
    (1..=c.keys).any(|k| kvs.iter().all(|kv| kv.get(&k).is_some_and(|r| !r.alive())))
        && quiescent(m, s)
}

fn w4_p_for_other(m: &Dtm0Model, s: &SysState) -> bool {
    let n = m.cfg().cluster.n;
    (0..n).any(|p| {
        live(s, p).is_some_and(|ls| {
            ls.log
                .iter()
                .any(|r| (0..n).any(|q| q != p && r.sv.get(q) == St::P))
        })
    })
}

fn w5_stable_seen(m: &Dtm0Model, s: &SysState) -> bool {
    !stable_ghost(m, s).is_empty()
}

fn w6_quiescent_after_crash(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    let ups = up(m.cfg(), s);
    (0..c.actor_count()).any(|i| incarnation(s, i) >= 2)
        && durable_txs(m, s)
            .into_iter()
            .any(|tx| ups.iter().all(|&p| durable_at(m, s, p, tx)))
        && quiescent(m, s)
}

fn w7_pruned(m: &Dtm0Model, s: &SysState) -> bool {
    (0..m.cfg().cluster.n).any(|p| !store(s, p).ghost.pruned.is_empty())
}

fn w8_declared_after_redo(m: &Dtm0Model, s: &SysState) -> bool {
    let n = m.cfg().cluster.n;
    (0..n).any(|p| {
        live(s, p).is_some_and(|ps| {
            ps.declared
                && (0..n).any(|q| {
                    q != p
                        && live(s, q).is_some_and(|qs| {
                            let rd = &qs.rounds[p];
                            rd.inc == ps.inc && rd.eol && rd.sent > 0
                        })
                })
        })
    })
}

fn w9_eol_after_acks(m: &Dtm0Model, s: &SysState) -> bool {
    (0..m.cfg().cluster.n)
        .any(|q| live(s, q).is_some_and(|qs| qs.rounds.iter().any(|rd| rd.eol && rd.acked > 0)))
}

fn w11_read_after_stable(m: &Dtm0Model, s: &SysState) -> bool {
    use crate::protocol::originator::ReadPhase;
    live_origs(m, s).any(|o| {
        o.reads
            .iter()
            .any(|r| r.phase == ReadPhase::Done && r.answered > 0 && r.must.is_some())
    })
}

/// The states of the originators that are not crashed.
fn live_origs<'a>(
    m: &'a Dtm0Model,
    s: &'a SysState,
) -> impl Iterator<Item = &'a crate::protocol::originator::OrigState> + 'a {
    let c = &m.cfg().cluster;
    (0..c.m()).filter_map(move |slot| {
        let i = usize::from(c.originator_id(slot));
        if s.crashed[i] {
            None
        } else {
            s.actor_states[i].originator()
        }
    })
}

fn wl1_restarted_online(m: &Dtm0Model, s: &SysState) -> bool {
    (0..m.cfg().cluster.n).any(|p| incarnation(s, p) >= 2) && all_online(m, s) && settled(m, s)
}

fn wl2_durable_everywhere(m: &Dtm0Model, s: &SysState) -> bool {
    let ups = up(m.cfg(), s);
    durable_txs(m, s)
        .into_iter()
        .any(|tx| ups.iter().all(|&p| durable_at(m, s, p, tx)))
        && settled(m, s)
}

fn wl3_stable_settled(m: &Dtm0Model, s: &SysState) -> bool {
    live_origs(m, s).any(|o| {
        o.dtxs
            .iter()
            .any(|d| d.st >= crate::protocol::originator::DtxSt::Stable)
    }) && settled(m, s)
}

// ---------------------------------------------------------------------
// Why a property fails: each `why` reads the state as its property does
// and names the clause that fails (one of the property's `clauses`) with
// the data that make it fail: the participant, the key, the records, the
// dtx.

/// `"label" fails: detail`, the one line of an explanation.
fn fail(label: &str, detail: String) -> Option<String> {
    Some(format!("\"{label}\" fails: {detail}"))
}

/// The clause label an explanation names (`replicas agree`).
pub fn clause_of(explanation: &str) -> Option<&str> {
    explanation.strip_prefix('"')?.split('"').next()
}

fn pname(m: &Dtm0Model, p: usize) -> String {
    m.cfg().cluster.participant_name(p)
}

fn dtx(m: &Dtm0Model, tx: TxId) -> String {
    crate::model::table::dtx_name(&m.cfg().cluster, &tx)
}

/// A dtx with its op: `o1.R1 [PUT k1 @10]`.
fn dtx_op(m: &Dtm0Model, tx: TxId) -> String {
    match op_of(m, tx) {
        Some(op) => format!(
            "{} [{}]",
            dtx(m, tx),
            crate::protocol::types::render_op(&op, tx.ts)
        ),
        None => dtx(m, tx),
    }
}

/// The dtx of the scripts that writes `ver` of `key`.
fn writer(m: &Dtm0Model, key: Key, ver: Version) -> Option<TxId> {
    let c = &m.cfg().cluster;
    (0..c.m())
        .flat_map(|slot| {
            let o = &c.originators[slot];
            (0..o.plan.len()).flat_map(move |i| {
                c.issued_by(slot, o.first_inc + i as crate::protocol::types::Inc)
            })
        })
        .find(|(id, op)| op.key() == key && Version::of(*id, op) == ver)
        .map(|(id, _)| id)
}

/// A catalogue entry with the dtx that wrote it: `k1@10 (o1.R1)`,
/// `k1@10=7 (q1.R1)`, `tombstone k1@100 (o2.R1)`, `nothing for k1`.
pub fn rec_text(m: &Dtm0Model, key: Key, r: Option<&crate::protocol::types::Rec>) -> String {
    let Some(r) = r else {
        return format!("nothing for k{key}");
    };
    let by = writer(m, key, r.ver).map_or(String::new(), |tx| format!(" ({})", dtx(m, tx)));
    if r.alive() {
        format!("{}{by}", crate::model::render::kv_entry(key, r))
    } else {
        format!("tombstone k{key}@{}{by}", r.ver.ts)
    }
}

/// A version of a key with its dtx: `DEL k1 @100 (o2.R1)`.
fn ver_text(m: &Dtm0Model, key: Key, v: Version) -> String {
    let by = writer(m, key, v).map_or(String::new(), |tx| format!(" ({})", dtx(m, tx)));
    format!("{} k{key} @{}{by}", if v.del { "DEL" } else { "PUT" }, v.ts)
}

/// Why S1 fails, if it does.
pub fn s1_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    (0..m.cfg().cluster.n).find_map(|p| s1_why_at(m, s, p))
}

/// Why S1 fails at participant `p`, if it does.
pub fn s1_why_at(m: &Dtm0Model, s: &SysState, p: usize) -> Option<String> {
    let st = store(s, p);
    let name = pname(m, p);
    let want = replayed_kv(st);
    let collects = m.cfg().cluster.collects();
    let keys: std::collections::BTreeSet<Key> = want.keys().chain(st.kv.keys()).copied().collect();
    for key in keys {
        let (have, should) = (st.kv.get(&key), want.get(&key));
        let gone = collects && have.is_none() && should.is_some_and(|r| !r.alive());
        if have != should && !gone {
            return fail(
                "catalogue is the log's",
                format!(
                    "{name}'s durable log and pruned records make {} but its durable catalogue has {}",
                    rec_text(m, key, should),
                    rec_text(m, key, have)
                ),
            );
        }
    }
    if let Some(ls) = live(s, p) {
        for (k, d) in &st.kv {
            let v = ls.kv.get(k);
            if v.is_none_or(|v| v.ver < d.ver) {
                return fail(
                    "visible not behind durable",
                    format!(
                        "{name} shows {} but its disk has {}",
                        rec_text(m, *k, v),
                        rec_text(m, *k, Some(d))
                    ),
                );
            }
        }
    }
    None
}

/// Every key some participant's durable catalogue holds.
fn stored_keys(m: &Dtm0Model, s: &SysState) -> std::collections::BTreeSet<Key> {
    let collects = m.cfg().cluster.collects();
    (0..m.cfg().cluster.n)
        .flat_map(|p| logical_kv(collects, store(s, p)).into_keys())
        .collect()
}

fn s2_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let ups = up(m.cfg(), s);
    let collects = m.cfg().cluster.collects();
    let kvs: Vec<_> = ups
        .iter()
        .map(|&p| logical_kv(collects, store(s, p)))
        .collect();
    let differ: Vec<String> = stored_keys(m, s)
        .into_iter()
        .filter_map(|k| {
            let recs: Vec<_> = kvs.iter().map(|kv| kv.get(&k)).collect();
            recs.iter().any(|r| *r != recs[0]).then(|| {
                let who: Vec<String> = ups
                    .iter()
                    .zip(&recs)
                    .map(|(&p, r)| format!("{} has {}", pname(m, p), rec_text(m, k, *r)))
                    .collect();
                format!("k{k} differs: {}", who.join(", "))
            })
        })
        .collect();
    if differ.is_empty() || !quiescent(m, s) {
        return None;
    }
    fail(
        "replicas agree",
        format!("at quiescence {}", differ.join("; ")),
    )
}

fn s3_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let c = &m.cfg().cluster;
    if !quiescent(m, s) {
        return None;
    }
    for key in 1..=c.keys {
        let highest = (0..c.n)
            .flat_map(|p| durable_versions(store(s, p), key).collect::<Vec<_>>())
            .max();
        let Some(h) = highest.filter(|v| v.del) else {
            continue;
        };
        if let Some(p) = (0..c.n).find(|&p| store(s, p).kv.get(&key).is_some_and(|r| r.alive())) {
            return fail(
                "no resurrection",
                format!(
                    "at quiescence the highest durable op on k{key} is {}, yet {} has {}",
                    ver_text(m, key, h),
                    pname(m, p),
                    rec_text(m, key, store(s, p).kv.get(&key))
                ),
            );
        }
    }
    None
}

fn s4_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let c = &m.cfg().cluster;
    let n = c.n;
    let liar = |tx: TxId, sv: crate::protocol::types::StateVec| {
        (0..n).find(|&q| sv.get(q) == St::P && !failed(s, q) && !durable_at(m, s, q, tx))
    };
    let say = |holder: String, tx: TxId, sv: crate::protocol::types::StateVec, q: usize| {
        fail(
            "honest P",
            format!(
                "{holder} shows {} P for {} (st={}), but it is not durable at {}",
                dtx(m, tx),
                pname(m, q),
                sv.render(n),
                pname(m, q)
            ),
        )
    };
    for p in 0..n {
        let name = pname(m, p);
        match live(s, p) {
            Some(ls) => {
                for r in &ls.log {
                    if let Some(q) = liar(r.id, r.sv) {
                        return say(format!("{name}'s log record"), r.id, r.sv, q);
                    }
                }
                for &(tx, sv) in &ls.early {
                    if let Some(q) = liar(tx, sv) {
                        return say(format!("{name}'s early notice"), tx, sv, q);
                    }
                }
            }
            None => {
                for r in &store(s, p).log {
                    if let Some(q) = liar(r.id, r.sv) {
                        return say(format!("{name}'s durable log record"), r.id, r.sv, q);
                    }
                }
            }
        }
    }
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        if s.crashed[i] {
            continue;
        }
        if let Some(o) = s.actor_states[i].originator() {
            for d in &o.dtxs {
                if let Some(q) = liar(d.id, d.sv) {
                    let who = format!("{}{}", c.originators[slot].name, incarnation(s, i));
                    return say(format!("{who}'s dtx"), d.id, d.sv, q);
                }
            }
        }
    }
    for (src, dst, msg) in in_flight(s) {
        let (kind, tx, sv) = match msg {
            Msg::Persistent { tx, sv, .. } => ("PERSISTENT", *tx, *sv),
            Msg::Redo { txr, .. } => ("REDO", txr.id, txr.sv),
            _ => continue,
        };
        if let Some(q) = liar(tx, sv) {
            let holder = format!(
                "a {kind} in flight {} -> {}",
                c.name(src, incarnation(s, usize::from(src))),
                c.name(dst, incarnation(s, usize::from(dst)))
            );
            return say(holder, tx, sv, q);
        }
    }
    None
}

fn s5_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let ups = up(m.cfg(), s);
    let stable = stable_ghost(m, s);
    if let Some(&tx) = stable
        .iter()
        .find(|&&tx| !ups.iter().any(|&p| durable_at(m, s, p, tx)))
    {
        let lost: Vec<String> = (0..m.cfg().cluster.n)
            .filter(|&p| failed(s, p))
            .map(|p| pname(m, p))
            .collect();
        let note = if lost.is_empty() {
            String::new()
        } else {
            format!(" that has not failed for good ({} did)", lost.join(", "))
        };
        return fail(
            "STABLE kept",
            format!(
                "{} was seen STABLE, yet it is durable at no participant{note}",
                dtx_op(m, tx)
            ),
        );
    }
    if !quiescent(m, s) {
        return None;
    }
    stable.iter().find_map(|&tx| {
        ups.iter()
            .copied()
            .find(|&p| !durable_at(m, s, p, tx))
            .and_then(|p| {
                fail(
                    "STABLE everywhere",
                    format!(
                        "at quiescence {} (seen STABLE) is not durable at {}",
                        dtx_op(m, tx),
                        pname(m, p)
                    ),
                )
            })
    })
}

/// A dtx durable at some participant and not at another: (tx, at, not at).
fn partly_durable(m: &Dtm0Model, s: &SysState) -> Option<(TxId, usize, usize)> {
    let ups = up(m.cfg(), s);
    durable_txs(m, s).into_iter().find_map(|tx| {
        let at = ups.iter().copied().find(|&p| durable_at(m, s, p, tx));
        let not = ups.iter().copied().find(|&p| !durable_at(m, s, p, tx));
        match (at, not) {
            (Some(a), Some(b)) => Some((tx, a, b)),
            // Durable nowhere (a pruned ghost whose op is unknown).
            (None, Some(b)) => Some((tx, b, b)),
            _ => None,
        }
    })
}

fn partly_text(m: &Dtm0Model, (tx, at, not): (TxId, usize, usize)) -> String {
    if at == not {
        format!("{} is not durable at {}", dtx_op(m, tx), pname(m, not))
    } else {
        format!(
            "{} is durable at {} but not at {}",
            dtx_op(m, tx),
            pname(m, at),
            pname(m, not)
        )
    }
}

fn s6_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let bad = partly_durable(m, s)?;
    if !quiescent(m, s) {
        return None;
    }
    fail(
        "all or nothing",
        format!("at quiescence {}", partly_text(m, bad)),
    )
}

fn s7_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let ups = up(m.cfg(), s);
    let collects = m.cfg().cluster.collects();
    for &p in &ups {
        for &(tx, op) in &store(s, p).ghost.pruned {
            let ver = Version::of(tx, &op);
            if let Some(&q) = ups
                .iter()
                .find(|&&q| !durable_in(collects, store(s, q), tx, op.key(), ver))
            {
                return fail(
                    "safe pruning",
                    format!(
                        "{} pruned {}, which is not durable at {}",
                        pname(m, p),
                        dtx_op(m, tx),
                        pname(m, q)
                    ),
                );
            }
        }
    }
    None
}

fn s8_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let n = m.cfg().cluster.n;
    for p in 0..n {
        let Some(ps) = live(s, p) else { continue };
        if !ps.declared {
            continue;
        }
        for q in (0..n).filter(|&q| q != p && !failed(s, q)) {
            let Some(qs) = live(s, q) else { continue };
            let rd = &qs.rounds[p];
            let counted = ps.ghost.declared_peers.get(q).copied().unwrap_or(0);
            if counted != 0 && counted == qs.inc && rd.inc == ps.inc && !rd.eol {
                return fail(
                    "heard every peer",
                    format!(
                        "{} (incarnation {}) declared itself recovered while {} (incarnation {}), which it had to hear from, is still redoing to it (no EOL yet)",
                        pname(m, p),
                        ps.inc,
                        pname(m, q),
                        qs.inc
                    ),
                );
            }
            if rd.inc != ps.inc || !rd.eol {
                continue;
            }
            for pos in qs.base..rd.cutoff {
                let r = &qs.log[(pos - qs.base) as usize];
                let applied = ps.log.iter().any(|x| x.id == r.id)
                    || ps.kv.get(&r.op.key()).is_some_and(|k| k.ver >= r.version());
                if !applied {
                    return fail(
                        "applied before declared",
                        format!(
                            "{} (incarnation {}) declared itself recovered, but {}'s record R{} = {}, before its cutoff R{} for it, is not applied there",
                            pname(m, p),
                            ps.inc,
                            pname(m, q),
                            pos + 1,
                            dtx_op(m, r.id),
                            rd.cutoff
                        ),
                    );
                }
            }
        }
    }
    None
}

fn s9_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let n = m.cfg().cluster.n;
    for q in 0..n {
        let Some(qs) = live(s, q) else { continue };
        for (p, rd) in qs.rounds.iter().enumerate() {
            if rd.eol && rd.sent != rd.acked {
                return fail(
                    "EOL after acks",
                    format!(
                        "{} sent EOL to {} (incarnation {}) with {} of its {} REDOs acked",
                        pname(m, q),
                        pname(m, p),
                        rd.inc,
                        rd.acked,
                        rd.sent
                    ),
                );
            }
        }
    }
    None
}

fn s11_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let c = &m.cfg().cluster;
    for slot in 0..c.m() {
        let i = usize::from(c.originator_id(slot));
        if s.crashed[i] {
            continue;
        }
        let Some(o) = s.actor_states[i].originator() else {
            continue;
        };
        for r in &o.reads {
            let Some(clause) = s11_broken(r) else {
                continue;
            };
            let who = c.name(c.originator_id(slot), o.inc);
            let must = r.must.expect("judged reads have a STABLE write");
            let got = crate::model::render::read_rec(r.key, r.best.as_ref());
            let saw = ver_text(m, r.key, must);
            let from = r.answered;
            return if clause == 0 {
                fail(
                    "no lost STABLE write",
                    format!("{who}'s GET k{} returned {got} ({from} replica(s) answered), older than {saw}, STABLE before the GET", r.key),
                )
            } else {
                fail(
                    "no visible resurrection",
                    format!("{who}'s GET k{} returned {got} ({from} replica(s) answered), alive although {saw} was STABLE before the GET", r.key),
                )
            };
        }
    }
    None
}

fn l1_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let c = &m.cfg().cluster;
    let t = &ha(s, c).table;
    let p = up(m.cfg(), s)
        .into_iter()
        .find(|&p| t.get(p).1 != HaSt::Online)?;
    if !settled(m, s) {
        return None;
    }
    fail(
        "recovery ends",
        format!("settled, yet HA has {} {}", pname(m, p), t.get(p).1.name()),
    )
}

fn l2_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let ups = up(m.cfg(), s);
    let not_p =
        |r: &crate::protocol::types::Txr| ups.iter().copied().find(|&q| r.sv.get(q) != St::P);
    let reason = match partly_durable(m, s) {
        Some(bad) => Some(("durable everywhere", partly_text(m, bad))),
        None => ups.iter().find_map(|&p| {
            live(s, p)?
                .log
                .iter()
                .find(|r| not_p(r).is_some())
                .map(|r| {
                    let q = not_p(r).unwrap_or(p);
                    (
                        "P everywhere",
                        format!(
                            "{}'s record of {} is not P for {}",
                            pname(m, p),
                            dtx_op(m, r.id),
                            pname(m, q)
                        ),
                    )
                })
        }),
    };
    let (label, detail) = reason?;
    if !settled(m, s) {
        return None;
    }
    fail(label, format!("settled, yet {detail}"))
}

fn l3_why(m: &Dtm0Model, s: &SysState) -> Option<String> {
    let c = &m.cfg().cluster;
    let late = (0..c.m()).find_map(|slot| {
        let i = usize::from(c.originator_id(slot));
        if s.crashed[i] {
            return None;
        }
        s.actor_states[i]
            .originator()?
            .dtxs
            .iter()
            .find(|d| d.st < crate::protocol::originator::DtxSt::Stable)
            .map(|d| (d.id, d.st.name()))
    });
    if let Some((tx, st)) = late {
        if !settled(m, s) {
            return None;
        }
        return fail(
            "dtx completes",
            format!("settled, yet {} is {st} at its originator", dtx_op(m, tx)),
        );
    }
    let open = (0..c.m()).find_map(|slot| {
        let i = usize::from(c.originator_id(slot));
        if s.crashed[i] {
            return None;
        }
        let o = s.actor_states[i].originator()?;
        let r = o
            .reads
            .iter()
            .find(|r| r.phase != crate::protocol::originator::ReadPhase::Done)?;
        Some((c.name(c.originator_id(slot), o.inc), r.clone()))
    });
    let (who, r) = open?;
    if !settled(m, s) {
        return None;
    }
    fail(
        "read completes",
        format!("settled, yet {who}'s {}", crate::model::render::read(c, &r)),
    )
}

/// Every property that fails at `s`, with its explanation.
pub fn explain(m: &Dtm0Model, s: &SysState) -> Vec<(&'static str, String)> {
    PROPS
        .iter()
        .filter_map(|p| (p.why)(m, s).map(|w| (p.id, w)))
        .collect()
}
