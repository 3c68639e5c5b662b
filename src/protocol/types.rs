//! Protocol vocabulary: keys, versions,
//! transaction ids, the I/V/P state vector, and the versioned apply rule.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A key of the catalogue, numbered from 1 (`k1`, `k2`, ...).
pub type Key = u32;
/// A value written by a PUT. Small on purpose: values are opaque to DTM0.
pub type Val = u64;
/// An originator clock reading: a dtx's timestamp and version.
pub type Ts = u64;
/// A process incarnation number; the first boot is 1.
pub type Inc = u32;
/// A position in a participant's log, counting pruned records.
pub type Pos = u32;
/// The number of an HA broadcast.
pub type Seq = u32;

/// Identity of a dtx: `(ts, originator)`. The originator is the pair of the
/// originator's slot in the model and its incarnation (`o1`, `o2`, ...), so
/// ids from a crashed incarnation never collide with the next one's.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct TxId {
    pub ts: Ts,
    pub slot: u8,
    pub inc: Inc,
}

/// One operation of a dtx. Every dtx carries exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    Put { key: Key, val: Val },
    Del { key: Key },
}

impl Op {
    pub fn key(&self) -> Key {
        match *self {
            Op::Put { key, .. } | Op::Del { key } => key,
        }
    }
    pub fn is_del(&self) -> bool {
        matches!(self, Op::Del { .. })
    }
}

/// A record version: the timestamp, the tombstone flag and the writer (the
/// originator slot and incarnation of the dtx). The derived order is the
/// default version order, total on dtxs: `ts` first; at equal `ts` a DEL
/// stands above a PUT (`false < true`); at equal `ts` and kind the writer
/// breaks the tie, slot then incarnation. Motr's order (`VersionOrder::Motr`,
/// variant `motr-version-order`) stops after the tombstone flag, so two
/// writers' PUTs at one timestamp are equal there.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct Version {
    pub ts: Ts,
    pub del: bool,
    pub slot: u8,
    pub inc: Inc,
}

impl Version {
    /// The version dtx `id` writes with `op`.
    pub fn of(id: TxId, op: &Op) -> Version {
        Version {
            ts: id.ts,
            del: op.is_del(),
            slot: id.slot,
            inc: id.inc,
        }
    }
}

/// How the versioned apply compares versions (README, "Version order").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum VersionOrder {
    /// Timestamp, tombstone flag, writer: distinct dtxs never tie.
    #[default]
    Writer,
    /// Motr's `m0_crv_cmp` (variant `motr-version-order`): timestamp and
    /// tombstone flag only; at a tie the record already there stays.
    Motr,
}

impl VersionOrder {
    /// Whether a record at `have` makes an op at `v` a no-op: `have >= v`
    /// in this order.
    pub fn covers(self, have: Version, v: Version) -> bool {
        match self {
            VersionOrder::Writer => have >= v,
            VersionOrder::Motr => (have.ts, have.del) >= (v.ts, v.del),
        }
    }
}

/// A yes/no mark that hashes to nothing while unset: the verdict of an
/// EXECUTED reply and the originator's superseded flag. States and
/// messages where it is unset hash exactly as before it existed, so the
/// visited fingerprints and the seeded random search orders of models
/// where no write loses are those of the protocol without verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Mark(pub bool);

impl std::hash::Hash for Mark {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        if self.0 {
            h.write_u8(0x5a);
        }
    }
}

/// A catalogue record: alive with a value, or a tombstone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rec {
    pub ver: Version,
    pub val: Val,
}

impl Rec {
    pub fn alive(&self) -> bool {
        !self.ver.del
    }
}

/// A participant's catalogue replica. A sorted map: cheap and stable to hash.
pub type Kv = BTreeMap<Key, Rec>;

/// How a DEL treats a key that is absent or already dead (README,
/// "Variants").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DelRule {
    /// The correct rule: a DEL always stores its tombstone.
    AlwaysTombstone,
    /// Motr's CAS since 2022 (variant `del-absent-no-tombstone`): a DEL on an
    /// absent or dead key writes nothing.
    NoTombstoneIfAbsent,
}

/// Applies `op` of dtx `id` to `kv` under `rule` and `order`. Returns
/// whether the catalogue changed.
///
/// 1. if the key has a record whose version covers the op's (>= in
///    `order`): nothing (this also makes duplicates idempotent);
/// 2. otherwise a PUT stores `(v, alive, value)` and a DEL stores
///    `(v, tombstone)` (or nothing, under the Motr variant, when the key is
///    absent or dead).
pub fn apply(kv: &mut Kv, op: &Op, id: TxId, rule: DelRule, order: VersionOrder) -> bool {
    let ver = Version::of(id, op);
    let old = kv.get(&op.key());
    if let Some(r) = old {
        if order.covers(r.ver, ver) {
            return false;
        }
    }
    match *op {
        Op::Put { key, val } => {
            kv.insert(key, Rec { ver, val });
        }
        Op::Del { key } => {
            let absent_or_dead = old.is_none_or(|r| !r.alive());
            if rule == DelRule::NoTombstoneIfAbsent && absent_or_dead {
                return false;
            }
            kv.insert(key, Rec { ver, val: 0 });
        }
    }
    true
}

/// Per-participant state of a dtx: `I < V < P`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub enum St {
    #[default]
    I,
    V,
    P,
}

impl St {
    fn from_bits(b: u16) -> St {
        match b & 3 {
            0 => St::I,
            1 => St::V,
            _ => St::P,
        }
    }
    pub fn letter(self) -> char {
        match self {
            St::I => 'I',
            St::V => 'V',
            St::P => 'P',
        }
    }
}

/// Maximum number of participants a state vector holds.
pub const MAX_PARTICIPANTS: usize = 8;

/// The I/V/P state vector of a txr: one state per participant, two bits
/// each, packed in a `u16` so that it hashes as one word.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct StateVec(pub u16);

impl StateVec {
    pub fn get(self, p: usize) -> St {
        St::from_bits(self.0 >> (2 * p))
    }
    /// Raises participant `p` to at least `s`; states never go down.
    pub fn raise(&mut self, p: usize, s: St) {
        if s > self.get(p) {
            self.0 = (self.0 & !(3 << (2 * p))) | ((s as u16) << (2 * p));
        }
    }
    pub fn with(mut self, p: usize, s: St) -> Self {
        self.raise(p, s);
        self
    }
    /// Merge of two views: the per-participant maximum.
    pub fn merge(self, other: StateVec) -> StateVec {
        let mut out = self;
        for p in 0..MAX_PARTICIPANTS {
            out.raise(p, other.get(p));
        }
        out
    }
    pub fn count(self, n: usize, s: St) -> usize {
        (0..n).filter(|&p| self.get(p) == s).count()
    }
    pub fn all(self, n: usize, s: St) -> bool {
        (0..n).all(|p| self.get(p) >= s)
    }
    /// Renders the first `n` states as the seed does: `PVV`.
    pub fn render(self, n: usize) -> String {
        (0..n).map(|p| self.get(p).letter()).collect()
    }
    /// Moves each participant's state to its new index (for symmetry).
    pub fn permute(self, map: impl Fn(usize) -> usize) -> StateVec {
        let mut out = StateVec(0);
        for p in 0..MAX_PARTICIPANTS {
            let s = self.get(p);
            if s != St::I {
                out.raise(map(p), s);
            }
        }
        out
    }
}

impl fmt::Debug for StateVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = (0..MAX_PARTICIPANTS)
            .rev()
            .find(|&p| self.get(p) != St::I)
            .map_or(1, |p| p + 1);
        write!(f, "{}", self.render(n))
    }
}

/// A dtx record (txr): id, payload, and the state vector as this holder
/// knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Txr {
    pub id: TxId,
    pub op: Op,
    pub sv: StateVec,
}

impl Txr {
    pub fn version(&self) -> Version {
        Version::of(self.id, &self.op)
    }
}

/// Renders an op in the seed's notation: `PUT k1 @10`.
pub fn render_op(op: &Op, ts: Ts) -> String {
    match op {
        Op::Put { key, .. } => format!("PUT k{key} @{ts}"),
        Op::Del { key } => format!("DEL k{key} @{ts}"),
    }
}

/// An op in the protocol's notation (`put k1`, `put k1 7`, `del k2`), with
/// keys `k1..k{keys}`; returns the op and its key number.
pub fn parse_op(s: &str, keys: u8) -> Result<(Op, u8), String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let key = |w: &str| -> Result<u8, String> {
        let k: u8 = w
            .strip_prefix('k')
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| format!("bad key `{w}` in `{s}` (keys are k1, k2, ...)"))?;
        if k == 0 || k > keys {
            return Err(format!("key `{w}` in `{s}` is not one of k1..k{keys}"));
        }
        Ok(k)
    };
    match words.as_slice() {
        [op, k] if op.eq_ignore_ascii_case("put") => {
            let k = key(k)?;
            Ok((
                Op::Put {
                    key: k.into(),
                    val: k.into(),
                },
                k,
            ))
        }
        [op, k, v] if op.eq_ignore_ascii_case("put") => {
            let k = key(k)?;
            let val = v
                .parse()
                .map_err(|_| format!("bad value `{v}` in `{s}` (an unsigned integer)"))?;
            Ok((Op::Put { key: k.into(), val }, k))
        }
        [op, k] if op.eq_ignore_ascii_case("del") => {
            let k = key(k)?;
            Ok((Op::Del { key: k.into() }, k))
        }
        _ => Err(format!(
            "bad op `{s}`: expected `put kN`, `put kN VALUE`, `del kN` or `get kN`"
        )),
    }
}

/// The read rule (README, "Reads"): the result of a GET from the replies
/// of the replicas it asked, each that replica's visible record of the key
/// (alive, tombstone, or none). As Motr's DIX GET (`dix/req.c`,
/// `dix_item_rc_update` with `dix_item_version_cmp`): the first reply that
/// carries a record is taken, and a later one replaces it only when its
/// version is strictly higher in `order` (`m0_crv_cmp` under Motr's
/// order); a tombstone is such a record (Motr's -ENOENT with a version), a
/// replica without any record counts only while nothing else came. The
/// user sees the value of an alive result; a tombstone or none reads as
/// "not found".
pub fn read_result(
    replies: impl IntoIterator<Item = Option<Rec>>,
    order: VersionOrder,
) -> Option<Rec> {
    replies
        .into_iter()
        .fold(None, |best, reply| read_merge(best, reply, order))
}

/// One step of `read_result`: the best record so far and one more reply.
pub fn read_merge(best: Option<Rec>, reply: Option<Rec>, order: VersionOrder) -> Option<Rec> {
    match (best, reply) {
        (None, r) => r,
        (Some(b), Some(r)) if !order.covers(b.ver, r.ver) => Some(r),
        (b, _) => b,
    }
}

/// A read step of a script (`get k1`): its key number, or `None` when `s`
/// is not a `get`.
pub fn parse_get(s: &str, keys: u8) -> Result<Option<u8>, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    match words.as_slice() {
        [op, k] if op.eq_ignore_ascii_case("get") => {
            let key: u8 = k
                .strip_prefix('k')
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| format!("bad key `{k}` in `{s}` (keys are k1, k2, ...)"))?;
            if key == 0 || key > keys {
                return Err(format!("key `{k}` in `{s}` is not one of k1..k{keys}"));
            }
            Ok(Some(key))
        }
        [op, ..] if op.eq_ignore_ascii_case("get") => {
            Err(format!("bad read `{s}`: expected `get kN`"))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: Key, val: Val) -> Op {
        Op::Put { key, val }
    }
    fn del(key: Key) -> Op {
        Op::Del { key }
    }
    /// Applies as dtx `(ts, o1)` under the default order.
    fn ap(kv: &mut Kv, op: &Op, ts: Ts, rule: DelRule) -> bool {
        let id = TxId {
            ts,
            slot: 0,
            inc: 1,
        };
        apply(kv, op, id, rule, VersionOrder::Writer)
    }
    const T: DelRule = DelRule::AlwaysTombstone;
    const M: DelRule = DelRule::NoTombstoneIfAbsent;

    #[test]
    fn put_on_absent_key_stores_alive_record() {
        let mut kv = Kv::new();
        assert!(ap(&mut kv, &put(1, 7), 10, T));
        let r = kv[&1];
        assert!(r.alive());
        assert_eq!((r.ver.ts, r.val), (10, 7));
    }

    #[test]
    fn newer_op_replaces_and_older_is_ignored() {
        for rule in [T, M] {
            let mut kv = Kv::new();
            ap(&mut kv, &put(1, 1), 10, rule);
            assert!(ap(&mut kv, &put(1, 2), 12, rule));
            assert!(!ap(&mut kv, &put(1, 3), 11, rule), "older PUT must lose");
            assert_eq!(kv[&1].val, 2);
            assert!(!ap(&mut kv, &del(1), 11, rule), "older DEL must lose");
            assert!(kv[&1].alive());
            assert!(ap(&mut kv, &del(1), 13, rule));
            assert!(!kv[&1].alive());
            assert!(!ap(&mut kv, &put(1, 4), 12, rule), "no resurrection");
        }
    }

    #[test]
    fn duplicates_are_idempotent() {
        let mut kv = Kv::new();
        ap(&mut kv, &put(1, 1), 10, T);
        let before = kv.clone();
        assert!(!ap(&mut kv, &put(1, 1), 10, T));
        assert_eq!(kv, before);
        ap(&mut kv, &del(1), 20, T);
        let before = kv.clone();
        assert!(!ap(&mut kv, &del(1), 20, T));
        assert_eq!(kv, before);
    }

    #[test]
    fn equal_timestamps_del_wins_over_put() {
        // DEL then PUT at the same ts: the PUT loses.
        let mut kv = Kv::new();
        ap(&mut kv, &put(1, 1), 5, T);
        assert!(ap(&mut kv, &del(1), 10, T));
        assert!(!ap(&mut kv, &put(1, 2), 10, T));
        assert!(!kv[&1].alive());
        // PUT then DEL at the same ts: the DEL wins.
        let mut kv = Kv::new();
        assert!(ap(&mut kv, &put(1, 2), 10, T));
        assert!(ap(&mut kv, &del(1), 10, T));
        assert!(!kv[&1].alive());
        assert_eq!((kv[&1].ver.ts, kv[&1].ver.del), (10, true));
    }

    #[test]
    fn equal_timestamps_are_ordered_by_writer_by_default_and_tie_under_motr() {
        let a = TxId {
            ts: 10,
            slot: 0,
            inc: 1,
        };
        let b = TxId {
            ts: 10,
            slot: 1,
            inc: 1,
        };
        let (pa, pb) = (put(1, 1), put(1, 2));
        // Default: both arrival orders end with b's record (slot 1 > 0).
        for order in [[(a, pa), (b, pb)], [(b, pb), (a, pa)]] {
            let mut kv = Kv::new();
            for (id, op) in order {
                apply(&mut kv, &op, id, T, VersionOrder::Writer);
            }
            assert_eq!(kv[&1].val, 2);
            assert_eq!(kv[&1].ver, Version::of(b, &pb));
        }
        // Motr: the first arrival stays, so two replicas can differ.
        let mut first_a = Kv::new();
        apply(&mut first_a, &pa, a, T, VersionOrder::Motr);
        assert!(!apply(&mut first_a, &pb, b, T, VersionOrder::Motr));
        let mut first_b = Kv::new();
        apply(&mut first_b, &pb, b, T, VersionOrder::Motr);
        assert!(!apply(&mut first_b, &pa, a, T, VersionOrder::Motr));
        assert_ne!(first_a, first_b);
        // A DEL stands above a PUT of the same timestamp in both orders,
        // whoever wrote either.
        for order in [VersionOrder::Writer, VersionOrder::Motr] {
            let mut kv = Kv::new();
            apply(&mut kv, &del(1), a, T, order);
            assert!(!apply(&mut kv, &pb, b, T, order), "{order:?}");
            assert!(!kv[&1].alive());
        }
    }

    #[test]
    fn del_on_absent_key_leaves_tombstone_that_blocks_older_put() {
        let mut kv = Kv::new();
        assert!(ap(&mut kv, &del(1), 100, T));
        assert_eq!((kv[&1].ver.ts, kv[&1].ver.del), (100, true));
        assert!(!ap(&mut kv, &put(1, 1), 10, T), "REDO of an older PUT");
        assert!(kv.values().all(|r| !r.alive()));
    }

    #[test]
    fn motr_variant_del_on_absent_writes_nothing_and_older_put_resurrects() {
        let mut kv = Kv::new();
        assert!(!ap(&mut kv, &del(1), 100, M));
        assert!(kv.is_empty());
        assert!(ap(&mut kv, &put(1, 1), 10, M));
        assert!(kv[&1].alive(), "the seed's divergence: k1@10 comes back");
    }

    #[test]
    fn motr_variant_del_on_dead_key_writes_nothing_but_on_alive_key_does() {
        let mut kv = Kv::new();
        ap(&mut kv, &put(1, 1), 10, M);
        assert!(ap(&mut kv, &del(1), 20, M));
        assert!(!ap(&mut kv, &del(1), 30, M), "already dead");
        assert_eq!(kv[&1].ver.ts, 20);
    }

    #[test]
    fn state_vector_raise_and_merge_take_the_maximum() {
        let a = StateVec::default().with(0, St::P).with(1, St::V);
        let b = StateVec::default()
            .with(1, St::I)
            .with(2, St::V)
            .with(0, St::V);
        let m = a.merge(b);
        assert_eq!(m.render(3), "PVV");
        assert_eq!(m, b.merge(a), "merge is commutative");
        assert_eq!(m.merge(m), m, "merge is idempotent");
        let mut c = m;
        c.raise(0, St::I);
        assert_eq!(c, m, "states never go down");
        assert_eq!(m.count(3, St::V), 2);
        assert!(m.all(3, St::V) && !m.all(3, St::P));
    }

    #[test]
    fn an_unset_mark_hashes_to_nothing() {
        use std::hash::{Hash, Hasher};
        let h = |f: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
            let mut x = std::collections::hash_map::DefaultHasher::new();
            f(&mut x);
            x.finish()
        };
        assert_eq!(
            h(&|x| (7u32, Mark(false)).hash(x)),
            h(&|x| 7u32.hash(x)),
            "unset: as if absent"
        );
        assert_ne!(h(&|x| (7u32, Mark(true)).hash(x)), h(&|x| 7u32.hash(x)));
    }

    #[test]
    fn state_vector_permute_moves_entries() {
        let a = StateVec::default().with(0, St::P).with(2, St::V);
        let p = a.permute(|i| 2 - i);
        assert_eq!(p.render(3), "VIP");
    }

    #[test]
    fn read_result_keeps_the_highest_version_tombstones_included() {
        let v = |ts, del| Version {
            ts,
            del,
            slot: 0,
            inc: 1,
        };
        let alive10 = Some(Rec {
            ver: v(10, false),
            val: 1,
        });
        let dead20 = Some(Rec {
            ver: v(20, true),
            val: 0,
        });
        let w = VersionOrder::Writer;
        assert_eq!(read_result([None, None], w), None);
        assert_eq!(read_result([None, alive10, None], w), alive10);
        // A newer tombstone hides an older live record, in either order.
        assert_eq!(read_result([alive10, dead20], w), dead20);
        assert_eq!(read_result([dead20, alive10, None], w), dead20);
        // Motr's order: at a tie the first reply stays.
        let other = Some(Rec {
            ver: Version {
                slot: 1,
                ..v(10, false)
            },
            val: 2,
        });
        assert_eq!(read_result([alive10, other], VersionOrder::Motr), alive10);
        assert_eq!(read_result([alive10, other], w), other);
    }

    #[test]
    fn get_parses_as_a_read_only() {
        assert_eq!(parse_get("get k2", 2), Ok(Some(2)));
        assert_eq!(parse_get("put k2", 2), Ok(None));
        assert!(parse_get("get k3", 2).is_err());
        assert!(parse_get("get", 2).is_err());
    }
}
