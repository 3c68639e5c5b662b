//! Symmetry over interchangeable participants: a representative of a state
//! up to a renaming of participants. Sound only when participants are
//! interchangeable (same crash budget; every key replicated on all), which
//! `check::run` verifies before using it.
//!
//! Participant indices hide in many places besides the actor vector: the
//! I/V/P vectors, HA tables, rounds and EOL flags, message endpoints. All
//! are renamed by one permutation here.

use crate::model::{in_flight, SysState};
use crate::protocol::actor::{Dtm0State, Dtm0Store};
use crate::protocol::msg::{HaTable, Msg};
use crate::protocol::types::{StateVec, Txr};
use stateright::actor::{Envelope, Id, Network};
use std::sync::Arc;

struct Perm {
    /// `to[old] = new` for participants; other actors keep their index.
    to: Vec<usize>,
}

impl Perm {
    fn id(&self, id: Id) -> Id {
        let i = usize::from(id);
        Id::from(self.to.get(i).copied().unwrap_or(i))
    }
    fn sv(&self, sv: StateVec) -> StateVec {
        sv.permute(|p| self.to[p])
    }
    fn txr(&self, r: &Txr) -> Txr {
        Txr {
            sv: self.sv(r.sv),
            ..*r
        }
    }
    fn table(&self, t: &HaTable) -> HaTable {
        let mut v = t.0.clone();
        for (old, &new) in self.to.iter().enumerate() {
            if old < t.0.len() && new < v.len() {
                v[new] = t.0[old];
            }
        }
        HaTable(v)
    }
    fn reindex<T: Clone>(&self, v: &[T]) -> Vec<T> {
        let mut out = v.to_vec();
        for (old, &new) in self.to.iter().enumerate() {
            if old < v.len() {
                out[new] = v[old].clone();
            }
        }
        out
    }
    fn msg(&self, m: &Msg) -> Msg {
        match m {
            Msg::Persistent { to, tx, sv } => Msg::Persistent {
                to: *to,
                tx: *tx,
                sv: self.sv(*sv),
            },
            Msg::Redo { to, from, txr } => Msg::Redo {
                to: *to,
                from: *from,
                txr: self.txr(txr),
            },
            Msg::View { to, seq, table } => Msg::View {
                to: *to,
                seq: *seq,
                table: self.table(table),
            },
            other => other.clone(),
        }
    }
    fn state(&self, s: &Dtm0State) -> Dtm0State {
        match s {
            Dtm0State::Participant(p) => {
                let mut p = p.clone();
                p.log = p.log.iter().map(|r| self.txr(r)).collect();
                p.early = p.early.iter().map(|&(t, sv)| (t, self.sv(sv))).collect();
                p.view = self.table(&p.view);
                p.rounds = self.reindex(&p.rounds);
                p.eol = self.reindex(&p.eol);
                if !p.ghost.declared_peers.is_empty() {
                    p.ghost.declared_peers = self.reindex(&p.ghost.declared_peers);
                }
                Dtm0State::Participant(p)
            }
            Dtm0State::Originator(o) => {
                let mut o = o.clone();
                for d in &mut o.dtxs {
                    d.sv = self.sv(d.sv);
                }
                o.view = self.table(&o.view);
                Dtm0State::Originator(o)
            }
            Dtm0State::Ha(h) => {
                let mut h = h.clone();
                h.table = self.table(&h.table);
                Dtm0State::Ha(h)
            }
        }
    }
    fn store(&self, s: &Dtm0Store) -> Dtm0Store {
        match s {
            Dtm0Store::Participant(p) => {
                let mut p = p.clone();
                p.log = p.log.iter().map(|r| self.txr(r)).collect();
                Dtm0Store::Participant(p)
            }
            other => other.clone(),
        }
    }
}

/// Number of participants: the actors whose state is a participant's.
fn participants(s: &SysState) -> usize {
    s.actor_states
        .iter()
        .take_while(|a| matches!(***a, Dtm0State::Participant(_)))
        .count()
}

/// The representative: participants renamed so that their (state,
/// storage, crashed) triples are in sorted order.
pub fn representative(s: &SysState) -> SysState {
    let n = participants(s);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        (&s.actor_states[a], &s.actor_storages[a], s.crashed[a]).cmp(&(
            &s.actor_states[b],
            &s.actor_storages[b],
            s.crashed[b],
        ))
    });
    let mut to = vec![0; n];
    for (new, &old) in order.iter().enumerate() {
        to[old] = new;
    }
    if to.iter().enumerate().all(|(i, &j)| i == j) {
        // Already sorted; the inner indices may still differ between
        // equivalent states, but renaming by the identity changes nothing.
        return s.clone();
    }
    let perm = Perm { to };
    let states: Vec<Arc<Dtm0State>> = s
        .actor_states
        .iter()
        .map(|a| Arc::new(perm.state(a)))
        .collect();
    let storages: Vec<Option<Dtm0Store>> = s
        .actor_storages
        .iter()
        .map(|x| x.as_ref().map(|st| perm.store(st)))
        .collect();
    // `in_flight` lists every envelope with its multiplicity, each ordered
    // channel in order, so renaming its output and rebuilding is faithful.
    let rename = |src: Id, dst: Id, msg: &Msg| Envelope {
        src: perm.id(src),
        dst: perm.id(dst),
        msg: perm.msg(msg),
    };
    let envs: Vec<Envelope<Msg>> = in_flight(s)
        .into_iter()
        .map(|(src, dst, msg)| rename(src, dst, msg))
        .collect();
    let network = match &s.network {
        Network::Ordered(_) => Network::new_ordered(envs),
        Network::UnorderedNonDuplicating(_) => Network::new_unordered_nonduplicating(envs),
        Network::UnorderedDuplicating(_, last) => Network::new_unordered_duplicating_with_last_msg(
            envs,
            last.as_ref().map(|e| rename(e.src, e.dst, &e.msg)),
        ),
    };
    SysState {
        actor_states: perm.reindex(&states),
        network,
        timers_set: perm.reindex(&s.timers_set),
        random_choices: perm.reindex(&s.random_choices),
        crashed: perm.reindex(&s.crashed),
        history: (),
        actor_storages: perm.reindex(&storages),
    }
}
