//! The mutants: deliberately broken protocols, each of which the checker
//! must catch with a named property and a counterexample (issue 5). They
//! are checker-only: no live cluster runs one on purpose.
//!
//! The protocol asks one question per mutant, each a method of `Mutants`
//! below, so this file is the list of every place where a mutant makes the
//! protocol deviate, and of the handler where it does.

use serde::{Deserialize, Serialize};

/// Deliberately broken protocol variants: each must be caught by the
/// checker with a named property and a counterexample (issue 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Mutant {
    /// Participants never evict a dead originator's dtxs.
    NoEviction = 1,
    /// A participant prunes a record once it is P locally, not all-P.
    PruneOnLocalP = 2,
    /// PERSISTENT is sent when a dtx is executed, before the commit.
    PBeforeCommit = 4,
    /// A restore round sends all its REDOs and the EOL at once, without
    /// waiting for the acks.
    EolBeforeAcks = 8,
    /// An EOL from an earlier round (an earlier incarnation of the
    /// recovering participant) counts in a later one.
    StaleEol = 16,
    /// The stop condition is met by the first EOL received.
    StopOnFirstEol = 32,
    /// Dtxs a serving peer logs after its cutoff are left to the writer,
    /// which does not resend to the restarted participant: never redone.
    RedoAfterCutoffSkipped = 64,
    /// A writer skips a participant its view shows TRANSIENT (it does not
    /// yet know that participant is RECOVERING).
    SkipRecoveringWriter = 128,
    /// Every view showing this participant TRANSIENT clears its EOL flags,
    /// even one still describing its restart that arrives after the first
    /// EOLs (a bug of ours, caught by the live tests, kept as a mutant).
    ForgetEolOnTransientView = 256,
    /// A participant's commit marks its records P for every peer too, a P
    /// it never received.
    InventPeerP = 512,
    /// The stop condition accepts an EOL of the peer's previous
    /// incarnation for its current one (an off-by-one: with no EOL held,
    /// "incarnation 0" counts for a first incarnation).
    EolWrongIncarnation = 1024,
    /// An originator calls a dtx STABLE once it is executed everywhere,
    /// before any P notice.
    StableOnExecuted = 2048,
    /// Under `tombstone-gc`, a participant collects a tombstone as soon as
    /// its DEL is durable here, without waiting for the record to be P at
    /// every participant (too early).
    CollectOnCommit = 4096,
}

/// Each mutant's name and what it breaks.
pub const MUTANTS: &[(&str, Mutant, &str)] = &[
    (
        "no-eviction",
        Mutant::NoEviction,
        "MUTANT: participants never evict a dead originator's dtxs",
    ),
    (
        "prune-on-local-p",
        Mutant::PruneOnLocalP,
        "MUTANT: prune a record once P locally (not all-P)",
    ),
    (
        "p-before-commit",
        Mutant::PBeforeCommit,
        "MUTANT: send PERSISTENT at execution, before the commit",
    ),
    (
        "eol-before-acks",
        Mutant::EolBeforeAcks,
        "MUTANT: send every REDO and the EOL without waiting for acks",
    ),
    (
        "stale-eol",
        Mutant::StaleEol,
        "MUTANT: an EOL from an earlier round counts in a later one",
    ),
    (
        "stop-on-first-eol",
        Mutant::StopOnFirstEol,
        "MUTANT: recovered at the first EOL",
    ),
    (
        "redo-after-cutoff-skipped",
        Mutant::RedoAfterCutoffSkipped,
        "MUTANT: dtxs logged after the cutoff are never resent to the restarted participant",
    ),
    (
        "forget-eol-on-transient-view",
        Mutant::ForgetEolOnTransientView,
        "MUTANT: a late view of the restart's TRANSIENT clears the EOLs already received",
    ),
    (
        "skip-recovering-writer",
        Mutant::SkipRecoveringWriter,
        "MUTANT: a writer skips participants its view shows TRANSIENT",
    ),
    (
        "invent-peer-p",
        Mutant::InventPeerP,
        "MUTANT: a commit marks the record P for every peer too",
    ),
    (
        "eol-wrong-incarnation",
        Mutant::EolWrongIncarnation,
        "MUTANT: an EOL of the peer's previous incarnation counts for its current one",
    ),
    (
        "stable-on-executed",
        Mutant::StableOnExecuted,
        "MUTANT: a dtx is STABLE once executed everywhere, before any P notice",
    ),
    (
        "collect-on-commit",
        Mutant::CollectOnCommit,
        "MUTANT: a tombstone is collected once its DEL is durable locally, before every replica holds it",
    ),
];

/// A set of mutants, as a bit set (one bit per `Mutant`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mutants(pub u16);

impl Mutants {
    pub fn has(self, m: Mutant) -> bool {
        self.0 & m as u16 != 0
    }
    pub fn insert(&mut self, m: Mutant) {
        self.0 |= m as u16;
    }
    /// No mutant: the protocol as specified.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    // Where the protocol deviates: one check per mutant, in the order of
    // `Mutant`, each naming the step it changes.

    /// `no-eviction` (participant, `handle_view`): a new incarnation of an
    /// originator does not make participants redo the dead one's dtxs.
    pub fn never_evicts(self) -> bool {
        self.has(Mutant::NoEviction)
    }
    /// `prune-on-local-p` (participant, `handle_commit_timer`): the commit
    /// prunes the records P here, not the all-P ones.
    pub fn prunes_on_local_p(self) -> bool {
        self.has(Mutant::PruneOnLocalP)
    }
    /// `p-before-commit` (participant, `execute_record`): executing a dtx
    /// already sends its PERSISTENT notices.
    pub fn notifies_p_before_commit(self) -> bool {
        self.has(Mutant::PBeforeCommit)
    }
    /// `eol-before-acks` (participant, `advance_round`): a restore round
    /// sends every REDO and its EOL at once, never awaiting an ack.
    pub fn sends_eol_before_acks(self) -> bool {
        self.has(Mutant::EolBeforeAcks)
    }
    /// `stale-eol` (participant, `on_msg` and `handle_view`): an EOL meant
    /// for an earlier incarnation is not dropped, and a view showing a
    /// peer's new incarnation does not clear its old EOL.
    pub fn stale_eol_counts(self) -> bool {
        self.has(Mutant::StaleEol)
    }
    /// `stop-on-first-eol` (participant, `check_stop`): one EOL meets the
    /// stop condition.
    pub fn stops_on_first_eol(self) -> bool {
        self.has(Mutant::StopOnFirstEol)
    }
    /// `redo-after-cutoff-skipped` (originator, `handle_view`): a writer
    /// does not resend its dtxs to a participant's new incarnation.
    pub fn writer_never_resends(self) -> bool {
        self.has(Mutant::RedoAfterCutoffSkipped)
    }
    /// `skip-recovering-writer` (originator, `issue` and `handle_view`): a
    /// writer sends nothing to a participant its view shows TRANSIENT.
    pub fn writer_skips_transient(self) -> bool {
        self.has(Mutant::SkipRecoveringWriter)
    }
    /// `forget-eol-on-transient-view` (participant, `handle_view`): every
    /// view showing this incarnation TRANSIENT clears the EOLs held.
    pub fn forgets_eol_on_any_transient_view(self) -> bool {
        self.has(Mutant::ForgetEolOnTransientView)
    }
    /// `invent-peer-p` (participant, `handle_commit_timer`): the commit
    /// raises every participant's state to P, not only its own.
    pub fn invents_peer_p(self) -> bool {
        self.has(Mutant::InventPeerP)
    }
    /// `eol-wrong-incarnation` (participant, `check_stop`): a peer counts
    /// when the EOL held is from its current incarnation or the one before.
    pub fn counts_previous_incarnation_eol(self) -> bool {
        self.has(Mutant::EolWrongIncarnation)
    }
    /// `stable-on-executed` (originator, `handle_executed`): EXECUTED at
    /// every participant already makes the dtx STABLE.
    pub fn stable_on_executed(self) -> bool {
        self.has(Mutant::StableOnExecuted)
    }
    /// `collect-on-commit` (participant, `handle_commit_timer`): the commit
    /// collects the tombstones it makes durable, whatever the peers hold.
    pub fn collects_on_commit(self) -> bool {
        self.has(Mutant::CollectOnCommit)
    }
}
