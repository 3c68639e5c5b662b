//! A participant: a server with a persistent
//! catalogue replica and DTM0 log, which executes dtxs, commits them in its
//! own step, tells the others when they are persistent, serves restore
//! rounds to recovering peers, evicts dead originators' dtxs, and recovers
//! itself after a restart.
//!
//! Persistent part (`PartStore`, written with `save`): catalogue, log,
//! pruning base, incarnation. Everything else in `PartState` is volatile:
//! executed-but-uncommitted records, merged state vectors since the last
//! commit, the HA view, recovery bookkeeping. What only the properties read
//! is in `ghost` (`PartGhost`, its durable part `PartStoreGhost`).
//!
//! The steps, one handler each (`on_msg` and `on_timeout` dispatch):
//! `handle_execute`, `handle_redo`, `handle_redo_ack`, `handle_persistent`,
//! `handle_eol`, `handle_view` for the messages, `handle_commit_timer` for
//! the commit.

use crate::protocol::actor::{set_commit_timer, Dtm0, Dtm0Store};
use crate::protocol::cluster::Cluster;
use crate::protocol::msg::{HaSt, HaTable, Msg, Timer};
use crate::protocol::storelog::{SharedLog, StoreLog};
use crate::protocol::types::{apply, Inc, Key, Kv, Op, Pos, Seq, St, StateVec, TxId, Txr};
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use std::borrow::Cow;

/// A restore round this participant serves to one recovering peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Round {
    /// The recovering peer's incarnation; 0 when no round is open.
    pub inc: Inc,
    /// Absolute log position taken when the round began: records before it
    /// are redone.
    pub cutoff: Pos,
    /// Absolute position of the next record to consider.
    pub cursor: Pos,
    /// The REDO sent and not yet acked.
    pub awaiting: Option<TxId>,
    pub sent: u32,
    pub acked: u32,
    /// EOL has been sent: the round is complete.
    pub eol: bool,
}

/// What survives a crash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartStore {
    pub inc: Inc,
    pub kv: Kv,
    /// As a `Vec` hashes and encodes (`StoreLog`); shared, not copied, when
    /// the participant keeps its long log as a persistent map.
    pub log: StoreLog,
    /// Number of records pruned from the front of the log, ever.
    pub base: Pos,
    /// Read by properties only. Last, as the live log encodes it.
    pub ghost: PartStoreGhost,
}

/// The durable part of a participant's ghost: read by properties only,
/// never by the protocol, and saved with the store (the live log keeps it
/// too, when the cluster records ghosts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartStoreGhost {
    /// Every record pruned from the log, ever (S7).
    /// Each with its op, so that S1 can replay the catalogue.
    pub pruned: Vec<(TxId, Op)>,
}

/// A participant's ghost: what the protocol writes for the properties and
/// never reads, so that it changes no step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartGhost {
    /// The part saved with the store.
    pub durable: PartStoreGhost,
    /// When this incarnation declared itself recovered, the incarnation of
    /// each peer that was ONLINE or RECOVERING in its view (0 for the
    /// others): the peers the stop condition had to hear from (S8).
    pub declared_peers: Vec<Inc>,
}

impl PartGhost {
    /// `r` was pruned (S7), when the cluster records ghosts.
    fn note_pruned(&mut self, c: &Cluster, r: &Txr) {
        if c.ghosts {
            self.durable.pruned.push((r.id, r.op));
        }
    }

    /// The participant `me` declares itself recovered with this view (S8).
    fn note_declared(&mut self, c: &Cluster, me: usize, view: &HaTable) {
        self.declared_peers = (0..c.n)
            .map(|r| {
                let (ri, rs) = view.get(r);
                if r != me && matches!(rs, HaSt::Online | HaSt::Recovering) {
                    ri
                } else {
                    0
                }
            })
            .collect();
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartState {
    pub inc: Inc,
    /// The catalogue as reads see it: durable records plus executed ones.
    pub kv: Kv,
    /// The log in insertion order: `log[..ndur]` is durable, the rest is
    /// executed (V) and waits for the commit.
    pub log: Vec<Txr>,
    pub ndur: Pos,
    pub base: Pos,
    /// The latest HA table seen, and its number.
    pub seq: Seq,
    pub view: HaTable,
    /// PERSISTENT notices for dtxs not (yet) in the log, merged when the dtx
    /// arrives. Sorted by id.
    pub early: Vec<(TxId, StateVec)>,
    /// Restore rounds served, per peer.
    pub rounds: Vec<Round>,
    /// Per peer, the incarnation whose EOL this participant holds (0: none).
    pub eol: Vec<Inc>,
    /// This incarnation has told HA it recovered.
    pub declared: bool,
    /// For each key with records pending (executed, not yet committed),
    /// its record in the durable catalogue (`None`: absent), taken at the
    /// first pending write since the last commit; emptied by the commit.
    /// With it, "superseded durably" is exact while records are pending
    /// (`superseded_durably`), and the durable store can be written
    /// between commits (`durable_store`, `notice-own-commit`). Sorted by
    /// key.
    #[serde(default)]
    pub shadow: Vec<(Key, Option<crate::protocol::types::Rec>)>,
    /// Read by properties only (S7, S8).
    pub ghost: PartGhost,
    /// This participant failed for good (a model's `[failures]`): its
    /// storage is lost, it takes no step again, and everything else here is
    /// empty.
    #[serde(default)]
    pub failed: bool,
    /// Where each dtx sits in the log, once the log is long (a live
    /// participant under load); derived from `log`, so it takes no part in
    /// comparisons and hashing.
    #[serde(skip)]
    pub index: LogIndex,
    /// The durable log as a persistent map, once it is long, so that a
    /// save shares it (`SharedLog`); derived from `log`, so it takes no
    /// part in comparisons and hashing.
    #[serde(skip)]
    pub shared: SharedLog,
}

/// Absolute log position of each dtx, kept only while the log is longer
/// than `LogIndex::BUILD_AT` records (never in the small models, so model
/// states stay as cheap to clone as before).
#[derive(Clone, Debug, Default)]
pub struct LogIndex(Option<std::collections::BTreeMap<TxId, Pos>>);

impl LogIndex {
    const BUILD_AT: usize = 64;
    const DROP_AT: usize = 32;

    fn refresh(&mut self, log: &[Txr], base: Pos) {
        if log.len() > Self::BUILD_AT && self.0.is_none() {
            self.0 = Some(
                log.iter()
                    .enumerate()
                    .map(|(i, r)| (r.id, base + i as Pos))
                    .collect(),
            );
        } else if log.len() < Self::DROP_AT {
            self.0 = None;
        }
    }
}

impl std::hash::Hash for LogIndex {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}
impl PartialEq for LogIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for LogIndex {}
impl PartialOrd for LogIndex {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for LogIndex {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl PartState {
    pub fn durable_log(&self) -> &[Txr] {
        &self.log[..self.ndur as usize]
    }
    pub fn pending(&self) -> &[Txr] {
        &self.log[self.ndur as usize..]
    }
    /// What survives a crash: the durable catalogue (the visible one with
    /// each pending key's shadow restored) and the durable log, with the
    /// state vectors merged so far. At a commit nothing is pending and the
    /// shadow is empty: the whole visible state. Between commits it is what
    /// `notice-own-commit` saves.
    fn store(&self) -> PartStore {
        let mut kv = self.kv.clone();
        for (key, rec) in &self.shadow {
            match rec {
                Some(r) => kv.insert(*key, *r),
                None => kv.remove(key),
            };
        }
        PartStore {
            inc: self.inc,
            kv,
            log: self.shared.store_log(self.durable_log()),
            base: self.base,
            ghost: self.ghost.durable.clone(),
        }
    }

    /// Sets the state vector of `log[i]`, in the shared copy too if the
    /// record is durable.
    fn set_sv(&mut self, i: usize, sv: StateVec) {
        self.log[i].sv = sv;
        if i < self.ndur as usize {
            self.shared.set(self.base + i as Pos, self.log[i]);
        }
    }

    fn find(&self, tx: TxId) -> Option<usize> {
        if let Some(ix) = &self.index.0 {
            return ix.get(&tx).map(|&p| (p - self.base) as usize);
        }
        self.log.iter().position(|r| r.id == tx)
    }
}

/// Start: the first boot comes up with an empty store, everyone ONLINE; a
/// restart reloads the durable part as the next incarnation, tells HA it
/// is starting, and waits for HA's view. Either way the store is saved (a
/// new incarnation is durable at once).
pub fn on_start(
    c: &Cluster,
    me: usize,
    storage: &Option<PartStore>,
    o: &mut Out<Dtm0>,
) -> PartState {
    let n = c.n;
    let mut s = PartState {
        inc: 1,
        kv: Kv::new(),
        log: Vec::new(),
        ndur: 0,
        base: 0,
        seq: 0,
        view: HaTable(vec![(1, HaSt::Online); n + c.m()]),
        early: Vec::new(),
        rounds: vec![Round::default(); n],
        eol: vec![0; n],
        declared: false,
        shadow: Vec::new(),
        ghost: PartGhost::default(),
        failed: false,
        index: LogIndex::default(),
        shared: SharedLog::default(),
    };
    if c.may_fail(me) {
        o.set_timer(Timer::Fail, crate::protocol::actor::fail_timeout());
    }
    match storage {
        None => {
            // First boot: the cluster is configured, everyone ONLINE.
        }
        Some(st) => {
            // Restart: reload the durable part; the view comes from HA.
            s.inc = st.inc + 1;
            s.kv = st.kv.clone();
            s.log = st.log.to_vec();
            s.ndur = st.log.len() as Pos;
            s.base = st.base;
            s.ghost.durable = st.ghost.clone();
            s.index.refresh(&s.log, s.base);
            s.shared = match st.log.shared() {
                Some(m) => SharedLog(Some(m.clone())),
                None => SharedLog::default(),
            };
            s.shared.refresh(&s.log, s.base);
            s.view = HaTable::default();
            o.send(c.ha_id(), Msg::Starting { inc: s.inc });
        }
    }
    o.save(Dtm0Store::Participant(s.store()));
    s
}

/// The participant's timers: the commit, and failing for good.
pub fn on_timeout(
    c: &Cluster,
    me: usize,
    s: &mut Cow<PartState>,
    timer: &Timer,
    o: &mut Out<Dtm0>,
) {
    if s.failed {
        return;
    }
    match timer {
        Timer::Commit => handle_commit_timer(c, me, s, o),
        Timer::Fail => handle_fail_timer(c, s, o),
        Timer::Send => {} // an originator's timer
    }
}

/// Failing for good (models with `[failures]`): the storage is lost (an
/// empty store is saved in its place), every volatile part is dropped, the
/// commit will never come, and HA is told (standing in for the operator or
/// failure detector that declares the participant lost). From here on
/// every message and timer is ignored.
fn handle_fail_timer(c: &Cluster, s: &mut Cow<PartState>, o: &mut Out<Dtm0>) {
    let inc = s.inc;
    let dead = PartState {
        inc,
        kv: Kv::new(),
        log: Vec::new(),
        ndur: 0,
        base: 0,
        seq: 0,
        view: HaTable::default(),
        early: Vec::new(),
        rounds: vec![Round::default(); c.n],
        eol: vec![0; c.n],
        declared: false,
        shadow: Vec::new(),
        ghost: PartGhost::default(),
        failed: true,
        index: LogIndex::default(),
        shared: SharedLog::default(),
    };
    o.save(Dtm0Store::Participant(dead.store()));
    o.cancel_timer(Timer::Commit);
    o.send(c.ha_id(), Msg::Failed { inc });
    *s = Cow::Owned(dead);
}

/// The participant's messages: one handler each.
pub fn on_msg(
    c: &Cluster,
    me: usize,
    s: &mut Cow<PartState>,
    src: Id,
    msg: Msg,
    o: &mut Out<Dtm0>,
) {
    match msg {
        _ if s.failed => {} // failed for good: nothing reaches it
        _ if lost_with_earlier_incarnation(c, s, &msg) => {}
        Msg::Execute { tx, op, .. } => handle_execute(c, me, s, tx, op, o),
        Msg::Redo { from, txr, .. } => handle_redo(c, me, s, src, from, txr, o),
        Msg::RedoAck { tx, .. } => handle_redo_ack(c, s, src, tx, o),
        Msg::Persistent { tx, sv, .. } => handle_persistent(c, s, tx, sv, o),
        Msg::Eol { from, .. } => handle_eol(c, me, s, src, from, o),
        Msg::View { seq, table, .. } => handle_view(c, me, s, seq, table, o),
        Msg::Get { from, key, rid, .. } => handle_get(s, src, from, key, rid, o),
        // Not for a participant.
        Msg::Executed { .. }
        | Msg::Starting { .. }
        | Msg::Ready { .. }
        | Msg::Recovered { .. }
        | Msg::Down { .. }
        | Msg::Failed { .. }
        | Msg::GetReply { .. } => {}
    }
}

/// GET (from an originator's incarnation `from`): answer with the visible
/// record of the key (alive or tombstone, executed whether committed or
/// not), or none. Whatever HA says of this participant: one that is
/// asked while RECOVERING answers from what it has.
fn handle_get(
    s: &mut Cow<PartState>,
    src: Id,
    from: Inc,
    key: crate::protocol::types::Key,
    rid: u8,
    o: &mut Out<Dtm0>,
) {
    o.send(
        src,
        Msg::GetReply {
            to: from,
            rid,
            key,
            rec: s.kv.get(&key).copied(),
        },
    );
}

/// A message meant for an earlier incarnation of this participant is lost
/// with it (`to` 0: sent by a process that had no view of us yet, kept).
fn lost_with_earlier_incarnation(c: &Cluster, s: &PartState, msg: &Msg) -> bool {
    let Some(to) = msg.to_inc() else {
        return false;
    };
    let stale_eol_counts = c.mutants().stale_eol_counts() && matches!(msg, Msg::Eol { .. });
    to != 0 && to != s.inc && !stale_eol_counts && !c.variants.no_epochs
}

/// EXECUTE (from the originator): unless HA declared the originator's
/// incarnation FAILED, execute the dtx (`execute_record`) and answer
/// EXECUTED (also to a duplicate: the dtx is V here either way), with the
/// verdict `superseded_here`.
fn handle_execute(
    c: &Cluster,
    me: usize,
    s: &mut Cow<PartState>,
    tx: TxId,
    op: Op,
    o: &mut Out<Dtm0>,
) {
    let (cur, _) = s.view.get(c.n + tx.slot as usize);
    if cur > tx.inc && !c.variants.no_execute_fence {
        return; // from an originator incarnation HA declared FAILED
    }
    let txr = Txr {
        id: tx,
        op,
        sv: StateVec::default(),
    };
    execute_record(c, me, s, txr, None, o);
    let superseded = !c.variants.silent_supersede && superseded_here(c, s, &txr);
    o.send(
        c.originator_id(tx.slot as usize),
        Msg::Executed {
            to: tx.inc,
            tx,
            superseded: crate::protocol::types::Mark(superseded),
        },
    );
}

/// The participant's verdict on a dtx it has just executed (or holds
/// already): the key's visible record stands above the dtx's version in the
/// cluster's version order. Right after a first execution that means the op
/// lost to a newer one (it covered the op, which wrote nothing); for a
/// duplicate, that a newer op has overwritten it since. A key left absent
/// (a DEL under `del-absent-no-tombstone`) is not superseded.
pub fn superseded_here(c: &Cluster, s: &PartState, txr: &Txr) -> bool {
    let v = txr.version();
    s.kv.get(&txr.op.key())
        .is_some_and(|r| r.ver != v && c.variants.version_order.covers(r.ver, v))
}

/// REDO (from a peer serving a restore round, evicting, or pushing its own
/// records): execute the record (`execute_record`), pass it on if its
/// originator incarnation is already dead here (`evict_on_arrival`), and
/// ack it to the sender's incarnation `from`.
fn handle_redo(
    c: &Cluster,
    me: usize,
    s: &mut Cow<PartState>,
    src: Id,
    from: Inc,
    txr: Txr,
    o: &mut Out<Dtm0>,
) {
    let new = execute_record(c, me, s, txr, Some((src, from)), o);
    if new && !c.variants.motr_evict && txr.id.inc < s.view.get(c.n + txr.id.slot as usize).0 {
        evict_on_arrival(c, me, s, src, from, o);
    }
    o.send(
        src,
        Msg::RedoAck {
            to: from,
            tx: txr.id,
        },
    );
}

/// REDO ack (from the peer this participant serves a round to): if it acks
/// the REDO awaited, the round moves on to the next record or its EOL.
fn handle_redo_ack(c: &Cluster, s: &mut Cow<PartState>, src: Id, tx: TxId, o: &mut Out<Dtm0>) {
    let peer = usize::from(src);
    if peer < c.n && s.rounds[peer].awaiting == Some(tx) {
        let s = s.to_mut();
        let rd = &mut s.rounds[peer];
        rd.awaiting = None;
        rd.acked += 1;
        rd.cursor += 1;
        advance_round(c, s, peer, o);
    }
}

/// PERSISTENT (from a peer): merge its state vector into the record's, or,
/// for a dtx not here yet, keep it until the dtx arrives. A record that
/// becomes all-P may be pruned: ask for a commit.
fn handle_persistent(
    c: &Cluster,
    s: &mut Cow<PartState>,
    tx: TxId,
    sv: StateVec,
    o: &mut Out<Dtm0>,
) {
    if let Some(i) = s.find(tx) {
        let merged = s.log[i].sv.merge(sv);
        if merged != s.log[i].sv {
            s.to_mut().set_sv(i, merged);
            if c.variants.notice_own_commit && i < s.ndur as usize {
                // Motr: the notice is written in a transaction of its own.
                o.save(Dtm0Store::Participant(s.store()));
            }
            arm_if_prunable(c, s, o);
        }
        return;
    }
    match s.early.binary_search_by_key(&tx, |e| e.0) {
        Ok(j) => {
            let merged = s.early[j].1.merge(sv);
            if merged != s.early[j].1 {
                s.to_mut().early[j].1 = merged;
            }
        }
        Err(j) => s.to_mut().early.insert(j, (tx, sv)),
    }
}

/// EOL (from a peer that completed its restore round for incarnation
/// `from` of this participant): hold it, and see whether recovery is done.
fn handle_eol(
    c: &Cluster,
    me: usize,
    s: &mut Cow<PartState>,
    src: Id,
    from: Inc,
    o: &mut Out<Dtm0>,
) {
    let peer = usize::from(src);
    // Without epochs an EOL names no round: it is taken as from the
    // sender's incarnation this participant's view shows (the first, with
    // no view yet).
    let from = if c.variants.no_epochs && peer < c.n {
        s.view.get(peer).0.max(1)
    } else {
        from
    };
    if peer < c.n && from > s.eol[peer] {
        let s = s.to_mut();
        s.eol[peer] = from;
        check_stop(c, me, s, o);
    }
}

/// HA's view, if newer than the one held: follow each peer's change
/// (`follow_peer`: open or abandon restore rounds), evict the dtxs of dead
/// originator incarnations, ask for a pruning commit when a peer failed
/// for good, say Ready when HA shows this incarnation
/// TRANSIENT, and see whether recovery is done.
fn handle_view(
    c: &Cluster,
    me: usize,
    s: &mut Cow<PartState>,
    seq: Seq,
    table: HaTable,
    o: &mut Out<Dtm0>,
) {
    if seq <= s.seq {
        return;
    }
    let s = s.to_mut();
    let old = std::mem::replace(&mut s.view, table);
    s.seq = seq;
    for r in (0..c.n).filter(|&r| r != me) {
        if old.get(r) != s.view.get(r) {
            follow_peer(c, s, r, o);
        }
    }
    for slot in 0..c.m() {
        let (ni, _) = s.view.get(c.n + slot);
        let was = old.get(c.n + slot).0;
        if ni > was && ni > 1 && !c.mutants().never_evicts() {
            // Motr redoes every earlier incarnation each time; the default
            // only those this view newly shows dead (`was` and on: the
            // earlier ones were evicted when a view first showed them dead,
            // or this participant has restarted and `was` is 0).
            let first = if c.variants.motr_evict { 0 } else { was };
            evict(c, me, s, slot, first..ni, o);
        }
    }
    if (0..c.n).any(|r| r != me && s.view.get(r).1 == HaSt::Failed && old.get(r).1 != HaSt::Failed)
    {
        arm_if_prunable(c, s, o); // a peer failed for good: it counts as P
    }
    if s.view.get(me) == (s.inc, HaSt::Transient) {
        let (was_inc, was) = old.get(me);
        let moved_back = was_inc == s.inc && was != HaSt::Transient;
        if moved_back || c.mutants().forgets_eol_on_any_transient_view() {
            // HA moved this very incarnation back to TRANSIENT: the live
            // failure detector reported it down (the model's HA never
            // does). Recover again from scratch. Only on that move: views
            // still showing the restart's TRANSIENT may arrive after the
            // first EOLs, which must not be forgotten.
            s.declared = false;
            s.eol = vec![0; c.n];
        }
        o.send(c.ha_id(), Msg::Ready { inc: s.inc });
    }
    check_stop(c, me, s, o);
}

/// The view changed for peer `r`: an EOL from its earlier incarnation no
/// longer counts; a RECOVERING peer gets a restore round (unless this
/// incarnation of it has one), any other state ends the round.
fn follow_peer(c: &Cluster, s: &mut PartState, r: usize, o: &mut Out<Dtm0>) {
    let (ni, ns) = s.view.get(r);
    if s.eol[r] != 0 && s.eol[r] < ni && !c.mutants().stale_eol_counts() {
        s.eol[r] = 0; // an EOL from an earlier incarnation no longer counts
    }
    if c.variants.motr_stop && matches!(ns, HaSt::Transient | HaSt::Failed) {
        s.eol[r] = 0; // Motr forgets the EOL of a peer shown dead
    }
    match ns {
        HaSt::Recovering => {
            if s.rounds[r].inc != ni {
                start_round(c, s, r, ni, o);
            }
        }
        // A new TRANSIENT/RECOVERING event abandons the round; an
        // ONLINE peer needs none.
        HaSt::Online | HaSt::Transient | HaSt::Failed => s.rounds[r] = Round::default(),
    }
}

/// The commit timer (the fsync completing): everything executed becomes
/// durable, with the state vectors merged so far; the all-P prefix is
/// pruned where pruning is on; the store is saved; then the PERSISTENT
/// notices go out.
fn handle_commit_timer(c: &Cluster, me: usize, s: &mut Cow<PartState>, o: &mut Out<Dtm0>) {
    let s = s.to_mut();
    let first_new = s.ndur as usize;
    for r in &mut s.log[first_new..] {
        r.sv.raise(me, St::P);
        if c.mutants().invents_peer_p() {
            (0..c.n).for_each(|q| r.sv.raise(q, St::P));
        }
    }
    let newly: Vec<Txr> = s.log[first_new..].to_vec();
    s.ndur = s.log.len() as Pos;
    for (i, r) in newly.iter().enumerate() {
        s.shared.set(s.base + (first_new + i) as Pos, *r);
    }
    s.shared.refresh(&s.log, s.base);
    s.shadow.clear(); // the visible catalogue is the durable one now
    let pruned = if c.variants.pruning {
        prune(c, me, s)
    } else {
        Vec::new()
    };
    if c.variants.tombstone_gc {
        collect_tombstones(s, &pruned);
    }
    if c.mutants().collects_on_commit() {
        collect_tombstones(s, &newly);
    }
    o.save(Dtm0Store::Participant(s.store()));
    for r in newly {
        notify(c, me, &s.view, r.id, r.sv, o);
    }
}

/// Whether a record may be pruned: every participant is P in it or, in
/// the view, FAILED (the HLD's rule: a participant that failed for good
/// will never need the record).
pub fn all_p_or_failed(c: &Cluster, view: &HaTable, r: &Txr) -> bool {
    (0..c.n).all(|q| r.sv.get(q) == St::P || view.get(q).1 == HaSt::Failed)
}

/// Tombstone collection (`tombstone-gc`), at the commit, for the DEL
/// records `candidates` (those it just pruned): a tombstone still standing
/// in the catalogue at the DEL's version is dropped, unless another record
/// of its key is still in the log (it may still be redone). Under the
/// mutant `collect-on-commit` the candidates are the records the commit
/// made durable, and the DEL's own record may still be in the log.
fn collect_tombstones(s: &mut PartState, candidates: &[Txr]) {
    for r in candidates.iter().filter(|r| r.op.is_del()) {
        let key = r.op.key();
        let standing = s.kv.get(&key).is_some_and(|k| k.ver == r.version());
        let others = s.log.iter().any(|x| x.op.key() == key && x.id != r.id);
        if standing && !others {
            s.kv.remove(&key);
        }
    }
}

/// Drops the durable prefix of the log that is all P or FAILED; returns
/// the records dropped.
fn prune(c: &Cluster, me: usize, s: &mut PartState) -> Vec<Txr> {
    let view = &s.view;
    let prunable = |r: &Txr| {
        if c.mutants().prunes_on_local_p() {
            r.sv.get(me) == St::P
        } else {
            all_p_or_failed(c, view, r)
        }
    };
    let all_p = s.log.iter().take_while(|r| prunable(r)).count();
    let gone: Vec<Txr> = s.log.drain(..all_p).collect();
    for r in &gone {
        if let Some(ix) = &mut s.index.0 {
            ix.remove(&r.id);
        }
        s.ghost.note_pruned(c, r);
    }
    s.ndur -= all_p as Pos;
    s.base += all_p as Pos;
    s.index.refresh(&s.log, s.base);
    s.shared.prune_before(s.base);
    s.shared.refresh(&s.log[..s.ndur as usize], s.base);
    gone
}

/// The step EXECUTE and REDO share: execute the versioned op unless the
/// dtx is already here, log it with this participant at V, and ask for the
/// commit. Returns whether a record was created. `redo_from` is the REDO's
/// sender and its incarnation.
fn execute_record(
    c: &Cluster,
    me: usize,
    s: &mut Cow<PartState>,
    txr: Txr,
    redo_from: Option<(Id, Inc)>,
    o: &mut Out<Dtm0>,
) -> bool {
    if let Some(i) = s.find(txr.id) {
        let merged = s.log[i].sv.merge(txr.sv);
        if merged != s.log[i].sv {
            s.to_mut().set_sv(i, merged);
            arm_if_prunable(c, s, o);
        }
        if let Some((src, from)) = redo_from {
            if c.variants.own_redo && i < s.ndur as usize && txr.sv.get(me) < St::P {
                // The sender does not know this record is durable here.
                o.send(
                    src,
                    Msg::Persistent {
                        to: from,
                        tx: txr.id,
                        sv: merged,
                    },
                );
            }
        }
        return false;
    }
    if c.variants.pruning && superseded_durably(c, s, &txr) {
        // The dtx may have been pruned here: the durable catalogue already
        // holds a version >= it, so it is durable here by definition. Say
        // so instead of logging it again.
        notify(c, me, &s.view, txr.id, txr.sv.with(me, St::P), o);
        return false;
    }
    let s = s.to_mut();
    let mut sv = txr.sv;
    if let Ok(j) = s.early.binary_search_by_key(&txr.id, |e| e.0) {
        sv = sv.merge(s.early.remove(j).1);
    }
    sv.raise(me, St::V);
    if c.mutants().notifies_p_before_commit() {
        notify(c, me, &s.view, txr.id, sv.with(me, St::P), o);
    }
    let key = txr.op.key();
    if !s.pending().iter().any(|r| r.op.key() == key) {
        // The first pending write on the key: its visible version is
        // still the durable one.
        let durable = s.kv.get(&key).copied();
        if let Err(j) = s.shadow.binary_search_by_key(&key, |e| e.0) {
            s.shadow.insert(j, (key, durable));
        }
    }
    apply(
        &mut s.kv,
        &txr.op,
        txr.id,
        c.variants.del_rule,
        c.variants.version_order,
    );
    s.log.push(Txr {
        id: txr.id,
        op: txr.op,
        sv,
    });
    if let Some(ix) = &mut s.index.0 {
        ix.insert(txr.id, s.base + s.log.len() as Pos - 1);
    }
    s.index.refresh(&s.log, s.base);
    set_commit_timer(o);
    true
}

/// True when the durable catalogue holds a version >= the dtx's for its key:
/// the visible one when nothing is pending on the key, else the version the
/// shadow kept. (Before the shadow, a pending record on the key made this
/// false, and a REDO of a record pruned here was logged again and never
/// became all-P: L2 on three-put-del-crash.) Public for the reduction,
/// which asks whether an EXECUTE or REDO will answer with notices
/// addressed by the view.
pub fn superseded_durably(c: &Cluster, s: &PartState, txr: &Txr) -> bool {
    let order = c.variants.version_order;
    let key = txr.op.key();
    let durable = if s.pending().iter().any(|r| r.op.key() == key) {
        match s.shadow.binary_search_by_key(&key, |e| e.0) {
            Ok(j) => s.shadow[j].1.map(|r| r.ver),
            Err(_) => None,
        }
    } else {
        s.kv.get(&key).map(|r| r.ver)
    };
    durable.is_some_and(|v| order.covers(v, txr.version()))
}

/// Asks for a commit when the log's first durable record is all P or
/// FAILED: the commit prunes.
fn arm_if_prunable(c: &Cluster, s: &PartState, o: &mut Out<Dtm0>) {
    if c.variants.pruning && s.ndur > 0 && all_p_or_failed(c, &s.view, &s.log[0]) {
        set_commit_timer(o);
    }
}

/// Sends a PERSISTENT notice to every other participant and the originator.
fn notify(c: &Cluster, me: usize, view: &HaTable, tx: TxId, sv: StateVec, o: &mut Out<Dtm0>) {
    for q in (0..c.n).filter(|&q| q != me) {
        o.send(
            c.participant_id(q),
            Msg::Persistent {
                to: view.get(q).0,
                tx,
                sv,
            },
        );
    }
    o.send(
        c.originator_id(tx.slot as usize),
        Msg::Persistent { to: tx.inc, tx, sv },
    );
}

/// Eviction: the originator slot's incarnations `dead` are dead; redo
/// each of their records to every participant not yet P in it. By
/// default a participant the view shows TRANSIENT or FAILED is skipped:
/// its incarnation is gone, so a REDO to it would be dropped on arrival
/// (or, in the live runtime, queued for nothing), and it gets every such
/// record from the restore round its next incarnation is served (the
/// record cannot be pruned before: it is not P there), or never needs it
/// (FAILED). Motr (`motr-eviction`) sends to every participant not P.
fn evict(
    c: &Cluster,
    me: usize,
    s: &PartState,
    slot: usize,
    dead: std::ops::Range<Inc>,
    o: &mut Out<Dtm0>,
) {
    let orphaned = |r: &&Txr| r.id.slot as usize == slot && dead.contains(&r.id.inc);
    let up = |q: usize| {
        c.variants.motr_evict || matches!(s.view.get(q).1, HaSt::Online | HaSt::Recovering)
    };
    redo_where_not_p(c, me, s, s.log.iter().filter(orphaned), up, o);
}

/// Eviction on arrival: a record of an originator incarnation this
/// participant's view already shows dead has just been logged here from a
/// REDO. This participant's own eviction of that incarnation has run, and
/// the sender's may not have reached everyone (it may have died on the
/// way, and a restore round it served may be over), so redo the record to
/// every participant not P in it that the view shows up, but the sender
/// while the view shows the incarnation that sent it. Without it, a dead
/// peer's eviction REDO can leave the record on this participant alone
/// (`models/evict-pcrash.toml`; Motr's eviction has that hole).
fn evict_on_arrival(c: &Cluster, me: usize, s: &PartState, src: Id, from: Inc, o: &mut Out<Dtm0>) {
    let sender = usize::from(src);
    let to = |q: usize| {
        matches!(s.view.get(q).1, HaSt::Online | HaSt::Recovering)
            && !(q == sender && s.view.get(q).0 == from)
    };
    redo_where_not_p(c, me, s, s.log.last().into_iter(), to, o);
}

/// Sends a REDO of each record to every other participant not P in it
/// that `to` accepts.
fn redo_where_not_p<'a>(
    c: &Cluster,
    me: usize,
    s: &PartState,
    records: impl Iterator<Item = &'a Txr>,
    to: impl Fn(usize) -> bool,
    o: &mut Out<Dtm0>,
) {
    for r in records {
        for q in (0..c.n).filter(|&q| q != me && r.sv.get(q) < St::P && to(q)) {
            o.send(
                c.participant_id(q),
                Msg::Redo {
                    to: s.view.get(q).0,
                    from: s.inc,
                    txr: *r,
                },
            );
        }
    }
}

/// Opens a restore round for incarnation `inc` of peer `r`: every record
/// logged so far is redone, one at a time.
fn start_round(c: &Cluster, s: &mut PartState, r: usize, inc: Inc, o: &mut Out<Dtm0>) {
    s.rounds[r] = Round {
        inc,
        cutoff: s.base + s.log.len() as Pos,
        cursor: s.base,
        awaiting: None,
        sent: 0,
        acked: 0,
        eol: false,
    };
    advance_round(c, s, r, o);
}

/// Sends the next REDO of the round for `r`, or EOL when none is left.
fn advance_round(c: &Cluster, s: &mut PartState, r: usize, o: &mut Out<Dtm0>) {
    let (base, me_inc) = (s.base, s.inc);
    let rd = &s.rounds[r];
    if rd.inc == 0 || rd.eol || rd.awaiting.is_some() {
        return;
    }
    let eager = c.mutants().sends_eol_before_acks();
    let cutoff = rd.cutoff;
    let mut pos = rd.cursor.max(base);
    while pos < cutoff {
        let rec = s.log[(pos - base) as usize];
        let skip = c.variants.redo_skip_persistent && rec.sv.get(r) == St::P;
        if !skip {
            let rd = &mut s.rounds[r];
            rd.sent += 1;
            let to = rd.inc;
            o.send(
                c.participant_id(r),
                Msg::Redo {
                    to,
                    from: me_inc,
                    txr: rec,
                },
            );
            if !eager {
                rd.cursor = pos;
                rd.awaiting = Some(rec.id);
                return;
            }
        }
        pos += 1;
    }
    let rd = &mut s.rounds[r];
    rd.cursor = pos;
    rd.eol = true;
    let to = rd.inc;
    o.send(c.participant_id(r), Msg::Eol { to, from: me_inc });
}

/// The stop condition: recovered when an EOL is held from every peer that
/// is ONLINE or RECOVERING (`peers_done`). Then tell HA, and push our own
/// records.
fn check_stop(c: &Cluster, me: usize, s: &mut PartState, o: &mut Out<Dtm0>) {
    if s.declared || s.view.get(me) != (s.inc, HaSt::Recovering) {
        return;
    }
    if peers_done(c, me, s, &s.view) {
        s.declared = true;
        s.ghost.note_declared(c, me, &s.view);
        o.send(c.ha_id(), Msg::Recovered { inc: s.inc });
        if c.variants.own_redo && c.variants.pruning {
            push_own(c, me, s, o);
        }
    }
}

/// The peers' half of the stop condition under `view`, for participant
/// `me` in state `s`: an EOL held from every other participant the view
/// shows ONLINE or RECOVERING, from the incarnation it shows or a later
/// one; one shown TRANSIENT or FAILED is skipped, or, with Motr's rule
/// (`motr-stop-condition`), blocks. Public for the reduction, whose facts
/// about when a view or an EOL can complete recovery follow it.
pub fn peers_done(c: &Cluster, me: usize, s: &PartState, view: &HaTable) -> bool {
    let counted = |r: usize| {
        let (ri, rs) = view.get(r);
        let held = if c.mutants().counts_previous_incarnation_eol() {
            s.eol[r] + 1 >= ri
        } else {
            s.eol[r] != 0 && s.eol[r] >= ri
        };
        let alive = matches!(rs, HaSt::Online | HaSt::Recovering);
        if c.variants.motr_stop {
            alive && held
        } else {
            !alive || held
        }
    };
    let mut peers = (0..c.n).filter(|&r| r != me);
    if c.mutants().stops_on_first_eol() {
        (0..c.n).any(|r| r != me && s.eol[r] != 0) || peers.all(counted)
    } else {
        peers.all(counted)
    }
}

/// Our fix for pruning (variant `no-own-redo` turns it off). P notices
/// sent to us while we were down, or before a peer learnt our new
/// incarnation, were lost; a peer that pruned the record will never redo
/// it. So once recovered (every peer that sent EOL knows this incarnation)
/// push each record not known all-P to the peers not known P: they answer
/// with their state (`execute_record`), or with a P notice if they pruned
/// it.
fn push_own(c: &Cluster, me: usize, s: &PartState, o: &mut Out<Dtm0>) {
    redo_where_not_p(c, me, s, s.log.iter(), |_| true, o);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::cluster::{OriginatorCfg, Variants};
    use crate::protocol::types::Op;
    use stateright::actor::Command;

    fn cluster() -> Cluster {
        Cluster {
            one_send_per_step: false,
            may_fail: Vec::new(),
            n: 2,
            originators: vec![OriginatorCfg {
                name: "o".into(),
                plan: vec![vec![(10, Op::Put { key: 1, val: 1 })]],
                first_inc: 1,
                reads: Vec::new(),
            }],
            keys: 1,
            variants: Variants::default(),
            k: 1,
            ghosts: true,
        }
    }

    fn saved(o: &Out<Dtm0>) -> Option<PartStore> {
        o.iter().rev().find_map(|c| match c {
            Command::Save(Dtm0Store::Participant(s)) => Some(s.clone()),
            _ => None,
        })
    }

    /// A PERSISTENT notice from p2 to p1 (incarnation 1).
    fn notice(c: &Cluster, s: &mut Cow<PartState>, o: &mut Out<Dtm0>, tx: TxId, sv: StateVec) {
        let msg = Msg::Persistent { to: 1, tx, sv };
        on_msg(c, 0, s, c.participant_id(1), msg, o);
    }

    fn execute(
        c: &Cluster,
        s: &mut Cow<PartState>,
        o: &mut Out<Dtm0>,
        ts: crate::protocol::types::Ts,
        op: Op,
    ) {
        let tx = TxId {
            ts,
            slot: 0,
            inc: 1,
        };
        on_msg(
            c,
            0,
            s,
            c.originator_id(0),
            Msg::Execute { to: 1, tx, op },
            o,
        );
    }

    /// An EXECUTE of an originator incarnation HA declared FAILED is
    /// dropped by default; Motr's CAS (`no-execute-fence`) executes it.
    #[test]
    fn no_execute_fence_executes_a_failed_originators_request() {
        for fence in [true, false] {
            let mut c = cluster();
            c.variants.no_execute_fence = !fence;
            let mut o = Out::new();
            let mut s = Cow::Owned(on_start(&c, 0, &None, &mut o));
            // HA: o1 FAILED, o2 ONLINE.
            let table = HaTable(vec![
                (1, HaSt::Online),
                (1, HaSt::Online),
                (2, HaSt::Online),
            ]);
            let view = Msg::View {
                to: 1,
                seq: 1,
                table,
            };
            on_msg(&c, 0, &mut s, c.ha_id(), view, &mut Out::new());
            let mut o = Out::new();
            execute(&c, &mut s, &mut o, 10, Op::Put { key: 1, val: 1 });
            assert_eq!(s.log.len(), usize::from(!fence), "fence {fence}");
            assert_eq!(s.kv.contains_key(&1), !fence);
        }
    }

    /// EXECUTED carries the verdict: a PUT or DEL below the key's record
    /// is superseded, as is a duplicate EXECUTE of a dtx overwritten since;
    /// a write that took effect is not; under `motr-silent-supersede`
    /// never.
    #[test]
    fn executed_says_superseded_where_a_newer_version_stands() {
        let verdicts = |o: &Out<Dtm0>| -> Vec<bool> {
            o.iter()
                .filter_map(|x| match x {
                    Command::Send(_, Msg::Executed { superseded, .. }) => Some(superseded.0),
                    _ => None,
                })
                .collect()
        };
        for silent in [false, true] {
            let mut c = cluster();
            c.variants.silent_supersede = silent;
            let mut s = Cow::Owned(on_start(&c, 0, &None, &mut Out::new()));
            let put = |val| Op::Put { key: 1, val };
            let mut run = |ts, op| {
                let mut o = Out::new();
                execute(&c, &mut s, &mut o, ts, op);
                verdicts(&o)
            };
            let lost = !silent;
            assert_eq!(run(100, put(1)), vec![false], "applied");
            assert_eq!(run(10, put(2)), vec![lost], "a lagging PUT");
            assert_eq!(run(11, Op::Del { key: 1 }), vec![lost], "a lagging DEL");
            assert_eq!(run(100, put(1)), vec![false], "a duplicate still on top");
            assert_eq!(run(200, put(3)), vec![false]);
            assert_eq!(
                run(100, put(1)),
                vec![lost],
                "a duplicate overwritten since"
            );
        }
    }

    /// An EOL meant for an earlier incarnation is dropped by default; with
    /// `no-epochs` it is taken, as from the sender's incarnation the view
    /// shows, and counts.
    #[test]
    fn no_epochs_takes_an_eol_meant_for_an_earlier_incarnation() {
        for epochs in [true, false] {
            let mut c = cluster();
            c.variants.no_epochs = !epochs;
            let mut o = Out::new();
            let mut s: Cow<PartState> = Cow::Owned(on_start(&c, 0, &None, &mut o));
            s.to_mut().inc = 3; // restarted twice
            let eol = Msg::Eol { to: 2, from: 1 };
            on_msg(&c, 0, &mut s, c.participant_id(1), eol, &mut Out::new());
            assert_eq!(s.eol[1], u32::from(!epochs), "epochs {epochs}");
        }
    }

    /// A notice that raises a durable record's vector is saved by the next
    /// commit by default; under `notice-own-commit` at once, in a store
    /// whose catalogue is the durable one even with a write pending.
    #[test]
    fn notice_own_commit_saves_the_durable_store_at_once() {
        for own in [false, true] {
            let mut c = cluster();
            c.variants.notice_own_commit = own;
            let mut o = Out::new();
            let mut s = Cow::Owned(on_start(&c, 0, &None, &mut o));
            let put = TxId {
                ts: 10,
                slot: 0,
                inc: 1,
            };
            execute(&c, &mut s, &mut Out::new(), 10, Op::Put { key: 1, val: 1 });
            on_timeout(&c, 0, &mut s, &Timer::Commit, &mut Out::new());
            let durable = s.kv.clone();
            // A later write on the key, pending.
            execute(&c, &mut s, &mut Out::new(), 20, Op::Del { key: 1 });
            assert_ne!(s.kv, durable);
            let mut o = Out::new();
            let p2 = StateVec::default().with(1, St::P);
            notice(&c, &mut s, &mut o, put, p2);
            match saved(&o) {
                None => assert!(!own, "Motr saves the notice"),
                Some(st) => {
                    assert!(own, "the default saves nothing");
                    assert_eq!(st.kv, durable, "the durable catalogue, not the visible one");
                    assert_eq!(st.log.len(), 1, "the durable log only");
                    assert_eq!(st.log[0].sv.render(2), "PP");
                }
            }
        }
    }

    /// The spec's stop condition skips a peer shown TRANSIENT; Motr's
    /// (`motr-stop-condition`) waits for it, and forgets the EOL it held
    /// from it when a view shows it TRANSIENT, even one of the incarnation
    /// that sent the EOL.
    #[test]
    fn motr_stop_condition_waits_for_a_transient_peer_and_forgets_its_eol() {
        let view =
            |peer: (Inc, HaSt)| HaTable(vec![(1, HaSt::Recovering), peer, (1, HaSt::Online)]);
        for motr in [false, true] {
            let mut c = cluster();
            c.variants.motr_stop = motr;
            let mut o = Out::new();
            let mut s = Cow::Owned(on_start(&c, 0, &None, &mut o));
            // No EOL held, the peer TRANSIENT: the spec is done, Motr not.
            assert_eq!(peers_done(&c, 0, &s, &view((2, HaSt::Transient))), !motr);
            // An EOL from the peer's incarnation 2, then a view (seq 5)
            // showing that incarnation TRANSIENT.
            let mut o = Out::new();
            let eol = Msg::Eol { to: 1, from: 2 };
            on_msg(&c, 0, &mut s, c.participant_id(1), eol, &mut o);
            assert_eq!(s.eol[1], 2);
            let table = view((2, HaSt::Transient));
            let msg = Msg::View {
                to: 1,
                seq: 5,
                table,
            };
            on_msg(&c, 0, &mut s, c.ha_id(), msg, &mut o);
            assert_eq!(s.eol[1], if motr { 0 } else { 2 }, "motr {motr}");
            // The peer RECOVERING again: the spec counts the EOL it kept.
            assert_eq!(peers_done(&c, 0, &s, &view((2, HaSt::Recovering))), !motr);
        }
    }

    #[test]
    fn crash_loses_exactly_the_uncommitted_part() {
        let c = cluster();
        let mut o = Out::new();
        let s0 = on_start(&c, 0, &None, &mut o);
        let mut store = saved(&o).expect("first boot saves");
        let mut s = Cow::Owned(s0);
        // first dtx: executed and committed
        let mut o = Out::new();
        execute(&c, &mut s, &mut o, 10, Op::Put { key: 1, val: 1 });
        assert!(o
            .iter()
            .any(|c| matches!(c, Command::SetTimer(Timer::Commit, _))));
        assert!(saved(&o).is_none(), "execution alone saves nothing");
        let mut o = Out::new();
        on_timeout(&c, 0, &mut s, &Timer::Commit, &mut o);
        store = saved(&o).unwrap_or(store);
        assert_eq!(store.log.len(), 1);
        assert_eq!(store.log[0].sv.get(0), St::P);
        // the PERSISTENT notices go out after the save in the same step
        let save_at = o
            .iter()
            .position(|c| matches!(c, Command::Save(_)))
            .unwrap();
        let first_notice = o
            .iter()
            .position(|c| matches!(c, Command::Send(_, Msg::Persistent { .. })))
            .unwrap();
        assert!(save_at < first_notice);
        // second dtx: executed, not committed
        let mut o = Out::new();
        execute(&c, &mut s, &mut o, 20, Op::Del { key: 1 });
        assert!(!s.kv[&1].alive(), "executed: visible at once");
        assert_eq!(s.log.len(), 2);
        // crash + restart: only the durable part comes back
        let mut o = Out::new();
        let r = on_start(&c, 0, &Some(store.clone()), &mut o);
        assert_eq!(r.inc, 2);
        assert_eq!(r.log.len(), 1, "the uncommitted DEL is lost");
        assert!(r.kv[&1].alive());
        assert_eq!(r.kv[&1].ver.ts, 10);
        assert!(r.early.is_empty() && r.rounds.iter().all(|x| x.inc == 0));
        assert!(o
            .iter()
            .any(|c| matches!(c, Command::Send(_, Msg::Starting { inc: 2 }))));
        assert_eq!(saved(&o).unwrap().inc, 2, "the new incarnation is durable");
    }

    /// A REDO of a record this participant pruned, arriving while a later
    /// write on the same key is pending: the durable catalogue (kept by the
    /// shadow) already holds a version above it, so it answers P and logs
    /// nothing. (Logging it again left a copy no peer would ever make
    /// all-P: L2 on three-put-del-crash, 81 steps.)
    #[test]
    fn redo_of_a_pruned_record_is_answered_p_with_a_write_pending() {
        let mut c = cluster();
        c.variants.pruning = true;
        c.variants.own_redo = true;
        let mut o = Out::new();
        let mut s = Cow::Owned(on_start(&c, 0, &None, &mut o));
        let put = TxId {
            ts: 10,
            slot: 0,
            inc: 1,
        };
        execute(&c, &mut s, &mut o, 10, Op::Put { key: 1, val: 1 });
        on_timeout(&c, 0, &mut s, &Timer::Commit, &mut Out::new());
        let all_p = StateVec::default().with(0, St::P).with(1, St::P);
        notice(&c, &mut s, &mut Out::new(), put, all_p);
        on_timeout(&c, 0, &mut s, &Timer::Commit, &mut Out::new());
        assert!(s.log.is_empty(), "the all-P PUT is pruned");
        // a DEL of the key, executed, not committed
        execute(&c, &mut s, &mut Out::new(), 20, Op::Del { key: 1 });
        assert_eq!(s.pending().len(), 1);
        let put_op = Op::Put { key: 1, val: 1 };
        let shadow: Vec<_> = s
            .shadow
            .iter()
            .map(|(k, r)| (*k, r.map(|r| r.ver)))
            .collect();
        assert_eq!(
            shadow,
            vec![(1, Some(crate::protocol::types::Version::of(put, &put_op)))]
        );
        // the PUT comes back by REDO (a peer's eviction that did not know)
        let mut o = Out::new();
        let txr = Txr {
            id: put,
            op: Op::Put { key: 1, val: 1 },
            sv: StateVec::default().with(1, St::P),
        };
        on_msg(
            &c,
            0,
            &mut s,
            c.participant_id(1),
            Msg::Redo {
                to: 1,
                from: 1,
                txr,
            },
            &mut o,
        );
        assert_eq!(s.log.len(), 1, "only the DEL: the PUT is not logged again");
        assert!(
            o.iter().any(|x| matches!(
                x,
                Command::Send(_, Msg::Persistent { tx, sv, .. }) if *tx == put && sv.get(0) == St::P
            )),
            "answered with P: {o:?}"
        );
        // the commit makes the DEL durable and empties the shadow
        on_timeout(&c, 0, &mut s, &Timer::Commit, &mut Out::new());
        assert!(s.shadow.is_empty());
    }

    #[test]
    fn messages_for_an_earlier_incarnation_are_dropped() {
        let c = cluster();
        let mut o = Out::new();
        let st = on_start(&c, 0, &None, &mut o);
        let store = saved(&o).unwrap();
        let mut o = Out::new();
        let r = on_start(&c, 0, &Some(store), &mut o);
        let mut s = Cow::Borrowed(&r);
        let mut o = Out::new();
        execute(&c, &mut s, &mut o, 10, Op::Put { key: 1, val: 1 });
        assert!(
            matches!(s, Cow::Borrowed(_)) && o.is_empty(),
            "to = 1, we are 2"
        );
        drop(st);
    }

    #[test]
    fn restore_round_redoes_in_log_order_and_eol_waits_for_acks() {
        let c = cluster();
        let mut o = Out::new();
        let mut s = Cow::Owned(on_start(&c, 1, &None, &mut o));
        let p = 1;
        for ts in [10, 11] {
            let tx = TxId {
                ts,
                slot: 0,
                inc: 1,
            };
            let mut o = Out::new();
            on_msg(
                &c,
                p,
                &mut s,
                c.originator_id(0),
                Msg::Execute {
                    to: 1,
                    tx,
                    op: Op::Put { key: 1, val: 1 },
                },
                &mut o,
            );
        }
        // p1 restarted as incarnation 2 and is RECOVERING
        let table = HaTable(vec![
            (2, HaSt::Recovering),
            (1, HaSt::Online),
            (1, HaSt::Online),
        ]);
        let mut o = Out::new();
        on_msg(
            &c,
            p,
            &mut s,
            c.ha_id(),
            Msg::View {
                to: 1,
                seq: 2,
                table,
            },
            &mut o,
        );
        let redos: Vec<&Msg> = o
            .iter()
            .filter_map(|c| match c {
                Command::Send(_, m @ Msg::Redo { .. }) => Some(m),
                _ => None,
            })
            .collect();
        assert_eq!(redos.len(), 1, "one REDO at a time");
        assert!(matches!(redos[0], Msg::Redo { to: 2, txr, .. } if txr.id.ts == 10));
        assert!(!o
            .iter()
            .any(|c| matches!(c, Command::Send(_, Msg::Eol { .. }))));
        let ack = |ts| Msg::RedoAck {
            to: 1,
            tx: TxId {
                ts,
                slot: 0,
                inc: 1,
            },
        };
        let mut o = Out::new();
        on_msg(&c, p, &mut s, c.participant_id(0), ack(10), &mut o);
        assert!(o
            .iter()
            .any(|c| matches!(c, Command::Send(_, Msg::Redo { txr, .. }) if txr.id.ts == 11)));
        assert!(!o
            .iter()
            .any(|c| matches!(c, Command::Send(_, Msg::Eol { .. }))));
        let mut o = Out::new();
        on_msg(&c, p, &mut s, c.participant_id(0), ack(11), &mut o);
        assert!(o
            .iter()
            .any(|c| matches!(c, Command::Send(_, Msg::Eol { to: 2, from: 1 }))));
        assert_eq!((s.rounds[0].sent, s.rounds[0].acked), (2, 2));
    }

    #[test]
    fn a_long_log_is_indexed_and_the_index_follows_pruning() {
        let mut c = cluster();
        c.variants.pruning = true;
        let mut o = Out::new();
        let mut s = Cow::Owned(on_start(&c, 0, &None, &mut o));
        for ts in 1..=100 {
            let mut o = Out::new();
            execute(&c, &mut s, &mut o, ts, Op::Put { key: 1, val: 1 });
        }
        assert!(
            s.index.0.is_some(),
            "indexed past {} records",
            LogIndex::BUILD_AT
        );
        let tx = |ts| TxId {
            ts,
            slot: 0,
            inc: 1,
        };
        for ts in [1, 50, 100] {
            assert_eq!(s.find(tx(ts)), Some(ts as usize - 1));
        }
        assert_eq!(s.find(tx(101)), None);
        // commit, then p2 says P for the first 90: they are pruned
        let mut o = Out::new();
        on_timeout(&c, 0, &mut s, &Timer::Commit, &mut o);
        // the long durable log is kept shared: the save is not a copy
        let saved = s.store();
        assert!(saved.log.shared().is_some(), "shared past the threshold");
        assert_eq!(saved.log.to_vec(), s.durable_log());
        for ts in 1..=90 {
            let mut sv = StateVec::default();
            sv.raise(1, St::P);
            notice(&c, &mut s, &mut Out::new(), tx(ts), sv);
        }
        let mut o = Out::new();
        on_timeout(&c, 0, &mut s, &Timer::Commit, &mut o);
        assert_eq!((s.base, s.log.len()), (90, 10));
        // the earlier save is untouched; the new one is the pruned log
        assert_eq!(saved.log.len(), 100);
        assert_eq!(s.store().log.to_vec(), s.durable_log());
        assert!(
            s.index.0.is_none(),
            "dropped below {} records",
            LogIndex::DROP_AT
        );
        assert_eq!(s.find(tx(95)), Some(4));
        assert_eq!(s.find(tx(50)), None);
        // the index takes no part in equality: same log, same state
        let mut t = (*s).clone();
        t.index = LogIndex(Some(Default::default()));
        assert_eq!(t, *s);
    }

    #[test]
    fn the_ghost_struct_adds_nothing_to_the_encoded_store() {
        // The live log encodes `PartStore` with postcard: grouping the
        // ghost in a struct of its own must keep the bytes of the flat
        // layout (inc, kv, log, base, pruned).
        let c = cluster();
        let mut o = Out::new();
        let mut s = Cow::Owned(on_start(&c, 0, &None, &mut o));
        execute(&c, &mut s, &mut o, 10, Op::Put { key: 1, val: 1 });
        let mut st = s.into_owned();
        st.ndur = st.log.len() as Pos;
        st.ghost.durable.pruned.push((st.log[0].id, st.log[0].op));
        let store = st.store();
        let flat = (
            store.inc,
            &store.kv,
            &store.log,
            store.base,
            &store.ghost.pruned,
        );
        assert_eq!(
            postcard::to_allocvec(&store).unwrap(),
            postcard::to_allocvec(&flat).unwrap()
        );
    }
}
