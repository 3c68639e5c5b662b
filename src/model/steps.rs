//! The properties read on intermediate states (S1, S4, S5, S7, S8, S9,
//! S11, S12),
//! made *local to steps*: each is checked on the one transition of the
//! actor that could break it, reading only that actor's state and storage
//! before and after, the message the step consumes and the messages it
//! sends (what the step added to the network from that actor: a function
//! of the actor's state and the message). The global forms of `properties` are unchanged
//! and still evaluated on every visited state; these forms let a search
//! that skips intermediate local states (the semantic reduction) still
//! judge every step it takes.
//!
//! Each local form is *sufficient*: if no reachable step violates it (and
//! none violates its prerequisites, `prerequisites`), the global form holds
//! on every reachable state, by induction over paths from the initial
//! state (where every global form holds: nothing is logged, nothing
//! claimed, nobody recovering). S1 and S9 are also *necessary* (a
//! violating step ends in, or starts from, a state violating the global
//! form), so for them the two verdicts are equal on every model. For S4,
//! S5, S7 and S8 the local form is a rule of the protocol that the global
//! form depends on (a P bit is never invented, a record is pruned only
//! when all-P, ...): a mutant can break the rule at a step where the
//! global form happens to hold, so a local verdict is at least as strong;
//! tests/steps.rs compares the two verdicts model by model.
//!
//! `durable(q, tx)` below is `properties::durable` of `q`'s store for the
//! dtx's key and version (`D_q` is the set of dtxs durable at `q`).

use crate::model::properties::{durable_in, op_of, s1_ahead, s1_store};
use crate::model::{failed, live, store, up, Action, Dtm0Model, SysState};
use crate::protocol::msg::Msg;
use crate::protocol::participant::PartState;
use crate::protocol::types::{St, StateVec, TxId, Version};
use stateright::actor::{ActorModelAction, Id, Network};
use std::collections::BTreeSet;

/// The properties with a step-local form, in report order.
pub const STEP_IDS: &[&str] = &["S1", "S4", "S5", "S7", "S8", "S9", "S11", "S12"];

/// Whether property `id` has a step-local form.
pub fn has_step_form(id: &str) -> bool {
    STEP_IDS.contains(&id)
}

/// The properties whose local forms a local form relies on: it implies its
/// global form only where those hold too (see each form's comment). A
/// report calls a property proved by its local form only when none of
/// these is violated.
pub fn prerequisites(id: &str) -> &'static [&'static str] {
    match id {
        "S4" => &["S1"],
        "S5" | "S7" => &["S1", "S4"],
        "S8" => &["S1", "S4", "S9"],
        "S12" => &["S1"],
        _ => &[],
    }
}

/// The ids of the step-local forms violated by the transition `before`
/// --`action`--> `after` (a transition the model takes: `after` is
/// `m.next_state(before, action)`).
pub fn step_violations(
    m: &Dtm0Model,
    before: &SysState,
    action: &Action,
    after: &SysState,
) -> Vec<&'static str> {
    let c = &m.cfg().cluster;
    let a = match action {
        ActorModelAction::Deliver { dst, .. } => usize::from(*dst),
        ActorModelAction::Timeout(id, _)
        | ActorModelAction::Crash(id)
        | ActorModelAction::Recover(id) => usize::from(*id),
        // A loss changes no actor; a random choice is not in this model.
        ActorModelAction::Drop(_) | ActorModelAction::SelectRandom { .. } => return vec![],
    };
    let sent = sends(before, action, after);
    if sent.is_empty()
        && std::sync::Arc::ptr_eq(&before.actor_states[a], &after.actor_states[a])
        && before.actor_storages[a] == after.actor_storages[a]
        && before.crashed[a] == after.crashed[a]
    {
        // Nothing of the actor changed and nothing was sent (a stale or
        // repeated message): every form reads the same as before the step.
        return vec![];
    }
    let received = match action {
        ActorModelAction::Deliver { msg, .. } => Some(msg),
        _ => None,
    };
    let mut v = Vec::new();
    if a < c.n {
        let p = a;
        if !s1_step(m, before, after, p) {
            v.push("S1");
        }
        if !s4_participant_step(m, before, after, p, received, &sent) {
            v.push("S4");
        }
        if !s7_step(m, before, after, p) {
            v.push("S7");
        }
        if !s8_step(m, before, action, after, p, &sent) {
            v.push("S8");
        }
        if !s9_step(after, p) {
            v.push("S9");
        }
        if failed(after, p) && !failed(before, p) && !s5_kept(m, after) {
            v.push("S5");
        }
        // S12 reads p's store and the others' durable records, which no
        // other participant's step lowers (S1's local form; a participant
        // that failed for good is out of it): judged where p's store
        // changed.
        if before.actor_storages[p] != after.actor_storages[p]
            && crate::model::properties::s12_at(m, after, p).is_some()
        {
            v.push("S12");
        }
    } else if a < c.n + c.m() {
        if !s4_originator_step(m, before, after, a, received) {
            v.push("S4");
        }
        if !s5_step(m, before, after, a) {
            v.push("S5");
        }
        if !s11_step(after, a) {
            v.push("S11");
        }
    }
    v
}

/// The messages the step sends, with their receivers: what the step added
/// to the network from its actor (on an ordered network, the new tail of
/// each of the actor's channels; otherwise the added copies). They are
/// what the actor's handler sent, a function of its state and the message
/// only. (On a duplicating network a message already in flight and sent
/// again adds nothing; the copy in flight was checked when it was sent by
/// the same actor. The reduction is off on such networks.)
fn sends(before: &SysState, action: &Action, after: &SysState) -> Vec<(Id, Msg)> {
    let a = match action {
        ActorModelAction::Deliver { dst, .. } => *dst,
        ActorModelAction::Timeout(id, _) | ActorModelAction::Recover(id) => *id,
        _ => return vec![],
    };
    let mut out = Vec::new();
    match (&before.network, &after.network) {
        (Network::Ordered(b), Network::Ordered(x)) => {
            for (&(src, dst), q) in x.range((a, Id::from(0))..) {
                if src != a {
                    break;
                }
                let had = b.get(&(src, dst)).map_or(0, |q| q.len());
                out.extend(q.iter().skip(had).map(|m| (dst, m.clone())));
            }
        }
        (Network::UnorderedNonDuplicating(b), Network::UnorderedNonDuplicating(x)) => {
            for (e, &count) in x.iter().filter(|(e, _)| e.src == a) {
                let had = b.get(e).copied().unwrap_or(0);
                for _ in had..count {
                    out.push((e.dst, e.msg.clone()));
                }
            }
        }
        (Network::UnorderedDuplicating(b, _), Network::UnorderedDuplicating(x, _)) => {
            for e in x.iter().filter(|e| e.src == a && !b.contains(e)) {
                out.push((e.dst, e.msg.clone()));
            }
        }
        _ => {}
    }
    out
}

/// Every dtx of the scripts (the only ids a record can carry).
fn all_txs(m: &Dtm0Model) -> Vec<TxId> {
    let c = &m.cfg().cluster;
    let mut v = Vec::new();
    for (slot, o) in c.originators.iter().enumerate() {
        for i in 0..o.plan.len() {
            v.extend(c.issued_by(slot, o.first_inc + i as u32).map(|(id, _)| id));
        }
    }
    v
}

fn version(m: &Dtm0Model, tx: TxId) -> Option<(crate::protocol::types::Key, Version)> {
    op_of(m, tx).map(|op| (op.key(), Version::of(tx, &op)))
}

/// `tx` is durable at `p` in `s` (`properties::durable` of p's store).
fn durable_at(m: &Dtm0Model, s: &SysState, p: usize, tx: TxId) -> bool {
    let collects = m.cfg().cluster.collects();
    version(m, tx).is_some_and(|(key, ver)| durable_in(collects, store(s, p), tx, key, ver))
}

/// S1, local form, on a step of participant `p`: S1 holds at `p` after the
/// step, and no dtx durable at `p` before it is not durable after it
/// (`D_p` never shrinks: durable records survive, versions never go back).
///
/// Equivalent to the global S1. Global S1 is the conjunction over `p` of
/// `s1_at(p)`, which reads only p's state, storage and crashed flag, and
/// only steps of `p` change those; so "`s1_at(p)` after every step of `p`"
/// is exactly "S1 at every reachable state". The second half adds nothing
/// on reachable steps when S1 holds before the step: p's store changes
/// only at its commit (which saves its visible catalogue, not lowered by
/// the commit and, by S1's second half, at least the durable one; a pruned
/// record's version is covered by the durable catalogue by S1's first
/// half, and every other durable record stays in the log) and at its
/// restart (which saves the same catalogue and log). So a step violating
/// it starts from a state violating S1. It is stated here because S4, S5,
/// S7 and S8 rely on it.
///
/// The first clause reads p's store only, so it is judged only when the
/// step changed the store (every store starts empty, where it holds): the
/// replay of the log is not paid on every step.
fn s1_step(m: &Dtm0Model, before: &SysState, after: &SysState, p: usize) -> bool {
    if failed(after, p) {
        return true; // failed for good: its store is lost, by definition
    }
    if !s1_ahead(after, p) {
        return false;
    }
    if before.actor_storages[p] == after.actor_storages[p] {
        return true;
    }
    s1_store(m.cfg().cluster.collects(), store(after, p))
        && all_txs(m)
            .into_iter()
            .all(|tx| !durable_at(m, before, p, tx) || durable_at(m, after, p, tx))
}

/// The P bits a state vector shows, as (dtx, participant) pairs.
fn claims_of(out: &mut BTreeSet<(TxId, usize)>, n: usize, tx: TxId, sv: StateVec) {
    for q in 0..n {
        if sv.get(q) == St::P {
            out.insert((tx, q));
        }
    }
}

/// The P bits a message carries.
fn msg_claims(out: &mut BTreeSet<(TxId, usize)>, n: usize, msg: &Msg) {
    match msg {
        Msg::Persistent { tx, sv, .. } => claims_of(out, n, *tx, *sv),
        Msg::Redo { txr, .. } => claims_of(out, n, txr.id, txr.sv),
        _ => {}
    }
}

/// The P bits participant `p` holds where S4 reads them: its log and early
/// notices when live, its durable log when crashed.
fn participant_claims(s: &SysState, n: usize, p: usize) -> BTreeSet<(TxId, usize)> {
    let mut out = BTreeSet::new();
    match live(s, p) {
        Some(ls) => {
            for r in &ls.log {
                claims_of(&mut out, n, r.id, r.sv);
            }
            for &(tx, sv) in &ls.early {
                claims_of(&mut out, n, tx, sv);
            }
        }
        None => {
            for r in &store(s, p).log {
                claims_of(&mut out, n, r.id, r.sv);
            }
        }
    }
    out
}

/// The P bits a live originator (actor `i`) holds in its dtxs.
fn originator_claims(s: &SysState, n: usize, i: usize) -> BTreeSet<(TxId, usize)> {
    let mut out = BTreeSet::new();
    if !s.crashed[i] {
        if let Some(o) = s.actor_states[i].originator() {
            for d in &o.dtxs {
                claims_of(&mut out, n, d.id, d.sv);
            }
        }
    }
    out
}

/// S4, local form, on a step of participant `p`. After the step, in what
/// `p` holds (log and early notices, or its durable log when crashed) and
/// in every message the step sends:
/// - *own P after the save*: a P bit for `p` itself is on a dtx durable at
///   `p` in the storage after the step;
/// - *peer P copied, never invented*: a P bit for another participant `q`
///   was already held by `p` before the step, or carried by the message
///   the step consumed.
///
/// Implies the global S4, given S1's local form (`D_q` never shrinks): by
/// induction, a P bit for `q` in a state is either untouched by the step
/// (held elsewhere, or a message still in flight: true before, and `q`'s
/// durability cannot have been lost), or new from this actor: for `q` = the
/// actor, durable by the first rule; for another `q`, copied from a bit
/// that was there before the step, hence durable at `q` then, and `q`'s
/// store did not change in a step of another actor. Conversely, a step
/// breaking the first rule ends in a state violating S4 (the bit is held
/// by the live `p` or in flight); one breaking the second (a bit invented
/// for `q`) violates S4 in every run where `q` has not made the dtx
/// durable yet, which the mutant `invent-peer-p` shows.
fn s4_participant_step(
    m: &Dtm0Model,
    before: &SysState,
    after: &SysState,
    p: usize,
    received: Option<&Msg>,
    sent: &[(Id, Msg)],
) -> bool {
    let n = m.cfg().cluster.n;
    let mut now = participant_claims(after, n, p);
    for (_, msg) in sent {
        msg_claims(&mut now, n, msg);
    }
    let mut was = participant_claims(before, n, p);
    if let Some(msg) = received {
        msg_claims(&mut was, n, msg);
    }
    now.iter().all(|&(tx, q)| {
        if q == p {
            durable_at(m, after, p, tx)
        } else {
            was.contains(&(tx, q))
        }
    })
}

/// S4, local form, on a step of an originator (actor `i`): every P bit in
/// its dtxs after the step was in them before or in the message consumed
/// (an originator is never P itself, so it only copies). Why this implies
/// S4: as for participants (`s4_participant_step`).
fn s4_originator_step(
    m: &Dtm0Model,
    before: &SysState,
    after: &SysState,
    i: usize,
    received: Option<&Msg>,
) -> bool {
    let n = m.cfg().cluster.n;
    let now = originator_claims(after, n, i);
    let mut was = originator_claims(before, n, i);
    if let Some(msg) = received {
        msg_claims(&mut was, n, msg);
    }
    now.is_subset(&was)
}

/// S5, local form, on a step of an originator (actor `i`): a dtx it newly
/// records STABLE (its ghost, saved with its store) shows a P bit in its
/// dtx after the step: STABLE needs a P bit.
///
/// Implies the first half of the global S5 (some participant keeps a
/// STABLE dtx durable), given S4 and S1: the P bit for `q` is honest when
/// the dtx becomes STABLE (S4), so the dtx is durable at `q` then, and
/// stays so (`D_q` never shrinks, S1's local form); a participant step
/// cannot add to an originator's STABLE list. The second half (at
/// quiescence, every participant) is read on quiescent states, which every
/// reduction keeps, by the global form.
fn s5_step(m: &Dtm0Model, before: &SysState, after: &SysState, i: usize) -> bool {
    let stable = |s: &SysState| -> Vec<TxId> {
        s.actor_storages[i]
            .as_ref()
            .and_then(|x| x.originator())
            .map(|o| o.ghost.stable.clone())
            .unwrap_or_default()
    };
    let (b, a) = (stable(before), stable(after));
    let Some(o) = after.actor_states[i].originator() else {
        return a == b;
    };
    let n = m.cfg().cluster.n;
    let failures = m.cfg().cluster.may_fail.iter().any(|&f| f);
    a.iter().filter(|tx| !b.contains(tx)).all(|tx| {
        o.dtxs
            .iter()
            .any(|d| d.id == *tx && d.sv.count(n, St::P) >= 1)
            && (!failures
                || up(m.cfg(), after)
                    .iter()
                    .any(|&q| durable_at(m, after, q, *tx)))
    })
}

/// S5's first clause, read on the whole state: every dtx an originator saw
/// STABLE is durable at some participant that has not failed for good.
/// The local form of S5 on a participant's failure for good (the step that
/// loses a store, after which `D_p` is empty), and, with failures in the
/// model, on an originator's step that records a dtx STABLE (the P bit it
/// needs may be for a participant that failed since).
fn s5_kept(m: &Dtm0Model, s: &SysState) -> bool {
    let c = &m.cfg().cluster;
    let ups = up(m.cfg(), s);
    (0..c.m()).all(|slot| {
        let i = usize::from(c.originator_id(slot));
        s.actor_storages[i]
            .as_ref()
            .and_then(|x| x.originator())
            .is_none_or(|o| {
                o.ghost
                    .stable
                    .iter()
                    .all(|&tx| ups.iter().any(|&q| durable_at(m, s, q, tx)))
            })
    })
}

/// S7, local form, on a step of participant `p`: a record it newly prunes
/// (newly in its durable ghost of pruned records) was P for every other
/// participant in its log before the step, and is durable at `p` after it:
/// a record is pruned only when all-P.
///
/// Implies the global S7, given S4 and S1: when pruned, each P bit for
/// `q` is honest (S4), so the record is durable at every participant, and
/// stays so (`D_q` never shrinks); only `p`'s own step adds to its ghost.
fn s7_step(m: &Dtm0Model, before: &SysState, after: &SysState, p: usize) -> bool {
    let (b, a) = (
        &store(before, p).ghost.pruned,
        &store(after, p).ghost.pruned,
    );
    if a == b {
        return true;
    }
    let n = m.cfg().cluster.n;
    let old: Option<&PartState> = live(before, p);
    a.iter().filter(|x| !b.contains(x)).all(|&(tx, op)| {
        // P for every other participant, or FAILED in p's view (HA says so
        // only of a participant that failed for good: S7 skips it).
        let peers_p = old
            .and_then(|ls| ls.log.iter().find(|r| r.id == tx).map(|r| (ls, r)))
            .is_some_and(|(ls, r)| {
                (0..n).all(|q| {
                    q == p
                        || r.sv.get(q) == St::P
                        || ls.view.get(q).1 == crate::protocol::msg::HaSt::Failed
                })
            });
        peers_p
            && durable_in(
                m.cfg().cluster.collects(),
                store(after, p),
                tx,
                op.key(),
                Version::of(tx, &op),
            )
    })
}

/// S8, local form, on a step of participant `p`:
/// - (a) an EOL `p` holds from peer `q` (a raised `eol[q]`) was delivered
///   in this step by `q`, addressed to `p`'s current incarnation, from the
///   incarnation recorded;
/// - (b) when `p` declares itself recovered, it holds, from each peer its
///   stop condition had to hear from (the ghost `declared_peers`), an EOL
///   of that incarnation of the peer or a later one;
/// - (c) `p` acks a REDO only once the dtx is applied at `p` (in its log,
///   or superseded in its catalogue);
/// - (d) an EOL `p` sends, to a recovering peer `r`, comes from `p`'s
///   current incarnation and closes `p`'s round for that incarnation of
///   `r` (the round is marked complete).
///
/// Implies the global S8, given S9, S4 and S1. Its first half (a declared
/// `p` with a counted peer `q`, still the incarnation counted, whose round
/// for `p` is open): by (b) and (a) `p` holds an EOL for its incarnation
/// from an incarnation of `q` at least the counted one; if later, `q` is
/// no longer the counted incarnation; if the same, by (d) `q`'s round for
/// `p` was complete, and a round for the same incarnation is never
/// reopened (`start_round` runs only for a new incarnation). Its second
/// half (records before the cutoff of a complete round applied at `p`):
/// the round's EOL follows the ack of every REDO it sent (S9), each ack
/// follows the application (c), records the round skipped are P at `p`
/// hence durable there (S4) hence visible (S1), and what `p` applied stays
/// applied while this incarnation lives (catalogue versions only rise; a
/// pruned record is covered by the catalogue, S1).
fn s8_step(
    m: &Dtm0Model,
    before: &SysState,
    action: &Action,
    after: &SysState,
    p: usize,
    sent: &[(Id, Msg)],
) -> bool {
    let Some(ps) = live(after, p).filter(|ps| !ps.failed) else {
        return true;
    };
    let old = live(before, p).filter(|b| b.inc == ps.inc);
    let n = m.cfg().cluster.n;
    // (a)
    for q in (0..n).filter(|&q| q != p) {
        let v = ps.eol[q];
        if v == 0 || old.is_some_and(|b| b.eol[q] == v) {
            continue;
        }
        let delivered = matches!(
            action,
            ActorModelAction::Deliver { src, msg: Msg::Eol { to, from }, .. }
                if usize::from(*src) == q && *to == ps.inc && *from == v
        );
        if !delivered {
            return false;
        }
    }
    // (b)
    if ps.declared && !old.is_some_and(|b| b.declared) {
        for q in (0..n).filter(|&q| q != p) {
            let d = ps.ghost.declared_peers.get(q).copied().unwrap_or(0);
            if d != 0 && ps.eol[q] < d {
                return false;
            }
        }
    }
    for (dst, msg) in sent {
        match msg {
            // (c)
            Msg::RedoAck { tx, .. } => {
                let applied = ps.log.iter().any(|r| r.id == *tx)
                    || version(m, *tx)
                        .is_some_and(|(key, ver)| ps.kv.get(&key).is_some_and(|k| k.ver >= ver));
                if !applied {
                    return false;
                }
            }
            // (d)
            Msg::Eol { to, from } => {
                let r = usize::from(*dst);
                let rd = ps.rounds.get(r);
                if *from != ps.inc || !rd.is_some_and(|rd| rd.inc == *to && rd.eol) {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// S9, local form, on a step of participant `q`: after the step, every
/// round `q` marks complete (EOL sent) has every REDO it sent acked.
///
/// Equivalent to the global S9: it is the conjunction over `q` of exactly
/// this predicate of q's live state, which only q's steps change (a crash
/// makes it vacuous, a restart starts with no round).
fn s9_step(after: &SysState, q: usize) -> bool {
    live(after, q).is_none_or(|qs| qs.rounds.iter().all(|rd| !rd.eol || rd.sent == rd.acked))
}

/// S11, local form, on a step of an originator (actor `i`): after the
/// step, no read of its live state breaks S11 (`properties::s11_at`).
///
/// Equivalent to the global S11, as S9's: the global form is the
/// conjunction over originators of exactly this predicate of the
/// originator's live state, which only its own steps change (a crash makes
/// it vacuous; a restart starts with no read issued). The ghost it reads
/// (`Read::must`) is written by the originator itself at issue, from its
/// own STABLE list: "before the GET" is the order of that originator's
/// own steps, which every reduction keeps.
fn s11_step(after: &SysState, i: usize) -> bool {
    crate::model::properties::s11_at(after, i)
}
