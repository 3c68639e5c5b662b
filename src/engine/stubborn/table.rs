//! The independence table of two actions of one actor (`indep`), the
//! kinds of actions and what the table knows of each (`Desc`), and the
//! trigger table (which deliveries make a handler send a kind).

use crate::protocol::cluster::Cluster;
use crate::protocol::msg::Msg;
use crate::protocol::types::{Inc, TxId};

/// A set of kinds of actions, one bit each.
pub type Kinds = u32;

// Kinds of actions, one bit each. Message kinds name the message
// delivered; `NOOP` is a delivery that is a no-op at the receiver in every
// state reachable without the receiver restarting.
pub const EXE: Kinds = 1 << 0;
pub const RDO: Kinds = 1 << 1;
pub const ACK: Kinds = 1 << 2;
pub const PER: Kinds = 1 << 3;
pub const EOL: Kinds = 1 << 4;
pub const VIEW: Kinds = 1 << 5;
pub const EXD: Kinds = 1 << 6;
pub const START: Kinds = 1 << 7;
pub const READY: Kinds = 1 << 8;
pub const RECOV: Kinds = 1 << 9;
pub const COMMIT: Kinds = 1 << 10;
pub const NOOP: Kinds = 1 << 11;
pub const CRASH: Kinds = 1 << 12;
pub const RECOVER: Kinds = 1 << 13;
pub const DROP: Kinds = 1 << 14;
pub const OTHER: Kinds = 1 << 15;
/// A GET (originator -> participant) and its reply.
pub const GET: Kinds = 1 << 16;
pub const GETR: Kinds = 1 << 17;
/// Every kind a message can have.
pub const MSGS: Kinds =
    EXE | RDO | ACK | PER | EOL | VIEW | EXD | START | READY | RECOV | OTHER | GET | GETR;

/// The kind of a message, as sent.
pub fn msg_kind(m: &Msg) -> Kinds {
    match m {
        Msg::Execute { .. } => EXE,
        Msg::Redo { .. } => RDO,
        Msg::RedoAck { .. } => ACK,
        Msg::Persistent { .. } => PER,
        Msg::Eol { .. } => EOL,
        Msg::View { .. } => VIEW,
        Msg::Executed { .. } => EXD,
        Msg::Starting { .. } => START,
        Msg::Ready { .. } => READY,
        Msg::Recovered { .. } => RECOV,
        Msg::Down { .. } | Msg::Failed { .. } => OTHER,
        Msg::Get { .. } => GET,
        Msg::GetReply { .. } => GETR,
    }
}

/// What the table needs to know of one action of an actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    pub kind: Kinds,
    /// The sender of a delivery (`usize::MAX` otherwise).
    pub src: usize,
    /// The dtx of EXECUTE, REDO, PERSISTENT, EXECUTED, if known.
    pub tx: Option<TxId>,
    /// Kind-specific fact, stable along paths that avoid the set:
    /// participant PERSISTENT: the record is durable here and logs are
    /// never pruned; participant VIEW: it reads no log (starts no round,
    /// evicts nothing or sends nothing when it evicts, see
    /// `eviction_sends_nothing`, cannot lead to `push_own`); participant
    /// EXECUTE and
    /// REDO: the dtx is in the log, which is never pruned (it sets no
    /// timer); participant commit: nothing is pending (it sends no
    /// notice); originator PERSISTENT:
    /// it cannot add to the ghost list of stable dtxs; originator VIEW: it
    /// resends no EXECUTE.
    pub flag: bool,
    /// Second fact. Participant VIEW: bit 0, it keeps every originator
    /// slot's incarnation; bit 1, it keeps every other participant's;
    /// bit 2, `flag` relies on no EOL arriving; bit 3, it changes a peer's
    /// incarnation while a commit with nothing pending is set; bit 4,
    /// `ev_only` and nothing is pending here; bit 5, it keeps every other
    /// participant's row (incarnation and state).
    /// Participant REDO: bit 0, the record is not superseded durably here;
    /// bit 1, it may be passed on (eviction on arrival: the default, and
    /// the dtx is not in the log).
    /// Originator PERSISTENT: the participants its vector shows P;
    /// originator VIEW: the participants it resends EXECUTE to.
    /// Participant EOL: bit 0, the receiver has declared or its view shows
    /// its own incarnation ONLINE (stable: HA never moves an incarnation
    /// back) and the EOL is from the sender's incarnation in that view or
    /// later; bit 1, the receiver has declared (sticky in the model).
    pub mask: u16,
    /// Participant VIEW: the participants (bit per index) whose
    /// incarnation it keeps as the receiver's view shows it.
    pub keep: u16,
    /// Participant VIEW: the participants whose row (incarnation and
    /// state) it keeps as the receiver's view shows it.
    pub same: u16,
    /// A future action (a kind that may arrive), not one known now.
    pub future: bool,
    /// Participant VIEW: its only log read is the eviction of one
    /// originator slot (`ev_slot`, incarnations below `ev_alive`): it
    /// starts no round and cannot lead to `push_own`.
    pub ev_only: bool,
    pub ev_slot: u8,
    pub ev_alive: Inc,
    /// Originator PERSISTENT (or EXECUTED): it may issue a read (make the
    /// last dtx before a waiting read STABLE), sending GETs addressed by
    /// the view and recording the read's ghost.
    pub issues: bool,
}

impl Desc {
    /// A participant VIEW with `ev_only`: whether it evicts dtx `t`.
    pub(super) fn evicts(&self, t: TxId) -> bool {
        t.slot == self.ev_slot && t.inc < self.ev_alive
    }

    pub(super) fn of(kind: Kinds) -> Desc {
        Desc {
            kind,
            src: usize::MAX,
            tx: None,
            flag: false,
            mask: 0,
            keep: 0,
            same: 0,
            future: false,
            ev_only: false,
            ev_slot: 0,
            ev_alive: 0,
            issues: false,
        }
    }
}

/// The kind of process an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Part,
    Orig,
    Ha,
}

/// The independence table of two actions `a`, `b` of one actor, given as
/// descriptions (see `Desc`). True means: at every state reachable from the
/// current one without the actor crashing or restarting, where both are
/// enabled, neither disables the other and both orders reach the same
/// state (on an ordered network, this includes the order of what they
/// append to one channel).
pub(super) fn indep(c: &Cluster, role: Role, a: &Desc, b: &Desc) -> bool {
    if !c.table_argued() {
        return false; // the table is argued for the correct protocol only
    }
    // A crash disables every action of its actor; a restart is the only
    // action of a crashed actor.
    if (a.kind | b.kind) & (CRASH | RECOVER) != 0 {
        return false;
    }
    // A delivery that changes nothing and sends nothing (a message to an
    // earlier incarnation, `to != inc`, dropped first thing by every
    // handler; a view not newer than the receiver's `seq`, which only
    // grows; a request from an originator the view shows FAILED, whose
    // incarnation only grows; a notice already merged into a durable
    // record that is never pruned): it commutes with everything.
    if (a.kind | b.kind) & NOOP != 0 {
        return true;
    }
    // A loss only removes its message; it conflicts with the delivery or
    // loss of that message only (compared by the caller), never with a
    // future action (another copy commutes by counts).
    if (a.kind | b.kind) & DROP != 0 {
        return true;
    }
    // Arms name the kinds in increasing bit order.
    let (a, b) = if a.kind <= b.kind { (a, b) } else { (b, a) };
    match role {
        Role::Part => indep_part(c, a, b),
        Role::Orig => indep_orig(c, a, b),
        // Every change of HA's table is numbered and broadcast.
        Role::Ha => false,
    }
}

/// The table for two actions of a participant, `a.kind <= b.kind`
/// (neither a crash, restart, no-op or loss; see `indep`).
pub(super) fn indep_part(c: &Cluster, a: &Desc, b: &Desc) -> bool {
    let pruning = c.variants.pruning;
    // `check_stop` pushes the log (`push_own`) when both are on.
    let push = c.variants.own_redo && pruning;
    match (a.kind, b.kind) {
        // merge_notice: state vectors merged by maximum into the record
        // or the sorted `early` list; sends nothing; arms the commit
        // timer (a set) when the log's head is all-P, monotone in
        // the merges.
        (PER, PER) => true,
        // receive() of EXECUTE merges `early` (or sends a notice from
        // the unchanged durable catalogue when superseded) and appends
        // a record or merges a zero vector; merge_notice writes only
        // the vector of its dtx, never the log's order or the
        // catalogue; only EXECUTE sends (EXECUTED to the originator,
        // whose superseded verdict reads the visible catalogue, which
        // none of PERSISTENT, EOL without push, a view that reads no log,
        // or an ack writes: the claims with those below stand).
        (EXE, PER) => true,
        // REDO of another dtx: as EXECUTE. Of the same dtx the REDO
        // may answer with a notice carrying the merged vector.
        (RDO, PER) => matches!((a.tx, b.tx), (Some(x), Some(y)) if x != y),
        // without push_own, EOL writes only `eol`, `declared`,
        // `declared_peers` and sends RECOVERED to HA; the others neither
        // read those nor send to HA.
        // Once declared (bit 1 of the EOL's mask, sticky) the stop
        // condition does nothing, so it cannot push either.
        (PER, EOL) | (EXE, EOL) | (RDO, EOL) | (ACK, EOL) => !push || b.mask & 2 != 0,
        (EOL, COMMIT) => !push || a.mask & 2 != 0,
        // Two EOLs: `eol` entries raised per peer; the stop condition
        // is met by whichever comes last with the same `view`, so the
        // same RECOVERED (and push_own from the same log) goes out.
        (EOL, EOL) => true,
        // EOL raises `eol[src]` and runs the stop condition; a view
        // resets `eol[r]` below the incarnation it shows for a peer whose
        // row changed, and runs the stop condition. With the sender's
        // incarnation kept by the view and the EOL from it or later, the
        // reset cannot touch what the EOL wrote. The stop condition is met
        // by whichever of the two comes last, under the new view, unless
        // the old view already shows the receiver RECOVERING (then the EOL
        // first may declare under the old view, recorded in the ghost):
        // `flag` says it does not, for the view at the channel's head (the
        // next view to arrive); bit 0 of `mask` says it never will, for
        // any later view. Only one of READY (the new view shows the
        // receiver TRANSIENT) and RECOVERED (it shows it RECOVERING) can
        // go to HA. With push_own, the push reads the log, which neither
        // writes, and comes from whichever is last, under the new view:
        // in one order the view's step sends its round and eviction REDOs
        // and then the push, in the other the view's step sends the same
        // REDOs and the EOL's step the push, so every channel gets the
        // same sequence.
        // Unless the view's own description relies on no EOL arriving
        // (bit 2 of its mask: it reads no log only because the stop
        // condition cannot be met yet).
        (EOL, VIEW) => {
            b.mask & 4 == 0
                && (b.keep >> a.src) & 1 != 0
                && if b.future { a.mask & 1 != 0 } else { a.flag }
        }
        // A view that reads no log writes view, seq, rounds and eol,
        // which merge_notice neither reads nor writes. A view whose only
        // log read is an eviction (`ev_only`) reads also the records of
        // the dtxs it evicts (their vectors, for the REDOs it sends);
        // merge_notice about any other dtx writes only that dtx's vector
        // (or `early`) and arms the commit timer (a set), which the view
        // neither reads nor writes.
        (PER, VIEW) => b.flag || (b.ev_only && a.tx.is_some_and(|t| !b.evicts(t))),
        // A view that reads no log and keeps the originators'
        // incarnations (the FAILED test of EXECUTE) and, with pruning,
        // the participants' (the `to` of a superseded dtx's notices).
        // The FAILED test compares the slot's incarnation in the view with
        // the dtx's (at least 1): bit 0 of the view's mask says no slot's
        // outcome can differ. A superseded dtx is answered with notices
        // addressed by the view's incarnations: bit 0 of the EXECUTE's or
        // REDO's mask says it is not superseded (the catalogue changes
        // only by this participant's EXECUTE, REDO and commit, all
        // dependent with it).
        // Not with a view of bit 3 (below, the commit).
        (EXE, VIEW) => {
            b.flag
                && b.mask & 1 != 0
                && b.mask & 8 == 0
                && (!pruning || b.mask & 2 != 0 || a.mask & 1 != 0)
        }
        // A REDO that may pass its record on (bit 1 of its mask: not in
        // the log, eviction on arrival) reads the view too: whether the
        // record's originator incarnation is dead there (a view keeping
        // every slot's incarnation, bit 0, keeps that), and where to send
        // it (each other participant's row, bit 5).
        (RDO, VIEW) => {
            b.flag
                && b.mask & 8 == 0
                && (!pruning || b.mask & 2 != 0 || a.mask & 1 != 0)
                && (a.mask & 2 == 0 || b.mask & 33 == 33)
        }
        // The commit reads the view for the `to` of its notices only, and
        // sends none when nothing is pending (its flag). Records become
        // pending only by EXECUTE and REDO, dependent with the commit; a
        // view relying on the commit's flag has bit 3, which keeps it
        // dependent with them too: whichever side of the set the two are
        // on, nothing becomes pending along a path that avoids it.
        // A view whose only log read is an eviction, with nothing pending
        // (bit 4): nothing becomes pending along a path that avoids the
        // set (EXECUTE and REDO are dependent with such a view, its flag
        // being false), so the commit sends no notice; it prunes only
        // all-P records, which the eviction would not redo, and saves a
        // store the view does not write.
        (VIEW, COMMIT) => {
            (a.flag && (a.mask & 2 != 0 || (b.flag && a.mask & 8 != 0)))
                || (a.ev_only && a.mask & 16 != 0)
        }
        // Not PERSISTENT with the commit, even for a durable record: the
        // commit saves the whole log with its state vectors.
        // Acks of rounds served to different peers: each advances its
        // own round and sends to its own peer; neither writes the log.
        (ACK, ACK) => a.src != b.src,
        // An ack advances the round served to its sender, reading the log
        // before the round's cutoff and sending to that peer only. A view
        // that reads no log and keeps the sender's row leaves that round
        // alone (`follow_peer` runs for changed rows only) and sends to
        // other peers and HA.
        (ACK, VIEW) => b.flag && (b.same >> a.src) & 1 != 0,
        // advance() reads log records before the round's cutoff;
        // EXECUTE appends after the cutoff or merges a zero vector,
        // and sends to the originator, not to the peer.
        (EXE, ACK) => true,
        // GET reads the visible catalogue and answers its sender only.
        // A notice writes state vectors (and `early`, the commit timer, or
        // under notice-own-commit the store), never the catalogue, and
        // sends nothing; an EOL and an ack write recovery bookkeeping and
        // send to peers and HA; a view writes the view,
        // rounds and EOL flags (any view: none sends to an originator or
        // changes the catalogue). Two GETs from different originators answer
        // on different channels (from one, the replies' order on an
        // ordered channel would differ).
        // (A participant's catalogue changes only when it executes.)
        (PER, GET) | (ACK, GET) | (EOL, GET) | (VIEW, GET) => true,
        // The commit makes records durable, not visible; with nothing
        // pending it sends no notice to the originator.
        (COMMIT, GET) => a.flag,
        (GET, GET) => a.src != b.src,
        _ => false,
    }
}

/// The table for two actions of an originator, `a.kind <= b.kind`
/// (neither a crash, restart, no-op or loss; see `indep`).
pub(super) fn indep_orig(c: &Cluster, a: &Desc, b: &Desc) -> bool {
    match (a.kind, b.kind) {
        // EXECUTED raises one V bit; EXECUTED state iff all V; a
        // superseded verdict sets the dtx's flag (an OR, never cleared).
        (EXD, EXD) => true,
        // At FirstP every notice that changes a vector carries its
        // sender's P and makes the dtx STABLE, after which EXECUTED no
        // longer changes the dtx's state; the vector is a maximum; the
        // superseded flag, which EXECUTED alone writes, no notice reads.
        (PER, EXD) => {
            c.stable_threshold() <= 1 || matches!((a.tx, b.tx), (Some(x), Some(y)) if x != y)
        }
        // A view resends EXECUTE where the vector is below P, and
        // issues this incarnation's dtxs (not yet answered); EXECUTED
        // raises to V only (and sets the superseded flag, which no view
        // reads).
        (VIEW, EXD) => true,
        // Notices merge by maximum; only the ghost list of STABLE
        // dtxs keeps an order, so two dtxs may not both become STABLE.
        // Two notices that may both issue reads (ghosts off: `flag` does
        // not say "already STABLE") would send their GETs in either order.
        (PER, PER) => {
            matches!((a.tx, b.tx), (Some(x), Some(y)) if x == y)
                || ((a.flag || b.flag) && !(a.issues && b.issues))
        }
        // A view resends EXECUTE to participants whose incarnation
        // grew where the vector is below P: a notice showing none of
        // them P changes nothing it reads.
        // Unless the notice may issue a read (whose GETs go to the
        // replicas the view shows available, and which a view completes).
        (PER, VIEW) => !a.issues && (b.flag || a.mask & b.mask == 0),
        // A GET reply changes only its read (one replica fewer pending,
        // the best record): EXECUTED does not touch reads; a notice that
        // issues reads touches only waiting ones, and a reply is for an
        // asked one. Two replies: the result is a maximum in the default
        // version order (at a tie under Motr's order the first stays).
        (EXD, GETR) | (PER, GETR) => true,
        (GETR, GETR) => c.variants.version_order == crate::protocol::types::VersionOrder::Writer,
        _ => false,
    }
}

/// Which deliveries (kind, and whether from the destination of the send)
/// make a handler of `role` send a message of kind `k`: the trigger table.
/// `COMMIT` stands for the commit timeout; START comes from a restart.
pub(super) fn triggers(c: &Cluster, role: Role, k: Kinds) -> &'static [(Kinds, bool)] {
    let push = c.variants.own_redo && c.variants.pruning;
    match (role, k) {
        // EXECUTED answers EXECUTE.
        (Role::Part, EXD) => &[(EXE, true)],
        // Notices: the commit of pending records, a superseded EXECUTE or
        // REDO (pruning), the answer to a REDO of a durable record.
        (Role::Part, PER) => &[(COMMIT | EXE | RDO, false)],
        // REDO: a view starts a round or evicts, an ack advances the
        // round to its peer, the stop condition pushes the log.
        // By default also a REDO passed on (eviction on arrival).
        (Role::Part, RDO) => match (push, c.variants.motr_evict) {
            (true, false) => &[(VIEW | EOL | RDO, false), (ACK, true)],
            (true, true) => &[(VIEW | EOL, false), (ACK, true)],
            (false, false) => &[(VIEW | RDO, false), (ACK, true)],
            (false, true) => &[(VIEW, false), (ACK, true)],
        },
        (Role::Part, ACK) => &[(RDO, true)],
        (Role::Part, EOL) => &[(VIEW, false), (ACK, true)],
        (Role::Part, READY) => &[(VIEW, false)],
        (Role::Part, RECOV) => &[(VIEW | EOL, false)],
        // With one send per step, the next EXECUTE goes out on the
        // originator's own timer (`COMMIT` stands for any timeout).
        (Role::Orig, EXE) if c.one_send_per_step => &[(VIEW | COMMIT, false)],
        (Role::Orig, EXE) => &[(VIEW, false)],
        // A participant failing for good reports (OTHER) on its own
        // timer (`COMMIT` stands for any timeout).
        (Role::Part, OTHER) => &[(COMMIT, false)],
        // A GET goes out when the dtxs before a read are STABLE (a notice;
        // EXECUTED under a mutant) or at issue (a view).
        (Role::Orig, GET) => &[(VIEW | PER | EXD, false)],
        (Role::Part, GETR) => &[(GET, true)],
        (Role::Ha, VIEW) => &[(START | READY | RECOV | OTHER, false)],
        _ => &[],
    }
}
