//! The durable log as a saved store holds it (`PartStore::log`).
//!
//! Two representations of the same sequence of records:
//! - `Flat`: a `Vec`, what the checker's small models always use (a save
//!   there copies a few records, and a `Vec` clones and hashes fastest);
//! - `Shared`: a persistent ordered map (`im::OrdMap`) keyed by absolute
//!   position, which a live participant with a long log keeps beside its
//!   `Vec` (`SharedLog`) and hands to the runtime at every save. Cloning it
//!   is O(1); a new save shares every untouched subtree with the previous
//!   one, so the runtime's diff (`im::OrdMap::diff`, which skips shared
//!   subtrees) costs what changed, not the length of the log.
//!
//! Which one a store uses is invisible: equality, order, hashing and the
//! postcard encoding are those of the `Vec` of its records (a sequence:
//! length, then each record), so model fingerprints and the bytes on disk
//! are the same as before this type existed.

use crate::protocol::types::{Pos, Txr};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::hash::{Hash, Hasher};

/// A persistent log: absolute position -> record, positions contiguous.
pub type SharedMap = im::OrdMap<Pos, Txr>;

#[derive(Clone, Debug)]
pub enum StoreLog {
    Flat(Vec<Txr>),
    Shared(SharedMap),
}

impl Default for StoreLog {
    fn default() -> Self {
        StoreLog::Flat(Vec::new())
    }
}

impl StoreLog {
    pub fn len(&self) -> usize {
        match self {
            StoreLog::Flat(v) => v.len(),
            StoreLog::Shared(m) => m.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn iter(&self) -> Iter<'_> {
        match self {
            StoreLog::Flat(v) => Iter::Flat(v.iter()),
            StoreLog::Shared(m) => Iter::Shared(m.values()),
        }
    }
    pub fn get(&self, i: usize) -> Option<&Txr> {
        match self {
            StoreLog::Flat(v) => v.get(i),
            StoreLog::Shared(m) => {
                let &(first, _) = m.get_min()?;
                m.get(&(first + i as Pos))
            }
        }
    }
    pub fn to_vec(&self) -> Vec<Txr> {
        match self {
            StoreLog::Flat(v) => v.clone(),
            StoreLog::Shared(m) => m.values().copied().collect(),
        }
    }
    /// The records as a `Vec` to change in place (a shared log is copied
    /// out first: for replay and tests, never on the save path).
    pub fn make_flat(&mut self) -> &mut Vec<Txr> {
        if let StoreLog::Shared(m) = self {
            *self = StoreLog::Flat(m.values().copied().collect());
        }
        match self {
            StoreLog::Flat(v) => v,
            StoreLog::Shared(_) => unreachable!(),
        }
    }
    /// The persistent map, when this log is shared.
    pub fn shared(&self) -> Option<&SharedMap> {
        match self {
            StoreLog::Shared(m) => Some(m),
            StoreLog::Flat(_) => None,
        }
    }
}

/// The records in order (a concrete type: the checker iterates store
/// logs in every property, so no boxing).
pub enum Iter<'a> {
    Flat(std::slice::Iter<'a, Txr>),
    Shared(im::ordmap::Values<'a, Pos, Txr>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Txr;
    #[inline]
    fn next(&mut self) -> Option<&'a Txr> {
        match self {
            Iter::Flat(i) => i.next(),
            Iter::Shared(i) => i.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Flat(i) => i.size_hint(),
            Iter::Shared(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Flat(i) => i.next_back(),
            Iter::Shared(i) => i.next_back(),
        }
    }
}

impl From<Vec<Txr>> for StoreLog {
    fn from(v: Vec<Txr>) -> Self {
        StoreLog::Flat(v)
    }
}

impl FromIterator<Txr> for StoreLog {
    fn from_iter<I: IntoIterator<Item = Txr>>(it: I) -> Self {
        StoreLog::Flat(it.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a StoreLog {
    type Item = &'a Txr;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::ops::Index<usize> for StoreLog {
    type Output = Txr;
    fn index(&self, i: usize) -> &Txr {
        match self {
            StoreLog::Flat(v) => &v[i],
            StoreLog::Shared(_) => self.get(i).expect("log index out of range"),
        }
    }
}

impl PartialEq for StoreLog {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StoreLog::Flat(a), StoreLog::Flat(b)) => a == b,
            (StoreLog::Shared(a), StoreLog::Shared(b)) if a.ptr_eq(b) => true,
            _ => self.len() == other.len() && self.iter().eq(other.iter()),
        }
    }
}
impl Eq for StoreLog {}
impl PartialOrd for StoreLog {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for StoreLog {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (StoreLog::Flat(a), StoreLog::Flat(b)) => a.cmp(b),
            _ => self.iter().cmp(other.iter()),
        }
    }
}

/// As `Vec<Txr>` hashes: the length (`write_length_prefix`, which is
/// `write_usize`), then each record.
impl Hash for StoreLog {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            StoreLog::Flat(v) => v.hash(state),
            StoreLog::Shared(m) => {
                state.write_usize(m.len());
                for r in m.values() {
                    r.hash(state);
                }
            }
        }
    }
}

/// As `Vec<Txr>` serializes: a sequence of known length.
impl Serialize for StoreLog {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StoreLog::Flat(v) => v.serialize(s),
            StoreLog::Shared(m) => {
                use serde::ser::SerializeSeq;
                let mut seq = s.serialize_seq(Some(m.len()))?;
                for r in m.values() {
                    seq.serialize_element(r)?;
                }
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for StoreLog {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Txr>::deserialize(d).map(StoreLog::Flat)
    }
}

/// A participant's durable log kept as a persistent map beside its `Vec`
/// once the log is long (a live participant under load, never the small
/// models), so that a save shares it instead of copying it. Derived from
/// the log, so it takes no part in comparisons and hashing (like
/// `LogIndex`).
#[derive(Clone, Debug, Default)]
pub struct SharedLog(pub Option<SharedMap>);

impl SharedLog {
    pub const BUILD_AT: usize = 64;
    pub const DROP_AT: usize = 32;

    /// Builds the map when the durable log `dur` (starting at absolute
    /// position `base`) has grown long, drops it when it has shrunk.
    pub fn refresh(&mut self, dur: &[Txr], base: Pos) {
        if dur.len() > Self::BUILD_AT && self.0.is_none() {
            self.0 = Some(
                dur.iter()
                    .enumerate()
                    .map(|(i, r)| (base + i as Pos, *r))
                    .collect(),
            );
        } else if dur.len() < Self::DROP_AT {
            self.0 = None;
        }
    }
    /// Record `r` at absolute position `pos` became durable or changed.
    pub fn set(&mut self, pos: Pos, r: Txr) {
        if let Some(m) = &mut self.0 {
            m.insert(pos, r);
        }
    }
    /// The records before absolute position `base` were pruned.
    pub fn prune_before(&mut self, base: Pos) {
        if let Some(m) = &mut self.0 {
            while let Some(&(p, _)) = m.get_min() {
                if p >= base {
                    break;
                }
                m.remove(&p);
            }
        }
    }
    /// The log to save: the shared map if kept, else a copy of `dur`.
    pub fn store_log(&self, dur: &[Txr]) -> StoreLog {
        match &self.0 {
            Some(m) => {
                debug_assert!(m.len() == dur.len() && m.values().eq(dur.iter()));
                StoreLog::Shared(m.clone())
            }
            None => StoreLog::Flat(dur.to_vec()),
        }
    }
}

impl Hash for SharedLog {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}
impl PartialEq for SharedLog {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for SharedLog {}
impl PartialOrd for SharedLog {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SharedLog {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::types::{Op, StateVec, TxId};

    fn recs(n: u32) -> Vec<Txr> {
        (0..n)
            .map(|i| Txr {
                id: TxId {
                    ts: i as _,
                    slot: (i % 3) as _,
                    inc: 1,
                },
                op: Op::Put {
                    key: (i % 7) as _,
                    val: i as _,
                },
                sv: StateVec(i as u16),
            })
            .collect()
    }
    fn shared(v: &[Txr], base: Pos) -> StoreLog {
        StoreLog::Shared(
            v.iter()
                .enumerate()
                .map(|(i, r)| (base + i as Pos, *r))
                .collect(),
        )
    }

    #[test]
    fn shared_and_flat_hash_compare_and_encode_as_the_vec() {
        let h = ahash::RandomState::with_seeds(1, 2, 3, 4);
        for n in [0, 1, 5, 200] {
            let v = recs(n);
            let s = shared(&v, 17);
            assert_eq!(h.hash_one(&v), h.hash_one(&s), "hash, {n} records");
            assert_eq!(h.hash_one(&v), h.hash_one(StoreLog::Flat(v.clone())));
            let d = std::collections::hash_map::DefaultHasher::new;
            let (mut a, mut b) = (d(), d());
            v.hash(&mut a);
            s.hash(&mut b);
            assert_eq!(a.finish(), b.finish());
            assert_eq!(s, StoreLog::Flat(v.clone()));
            assert_eq!(s.cmp(&StoreLog::Flat(v.clone())), std::cmp::Ordering::Equal);
            let bytes = postcard::to_allocvec(&v).unwrap();
            assert_eq!(postcard::to_allocvec(&s).unwrap(), bytes);
            let back: StoreLog = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, s);
            assert_eq!(s.to_vec(), v);
            if n > 0 {
                assert_eq!(s[n as usize - 1], v[n as usize - 1]);
            }
        }
        // and a difference is seen
        let mut w = recs(5);
        w[2].sv = StateVec(999);
        assert_ne!(shared(&w, 0), StoreLog::Flat(recs(5)));
        assert_ne!(h.hash_one(shared(&w, 0)), h.hash_one(recs(5)));
    }

    #[test]
    fn the_shared_log_follows_sets_and_pruning() {
        let v = recs(100);
        let mut sl = SharedLog::default();
        sl.refresh(&v[..10], 0);
        assert!(sl.0.is_none());
        sl.refresh(&v, 0);
        let before = sl.store_log(&v);
        sl.prune_before(40);
        let mut r = v[50];
        r.sv = StateVec(1);
        sl.set(50, r);
        let mut want = v[40..].to_vec();
        want[10] = r;
        assert_eq!(sl.store_log(&want), StoreLog::Flat(want.clone()));
        // the earlier save is untouched (persistent)
        assert_eq!(before, StoreLog::Flat(v.clone()));
        sl.refresh(&want[..20], 80);
        assert!(sl.0.is_none(), "dropped when short");
    }
}
