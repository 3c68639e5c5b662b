//! The static description of a cluster that every actor shares: who exists,
//! what each originator incarnation will issue, and which protocol variant
//! runs. Built from a model file (see `config`), never changed at run time.

pub use crate::protocol::mutant::{Mutant, Mutants, MUTANTS};
use crate::protocol::types::{Inc, Op, Ts, TxId};
use serde::{Deserialize, Serialize};
use stateright::actor::Id;

/// When an originator calls a dtx STABLE (README, "Variants").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StableRule {
    /// Motr's code: the first P notice.
    FirstP,
    /// The HLD: more than K notices, K the number of failures tolerated.
    KPlus1,
}

/// The protocol choices a model can make (README, "Variants"; `dtm0
/// variants`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variants {
    pub del_rule: crate::protocol::types::DelRule,
    /// HLD: a restore round skips records already P at the recovering side.
    pub redo_skip_persistent: bool,
    pub stable: StableRule,
    /// Prune the all-P prefix of the log (HLD section on pruning).
    pub pruning: bool,
    /// Our fix for pruning (see README, "What the checker found"): a
    /// participant that has recovered pushes each record of its log that is
    /// not all-P to the peers not known P, and a participant that receives
    /// a REDO of a record it holds durably answers with its state. Off
    /// (variant `no-own-redo`), a restarted participant never learns the P
    /// notices it missed for records its peers have already pruned, and
    /// its log can never be pruned past them (L2).
    pub own_redo: bool,
    /// Motr's stop condition (`motr-stop-condition`): recovery ends only
    /// with an EOL from every other participant, each shown ONLINE or
    /// RECOVERING; one shown TRANSIENT or FAILED blocks it (the spec skips
    /// those), and its EOL is forgotten on that view.
    pub motr_stop: bool,
    /// Motr's writer (`motr-writer`): an originator sends EXECUTE only to
    /// the participants its view shows ONLINE or RECOVERING, and never
    /// sends one again (Motr's DIX skips unavailable targets; nothing
    /// re-sends).
    pub motr_writer: bool,
    /// How the versioned apply orders versions (`motr-version-order`:
    /// timestamp and tombstone flag only, as Motr's `m0_crv_cmp`).
    pub version_order: crate::protocol::types::VersionOrder,
    /// Motr's CAS (`no-execute-fence`): a participant executes an EXECUTE
    /// whatever HA says of its originator (the default drops the EXECUTEs
    /// of an incarnation HA declared FAILED).
    pub no_execute_fence: bool,
    /// Motr's notice handling (`notice-own-commit`): each PERSISTENT notice
    /// that raises a durable record's state vector is saved at once, in a
    /// store write of its own (the default saves it with the next commit).
    pub notice_own_commit: bool,
    /// Motr's messages carry no epoch (`no-epochs`): a process takes every
    /// message addressed to it, whatever incarnation of it the sender had
    /// in mind, and an EOL counts for the incarnation of its sender that
    /// the receiver's view shows (the default drops a message meant for an
    /// earlier incarnation, and an EOL names its round's incarnation).
    pub no_epochs: bool,
    /// Tombstone collection (`tombstone-gc`, README "Tombstone
    /// collection"): a participant drops a tombstone from its catalogue
    /// when the DEL's record is pruned here (every participant P or
    /// FAILED) and no other record of the key is left in its log.
    pub tombstone_gc: bool,
    /// A GET asks a single replica (`read-one-replica`): the first
    /// participant its view shows available (ONLINE or RECOVERING). The
    /// default asks every available replica and keeps the highest version,
    /// as Motr's DIX GET.
    #[serde(default)]
    pub read_one: bool,
    /// Deliberately broken protocols (`Mutant`), as a bit set.
    pub mutants: Mutants,
    /// Motr's CAS reply (`motr-silent-supersede`): a versioned PUT or DEL
    /// that loses to a newer version is answered as a success, so EXECUTED
    /// never says superseded (the default carries the verdict).
    #[serde(default)]
    pub silent_supersede: bool,
    /// Motr's eviction (`motr-eviction`, the spec's rule too): each view
    /// that raises an originator slot's incarnation redoes every record
    /// of every earlier incarnation of the slot to every participant not P
    /// in it, whether the view shows that participant up or down. The
    /// default evicts only the incarnations this view newly shows dead,
    /// and sends no REDO to a participant the view shows TRANSIENT or
    /// FAILED (README, "Eviction").
    #[serde(default)]
    pub motr_evict: bool,
}

impl Default for Variants {
    fn default() -> Self {
        Variants {
            del_rule: crate::protocol::types::DelRule::AlwaysTombstone,
            redo_skip_persistent: false,
            stable: StableRule::FirstP,
            pruning: false,
            own_redo: true,
            motr_stop: false,
            motr_writer: false,
            version_order: crate::protocol::types::VersionOrder::Writer,
            no_execute_fence: false,
            notice_own_commit: false,
            no_epochs: false,
            tombstone_gc: false,
            read_one: false,
            mutants: Mutants::default(),
            silent_supersede: false,
            motr_evict: false,
        }
    }
}

/// What the preset `motr` sets: every behaviour of Motr's sources that
/// differs from the default protocol.
pub const MOTR_PRESET: &[&str] = &[
    "del-absent-no-tombstone",
    "no-pruning",
    "no-own-redo",
    "stable-first-p",
    "motr-writer",
    "motr-stop-condition",
    "motr-version-order",
    "no-execute-fence",
    "notice-own-commit",
    "no-epochs",
    "motr-silent-supersede",
    "motr-eviction",
];

/// Names of the variants, as accepted by `--variant` and model files.
pub const VARIANT_NAMES: &[(&str, &str)] = &[
    (
        "del-absent-no-tombstone",
        "Motr (cas/ctg_store.c): a DEL on an absent or dead key writes no tombstone",
    ),
    (
        "redo-skip-persistent",
        "HLD: restore skips records already P at the recovering participant",
    ),
    (
        "stable-first-p",
        "Motr (dtm0/dtx.c): a dtx is STABLE at the first P notice (default)",
    ),
    (
        "stable-k-plus-1",
        "HLD: a dtx is STABLE after K+1 P notices",
    ),
    ("pruning", "prune the all-P prefix of each log"),
    ("no-pruning", "never prune logs"),
    (
        "no-own-redo",
        "Motr (dtm0/recovery.c): a restarted participant does not push its own records (never learns missed P notices)",
    ),
    (
        "motr-writer",
        "Motr (dix/req.c): an originator sends EXECUTE only to participants it sees ONLINE or RECOVERING, and never re-sends one",
    ),
    (
        "motr-stop-condition",
        "Motr (dtm0/recovery.c, was_log_replayed): recovery ends only with an EOL from every other participant, each ONLINE or RECOVERING; a TRANSIENT or FAILED one blocks it and loses its EOL",
    ),
    (
        "motr-version-order",
        "Motr (cas/cas.c m0_crv_cmp, cas/ctg_store.c): versions compare by timestamp and tombstone flag only; at a tie the record already stored stays, whoever wrote it",
    ),
    (
        "no-execute-fence",
        "Motr (cas/service.c): a participant executes every EXECUTE it receives, even from an originator incarnation HA declared FAILED",
    ),
    (
        "notice-own-commit",
        "Motr (dtm0/fop.c): each PERSISTENT notice is saved in a store transaction of its own, not with the next commit",
    ),
    (
        "no-epochs",
        "Motr (dtm0/recovery.c, dtm0/fop.c): messages carry no epoch; a process takes every message addressed to it, and an EOL counts for the sender's incarnation the receiver's view shows",
    ),
    (
        "tombstone-gc",
        "ours (not Motr, which never collects): drop a tombstone once its DEL's record is pruned (P or FAILED everywhere) and no other record of its key is left in the log",
    ),
    (
        "read-one-replica",
        "a GET asks a single available replica (the default asks every replica its view shows ONLINE or RECOVERING and keeps the highest version, as Motr's dix/req.c dix_cas_rops_alloc, dix_item_rc_update)",
    ),
    (
        "motr-silent-supersede",
        "Motr (cas/ctg_store.c versioned_put_sync returns 0 when the stored version is newer; cas/service.c cas_fom_tick replies that rc; dix/req.c dix_item_rc_update takes it): a PUT or DEL that loses to a newer version is reported as a success, never as superseded",
    ),
    (
        "motr-eviction",
        "Motr (dtm0/recovery.c dtm0_evict): at each report of a dead client, every record of that client in the log (all its earlier incarnations) is redone to every participant not P in it, shown up or down; the default redoes only the incarnations the view newly shows dead, to participants it shows ONLINE or RECOVERING",
    ),
    (
        "motr",
        "preset: every Motr behaviour above at once (del-absent-no-tombstone, no-pruning, no-own-redo, stable-first-p, motr-writer, motr-stop-condition, motr-version-order, no-execute-fence, notice-own-commit, no-epochs, motr-silent-supersede, motr-eviction)",
    ),
];

impl Variants {
    /// Applies one named variant; `Err` names the unknown variant.
    pub fn set(&mut self, name: &str) -> Result<(), String> {
        match name {
            "del-absent-no-tombstone" => {
                self.del_rule = crate::protocol::types::DelRule::NoTombstoneIfAbsent
            }
            "redo-skip-persistent" => self.redo_skip_persistent = true,
            "stable-first-p" => self.stable = StableRule::FirstP,
            "stable-k-plus-1" => self.stable = StableRule::KPlus1,
            "pruning" => self.pruning = true,
            "no-pruning" => self.pruning = false,
            "no-own-redo" => self.own_redo = false,
            "motr-stop-condition" => self.motr_stop = true,
            "motr-writer" => self.motr_writer = true,
            "motr-version-order" => self.version_order = crate::protocol::types::VersionOrder::Motr,
            "no-execute-fence" => self.no_execute_fence = true,
            "notice-own-commit" => self.notice_own_commit = true,
            "no-epochs" => self.no_epochs = true,
            "tombstone-gc" => self.tombstone_gc = true,
            "read-one-replica" => self.read_one = true,
            "motr-silent-supersede" => self.silent_supersede = true,
            "motr-eviction" => self.motr_evict = true,
            "motr" => {
                for v in MOTR_PRESET {
                    self.set(v)?;
                }
            }
            other => {
                if let Some((_, m, _)) = MUTANTS.iter().find(|(n, _, _)| *n == other) {
                    self.mutants.insert(*m);
                    return Ok(());
                }
                let known: Vec<&str> = VARIANT_NAMES
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(MUTANTS.iter().map(|(n, _, _)| *n))
                    .collect();
                return Err(format!(
                    "unknown variant `{other}` (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    pub fn has(&self, m: Mutant) -> bool {
        self.mutants.has(m)
    }

    /// Whether the semantic reduction's independence table and its no-op
    /// and fact classifications were argued for these rules: not for a
    /// mutant, nor for `no-epochs` (messages to earlier incarnations are
    /// no no-ops there, and EOLs are read against the view). Without it,
    /// two actions of one actor are always dependent.
    /// The Motr variants keep it: `no-execute-fence` only removes a no-op,
    /// which the classification asks about; under `notice-own-commit` a
    /// notice saves the durable store, which no other action of the table
    /// writes but the commit (dependent with every notice), so both orders
    /// of a claimed pair still save the same store last. tests/stubborn.rs
    /// executes both orders of every claim on models with each.
    pub fn table_argued(&self) -> bool {
        self.mutants.is_empty() && !self.no_epochs
    }

    /// The names that describe this set of variants, for reports.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.del_rule == crate::protocol::types::DelRule::NoTombstoneIfAbsent {
            v.push("del-absent-no-tombstone");
        }
        if self.redo_skip_persistent {
            v.push("redo-skip-persistent");
        }
        v.push(match self.stable {
            StableRule::FirstP => "stable-first-p",
            StableRule::KPlus1 => "stable-k-plus-1",
        });
        v.push(if self.pruning {
            "pruning"
        } else {
            "no-pruning"
        });
        if !self.own_redo {
            v.push("no-own-redo");
        }
        if self.motr_writer {
            v.push("motr-writer");
        }
        if self.motr_stop {
            v.push("motr-stop-condition");
        }
        if self.version_order == crate::protocol::types::VersionOrder::Motr {
            v.push("motr-version-order");
        }
        if self.no_execute_fence {
            v.push("no-execute-fence");
        }
        if self.notice_own_commit {
            v.push("notice-own-commit");
        }
        if self.no_epochs {
            v.push("no-epochs");
        }
        if self.tombstone_gc {
            v.push("tombstone-gc");
        }
        if self.read_one {
            v.push("read-one-replica");
        }
        if self.silent_supersede {
            v.push("motr-silent-supersede");
        }
        if self.motr_evict {
            v.push("motr-eviction");
        }
        for (name, m, _) in MUTANTS {
            if self.has(*m) {
                v.push(name);
            }
        }
        v
    }
}

/// One originator slot: a client process whose incarnations run the
/// scripts in turn.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OriginatorCfg {
    pub name: String,
    /// `plan[i]`: the dtxs that incarnation `first_inc + i` issues, with
    /// their timestamps already drawn from its clock.
    pub plan: Vec<Vec<(Ts, Op)>>,
    /// The incarnation `plan[0]` belongs to: 1 in models; a live client,
    /// which is one incarnation, gives its own.
    pub first_inc: Inc,
    /// `reads[i]`: the reads (`get`) of incarnation `first_inc + i`, in
    /// script order, each `(after, key)`: issued once the first `after`
    /// dtxs of the incarnation are STABLE. Empty without reads.
    #[serde(default)]
    pub reads: Vec<Vec<(u32, crate::protocol::types::Key)>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cluster {
    /// Number of participants `p1..pN`; every key has a replica on each.
    pub n: usize,
    pub originators: Vec<OriginatorCfg>,
    pub keys: crate::protocol::types::Key,
    pub variants: Variants,
    /// K, the number of failures tolerated (for `stable-k-plus-1`).
    pub k: usize,
    /// An originator sends one EXECUTE per step (`sends = "one-per-step"`
    /// in a model file), so that a crash can leave a dtx on some replicas
    /// only; otherwise all the EXECUTEs of a step go out together.
    #[serde(default)]
    pub one_send_per_step: bool,
    /// Per participant: it may fail for good (a model's `[failures]`): at
    /// any step while it runs it loses its storage, tells HA, and never
    /// returns. Empty (none may) in the live runtime.
    #[serde(default)]
    pub may_fail: Vec<bool>,
    /// Record the properties' ghosts (pruned records, STABLE dtxs). Always
    /// on in models; a live cluster turns it off unless asked, as the
    /// ghosts grow with every dtx.
    pub ghosts: bool,
}

/// Which process an actor index is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proc {
    Participant(usize),
    Originator(usize),
    Ha,
}

impl Cluster {
    pub fn m(&self) -> usize {
        self.originators.len()
    }
    pub fn participant_id(&self, p: usize) -> Id {
        Id::from(p)
    }
    pub fn originator_id(&self, slot: usize) -> Id {
        Id::from(self.n + slot)
    }
    pub fn ha_id(&self) -> Id {
        Id::from(self.n + self.m())
    }
    pub fn actor_count(&self) -> usize {
        self.n + self.m() + 1
    }
    pub fn proc_of(&self, id: Id) -> Proc {
        let i = usize::from(id);
        if i < self.n {
            Proc::Participant(i)
        } else if i < self.n + self.m() {
            Proc::Originator(i - self.n)
        } else {
            Proc::Ha
        }
    }
    /// `p1`, `o2`, `HA`: the seed's names. Originators are named by slot and
    /// incarnation.
    pub fn name(&self, id: Id, inc: Inc) -> String {
        match self.proc_of(id) {
            Proc::Participant(p) => format!("p{}", p + 1),
            Proc::Originator(s) => format!("{}{}", self.originators[s].name, inc),
            Proc::Ha => "HA".into(),
        }
    }
    pub fn participant_name(&self, p: usize) -> String {
        format!("p{}", p + 1)
    }
    pub fn txid_name(&self, tx: &TxId) -> String {
        format!(
            "{}{}@{}",
            self.originators[tx.slot as usize].name, tx.inc, tx.ts
        )
    }
    /// Every dtx the given originator incarnation issues.
    pub fn issued_by(&self, slot: usize, inc: Inc) -> impl Iterator<Item = (TxId, Op)> + '_ {
        self.originators[slot]
            .plan
            .get(
                inc.checked_sub(self.originators[slot].first_inc)
                    .map_or(usize::MAX, |i| i as usize),
            )
            .into_iter()
            .flatten()
            .map(move |&(ts, op)| {
                (
                    TxId {
                        ts,
                        slot: slot as u8,
                        inc,
                    },
                    op,
                )
            })
    }
    /// Whether the semantic reduction's independence table applies
    /// (`Variants::table_argued`), and no participant may fail for good:
    /// the table's facts rely on HA's row of a live incarnation never
    /// leaving ONLINE and on durable records never being lost, which a
    /// failure for good breaks. Without it two actions of one actor are
    /// always dependent (the may-send and trigger facts still know the
    /// failure's message).
    pub fn table_argued(&self) -> bool {
        self.variants.table_argued() && !self.may_fail.iter().any(|&f| f)
    }
    /// Whether participants collect tombstones (`tombstone-gc`, or the
    /// mutant that does it too early).
    pub fn collects(&self) -> bool {
        self.variants.tombstone_gc || self.mutants().collects_on_commit()
    }
    /// Whether participant `p` may fail for good (`[failures]`).
    pub fn may_fail(&self, p: usize) -> bool {
        self.may_fail.get(p).copied().unwrap_or(false)
    }
    /// The reads the given originator incarnation issues (`OriginatorCfg::reads`).
    pub fn reads_of(&self, slot: usize, inc: Inc) -> &[(u32, crate::protocol::types::Key)] {
        let o = &self.originators[slot];
        inc.checked_sub(o.first_inc)
            .and_then(|i| o.reads.get(i as usize))
            .map_or(&[], |v| v.as_slice())
    }
    /// Whether any script reads (`get`).
    pub fn has_reads(&self) -> bool {
        self.originators
            .iter()
            .any(|o| o.reads.iter().any(|r| !r.is_empty()))
    }
    /// The mutants this cluster runs: where the protocol deviates, one
    /// check per mutant (see `mutant`).
    pub fn mutants(&self) -> Mutants {
        self.variants.mutants
    }
    /// Number of P notices that make a dtx STABLE.
    pub fn stable_threshold(&self) -> usize {
        match self.variants.stable {
            StableRule::FirstP => 1,
            StableRule::KPlus1 => (self.k + 1).min(self.n),
        }
    }
}

/// A TOML error as one line naming the line of the file: cluster
/// descriptions come from TOML files (model files, live cluster files).
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1);
    let msg = e.message().replace('\n', " ");
    match line {
        Some(l) => format!("line {l}: {msg}"),
        None => msg,
    }
}
