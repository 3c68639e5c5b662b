//! The stateright model of a cluster: the actors of a model file, its
//! network, its crash budgets, and every property of `properties`.

pub mod explorer;
pub mod file;
pub mod properties;
pub mod render;
pub mod scenario;
pub mod steps;
pub mod symmetry;
pub mod table;
pub mod trace;

use crate::model::file::{ModelSpec, NetworkKind};
use crate::protocol::actor::{Dtm0, Dtm0Store};
use crate::protocol::cluster::Cluster;
use crate::protocol::msg::{Msg, Timer};
use crate::protocol::participant::{PartState, PartStore};
use crate::protocol::types::Inc;
use stateright::actor::{
    ActorModel, ActorModelAction, ActorModelState, Envelope, Id, LossyNetwork, Network,
};
use stateright::{Model, Path, Property};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the property functions and the boundary need to know.
#[derive(Clone, Debug)]
pub struct ModelCfg {
    pub cluster: Arc<Cluster>,
    /// Crash budget of each actor, in actor order.
    pub budgets: Vec<u8>,
    pub network: NetworkKind,
    /// How many actors may be crashed at once.
    pub max_crashes: usize,
    /// Set to end a run early: from then on no new state is within the
    /// boundary, so every strategy drains its queue and stops. (stateright
    /// 0.31's own timeout only takes effect when a DFS worker's queue runs
    /// dry, which on a large model is never.)
    pub stop: Arc<AtomicBool>,
    /// When set, the order of the actions of each state is shuffled by this
    /// seed and the state's hash: a randomised DFS, which reaches far more
    /// varied crash timings in a bounded run than stateright's fixed order
    /// (whose first dive crashes everything before anything happens).
    pub shuffle: Option<u64>,
    /// Canonical stores (on by default): see `canonical_store`.
    pub canonical_store: bool,
}

pub type SysState = ActorModelState<Dtm0, ()>;
pub type Action = ActorModelAction<Msg, Timer, ()>;

/// The DTM0 model: stateright's actor model of the cluster, with one change
/// of semantics. On an unordered network stateright leaves a message whose
/// delivery changes nothing in flight forever (a stale HA view, a notice
/// already known, a request meant for a dead incarnation). Such messages
/// pile up in different combinations and multiply the states, although a
/// real network would simply have delivered them. Here delivering one
/// removes it. (Ordered networks already behave so; on a duplicating
/// network a message may be delivered any number of times, so it stays.)
pub struct Dtm0Model {
    pub actors: ActorModel<Dtm0, ModelCfg, ()>,
    /// The properties, each with the spec property it belongs to.
    pub registered: Vec<properties::Registered>,
}

impl Dtm0Model {
    pub fn cfg(&self) -> &ModelCfg {
        &self.actors.cfg
    }
}

impl Model for Dtm0Model {
    type State = SysState;
    type Action = Action;

    fn init_states(&self) -> Vec<SysState> {
        self.actors.init_states()
    }
    fn actions(&self, state: &SysState, actions: &mut Vec<Action>) {
        self.actors.actions(state, actions);
        if let Some(seed) = self.cfg().shuffle {
            // Fisher-Yates driven by a splitmix64 stream seeded per state.
            let mut x = order_hash(state) ^ seed;
            let mut next = || {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            };
            for i in (1..actions.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                actions.swap(i, j);
            }
        }
    }
    fn next_state(&self, last: &SysState, action: Action) -> Option<SysState> {
        let (src, dst, msg) = match &action {
            ActorModelAction::Deliver { src, dst, msg } => (*src, *dst, msg.clone()),
            ActorModelAction::Timeout(id, _) | ActorModelAction::Recover(id) => {
                let a = usize::from(*id);
                let mut next = self.actors.next_state(last, action)?;
                if self.cfg().canonical_store {
                    canonical_store(self.cfg(), &mut next, a);
                }
                return Some(next);
            }
            _ => return self.actors.next_state(last, action),
        };
        if let Some(mut next) = self.actors.next_state(last, action) {
            if self.cfg().canonical_store {
                canonical_store(self.cfg(), &mut next, usize::from(dst));
            }
            return Some(next);
        }
        if last.crashed[usize::from(dst)] {
            return None; // it waits for the restart (and is then stale)
        }
        let mut next = last.clone();
        match &mut next.network {
            Network::UnorderedNonDuplicating(multiset) => {
                let env = Envelope { src, dst, msg };
                match multiset.get_mut(&env) {
                    Some(count) if *count > 1 => *count -= 1,
                    Some(_) => {
                        multiset.remove(&env);
                    }
                    None => return None,
                }
                Some(next)
            }
            _ => None,
        }
    }
    fn format_action(&self, action: &Action) -> String {
        crate::model::render::action(self.cfg(), action)
    }
    fn format_step(&self, last: &SysState, action: Action) -> Option<String> {
        self.next_state(last, action)
            .map(|next| crate::model::render::state(self.cfg(), &next))
    }
    fn as_svg(&self, path: Path<SysState, Action>) -> Option<String> {
        let path = Path::from_actions(
            &self.actors,
            path.clone().into_states()[0].clone(),
            path.into_actions().iter(),
        )?;
        self.actors.as_svg(path)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        self.registered.iter().map(|r| r.property.clone()).collect()
    }
    fn within_boundary(&self, state: &SysState) -> bool {
        within_boundary(self.cfg(), state)
    }
}

pub fn build(spec: &ModelSpec) -> Dtm0Model {
    build_with(spec, None)
}

/// `build`, with the action order shuffled by `shuffle` (see
/// `ModelCfg::shuffle`). Paths found this way are replayed on a plain
/// model before they are shown, so explorer links stay valid.
pub fn build_with(spec: &ModelSpec, shuffle: Option<u64>) -> Dtm0Model {
    let cluster = Arc::new(spec.cluster.clone());
    let cfg = ModelCfg {
        cluster: cluster.clone(),
        budgets: spec.budgets.clone(),
        network: spec.network,
        max_crashes: spec.max_concurrent_crashes,
        stop: Arc::new(AtomicBool::new(false)),
        shuffle,
        canonical_store: !spec.check.exact_store.unwrap_or(false),
    };
    let actors: Vec<Dtm0> = (0..cluster.actor_count())
        .map(|i| Dtm0 {
            cluster: cluster.clone(),
            proc: cluster.proc_of(Id::from(i)),
        })
        .collect();
    let network = match spec.network {
        NetworkKind::Ordered => Network::new_ordered([]),
        NetworkKind::Unordered | NetworkKind::Lossy => Network::new_unordered_nonduplicating([]),
        NetworkKind::Duplicating => Network::new_unordered_duplicating([]),
    };
    let actors = ActorModel::new(cfg, ())
        .actors(actors)
        .init_network(network)
        .lossy_network(if spec.network == NetworkKind::Lossy {
            LossyNetwork::Yes
        } else {
            LossyNetwork::No
        })
        .max_crashes(spec.max_concurrent_crashes)
        .within_boundary(within_boundary);
    let registered = properties::registered(spec);
    Dtm0Model { actors, registered }
}

/// The crash budget bounds every path: an actor may crash only while its
/// incarnation number is within its budget. Restarts are always enabled
/// in stateright, so crashes are what must be bounded.
fn within_boundary(cfg: &ModelCfg, s: &SysState) -> bool {
    !cfg.stop.load(Ordering::Relaxed) && within_budgets(cfg, s)
}

/// The crash budgets alone (no early stop): every crashed actor is within
/// its budget, and none failed for good (such a participant never crashes
/// or restarts again). The explorer hides the crashes that leave it.
pub fn within_budgets(cfg: &ModelCfg, s: &SysState) -> bool {
    s.crashed.iter().enumerate().all(|(i, &crashed)| {
        !crashed
            || (incarnation(s, i) <= Inc::from(cfg.budgets[i])
                && !(i < cfg.cluster.n && failed(s, i)))
    })
}

/// Canonical stores. A participant's store is read by the protocol only
/// when it restarts, and by the properties only while it is crashed,
/// except for its catalogue, its log's records and its pruned ghost. Once
/// a live participant has spent its crash budget (its incarnation is past
/// it; a budget of 0 means never), nothing reads the state vectors its
/// stored log carries: they are the vectors of its last commit, and where
/// that commit fell (which notices had arrived before it) multiplies the
/// states, terminal ones too, without changing any later step or verdict.
/// Such a store's vectors are set to the live log's (between commits the
/// stored log is the live log's durable prefix, whose vectors only grow).
/// Only actor `a`, the one that just stepped, can have changed what this
/// depends on. A model file's `[check] exact_store = true` turns it off.
fn canonical_store(cfg: &ModelCfg, s: &mut SysState, a: usize) {
    if a >= cfg.cluster.n || s.crashed[a] || incarnation(s, a) <= Inc::from(cfg.budgets[a]) {
        return;
    }
    let Some(live) = s.actor_states[a].participant() else {
        return;
    };
    let durable = live.durable_log();
    let Some(Some(Dtm0Store::Participant(st))) = s.actor_storages.get(a) else {
        return;
    };
    if st.log.len() != durable.len()
        || st.log.iter().zip(durable).all(|(x, y)| x.sv == y.sv)
        || st.log.iter().zip(durable).any(|(x, y)| x.id != y.id)
    {
        return;
    }
    let svs: Vec<_> = durable.iter().map(|r| r.sv).collect();
    if let Some(Some(Dtm0Store::Participant(st))) = s.actor_storages.get_mut(a) {
        for (r, sv) in st.log.make_flat().iter_mut().zip(svs) {
            r.sv = sv;
        }
    }
}

/// `s` with every participant's store made canonical (what the model's
/// steps do to the participant that stepped): for the tests, which check
/// on the small models that this map commutes with every step and keeps
/// every verdict.
pub fn canonical(cfg: &ModelCfg, s: &SysState) -> SysState {
    let mut c = s.clone();
    for p in 0..cfg.cluster.n {
        canonical_store(cfg, &mut c, p);
    }
    c
}

/// The incarnation of actor `i` as its storage records it (HA: 1).
pub fn incarnation(s: &SysState, i: usize) -> Inc {
    match s.actor_storages.get(i).and_then(|x| x.as_ref()) {
        Some(Dtm0Store::Participant(p)) => p.inc,
        Some(Dtm0Store::Originator(o)) => o.inc,
        None => 1,
    }
}

/// A participant's durable store (every participant saves one at start).
pub fn store(s: &SysState, p: usize) -> &PartStore {
    s.actor_storages[p]
        .as_ref()
        .and_then(Dtm0Store::participant)
        .expect("every participant saves its store when it starts")
}

/// Whether participant `p` failed for good (a model's `[failures]`): its
/// storage is lost and it never returns. The properties' "non-FAILED"
/// participants are the others.
pub fn failed(s: &SysState, p: usize) -> bool {
    s.actor_states[p].participant().is_some_and(|x| x.failed)
}

/// The participants that have not failed for good, in order.
pub fn up(cfg: &ModelCfg, s: &SysState) -> Vec<usize> {
    (0..cfg.cluster.n).filter(|&p| !failed(s, p)).collect()
}

/// A participant's volatile state, or `None` while it is crashed (its
/// stale state must not be read as if it were live).
pub fn live(s: &SysState, p: usize) -> Option<&PartState> {
    if s.crashed[p] {
        None
    } else {
        s.actor_states[p].participant()
    }
}

pub fn ha<'a>(s: &'a SysState, c: &Cluster) -> &'a crate::protocol::ha::HaState {
    s.actor_states[usize::from(c.ha_id())]
        .ha()
        .expect("the last actor is HA")
}

/// Every message in flight, with multiplicity. (stateright 0.31's own
/// `Network::iter_all` never ends on an ordered network, and repeats
/// duplicated envelopes once too often, so we walk the variants here.)
pub fn in_flight(s: &SysState) -> Vec<(Id, Id, &crate::protocol::msg::Msg)> {
    let mut v = Vec::new();
    match &s.network {
        Network::Ordered(map) => {
            for (&(src, dst), q) in map {
                v.extend(q.iter().map(|m| (src, dst, m)));
            }
        }
        Network::UnorderedNonDuplicating(multiset) => {
            for (e, &count) in multiset.iter() {
                for _ in 0..count {
                    v.push((e.src, e.dst, &e.msg));
                }
            }
        }
        Network::UnorderedDuplicating(set, _) => {
            v.extend(set.iter().map(|e| (e.src, e.dst, &e.msg)));
        }
    }
    v
}

/// The fingerprint of a state in every visited table (the reduced search,
/// shortest paths, the cycle search, the golden counts): 64 bits, never 0,
/// fixed keys so that runs repeat.
pub fn visited_fp(s: &SysState) -> u64 {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
    .hash_one(s)
    .max(1)
}

/// The hash that seeds the random action order of a state (`--random-order`).
/// Kept apart from `visited_fp`: the bounded runs recorded in results/ were
/// made with this order, and changing it changes what they find.
pub fn order_hash(s: &SysState) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Replays actions from the initial state; `None` if one is not enabled.
pub fn replay(m: &Dtm0Model, actions: &[Action]) -> Option<Vec<SysState>> {
    let mut states = vec![m.init_states().into_iter().next()?];
    for a in actions {
        let last = states.last().unwrap();
        let mut enabled = Vec::new();
        m.actions(last, &mut enabled);
        if !enabled.contains(a) {
            return None;
        }
        states.push(m.next_state(last, a.clone())?);
    }
    Some(states)
}
