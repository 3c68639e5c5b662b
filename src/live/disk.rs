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
//! (`LOG_FORMAT`, 3), then frames. Each frame carries a 24-byte header,
//! little-endian, then its payload (a postcard `Frame`):
//!
//! ```text
//! [sync: D7 30 46 52][seq: u64][len: u32][crc32 of payload: u32][crc32 of the 20 bytes before: u32]
//! ```
//!
//! `seq` numbers the frames ever written to this log, 1, 2, 3, ... (a
//! compaction's snapshot takes the next number), so replay checks that
//! they follow each other.
//!
//! **Torn tail or corruption.** A crash can tear only the LAST frame: a
//! save is appended after the previous one is synced, and the log is never
//! appended to after a bad frame (open cuts it first). So replay, at the
//! first frame that fails (short, bad sync or header crc, bad payload crc,
//! undecodable, out of sequence), scans the rest of the file for valid
//! frames: the sync marker finds candidates, the header crc makes their
//! length trustworthy, the payload crc and a sequence number above the
//! last good one make them frames. If none follows, the bad frame is a
//! torn tail, cut (and the cut fsynced): it held at most the one save that
//! was never acknowledged. If valid frames follow, it is corruption:
//! `Wal::open` fails with a `Corruption` error (file, byte offset, frames
//! after it) and changes NOTHING on disk; `Wal::open_repair` cuts the log
//! there, dropping the frames after it (acknowledged saves among them).
//! A frame that passes both crcs but does not fit (a delta that does not
//! apply, a sequence gap) is corruption too, even when last.
//!
//! A format-2 log (frames `[len][crc][payload]`, no sync marker) is
//! migrated: replayed with the format-2 reader under the same rule (a scan
//! of every offset for a frame whose crc holds tells corruption from a
//! torn tail), then rewritten as a format-3 log of one snapshot, written
//! aside and renamed over it. A log without the header (format 1) or of
//! another format is refused, never replayed.
//!
//! **Incarnation record.** Next to `pN.wal`, `pN.inc` holds the highest
//! incarnation the log has reached and the sequence number of a frame the
//! log is known to hold (its end at each start and after each compaction),
//! replaced atomically after the frame that raises the incarnation is
//! synced, and after each compaction. At open, a log that is missing or
//! empty while the record exists, or whose replay ends below the record's
//! incarnation or sequence number (truncated, or restored from an old
//! copy), is refused with a `Behind` error: it would rejoin as a healthy
//! replica without writes it acknowledged. A log with no record (written
//! before records existed) gets one. Limit: a cut at a frame boundary
//! after the last recorded sequence number is not detectable here.

use crate::protocol::participant::PartStore;
use crate::protocol::types::{Inc, Key, Op, Pos, Rec, StateVec, TxId, Txr};
use im::ordmap::DiffItem;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Frame header: sync marker, sequence number, payload length, payload
/// crc32, header crc32.
const HEADER: usize = 24;
/// The first bytes of every format-3 frame.
const SYNC: [u8; 4] = [0xD7, b'0', b'F', b'R'];
/// The log format this binary writes. It also reads (and migrates) format 2.
pub const LOG_FORMAT: u8 = 3;
/// The file header: magic and format.
const FILE_HEADER: [u8; 8] = [b'D', b'T', b'M', b'0', b'W', b'A', b'L', LOG_FORMAT];
/// Format 2's frame header: payload length and payload crc32.
const V2_HEADER: usize = 8;
/// Largest payload accepted. A bigger length field is garbage from a torn
/// write, not a frame; refusing it also bounds what replay allocates.
const MAX_FRAME: usize = 64 << 20;
/// Default lower bound of the log size before compaction, so that small
/// stores are not compacted at every other save.
const DEFAULT_COMPACT_MIN_BYTES: u64 = 4 << 20;
/// The incarnation record: magic, format, inc (u32), seq (u64), crc32.
const INC_MAGIC: [u8; 8] = [b'D', b'T', b'M', b'0', b'I', b'N', b'C', 1];
const INC_LEN: usize = 8 + 4 + 8 + 4;

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

/// Encodes one frame with sequence number `seq`, header included.
fn encode<D: Serialize, S: Serialize>(seq: u64, frame: &Frame<D, S>) -> io::Result<Vec<u8>> {
    let mut buf = postcard::to_extend(frame, vec![0u8; HEADER]).map_err(io::Error::other)?;
    let len = buf.len() - HEADER;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte bound"),
        ));
    }
    let crc = crc32fast::hash(&buf[HEADER..]);
    buf[..4].copy_from_slice(&SYNC);
    buf[4..12].copy_from_slice(&seq.to_le_bytes());
    buf[12..16].copy_from_slice(&(len as u32).to_le_bytes());
    buf[16..20].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32fast::hash(&buf[..20]);
    buf[20..HEADER].copy_from_slice(&hcrc.to_le_bytes());
    Ok(buf)
}

/// A frame read back: its sequence number (format 3 only), total size and
/// payload.
type Decoded = (Option<u64>, usize, Frame<Delta, PartStore>);

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("4 bytes"))
}

/// Decodes a payload that must be exactly one `Frame`.
fn payload(p: &[u8]) -> Option<Frame<Delta, PartStore>> {
    match postcard::take_from_bytes(p) {
        Ok((frame, [])) => Some(frame),
        _ => None, // undecodable, or trailing bytes: not a frame we wrote
    }
}

/// Reads the format-3 frame starting at `buf[0]`, or `None` if there is
/// none there (torn, corrupt, or not a frame boundary).
fn decode(buf: &[u8]) -> Option<Decoded> {
    let h = buf.get(..HEADER)?;
    if h[..4] != SYNC || crc32fast::hash(&h[..20]) != le_u32(&h[20..24]) {
        return None;
    }
    let seq = u64::from_le_bytes(h[4..12].try_into().ok()?);
    let len = le_u32(&h[12..16]) as usize;
    if len > MAX_FRAME {
        return None;
    }
    let p = buf.get(HEADER..HEADER + len)?;
    if crc32fast::hash(p) != le_u32(&h[16..20]) {
        return None;
    }
    Some((Some(seq), HEADER + len, payload(p)?))
}

/// Reads the format-2 frame starting at `buf[0]`: `[len][crc][payload]`.
fn decode_v2(buf: &[u8]) -> Option<Decoded> {
    let h = buf.get(..V2_HEADER)?;
    let len = le_u32(&h[..4]) as usize;
    if len > MAX_FRAME {
        return None;
    }
    let p = buf.get(V2_HEADER..V2_HEADER + len)?;
    if crc32fast::hash(p) != le_u32(&h[4..8]) {
        return None;
    }
    Some((None, V2_HEADER + len, payload(p)?))
}

/// The first frame replay could not use.
#[derive(Debug, Clone)]
struct BadFrame {
    /// Offset in the body (after the file header).
    at: usize,
    why: String,
    /// Valid frames found after it.
    frames_after: u64,
    /// It passed its checksums (so it is no torn write) but does not fit.
    checksummed: bool,
}

/// What replaying a log's bytes yields.
#[derive(Default)]
struct Replay {
    store: Option<PartStore>,
    frames: u64,
    /// Length of the valid prefix.
    good: usize,
    /// Sequence number of the last valid frame (format 2: its index).
    seq: u64,
    /// Size of the last snapshot frame, for the compaction threshold.
    snap_bytes: u64,
    bad: Option<BadFrame>,
}

/// Replays frames from the start of `buf` until the end or the first bad
/// frame; then counts the valid frames after that one (see the module doc).
fn replay(buf: &[u8], dec: fn(&[u8]) -> Option<Decoded>) -> Replay {
    let mut r = Replay::default();
    while r.good < buf.len() {
        let at = r.good;
        let Some((seq, size, frame)) = dec(&buf[at..]) else {
            let why = "its marker, length, checksum or encoding is wrong".to_string();
            r.bad = Some(bad_frame(buf, at, at + 1, r.seq, why, false, dec));
            break;
        };
        let seq = seq.unwrap_or(r.seq + 1);
        let fits = if r.frames > 0 && seq != r.seq + 1 {
            Err(format!("frame number {seq} after {}", r.seq))
        } else {
            match frame {
                Frame::Snapshot(s) => {
                    r.store = Some(s);
                    r.snap_bytes = size as u64;
                    Ok(())
                }
                Frame::Delta(d) => match r.store.as_mut() {
                    None => Err("a delta before any snapshot".into()),
                    Some(st) => apply(st, d, true),
                },
            }
        };
        if let Err(e) = fits {
            r.bad = Some(bad_frame(buf, at, at + size, r.seq, e, true, dec));
            break;
        }
        r.frames += 1;
        r.seq = seq;
        r.good += size;
    }
    r
}

/// Counts the valid frames numbered above `seq` from `from` on.
fn bad_frame(
    buf: &[u8],
    at: usize,
    from: usize,
    seq: u64,
    why: String,
    checksummed: bool,
    dec: fn(&[u8]) -> Option<Decoded>,
) -> BadFrame {
    let mut frames_after = 0;
    let mut pos = from;
    while pos < buf.len() {
        match dec(&buf[pos..]) {
            Some((s, size, _)) if s.is_none_or(|s| s > seq) => {
                frames_after += 1;
                pos += size;
            }
            _ => pos += 1,
        }
    }
    BadFrame {
        at,
        why,
        frames_after,
        checksummed,
    }
}

/// A log with a bad frame that is not a torn tail: valid frames follow it,
/// or it passed its checksums. `Wal::open` refuses it and changes nothing;
/// `Wal::open_repair` cuts the log at `offset`.
#[derive(Debug, Clone, PartialEq)]
pub struct Corruption {
    pub path: PathBuf,
    /// Byte offset of the bad frame in the file.
    pub offset: u64,
    /// Bytes from the bad frame to the end of the file (what a cut drops).
    pub bytes: u64,
    /// Valid frames after the bad one (saves a cut loses).
    pub frames_after: u64,
    /// Valid frames before it (kept by a cut).
    pub frames_before: u64,
    pub why: String,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: corrupt log: bad frame at byte {} ({}), followed by {} valid frame(s) ({} \
             bytes from there to the end); not a torn tail, so nothing was cut. `dtm0 node \
             --repair` would cut the log at byte {}, dropping those frames and any acknowledged \
             writes they hold",
            self.path.display(),
            self.offset,
            self.why,
            self.frames_after,
            self.bytes,
            self.offset
        )
    }
}

impl std::error::Error for Corruption {}

/// A log older than its incarnation record: truncated, deleted, or restored
/// from an old copy. Refused even with `--repair`.
#[derive(Debug, Clone, PartialEq)]
pub struct Behind {
    pub path: PathBuf,
    /// What the record says: incarnation and frame number (with `by_ha`:
    /// the incarnation HA has seen, and 0).
    pub recorded: (Inc, u64),
    /// The log is behind what HA has seen of this participant (the record,
    /// if any, agrees with the log: the whole data directory is old).
    pub by_ha: bool,
    /// What the log holds (`None`: no saved state at all).
    pub found: Option<(Inc, u64)>,
}

impl fmt::Display for Behind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (inc, seq) = self.recorded;
        let rec = inc_path(&self.path);
        match self.found {
            Some((i, _)) if self.by_ha => write!(
                f,
                "{}: the log ends at incarnation {i}, but HA has seen incarnation {inc} of this \
                 participant: the data directory was restored from an older copy",
                self.path.display()
            ),
            None => write!(
                f,
                "{}: the log is missing or empty, but {} records incarnation {inc} (frame \
                 {seq}): this participant's storage was lost",
                self.path.display(),
                rec.display()
            ),
            Some((i, s)) => write!(
                f,
                "{}: the log ends at incarnation {i}, frame {s}, but {} records incarnation \
                 {inc}, frame {seq}: the log was truncated or restored from an older copy",
                self.path.display(),
                rec.display()
            ),
        }?;
        write!(
            f,
            "; starting from it would rejoin as a healthy replica without writes it \
             acknowledged. Rejoining as an empty replica needs a resync from the other \
             participants, which is not built: refusing to start (neither --repair nor an \
             empty data directory helps)"
        )
    }
}

impl std::error::Error for Behind {}

/// The `Corruption` inside an error of `Wal::open`, if it is one.
pub fn as_corruption(e: &io::Error) -> Option<&Corruption> {
    e.get_ref().and_then(|x| x.downcast_ref::<Corruption>())
}

/// The `Behind` inside an error of `Wal::open`, if it is one.
pub fn as_behind(e: &io::Error) -> Option<&Behind> {
    e.get_ref().and_then(|x| x.downcast_ref::<Behind>())
}

/// The log's format, from its header.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    /// Missing, empty, or a header torn at creation: nothing was saved.
    Empty,
    V2,
    V3,
}

/// Reads the file header; refuses a log that is not format 2 or 3.
fn check_header(path: &Path, buf: &[u8]) -> io::Result<Format> {
    if buf.len() < FILE_HEADER.len() && FILE_HEADER.starts_with(buf) {
        return Ok(Format::Empty);
    }
    if buf.len() < FILE_HEADER.len() || buf[..7] != FILE_HEADER[..7] {
        return Err(corrupt(format!(
            "{}: not a DTM0 log of format {LOG_FORMAT} (no `DTM0WAL` header: written by a \
             dtm0 before format 2, or not a log); move it aside to start this participant empty",
            path.display()
        )));
    }
    match buf[7] {
        LOG_FORMAT => Ok(Format::V3),
        2 => Ok(Format::V2),
        f => Err(corrupt(format!(
            "{}: a DTM0 log of format {f}; this binary reads format {LOG_FORMAT} (and \
             migrates format 2)",
            path.display()
        ))),
    }
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

/// The incarnation record of the log at `log`: `pN.wal` -> `pN.inc`.
pub fn inc_path(log: &Path) -> PathBuf {
    log.with_extension("inc")
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

/// The durable incarnation record of a participant (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncRecord {
    /// The highest incarnation the log has reached.
    pub inc: Inc,
    /// A frame number the log is known to hold.
    pub seq: u64,
}

impl IncRecord {
    fn encode(&self) -> [u8; INC_LEN] {
        let mut b = [0u8; INC_LEN];
        b[..8].copy_from_slice(&INC_MAGIC);
        b[8..12].copy_from_slice(&self.inc.to_le_bytes());
        b[12..20].copy_from_slice(&self.seq.to_le_bytes());
        let crc = crc32fast::hash(&b[..20]);
        b[20..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Reads the record at `path`: `None` if there is none; an error if it
    /// is not a valid record (never guessed: it guards the log).
    pub fn read(path: &Path) -> io::Result<Option<IncRecord>> {
        let b = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if b.len() != INC_LEN
            || b[..8] != INC_MAGIC
            || crc32fast::hash(&b[..20]) != le_u32(&b[20..])
        {
            return Err(corrupt(format!(
                "{}: not a valid incarnation record ({} bytes); it guards this participant \
                 against starting from an old log, so it is never guessed: check the data \
                 directory",
                path.display(),
                b.len()
            )));
        }
        Ok(Some(IncRecord {
            inc: le_u32(&b[8..12]),
            seq: u64::from_le_bytes(b[12..20].try_into().expect("8 bytes")),
        }))
    }

    /// Replaces the record at `path` atomically (`write_atomic`).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        write_atomic(path, &self.encode())
    }
}

/// Everything `Wal::open` decides before it changes anything on disk.
struct Examined {
    format: Format,
    existed: bool,
    r: Replay,
    record: Option<IncRecord>,
    /// Bytes after the valid prefix (a torn tail, or what a repair cuts).
    cut: u64,
    /// What a repair drops.
    repair: Option<Corruption>,
}

/// Reads and judges the log at `path` and its incarnation record, changing
/// nothing. `repair`: accept a corrupt log (to be cut at the bad frame).
fn examine(path: &Path, repair: bool, seen: Inc) -> io::Result<Examined> {
    let record = IncRecord::read(&inc_path(path))?;
    let (buf, existed) = match fs::read(path) {
        Ok(b) => (b, true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), false),
        Err(e) => return Err(e),
    };
    let format = check_header(path, &buf)?;
    let body = buf.get(FILE_HEADER.len()..).unwrap_or_default();
    let r = match format {
        Format::Empty => Replay::default(),
        Format::V2 => replay(body, decode_v2),
        Format::V3 => replay(body, decode),
    };
    let mut repair_of = None;
    if let Some(b) = r
        .bad
        .as_ref()
        .filter(|b| b.checksummed || b.frames_after > 0)
    {
        let c = Corruption {
            path: path.to_owned(),
            offset: (FILE_HEADER.len() + b.at) as u64,
            bytes: (body.len() - b.at) as u64,
            frames_after: b.frames_after,
            frames_before: r.frames,
            why: b.why.clone(),
        };
        if !repair {
            return Err(io::Error::new(io::ErrorKind::InvalidData, c));
        }
        repair_of = Some(c);
    }
    if let Some(rec) = record {
        let found = r.store.as_ref().map(|s| (s.inc, r.seq));
        // Format 2 logs predate records: their frame numbers are indexes.
        let behind = match found {
            None => true,
            Some((inc, seq)) => inc < rec.inc || (format == Format::V3 && seq < rec.seq),
        };
        if behind {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Behind {
                    path: path.to_owned(),
                    recorded: (rec.inc, rec.seq),
                    found,
                    by_ha: false,
                },
            ));
        }
    }
    if let Some(s) = r.store.as_ref().filter(|s| s.inc < seen) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            Behind {
                path: path.to_owned(),
                recorded: (seen, 0),
                found: Some((s.inc, r.seq)),
                by_ha: true,
            },
        ));
    }
    let cut = if format == Format::Empty {
        0
    } else {
        (body.len() - r.good) as u64
    };
    Ok(Examined {
        format,
        existed,
        r,
        record,
        cut,
        repair: repair_of,
    })
}

/// What `Wal::open_repair` would cut from the log at `path` (`None`: the
/// log is not corrupt), changing nothing. Fails as `Wal::open_repair`
/// would, e.g. when even the repaired log is behind its incarnation record.
/// `seen`: as in `Wal::open_checked`.
pub fn repair_plan(path: &Path, seen: Inc) -> io::Result<Option<Corruption>> {
    examine(path, true, seen).map(|e| e.repair)
}

/// What `Wal::open` found on disk.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// The last saved store; `None` when the file did not exist or held no
    /// frame.
    pub store: Option<PartStore>,
    /// Frames replayed.
    pub frames: u64,
    /// Torn tail bytes cut off (or, with `open_repair`, what the repair cut).
    pub truncated_bytes: u64,
    /// Replay time.
    pub seconds: f64,
    /// Neither a saved state nor an incarnation record: this log never
    /// held anything (a first boot, or storage lost entirely).
    pub fresh: bool,
    /// The cut `open_repair` made.
    pub repaired: Option<Corruption>,
    /// The format the log was migrated from, if it was.
    pub migrated_from: Option<u8>,
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
    /// The incarnation record next to the log.
    record: PathBuf,
    /// The store as the log holds it: what a replay would return.
    last: Option<PartStore>,
    /// Length of the log file (all of it valid frames).
    len: u64,
    /// Number of the last frame written (0: none).
    seq: u64,
    /// Size of the last snapshot frame.
    snap_bytes: u64,
    compact_min_bytes: u64,
    stats: WalStats,
    /// Set when a write or sync failed with the file in an unknown state;
    /// then only a reopen (which replays and cuts the tail) is safe.
    broken: bool,
}

impl Wal {
    /// Opens (creating if absent) the log at `path`, replays it, cuts a
    /// torn tail (and fsyncs the cut), migrates a format-2 log, and returns
    /// the last saved store.
    ///
    /// Refused, with NOTHING changed on disk: a corrupt log (a bad frame
    /// followed by valid ones, or one that passed its checksums but does
    /// not fit: a `Corruption` error, see `as_corruption`), a log behind
    /// its incarnation record (`Behind`, see `as_behind`), a log of an
    /// unknown format, an invalid incarnation record.
    pub fn open(path: &Path) -> io::Result<(Wal, Recovered)> {
        Self::open_checked(path, false, 0)
    }

    /// As `open`, but a corrupt log is cut at its first bad frame, dropping
    /// every frame after it (saves that may have been acknowledged).
    /// `repair_plan` tells beforehand what this drops. A log whose
    /// repaired prefix is behind its incarnation record is still refused.
    pub fn open_repair(path: &Path) -> io::Result<(Wal, Recovered)> {
        Self::open_checked(path, true, 0)
    }

    /// `open` (or, with `repair`, `open_repair`) that also refuses, as
    /// `Behind` (`by_ha`), a log whose incarnation is below `seen`, the
    /// highest incarnation of this participant HA has seen (0: unknown).
    pub fn open_checked(path: &Path, repair: bool, seen: Inc) -> io::Result<(Wal, Recovered)> {
        let t0 = Instant::now();
        let Examined {
            format,
            existed,
            r,
            record,
            cut,
            repair: repaired,
        } = examine(path, repair, seen)?;
        // Accepted: from here on the files may change.
        // A compaction that crashed before its rename leaves a stale copy.
        match fs::remove_file(tmp_path(path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut stats = WalStats::default();
        let mut migrated_from = None;
        let (file, len, seq, snap_bytes) = match format {
            Format::Empty => {
                // New, or its creation was cut short: nothing was ever saved.
                let mut file = open_log(path)?;
                if !existed {
                    sync_dir(path)?; // the new file's name must survive a crash too
                    stats.fsyncs += 1;
                }
                file.set_len(0)?;
                file.write_all(&FILE_HEADER)?;
                file.sync_all()?;
                stats.fsyncs += 1;
                (file, FILE_HEADER.len() as u64, 0, 0)
            }
            Format::V2 => {
                let mut bytes = FILE_HEADER.to_vec();
                let mut seq = 0;
                if let Some(s) = &r.store {
                    seq = 1;
                    bytes.extend(encode(seq, &Frame::<&Delta, _>::Snapshot(s))?);
                }
                write_atomic(path, &bytes)?;
                stats.fsyncs += 2;
                migrated_from = Some(2);
                tracing::info!(
                    path = %path.display(),
                    frames = r.frames,
                    cut,
                    "format-2 log migrated to format {LOG_FORMAT} (one snapshot)"
                );
                let len = bytes.len() as u64;
                (open_log(path)?, len, seq, len - FILE_HEADER.len() as u64)
            }
            Format::V3 => {
                let file = open_log(path)?;
                let good = (FILE_HEADER.len() + r.good) as u64;
                if cut > 0 {
                    tracing::warn!(
                        path = %path.display(),
                        at = good,
                        bytes = cut,
                        repair = repaired.is_some(),
                        "cutting the log"
                    );
                    file.set_len(good)?;
                    file.sync_all()?;
                    stats.fsyncs += 1;
                }
                (file, good, r.seq, r.snap_bytes)
            }
        };
        let rec_path = inc_path(path);
        if let Some(s) = &r.store {
            // No record yet (a log from before records, or a crash between
            // a start's frame and its record): record what the log holds.
            if record.is_none_or(|rec| rec.inc < s.inc) {
                IncRecord { inc: s.inc, seq }.write(&rec_path)?;
                stats.fsyncs += 2;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        tracing::info!(
            path = %path.display(),
            frames = r.frames,
            bytes = len,
            cut,
            seconds,
            "log replayed"
        );
        let rec = Recovered {
            fresh: r.store.is_none() && record.is_none(),
            store: r.store.clone(),
            frames: r.frames,
            truncated_bytes: cut,
            seconds,
            repaired,
            migrated_from,
        };
        let wal = Wal {
            file,
            path: path.to_owned(),
            record: rec_path,
            last: r.store,
            len,
            seq,
            snap_bytes,
            compact_min_bytes: DEFAULT_COMPACT_MIN_BYTES,
            stats,
            broken: false,
        };
        Ok((wal, rec))
    }

    /// Appends the difference between `new` and the last saved store as ONE
    /// frame, then fdatasyncs before returning. If nothing differs, writes
    /// nothing. A save that raises the incarnation then replaces the
    /// incarnation record. Compacts when the file grows past
    /// max(compact_min_bytes, 4 x the last snapshot size).
    ///
    /// A failed compaction does not fail the save, which is already durable:
    /// it is logged, and the log simply stays longer.
    pub fn save(&mut self, new: &PartStore) -> io::Result<()> {
        self.check_usable()?;
        let raises = self.last.as_ref().is_none_or(|old| new.inc > old.inc);
        let delta = self.last.as_ref().and_then(|old| diff(old, new));
        match delta {
            Some(d) if d.is_empty() => return Ok(()),
            Some(d) => {
                self.append(&encode(self.seq + 1, &Frame::<_, &PartStore>::Delta(&d))?)?;
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
                let frame = encode(self.seq + 1, &Frame::<&Delta, _>::Snapshot(new))?;
                self.append(&frame)?;
                self.snap_bytes = frame.len() as u64;
                self.last = Some(new.clone());
            }
        }
        if raises {
            // After the frame is synced: the record never runs ahead of the log.
            self.write_record()?;
        }
        if self.len > self.compact_min_bytes.max(4 * self.snap_bytes) {
            if let Err(e) = self.compact() {
                tracing::warn!(path = %self.path.display(), error = %e, "compaction failed");
            }
        }
        Ok(())
    }

    /// Records the log's incarnation and last frame number.
    fn write_record(&mut self) -> io::Result<()> {
        let Some(inc) = self.last.as_ref().map(|s| s.inc) else {
            return Ok(());
        };
        IncRecord { inc, seq: self.seq }
            .write(&self.record)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.record.display())))?;
        self.stats.fsyncs += 2;
        Ok(())
    }

    /// Rewrites the log as one snapshot frame: write `<path>.tmp`, sync,
    /// rename over `path`, fsync the directory, reopen for append; then
    /// raise the incarnation record's frame number to the snapshot's. A
    /// crash at any point leaves either the old log or the new one under
    /// `path`.
    pub fn compact(&mut self) -> io::Result<()> {
        self.check_usable()?;
        let seq = self.seq + 1;
        let mut frame = FILE_HEADER.to_vec();
        if let Some(s) = &self.last {
            frame.extend(encode(seq, &Frame::<&Delta, _>::Snapshot(s))?);
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
        if self.last.is_some() {
            self.seq = seq;
        }
        // The compaction stands either way: a record left at an older frame
        // number is still one the log holds (it only guards less).
        if let Err(e) = self.write_record() {
            tracing::warn!(path = %self.path.display(), error = %e, "incarnation record not raised");
        }
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
        self.seq += 1;
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
        let snapshot = encode(1, &Frame::<&Delta, _>::Snapshot(&seq[4]))
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
        let snapshot = encode(1, &Frame::<&Delta, _>::Snapshot(&sim.st))
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
        assert!(e.to_string().contains("reads format 3"), "{e}");
        assert_eq!(fs::read(&old).unwrap(), next, "nothing cut");
        // A header torn at creation is rewritten: the log is empty.
        fs::write(&old, &FILE_HEADER[..3]).unwrap();
        let (_, rec) = reopen(&old);
        assert!(rec.store.is_none());
        assert_eq!(fs::read(&old).unwrap(), FILE_HEADER);
        let _ = fs::remove_dir_all(&d);
    }

    /// Saves `n` stores of a growing Sim (the incarnation raised at save
    /// `raise_at`); returns the stores and each frame's offset in the file.
    fn saves_with_offsets(path: &Path, n: usize, raise_at: usize) -> (Vec<PartStore>, Vec<u64>) {
        let (mut wal, _) = reopen(path);
        let mut sim = Sim::new(3);
        let (mut stores, mut offsets) = (Vec::new(), Vec::new());
        for i in 0..n {
            sim.append(i as Key % 7 + 1, i % 4 == 3);
            if i == raise_at {
                sim.st.inc += 1;
            }
            offsets.push(file_len(path));
            wal.save(&sim.st).unwrap();
            stores.push(sim.st.clone());
        }
        (stores, offsets)
    }

    fn flip(path: &Path, at: u64, mask: u8) {
        let mut b = fs::read(path).unwrap();
        b[at as usize] ^= mask;
        fs::write(path, &b).unwrap();
    }

    #[test]
    fn a_flipped_bit_mid_log_is_corruption_and_nothing_changes() {
        let d = dir("midflip");
        let path = d.join("p0.wal");
        let (_, off) = saves_with_offsets(&path, 40, 3);
        // A bit in the payload of frame 20 (of 40), then one in the length
        // field of frame 30's header: both are refused, never cut.
        for (frame, at) in [(19, off[19] + HEADER as u64 + 2), (29, off[29] + 13)] {
            let before = fs::read(&path).unwrap();
            let record = fs::read(inc_path(&path)).unwrap();
            flip(&path, at, 0x10);
            let flipped = fs::read(&path).unwrap();
            let e = Wal::open(&path).err().expect("corruption is refused");
            let c = as_corruption(&e).unwrap_or_else(|| panic!("not a Corruption: {e}"));
            assert_eq!(c.offset, off[frame], "{c}");
            assert_eq!(c.frames_after, 40 - frame as u64 - 1, "{c}");
            assert_eq!(c.frames_before, frame as u64, "{c}");
            assert_eq!(c.bytes, file_len(&path) - off[frame]);
            let msg = e.to_string();
            assert!(
                msg.contains("p0.wal")
                    && msg.contains(&format!("at byte {}", off[frame]))
                    && msg.contains("--repair"),
                "{msg}"
            );
            assert_eq!(
                fs::read(&path).unwrap(),
                flipped,
                "the log is byte-identical"
            );
            assert_eq!(fs::read(inc_path(&path)).unwrap(), record);
            assert!(!tmp_path(&path).exists());
            fs::write(&path, &before).unwrap();
        }
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn repair_cuts_at_the_bad_frame_unless_that_goes_behind_the_record() {
        let d = dir("repair");
        let path = d.join("p0.wal");
        let (stores, off) = saves_with_offsets(&path, 30, 9);
        let good = fs::read(&path).unwrap();
        // After the frame that raised the incarnation: repairable.
        flip(&path, off[20] + HEADER as u64 + 1, 0x01);
        let flipped = fs::read(&path).unwrap();
        let plan = repair_plan(&path, 0).unwrap().expect("a cut is planned");
        assert_eq!((plan.offset, plan.frames_after), (off[20], 9));
        assert_eq!(
            fs::read(&path).unwrap(),
            flipped,
            "planning changes nothing"
        );
        let (mut wal, rec) = Wal::open_repair(&path).unwrap();
        assert_eq!(rec.repaired.as_ref(), Some(&plan));
        assert_eq!(rec.store.as_ref(), Some(&stores[19]));
        assert_eq!(rec.truncated_bytes, plan.bytes);
        assert_eq!(file_len(&path), off[20]);
        wal.save(&stores[29]).unwrap();
        drop(wal);
        let (_, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), Some(&stores[29]));
        // Before it: the repaired log would be behind its incarnation
        // record, so even --repair refuses, and changes nothing.
        fs::write(&path, &good).unwrap();
        IncRecord { inc: 2, seq: 10 }
            .write(&inc_path(&path))
            .unwrap();
        flip(&path, off[5] + HEADER as u64 + 1, 0x01);
        let flipped = fs::read(&path).unwrap();
        let e = repair_plan(&path, 0).unwrap_err();
        assert!(as_behind(&e).is_some(), "{e}");
        let e = Wal::open_repair(&path).err().expect("refused");
        let b = as_behind(&e).unwrap_or_else(|| panic!("{e}"));
        assert_eq!((b.recorded, b.found), ((2, 10), Some((1, 5))));
        assert!(e.to_string().contains("resync"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), flipped);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_valid_frame_out_of_sequence_is_corruption_even_when_last() {
        let d = dir("seqgap");
        let path = d.join("p0.wal");
        let (stores, off) = saves_with_offsets(&path, 6, 99);
        // Drop frame 5 of 6 (a hole at a frame boundary): frame 6 follows 4.
        let mut b = fs::read(&path).unwrap();
        b.drain(off[4] as usize..off[5] as usize);
        fs::write(&path, &b).unwrap();
        let e = Wal::open(&path).err().expect("a gap is refused");
        let c = as_corruption(&e).unwrap();
        assert_eq!((c.offset, c.frames_after), (off[4], 0));
        assert!(c.why.contains("frame number 6 after 4"), "{c}");
        assert_eq!(fs::read(&path).unwrap(), b);
        let (_, rec) = Wal::open_repair(&path).unwrap();
        assert_eq!(rec.store.as_ref(), Some(&stores[3]));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn the_incarnation_record_follows_the_log_and_catches_it_going_back() {
        let d = dir("increc");
        let path = d.join("p0.wal");
        let rec_path = inc_path(&path);
        assert_eq!(rec_path, d.join("p0.inc"));
        let (_, rec) = reopen(&path);
        assert!(rec.fresh);
        assert_eq!(
            IncRecord::read(&rec_path).unwrap(),
            None,
            "nothing saved yet"
        );
        let (stores, off) = saves_with_offsets(&path, 20, 12);
        // Written by the first save, then by the save that raised the
        // incarnation (frame 13), not by the others.
        assert_eq!(
            IncRecord::read(&rec_path).unwrap(),
            Some(IncRecord { inc: 2, seq: 13 })
        );
        let (_, rec) = reopen(&path);
        assert!(!rec.fresh);
        let good = fs::read(&path).unwrap();
        // Truncated at a frame boundary before the record's frame: behind.
        for cut in [off[12], off[5], off[5] + 7] {
            fs::write(&path, &good[..cut as usize]).unwrap();
            let e = Wal::open(&path).err().expect("behind");
            let b = as_behind(&e).unwrap_or_else(|| panic!("{e}"));
            assert_eq!(b.recorded, (2, 13));
            assert!(e.to_string().contains("truncated or restored"), "{e}");
            assert_eq!(fs::read(&path).unwrap(), &good[..cut as usize]);
        }
        // Cut after the record's frame: a torn tail there is cut as before.
        fs::write(&path, &good[..off[15] as usize + 5]).unwrap();
        let (_, rec) = reopen(&path);
        assert_eq!(rec.store.as_ref(), Some(&stores[14]));
        // Missing or emptied log: behind, and no log is created.
        for empty in [None, Some(&b""[..]), Some(&FILE_HEADER[..])] {
            match empty {
                None => fs::remove_file(&path).unwrap(),
                Some(b) => fs::write(&path, b).unwrap(),
            }
            let e = Wal::open(&path).err().expect("lost log");
            let b = as_behind(&e).unwrap_or_else(|| panic!("{e}"));
            assert_eq!(b.found, None);
            assert!(e.to_string().contains("storage was lost"), "{e}");
            assert_eq!(path.exists(), empty.is_some());
        }
        // A damaged record is refused, not guessed.
        fs::write(&path, &good).unwrap();
        flip(&rec_path, 9, 0x04);
        let e = Wal::open(&path).err().expect("bad record");
        assert!(
            e.to_string().contains("not a valid incarnation record"),
            "{e}"
        );
        // No record (a log from before records): trusted, and recorded.
        fs::remove_file(&rec_path).unwrap();
        let (_, rec) = reopen(&path);
        assert!(!rec.fresh);
        assert_eq!(
            IncRecord::read(&rec_path).unwrap(),
            Some(IncRecord { inc: 2, seq: 20 })
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn compaction_raises_the_record_so_an_older_copy_is_refused() {
        let d = dir("compact_rec");
        let path = d.join("p0.wal");
        let (stores, _) = saves_with_offsets(&path, 10, 99);
        let old = fs::read(&path).unwrap();
        let (mut wal, _) = reopen(&path);
        wal.compact().unwrap();
        assert_eq!(
            IncRecord::read(&inc_path(&path)).unwrap(),
            Some(IncRecord { inc: 1, seq: 11 })
        );
        drop(wal);
        let (mut wal, rec) = reopen(&path);
        assert_eq!((rec.store.as_ref(), rec.frames), (Some(&stores[9]), 1));
        let mut next = stores[9].clone();
        next.kv
            .insert(99, next.kv.values().next().copied().unwrap());
        wal.save(&next).unwrap();
        drop(wal);
        // The copy from before the compaction ends at frame 10 < 11.
        fs::write(&path, &old).unwrap();
        let e = Wal::open(&path).err().expect("an older copy");
        assert!(as_behind(&e).is_some(), "{e}");
        let _ = fs::remove_dir_all(&d);
    }

    /// Writes `stores` as a format-2 log: a snapshot, then deltas.
    fn write_v2(path: &Path, stores: &[PartStore]) -> Vec<u64> {
        let mut b = FILE_HEADER.to_vec();
        b[7] = 2;
        let mut offsets = Vec::new();
        for (i, st) in stores.iter().enumerate() {
            let p = if i == 0 {
                postcard::to_allocvec(&Frame::<&Delta, _>::Snapshot(st)).unwrap()
            } else {
                let d = diff(&stores[i - 1], st).unwrap();
                postcard::to_allocvec(&Frame::<_, &PartStore>::Delta(&d)).unwrap()
            };
            offsets.push(b.len() as u64);
            b.extend((p.len() as u32).to_le_bytes());
            b.extend(crc32fast::hash(&p).to_le_bytes());
            b.extend(p);
        }
        fs::write(path, &b).unwrap();
        offsets
    }

    #[test]
    fn a_format_2_log_is_migrated_or_refused_when_corrupt() {
        let d = dir("v2");
        let path = d.join("p0.wal");
        let seq = realistic_sequence();
        // Clean, and with a torn last frame: migrated to one snapshot.
        for torn in [false, true] {
            let _ = fs::remove_file(inc_path(&path));
            let off = write_v2(&path, &seq);
            if torn {
                let len = file_len(&path);
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(len - 3)
                    .unwrap();
            }
            let want = &seq[seq.len() - 1 - torn as usize];
            let (mut wal, rec) = reopen(&path);
            assert_eq!(rec.migrated_from, Some(2));
            assert_eq!(rec.store.as_ref(), Some(want));
            assert_eq!(rec.truncated_bytes > 0, torn);
            assert_eq!(rec.frames as usize, seq.len() - torn as usize);
            let b = fs::read(&path).unwrap();
            assert_eq!(&b[..8], &FILE_HEADER);
            let snapshot = encode(1, &Frame::<&Delta, _>::Snapshot(want)).unwrap();
            assert_eq!(&b[8..], &snapshot[..], "one format-3 snapshot");
            assert_eq!(
                IncRecord::read(&inc_path(&path)).unwrap(),
                Some(IncRecord {
                    inc: want.inc,
                    seq: 1
                })
            );
            // A restart on the migrated log appends format-3 frames.
            let mut next = want.clone();
            next.inc += 1;
            wal.save(&next).unwrap();
            drop(wal);
            let (_, rec) = reopen(&path);
            assert_eq!((rec.store.as_ref(), rec.migrated_from), (Some(&next), None));
            assert_eq!(rec.frames, 2);
            assert!(off.len() == seq.len());
        }
        // A flipped bit in frame 3 of 8: refused, unchanged, not migrated.
        let _ = fs::remove_file(inc_path(&path));
        let off = write_v2(&path, &seq);
        flip(&path, off[2] + V2_HEADER as u64 + 1, 0x20);
        let flipped = fs::read(&path).unwrap();
        let e = Wal::open(&path).err().expect("refused");
        let c = as_corruption(&e).unwrap_or_else(|| panic!("{e}"));
        assert_eq!((c.offset, c.frames_after), (off[2], seq.len() as u64 - 3));
        assert_eq!(fs::read(&path).unwrap(), flipped);
        assert!(!inc_path(&path).exists());
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
