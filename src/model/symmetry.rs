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

struct Perm<'a> {
    /// `to[old] = new` for participants; other actors keep their index.
    to: &'a [usize],
}

impl Perm<'_> {
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
                for e in &mut o.outbox {
                    e.0 = self.to[e.0 as usize] as u8;
                }
                for r in &mut o.reads {
                    for e in &mut r.pending {
                        e.0 = self.to[e.0 as usize] as u8;
                    }
                    r.pending.sort();
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

/// What tells participants apart in a model: the crash budget of each
/// actor, with bit 7 set for a participant that may fail for good. The
/// argument `classes` takes.
pub fn class_keys(c: &crate::protocol::cluster::Cluster, budgets: &[u8]) -> Vec<u8> {
    budgets
        .iter()
        .enumerate()
        .map(|(i, &b)| if c.may_fail(i) { b | 0x80 } else { b })
        .collect()
}

/// The participants' symmetry classes: the indices of participants with
/// equal crash budgets (`budgets[i]` for participant `i`; give it
/// `class_keys`, which adds whether each may fail for good), each class of
/// two or more in increasing order. Renaming within a class maps the
/// model onto itself: participants differ in nothing but their budgets
/// (every key is replicated on all; scripts name no participant).
pub fn classes(budgets: &[u8], n: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let b = budgets.get(i).copied().unwrap_or(0);
        match out
            .iter_mut()
            .find(|c| budgets.get(c[0]).copied().unwrap_or(0) == b)
        {
            Some(c) => c.push(i),
            None => out.push(vec![i]),
        }
    }
    out.retain(|c| c.len() > 1);
    out
}

/// The representative: participants renamed so that their (state,
/// storage, crashed) triples are in sorted order (every participant one
/// class: `--reduction none`, whose checker takes a plain function).
pub fn representative(s: &SysState) -> SysState {
    let all = vec![(0..participants(s)).collect()];
    representative_in(s, &all)
}

/// The representative up to renaming within each of `classes`: in each
/// class, the participants' (state, storage, crashed) triples sorted onto
/// the class's positions. Ties stay in place (not canonical: equivalent
/// states may keep different representatives, which merges less and is
/// sound).
pub fn representative_in(s: &SysState, classes: &[Vec<usize>]) -> SysState {
    let key = |i: usize| (&s.actor_states[i], &s.actor_storages[i], s.crashed[i]);
    let mut to: Vec<usize> = (0..participants(s)).collect();
    for class in classes {
        let mut order = class.clone();
        order.sort_by(|&a, &b| key(a).cmp(&key(b)));
        for (&pos, &old) in class.iter().zip(&order) {
            to[old] = pos;
        }
    }
    if to.iter().enumerate().all(|(i, &j)| i == j) {
        // Already sorted; the inner indices may still differ between
        // equivalent states, but renaming by the identity changes nothing.
        return s.clone();
    }
    renamed(s, &to)
}

/// Renamings tried for an exact canonical form; past this many our search
/// stores the sorted representative instead.
const EXACT_UP_TO: usize = 6;

/// The renamings within a model's classes, computed once per search (the
/// fingerprint is taken for every successor: the hottest path there is).
pub struct Renamings {
    classes: Vec<Vec<usize>>,
    /// Every renaming but the identity, as `to[old] = new`.
    others: Vec<Vec<usize>>,
}

impl Renamings {
    /// The renamings within `classes` of `n` participants.
    pub fn new(classes: Vec<Vec<usize>>, n: usize) -> Renamings {
        let mut all: Vec<Vec<usize>> = vec![(0..n).collect()];
        for class in &classes {
            let mut next = Vec::new();
            for to in &all {
                for p in permutations(class.len()) {
                    let mut t = to.clone();
                    for (k, &old) in class.iter().enumerate() {
                        t[old] = class[p[k]];
                    }
                    next.push(t);
                }
            }
            all = next;
        }
        all.retain(|to| to.iter().enumerate().any(|(i, &j)| i != j));
        Renamings {
            classes,
            others: all,
        }
    }

    /// The fingerprint our search stores for `s`: the canonical one while
    /// there are at most `EXACT_UP_TO` renamings (two or three
    /// interchangeable participants), else that of the sorted
    /// representative.
    pub fn fingerprint(&self, s: &SysState) -> u64 {
        if self.others.len() < EXACT_UP_TO {
            self.canonical_fp(s)
        } else {
            crate::model::visited_fp(&representative_in(s, &self.classes))
        }
    }

    /// The least fingerprint of `s` over every renaming: a canonical form
    /// (equal exactly for equivalent states, but for hash collisions,
    /// which the fingerprint table risks anyway). The renamed states
    /// differ only by where participants' indices stand, so their
    /// fingerprints do not depend on which of them `s` is.
    pub fn canonical_fp(&self, s: &SysState) -> u64 {
        self.others
            .iter()
            .map(|to| crate::model::visited_fp(&renamed(s, to)))
            .fold(crate::model::visited_fp(s), u64::min)
    }
}

fn permutations(k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(k - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, k - 1);
            out.push(q);
        }
    }
    out
}

/// `s` with participant `old` renamed `to[old]` (a permutation of the
/// participants; other actors keep their index).
pub fn renamed(s: &SysState, to: &[usize]) -> SysState {
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
