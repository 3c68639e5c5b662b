//! Durable storage of a live participant: an append-only log of saves.
//!
//! The protocol actor hands the runtime a whole `PartStore` at every commit.
//! Rewriting it each time would cost O(store) bytes and an fsync of a new
//! file per commit; instead each save appends ONE frame holding only what
//! changed since the previous save (new records, raised state vectors, the
//! new pruning base, changed keys, new ghost entries), then `fdatasync`s.
//! Replaying the frames in order rebuilds exactly the last saved store. When
//! the log has grown to several times the store, it is compacted into one
//! snapshot frame, written aside and renamed over the log.
//!
//! The file starts with an 8-byte header, `DTM0WAL` and the format number
//! (`LOG_FORMAT`; 2 since records carry their writer), then frames,
//! little-endian:
//!
//! ```text
//! [len: u32][crc32 of payload: u32][payload: len bytes, postcard `Frame`]
//! ```
//!
//! A log without the header, or of another format, is refused with an
//! error, never replayed: its frames would not decode, and a replay would
//! cut them off as a torn tail.
//!
//! A crash may leave a torn last frame. Replay stops at the first frame
//! whose length is out of bounds, whose crc does not match, or which does
//! not decode: that frame and everything after it is the torn tail, cut off
//! (and the cut fsynced) before the log is appended to again. A save is
//! acknowledged only after its frame is synced, so the cut loses at most
//! the one save that was never acknowledged.

use crate::protocol::participant::PartStore;
use crate::protocol::types::{Inc, Key, Op, Pos, Rec, StateVec, TxId, Txr};
use im::ordmap::DiffItem;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Frame header: payload length and payload crc32, both `u32` LE.
const HEADER: usize = 8;
/// The log format this binary writes and reads.
pub const LOG_FORMAT: u8 = 2;
/// The file header: magic and format.
const FILE_HEADER: [u8; 8] = [b'D', b'T', b'M', b'0', b'W', b'A', b'L', LOG_FORMAT];
/// Largest payload accepted. A bigger length field is garbage from a torn
/// write, not a frame; refusing it also bounds what replay allocates.
const MAX_FRAME: usize = 64 << 20;
/// Default lower bound of the log size before compaction, so that small
/// stores are not compacted at every other save.
const DEFAULT_COMPACT_MIN_BYTES: u64 = 4 << 20;

/// The payload of one frame. One generic definition serves both encoding
/// (borrowed) and decoding (owned), so the variant numbering cannot drift.
#[derive(Serialize, Deserialize)]
enum Frame<D, S> {
    /// The changes of one save relative to the store before it.
    Delta(D),
    /// A whole store: the first save, a compaction, or a change that is not
    /// a plain extension of the previous store (see `diff`).
    Snapshot(S),
}

/// The difference between two consecutive saves. Positions are absolute
/// (`base` + index), so they stay valid while the front is pruned.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Delta {
    /// The new incarnation, if it changed.
    inc: Option<Inc>,
    /// The new pruning base, if it rose: records before it are dropped.
    base: Option<Pos>,
    /// Records past the end of the previous log, in order.
    append: Vec<Txr>,
    /// New state vectors of records that stay, by absolute position.
    sv: Vec<(Pos, StateVec)>,
    /// Changed or new catalogue entries (keys are never removed).
    kv: Vec<(Key, Rec)>,
    /// Entries appended to the ghost list of pruned records.
    pruned: Vec<(TxId, Op)>,
}

impl Delta {
    fn is_empty(&self) -> bool {
        self.inc.is_none()
            && self.base.is_none()
            && self.append.is_empty()
            && self.sv.is_empty()
            && self.kv.is_empty()
            && self.pruned.is_empty()
    }
}

/// Computes the delta from `old` to `new`, or `None` when `new` is not an
/// extension of `old` (base lowered, a record replaced or dropped from the
/// tail, a key removed, the ghost list rewritten). The protocol never does
/// that, but the log must stay exact if it ever does: the caller then
/// writes a snapshot.
///
/// Cost: one pass over the overlapping log records, the ghost list prefix
/// and both catalogues (merge walk of the sorted maps); no allocation
/// beyond the delta itself.
fn diff(old: &PartStore, new: &PartStore) -> Option<Delta> {
    if new.base < old.base {
        return None;
    }
    let old_end = old.base as usize + old.log.len();
    let new_base = new.base as usize;
    let new_end = new_base + new.log.len();
    if new_end < old_end {
        return None;
    }
    let mut d = Delta {
        inc: (new.inc != old.inc).then_some(new.inc),
        base: (new.base != old.base).then_some(new.base),
        ..Delta::default()
    };
    if let (Some(om), Some(nm)) = (old.log.shared(), new.log.shared()) {
        // Both shared: walk only the subtrees that differ.
        for item in om.diff(nm) {
            match item {
                // Pruned from the front.
                DiffItem::Remove(pos, _) if (*pos as usize) < new_base => {}
                DiffItem::Update {
                    old: (pos, o),
                    new: (_, n),
                } => {
                    if o.id != n.id || o.op != n.op {
                        return None;
                    }
                    d.sv.push((*pos, n.sv));
                }
                // Past the end of the previous log (in key order).
                DiffItem::Add(pos, r) if *pos as usize >= old_end => d.append.push(*r),
                _ => return None,
            }
        }
    } else {
        // Records present in both: same identity required, state vectors may rise.
        for pos in new_base..old_end.max(new_base) {
            let (o, n) = (&old.log[pos - old.base as usize], &new.log[pos - new_base]);
            if o.id != n.id || o.op != n.op {
                return None;
            }
            if o.sv != n.sv {
                d.sv.push((pos as Pos, n.sv));
            }
        }
        d.append = (old_end.max(new_base) - new_base..new.log.len())
            .map(|i| new.log[i])
            .collect();
    }
    // The ghost list only grows.
    let (old_pruned, new_pruned) = (&old.ghost.pruned, &new.ghost.pruned);
    if new_pruned.len() < old_pruned.len() || new_pruned[..old_pruned.len()] != old_pruned[..] {
        return None;
    }
    d.pruned = new_pruned[old_pruned.len()..].to_vec();
    // Catalogue: merge walk of the two sorted maps.
    let mut olds = old.kv.iter().peekable();
    for (k, r) in &new.kv {
        match olds.peek() {
            Some(&(ok, _)) if ok < k => return None, // `ok` was removed
            Some(&(ok, or)) if ok == k => {
                if or != r {
                    d.kv.push((*k, *r));
                }
                olds.next();
            }
            _ => d.kv.push((*k, *r)),
        }
    }
    if olds.next().is_some() {
        return None;
    }
    Some(d)
}

/// Applies `d` to `st`: the inverse of `diff` (without `log`, all but the
/// log's records, for a caller that takes the new log as it is). Fails (without panicking) on
/// a delta that does not fit the store, which only a bug or a foreign file
/// can produce, since every frame passed its crc.
fn apply(st: &mut PartStore, d: Delta, log: bool) -> Result<(), String> {
    if let Some(inc) = d.inc {
        st.inc = inc;
    }
    if let Some(base) = d.base {
        if base < st.base {
            return Err(format!("base goes down from {} to {base}", st.base));
        }
        if log {
            let drop = ((base - st.base) as usize).min(st.log.len());
            st.log.make_flat().drain(..drop);
        }
        st.base = base;
    }
    for (pos, sv) in d.sv.into_iter().filter(|_| log) {
        let i = pos
            .checked_sub(st.base)
            .map(|i| i as usize)
            .filter(|&i| i < st.log.len())
            .ok_or_else(|| format!("state vector for position {pos} outside the log"))?;
        st.log.make_flat()[i].sv = sv;
    }
    if log {
        st.log.make_flat().extend(d.append);
    }
    st.kv.extend(d.kv);
    st.ghost.pruned.extend(d.pruned);
    Ok(())
}

/// Encodes one frame, header included.
fn encode<D: Serialize, S: Serialize>(frame: &Frame<D, S>) -> io::Result<Vec<u8>> {
    let mut buf = postcard::to_extend(frame, vec![0u8; HEADER]).map_err(io::Error::other)?;
    let len = buf.len() - HEADER;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte bound"),
        ));
    }
    let crc = crc32fast::hash(&buf[HEADER..]);
    buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
    buf[4..HEADER].copy_from_slice(&crc.to_le_bytes());
    Ok(buf)
}

/// Reads the frame starting at `buf[0]`: its total size and payload, or
/// `None` if it is torn or corrupt.
fn decode(buf: &[u8]) -> Option<(usize, Frame<Delta, PartStore>)> {
    let header = buf.get(..HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len > MAX_FRAME {
        return None;
    }
    let payload = buf.get(HEADER..HEADER + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    match postcard::take_from_bytes(payload) {
        Ok((frame, [])) => Some((HEADER + len, frame)),
        _ => None, // undecodable, or trailing bytes: not a frame we wrote
    }
}

/// What replaying a log's bytes yields.
struct Replay {
    store: Option<PartStore>,
    frames: u64,
    /// Length of the valid prefix; the rest is the torn tail.
    good: usize,
    /// Size of the last snapshot frame, for the compaction threshold.
    snap_bytes: u64,
}

fn replay(buf: &[u8]) -> io::Result<Replay> {
    let mut r = Replay {
        store: None,
        frames: 0,
        good: 0,
        snap_bytes: 0,
    };
    while let Some((size, frame)) = decode(&buf[r.good..]) {
        match frame {
            Frame::Snapshot(s) => {
                r.store = Some(s);
                r.snap_bytes = size as u64;
            }
            Frame::Delta(d) => {
                let st = r.store.as_mut().ok_or_else(|| {
                    corrupt(format!("delta before any snapshot at byte {}", r.good))
                })?;
                apply(st, d, true)
                    .map_err(|e| corrupt(format!("frame at byte {}: {e}", r.good)))?;
            }
        }
        r.frames += 1;
        r.good += size;
    }
    Ok(r)
}

/// Refuses a log that does not start with this binary's header.
fn check_header(path: &Path, buf: &[u8]) -> io::Result<()> {
    let magic = &FILE_HEADER[..7];
    if buf.len() < FILE_HEADER.len() || &buf[..7] != magic {
        return Err(corrupt(format!(
            "{}: not a DTM0 log of format {LOG_FORMAT} (no `DTM0WAL` header: written by a \
             dtm0 before format 2, or not a log); move it aside to start this participant empty",
            path.display()
        )));
    }
    if buf[7] != LOG_FORMAT {
        return Err(corrupt(format!(
            "{}: a DTM0 log of format {}; this binary reads format {LOG_FORMAT}",
            path.display(),
            buf[7]
        )));
    }
    Ok(())
}

fn corrupt(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// `<path>.tmp`, next to `path` so that the rename stays in one directory.
fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Fsyncs the directory holding `path`, making a create or a rename in it
/// durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

/// What `Wal::open` found on disk.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// The last saved store; `None` when the file did not exist or held no
    /// frame.
    pub store: Option<PartStore>,
    /// Frames replayed.
    pub frames: u64,
    /// Torn or corrupt tail bytes cut off.
    pub truncated_bytes: u64,
    /// Replay time.
    pub seconds: f64,
}

/// Counters since `Wal::open`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WalStats {
    /// Frames appended by `save`.
    pub frames: u64,
    /// Bytes appended by `save`.
    pub bytes: u64,
    /// fsync/fdatasync calls, on files and directories.
    pub fsyncs: u64,
    pub compactions: u64,
}

/// The write-ahead log of one participant's `PartStore`.
pub struct Wal {
    file: File,
    path: PathBuf,
    /// The store as the log holds it: what a replay would return.
    last: Option<PartStore>,
    /// Length of the log file (all of it valid frames).
    len: u64,
    /// Size of the last snapshot frame.
    snap_bytes: u64,
    compact_min_bytes: u64,
    stats: WalStats,
    /// Set when a write or sync failed with the file in an unknown state;
    /// then only a reopen (which replays and cuts the tail) is safe.
    broken: bool,
}

impl Wal {
    /// Opens (creating if absent) the log at `path`, replays it, truncates a
    /// torn or corrupt tail (and fsyncs the truncation), and returns the
    /// last saved store.
    ///
    /// A frame that passes its crc but does not fit the store is an error
    /// (`InvalidData`), not a torn tail: cutting it would drop acknowledged
    /// saves.
    pub fn open(path: &Path) -> io::Result<(Wal, Recovered)> {
        let t0 = Instant::now();
        // A compaction that crashed before its rename leaves a stale copy.
        match fs::remove_file(tmp_path(path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let existed = path.try_exists()?;
        let mut file = open_log(path)?;
        let mut stats = WalStats::default();
        if !existed {
            sync_dir(path)?; // the new file's name must survive a crash too
            stats.fsyncs += 1;
        }
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        if buf.len() < FILE_HEADER.len() && FILE_HEADER.starts_with(&buf) {
            // New, or its creation was cut short: nothing was ever saved.
            file.set_len(0)?;
            file.write_all(&FILE_HEADER)?;
            file.sync_all()?;
            stats.fsyncs += 1;
            buf = FILE_HEADER.to_vec();
        }
        check_header(path, &buf)?;
        let body = &buf[FILE_HEADER.len()..];
        let mut r = replay(body)?;
        let truncated = (body.len() - r.good) as u64;
        r.good += FILE_HEADER.len();
        if truncated > 0 {
            tracing::warn!(
                path = %path.display(),
                at = r.good,
                bytes = truncated,
                "cutting torn or corrupt log tail"
            );
            file.set_len(r.good as u64)?;
            file.sync_all()?;
            stats.fsyncs += 1;
        }
        let seconds = t0.elapsed().as_secs_f64();
        tracing::info!(
            path = %path.display(),
            frames = r.frames,
            bytes = r.good,
            truncated,
            seconds,
            "log replayed"
        );
        let wal = Wal {
            file,
            path: path.to_owned(),
            last: r.store.clone(),
            len: r.good as u64,
            snap_bytes: r.snap_bytes,
            compact_min_bytes: DEFAULT_COMPACT_MIN_BYTES,
            stats,
            broken: false,
        };
        let rec = Recovered {
            store: r.store,
            frames: r.frames,
            truncated_bytes: truncated,
            seconds,
        };
        Ok((wal, rec))
    }

    /// Appends the difference between `new` and the last saved store as ONE
    /// frame, then fdatasyncs before returning. If nothing differs, writes
    /// nothing. Compacts when the file grows past
    /// max(compact_min_bytes, 4 x the last snapshot size).
    ///
    /// A failed compaction does not fail the save, which is already durable:
    /// it is logged, and the log simply stays longer.
    pub fn save(&mut self, new: &PartStore) -> io::Result<()> {
        self.check_usable()?;
        let delta = self.last.as_ref().and_then(|old| diff(old, new));
        match delta {
            Some(d) if d.is_empty() => return Ok(()),
            Some(d) => {
                self.append(&encode(&Frame::<_, &PartStore>::Delta(&d))?)?;
                let last = self
                    .last
                    .as_mut()
                    .expect("a delta implies a previous store");
                let shared = new.log.shared().is_some();
                if shared {
                    // Keep the new log itself (an O(1) clone sharing its
                    // structure): the next diff then skips all of it that
                    // the next save leaves untouched.
                    last.log = new.log.clone();
                }
                if let Err(e) = apply(last, d, !shared) {
                    self.broken = true; // memory no longer matches the log
                    return Err(io::Error::other(e));
                }
                debug_assert!(last == new, "delta does not reproduce the saved store");
            }
            None => {
                let frame = encode(&Frame::<&Delta, _>::Snapshot(new))?;
                self.append(&frame)?;
                self.snap_bytes = frame.len() as u64;
                self.last = Some(new.clone());
            }
        }
        if self.len > self.compact_min_bytes.max(4 * self.snap_bytes) {
            if let Err(e) = self.compact() {
                tracing::warn!(path = %self.path.display(), error = %e, "compaction failed");
            }
        }
        Ok(())
    }

    /// Rewrites the log as one snapshot frame: write `<path>.tmp`, sync,
    /// rename over `path`, fsync the directory, reopen for append. A crash
    /// at any point leaves either the old log or the new one under `path`.
    pub fn compact(&mut self) -> io::Result<()> {
        self.check_usable()?;
        let mut frame = FILE_HEADER.to_vec();
        if let Some(s) = &self.last {
            frame.extend(encode(&Frame::<&Delta, _>::Snapshot(s))?);
        }
        let tmp = tmp_path(&self.path);
        let written = File::create(&tmp).and_then(|mut f| {
            f.write_all(&frame)?;
            f.sync_data()
        });
        if let Err(e) = written.and_then(|()| fs::rename(&tmp, &self.path)) {
            // The old log is still in place and our handle still valid.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.stats.fsyncs += 1;
        // The handle now points at the unlinked old file: never write to it.
        match sync_dir(&self.path).and_then(|()| open_log(&self.path)) {
            Ok(f) => self.file = f,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        }
        self.stats.fsyncs += 1;
        tracing::debug!(
            path = %self.path.display(),
            from = self.len,
            to = frame.len(),
            "log compacted"
        );
        self.len = frame.len() as u64;
        self.snap_bytes = frame.len() as u64;
        self.stats.compactions += 1;
        Ok(())
    }

    /// Sets the lower bound of the log size that triggers compaction
    /// (default 4 MiB).
    pub fn set_compact_min_bytes(&mut self, n: u64) {
        self.compact_min_bytes = n;
    }

    pub fn stats(&self) -> WalStats {
        self.stats.clone()
    }

    /// The last saved store, as a replay would return it.
    pub fn last(&self) -> Option<&PartStore> {
        self.last.as_ref()
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(format!(
                "{}: log unusable after an earlier I/O error; reopen it",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Appends a whole frame and makes it durable. On failure the file may
    /// hold part of the frame, or data of unknown durability (a failed
    /// fsync may have dropped dirty pages): cut back to the last good frame
    /// and refuse further use, so that nothing is appended after garbage.
    fn append(&mut self, frame: &[u8]) -> io::Result<()> {
        if let Err(e) = self
            .file
            .write_all(frame)
            .and_then(|()| self.file.sync_data())
        {
            let _ = self.file.set_len(self.len);
            self.broken = true;
            return Err(e);
        }
        self.len += frame.len() as u64;
        self.stats.frames += 1;
        self.stats.bytes += frame.len() as u64;
        self.stats.fsyncs += 1;
        Ok(())
    }
}

/// Atomically replaces a small file (e.g. an originator's incarnation
/// counter) with `bytes`: write tmp, sync_data, rename, fsync dir. A crash
/// leaves either the old content or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(path);
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_data()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::types::{apply as kv_apply, DelRule, Kv, Op, St};

    /// A fresh directory for one test.
    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dtm0-disk-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn reopen(path: &Path) -> (Wal, Recovered) {
        Wal::open(path).unwrap()
    }

    fn file_len(path: &Path) -> u64 {
        fs::metadata(path).unwrap().len()
    }

    /// A participant store evolving as the protocol evolves it: participant
    /// 0 of `n` logs committed records (P for itself), learns that peers
    /// made them persistent, prunes the all-P prefix, restarts.
    struct Sim {
        st: PartStore,
        ts: u64,
        n: usize,
    }

    impl Sim {
        fn new(n: usize) -> Sim {
            Sim {
                st: PartStore {
                    inc: 1,
                    kv: Kv::new(),
                    log: Vec::new().into(),
                    base: 0,
                    ghost: Default::default(),
                },
                ts: 0,
                n,
            }
        }
        fn append(&mut self, key: Key, del: bool) {
            self.ts += 1;
            let op = if del {
                Op::Del { key }
            } else {
                Op::Put {
                    key,
                    val: self.ts * 7,
                }
            };
            let id = TxId {
                ts: self.ts,
                slot: (self.ts % 3) as u8,
                inc: 1,
            };
            kv_apply(
                &mut self.st.kv,
                &op,
                id,
                DelRule::AlwaysTombstone,
                Default::default(),
            );
            let sv = StateVec::default().with(0, St::P).with(1, St::V);
            self.st.log.make_flat().push(Txr { id, op, sv });
        }
        /// Peer `p` reports the record at log index `i` persistent.
        fn persist(&mut self, i: usize, p: usize) {
            if let Some(r) = self.st.log.make_flat().get_mut(i) {
                r.sv.raise(p, St::P);
            }
        }
        fn prune(&mut self) {
            while self.st.log.get(0).is_some_and(|r| r.sv.all(self.n, St::P)) {
                let r = self.st.log.make_flat().remove(0);
                self.st.base += 1;
                self.st.ghost.pruned.push((r.id, r.op));
            }
        }
    }

    /// The realistic sequence of test (1): every kind of change, in turn.
    fn realistic_sequence() -> Vec<PartStore> {
        let mut sim = Sim::new(3);
        let mut out = vec![sim.st.clone()];
        for k in 1..=5 {
            sim.append(k, false);
        }
        out.push(sim.st.clone());
        for p in 1..3 {
            sim.persist(0, p);
            sim.persist(1, p);
        }
        sim.persist(3, 2);
        out.push(sim.st.clone());
        sim.prune();
        assert_eq!(sim.st.base, 2);
        out.push(sim.st.clone());
        sim.append(1, false); // overwrite a key
        sim.append(2, true); // tombstone
        sim.append(9, true); // tombstone on an absent key
        out.push(sim.st.clone());
        sim.st.inc += 1; // restart
        out.push(sim.st.clone());
        for i in 0..sim.st.log.len() {
            for p in 1..3 {
                sim.persist(i, p);
            }
        }
        sim.prune();
        assert!(sim.st.log.is_empty());
        out.push(sim.st.clone());
        sim.append(4, false);
        out.push(sim.st.clone());
        out
    }

    #[test]
    fn round_trip_of_realistic_saves() {
        let d = dir("round_trip");
        let path = d.join("p0.wal");
        let (mut wal, rec) = reopen(&path);
        assert!(rec.store.is_none() && rec.frames == 0);
        let seq = realistic_sequence();
        for (i, st) in seq.iter().enumerate() {
            wal.save(st).unwrap();
            assert_eq!(wal.last(), Some(st));
            // Reopening after every save replays to exactly that save.
            let (w, rec) = reopen(&path);
            assert_eq!(rec.store.as_ref(), Some(st), "after save {i}");
            assert_eq!(rec.frames, i as u64 + 1);
            assert_eq!(rec.truncated_bytes, 0);
            wal = w;
        }
        // Deltas are small: the whole log is far less than one snapshot per save.
        let snapshot = encode(&Frame::<&Delta, _>::Snapshot(&seq[4]))
            .unwrap()
            .len() as u64;
        assert!(file_len(&path) < snapshot * seq.len() as u64 / 2);
        let _ = fs::remove_dir_all(&d);
    }

    /// The same saves as shared persistent logs (each derived from the one
    /// before, as a participant keeps them) and as `Vec`s: the same deltas,
    /// the same bytes on disk, the same replay.
    #[test]
    fn shared_logs_write_the_bytes_of_flat_ones() {
        use crate::protocol::storelog::{SharedMap, StoreLog};
        let d = dir("shared");
        let rec = |ts: u64| Txr {
            id: TxId {
                ts,
                slot: (ts % 3) as u8,
                inc: 1,
            },
            op: Op::Put {
                key: (ts % 50) as Key,
                val: ts,
            },
            sv: StateVec(1),
        };
        let (mut flat, mut map) = (Vec::new(), SharedMap::new());
        let (mut base, mut ts) = (0 as Pos, 0u64);
        let mut seqs: (Vec<PartStore>, Vec<PartStore>) = (Vec::new(), Vec::new());
        for step in 0..60u64 {
            for _ in 0..50 {
                ts += 1;
                map.insert(base + flat.len() as Pos, rec(ts));
                flat.push(rec(ts));
            }
            // a peer says P for a few records in the middle
            let len = flat.len();
            for i in [3usize, 17, 200].into_iter().filter(|&i| i < len) {
                flat[i].sv = StateVec(flat[i].sv.0 | 4 | step as u16);
                map.insert(base + i as Pos, flat[i]);
            }
            // every third step, the front is pruned
            if step % 3 == 2 {
                let k = 40;
                flat.drain(..k);
                for p in base..base + k as Pos {
                    map.remove(&p);
                }
                base += k as Pos;
            }
            let st = |log: StoreLog| PartStore {
                inc: 1 + step as Inc / 20,
                kv: flat
                    .iter()
                    .map(|r| {
                        let val = Default::default();
                        (
                            r.op.key(),
                            Rec {
                                ver: r.version(),
                                val,
                            },
                        )
                    })
                    .collect(),
                log,
                base,
                ghost: Default::default(),
            };
            seqs.0.push(st(StoreLog::Flat(flat.clone())));
            seqs.1.push(st(StoreLog::Shared(map.clone())));
        }
        let mut raised = 0;
        for w in 0..seqs.0.len() - 1 {
            let f = diff(&seqs.0[w], &seqs.0[w + 1]).unwrap();
            let s = diff(&seqs.1[w], &seqs.1[w + 1]).unwrap();
            assert_eq!(f, s, "delta of save {}", w + 1);
            assert_eq!(s.append.len(), 50);
            raised += s.sv.len();
        }
        assert!(raised > 20, "state vectors raised: {raised}");
        let (pf, ps) = (d.join("flat.wal"), d.join("shared.wal"));
        for (path, seq) in [(&pf, &seqs.0), (&ps, &seqs.1)] {
            let (mut wal, _) = reopen(path);
            wal.set_compact_min_bytes(20_000); // compactions too
            for st in seq {
                wal.save(st).unwrap();
                assert_eq!(wal.last(), Some(st));
            }
            assert!(wal.stats().compactions > 0);
        }
        assert_eq!(fs::read(&pf).unwrap(), fs::read(&ps).unwrap());
        let (_, rec) = reopen(&ps);
        assert_eq!(rec.store.as_ref(), seqs.1.last());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn diff_carries_only_the_changes() {
        let seq = realistic_sequence();
        let d = diff(&seq[2], &seq[3]).unwrap(); // the prune step
        assert_eq!(d.base, Some(2));
        assert_eq!(d.pruned.len(), 2);
        assert!(d.append.is_empty() && d.kv.is_empty() && d.sv.is_empty() && d.inc.is_none());
        let d = diff(&seq[1], &seq[2]).unwrap(); // the persist step
        assert_eq!(d.sv.iter().map(|e| e.0).collect::<Vec<_>>(), vec![0, 1, 3]);
        let d = diff(&seq[3], &seq[4]).unwrap(); // three appends, three keys
        assert_eq!((d.append.len(), d.kv.len()), (3, 3));
        assert_eq!(d.append[0], seq[4].log[3]);
    }

    /// Saves the realistic sequence; returns the file length before the last save.
    fn save_all(path: &Path, seq: &[PartStore]) -> u64 {
        let (mut wal, _) = reopen(path);
        let mut before = 0;
        for st in seq {
            before = file_len(path);
            wal.save(st).unwrap();
        }
        before
    }

    #[test]
    fn torn_tail_mid_frame_loses_only_the_last_save() {
        let d = dir("torn");
        let path = d.join("p0.wal");
        let seq = realistic_sequence();
        let before = save_all(&path, &seq);
        let after = file_len(&path);
        assert!(after > before + 1);
        let cut = before + (after - before) / 2;
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let (mut wal, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), Some(&seq[seq.len() - 2]));
        assert_eq!(rec.truncated_bytes, cut - before);
        assert!(rec.truncated_bytes > 0);
        assert_eq!(file_len(&path), before, "the tail is cut on disk");
        // The log is usable again: redo the lost save.
        wal.save(seq.last().unwrap()).unwrap();
        let (_, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), seq.last());
        assert_eq!(rec.truncated_bytes, 0);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn corrupt_byte_in_last_frame_loses_only_the_last_save() {
        let d = dir("flip");
        let path = d.join("p0.wal");
        let seq = realistic_sequence();
        let before = save_all(&path, &seq);
        let after = file_len(&path);
        let mut bytes = fs::read(&path).unwrap();
        let at = before as usize + HEADER + (after - before) as usize / 3;
        assert!(at < bytes.len());
        bytes[at] ^= 0x40;
        fs::write(&path, &bytes).unwrap();
        let (mut wal, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), Some(&seq[seq.len() - 2]));
        assert_eq!(rec.truncated_bytes, after - before);
        wal.save(seq.last().unwrap()).unwrap();
        let (_, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), seq.last());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn oversized_length_field_ends_the_replay() {
        let d = dir("oversized");
        let path = d.join("p0.wal");
        let seq = realistic_sequence();
        save_all(&path, &seq);
        let good = file_len(&path);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&((MAX_FRAME as u32) + 1).to_le_bytes())
            .unwrap();
        f.write_all(&[0u8; 100]).unwrap();
        drop(f);
        let (_, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), seq.last());
        assert_eq!(rec.truncated_bytes, 104);
        assert_eq!(file_len(&path), good);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn compaction_keeps_the_store_and_shrinks_the_file() {
        let d = dir("compact");
        let path = d.join("p0.wal");
        let (mut wal, _) = reopen(&path);
        let mut sim = Sim::new(3);
        // Many small saves: each appends one record and persists an older one,
        // so the log of deltas outgrows the store.
        for i in 0..300u32 {
            sim.append(i % 17 + 1, i % 5 == 0);
            sim.persist(i as usize / 2, 1);
            wal.save(&sim.st).unwrap();
        }
        assert_eq!(wal.stats().compactions, 0, "default threshold is 4 MiB");
        let grown = file_len(&path);
        wal.set_compact_min_bytes(1024);
        let (mut shrinks, mut smallest) = (0, grown);
        for i in 0..600u32 {
            sim.append(i % 17 + 1, false);
            sim.persist(0, 1);
            sim.persist(0, 2);
            sim.prune();
            let len = file_len(&path);
            wal.save(&sim.st).unwrap();
            if file_len(&path) < len {
                shrinks += 1;
            }
            smallest = smallest.min(file_len(&path));
        }
        assert!(sim.st.base >= 600, "the sequence prunes");
        let stats = wal.stats();
        assert!(stats.compactions >= 2, "{stats:?}");
        assert_eq!(
            stats.compactions, shrinks,
            "each compaction shrank the file"
        );
        assert!(smallest < grown / 2);
        let snapshot = encode(&Frame::<&Delta, _>::Snapshot(&sim.st))
            .unwrap()
            .len() as u64;
        assert!(file_len(&path) <= 1024u64.max(4 * snapshot));
        assert!(!tmp_path(&path).exists());
        let (mut wal, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), Some(&sim.st));
        // An explicit compaction leaves the header and one snapshot frame.
        wal.compact().unwrap();
        assert_eq!(file_len(&path), FILE_HEADER.len() as u64 + snapshot);
        assert_eq!(wal.stats().compactions, 1);
        let (_, rec) = reopen(&path);
        assert_eq!((rec.store.as_ref(), rec.frames), (Some(&sim.st), 1));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn unchanged_save_writes_no_frame() {
        let d = dir("unchanged");
        let path = d.join("p0.wal");
        let (mut wal, _) = reopen(&path);
        let seq = realistic_sequence();
        wal.save(&seq[1]).unwrap();
        let (stats, len) = (wal.stats(), file_len(&path));
        assert_eq!(stats.frames, 1);
        wal.save(&seq[1].clone()).unwrap();
        assert_eq!(wal.stats().frames, stats.frames);
        assert_eq!(wal.stats().fsyncs, stats.fsyncs);
        assert_eq!(file_len(&path), len);
        wal.save(&seq[2]).unwrap();
        assert_eq!(wal.stats().frames, stats.frames + 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn changes_beyond_extension_fall_back_to_snapshots() {
        let d = dir("fallback");
        let path = d.join("p0.wal");
        let (mut wal, _) = reopen(&path);
        let seq = realistic_sequence();
        let base = seq[4].clone();
        wal.save(&base).unwrap();
        let mut removed_key = base.clone();
        removed_key.kv.remove(&1);
        let mut lower_base = removed_key.clone();
        lower_base.base -= 1;
        let mut replaced = lower_base.clone();
        replaced.log.make_flat()[0].op = Op::Del { key: 42 };
        let mut shorter = replaced.clone();
        shorter.log.make_flat().pop();
        let mut ghosts = shorter.clone();
        ghosts.ghost.pruned.remove(0);
        for st in [
            &removed_key,
            &lower_base,
            &replaced,
            &shorter,
            &ghosts,
            &base,
        ] {
            assert!(diff(wal.last().unwrap(), st).is_none());
            wal.save(st).unwrap();
            let (w, rec) = reopen(&path);
            assert_eq!(rec.store.as_ref(), Some(st));
            wal = w;
        }
        let _ = fs::remove_dir_all(&d);
    }

    /// xorshift64: a fixed-seed pseudo-random generator without dependencies.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn random_saves_reopen_to_the_last_store() {
        let d = dir("random");
        let path = d.join("p0.wal");
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut sim = Sim::new(3);
        let (mut wal, _) = reopen(&path);
        wal.set_compact_min_bytes(2048);
        let (mut reopens, mut compactions) = (0, 0);
        for _ in 0..200 {
            for _ in 0..rng.below(4) {
                match rng.below(6) {
                    0 | 1 => {
                        for _ in 0..=rng.below(5) {
                            let key = rng.below(12) as Key + 1;
                            let del = rng.below(4) == 0;
                            sim.append(key, del);
                        }
                    }
                    2 | 3 => {
                        for _ in 0..=rng.below(6) {
                            let len = sim.st.log.len() as u64;
                            if len > 0 {
                                let i = rng.below(len) as usize;
                                sim.persist(i, 1 + rng.below(2) as usize);
                            }
                        }
                    }
                    4 => sim.prune(),
                    _ => sim.st.inc += 1,
                }
            }
            wal.save(&sim.st).unwrap();
            assert_eq!(wal.last(), Some(&sim.st));
            if rng.below(10) == 0 {
                compactions += wal.stats().compactions;
                let (w, rec) = reopen(&path);
                assert_eq!(rec.store.as_ref(), Some(&sim.st));
                wal = w;
                wal.set_compact_min_bytes(2048);
                reopens += 1;
            }
        }
        compactions += wal.stats().compactions;
        assert!(
            reopens > 5 && compactions > 0,
            "{reopens} reopens, {compactions} compactions"
        );
        assert!(
            sim.st.base > 0 && !sim.st.log.is_empty(),
            "the sequence prunes and grows"
        );
        drop(wal);
        let (_, rec) = reopen(&path);
        assert_eq!(rec.store, Some(sim.st));
        assert_eq!(rec.truncated_bytes, 0);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn write_atomic_round_trip() {
        let d = dir("atomic");
        let path = d.join("o1.inc");
        write_atomic(&path, b"1").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"1");
        write_atomic(&path, &7u32.to_le_bytes()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), 7u32.to_le_bytes());
        assert!(!tmp_path(&path).exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_log_of_another_format_is_refused_and_left_untouched() {
        let d = dir("format");
        let path = d.join("p0.wal");
        let seq = realistic_sequence();
        save_all(&path, &seq);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], &FILE_HEADER[..]);
        // A format-1 log: frames with no header.
        let old = d.join("old.wal");
        fs::write(&old, &bytes[8..]).unwrap();
        let e = Wal::open(&old).err().expect("a headerless log is refused");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("before format 2"), "{e}");
        assert_eq!(fs::read(&old).unwrap(), &bytes[8..], "nothing cut");
        // A later format.
        let mut next = bytes.clone();
        next[7] = LOG_FORMAT + 1;
        fs::write(&old, &next).unwrap();
        let e = Wal::open(&old).err().expect("another format is refused");
        assert!(e.to_string().contains("reads format 2"), "{e}");
        assert_eq!(fs::read(&old).unwrap(), next, "nothing cut");
        // A header torn at creation is rewritten: the log is empty.
        fs::write(&old, &FILE_HEADER[..3]).unwrap();
        let (_, rec) = reopen(&old);
        assert!(rec.store.is_none());
        assert_eq!(fs::read(&old).unwrap(), FILE_HEADER);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn open_removes_a_stale_compaction_file() {
        let d = dir("stale");
        let path = d.join("p0.wal");
        let seq = realistic_sequence();
        save_all(&path, &seq);
        fs::write(tmp_path(&path), b"half a snapshot").unwrap();
        let (_, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), seq.last());
        assert!(!tmp_path(&path).exists());
        let _ = fs::remove_dir_all(&d);
    }

    /// Replay cost of a long log of deltas. Run with
    /// `cargo test --release --lib live::disk::tests::replay_100k_records -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn replay_100k_records() {
        let d = dir("replay_100k");
        let path = d.join("p0.wal");
        let (mut wal, _) = reopen(&path);
        let mut sim = Sim::new(3);
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            sim.append(i % 10_000 + 1, i % 10 == 9);
            if i % 1000 == 999 {
                wal.save(&sim.st).unwrap();
            }
        }
        let save_s = t0.elapsed().as_secs_f64();
        let stats = wal.stats();
        drop(wal);
        let bytes = file_len(&path);
        let t1 = Instant::now();
        let (_, rec) = reopen(&path);
        let open_s = t1.elapsed().as_secs_f64();
        assert_eq!(rec.store.as_ref(), Some(&sim.st));
        assert_eq!(sim.st.log.len(), 100_000);
        println!(
            "replay_100k_records: {} records, {} keys, {} frames, {} bytes, {} compactions; \
             100 saves took {save_s:.3} s ({} fsyncs); Wal::open took {open_s:.4} s \
             (replay {:.4} s)",
            sim.st.log.len(),
            sim.st.kv.len(),
            rec.frames,
            bytes,
            stats.compactions,
            stats.fsyncs,
            rec.seconds
        );
        let _ = fs::remove_dir_all(&d);
    }
}
