//! A participant's start-up: open its log under the durability rules of
//! `disk` (a corrupt log or one behind its incarnation record is refused),
//! `--repair` (say what will be dropped, then cut), and two checks against
//! what HA has seen of this participant (`Wire::Seen`): one with no storage
//! at all must be one HA has never seen (else its storage was lost); one
//! with storage must not be behind the incarnation HA has seen (else its
//! whole data directory is an older copy). With storage, a silent HA (up to
//! `STORED_WAIT`) is no reason to refuse: the log's own incarnation record
//! guards it.
//!
//! Until a participant can rejoin as an empty replica resynced from the
//! others, a participant whose storage is lost or behind refuses to start:
//! coming back with the writes it acknowledged missing, as a healthy
//! replica, is what lost STABLE writes before (the peers may have pruned
//! them, so nothing repairs them).

use super::disk::{self, inc_path, IncRecord, Recovered, Wal};
use super::node::{request, store_path};
use super::spec::LiveSpec;
use super::wire::Wire;
use crate::protocol::types::Inc;
use stateright::actor::Id;
use std::path::Path;
use std::time::{Duration, Instant};

/// How a participant starts.
#[derive(Clone, Debug)]
pub struct Boot {
    /// Cut a corrupt log at its first bad frame (`dtm0 node --repair`).
    pub repair: bool,
    /// With no storage, start even if HA does not answer whether it has
    /// seen this participant (`dtm0 node --first-boot`). HA's "seen" is
    /// still obeyed when it answers.
    pub first_boot: bool,
    /// How long to wait for HA's answer when there is no storage (with
    /// storage, at most `STORED_WAIT`). Zero: HA is not asked (a process
    /// without a cluster, e.g. the bench's restart measure); then a
    /// participant without storage starts only with `first_boot`.
    pub ha_wait: Duration,
}

/// How long a participant WITH storage waits for HA's answer.
pub const STORED_WAIT: Duration = Duration::from_millis(500);

impl Default for Boot {
    fn default() -> Boot {
        Boot {
            repair: false,
            first_boot: false,
            ha_wait: Duration::from_secs(5),
        }
    }
}

/// Opens the log of participant `id` in `data` (creating `data`).
pub fn open_participant(
    spec: &LiveSpec,
    id: Id,
    data: &Path,
    boot: &Boot,
) -> Result<(Wal, Recovered), String> {
    let name = spec.name_of(id);
    let path = store_path(data, &name);
    // No record and no saved frame (a log of at most its 8-byte header):
    // a first boot, or storage lost entirely. Asked before anything is
    // created.
    let record = IncRecord::read(&inc_path(&path)).map_err(|e| format!("{name}: {e}"))?;
    let no_log = std::fs::metadata(&path).map_or(true, |m| m.len() <= 8);
    let seen = if record.is_none() && no_log {
        never_seen(spec, id, data, boot)?;
        0
    } else {
        ask_seen(spec, id, boot.ha_wait.min(STORED_WAIT)).unwrap_or(0)
    };
    std::fs::create_dir_all(data).map_err(|e| format!("--data {}: {e}", data.display()))?;
    if boot.repair {
        match disk::repair_plan(&path, seen) {
            Ok(Some(c)) => eprintln!(
                "{name}: --repair: cutting {} at byte {}: dropping {} bytes, the bad frame \
                 ({}) and the {} valid frame(s) after it; {} frame(s) before it are kept. \
                 Writes in the dropped frames may have been acknowledged (even STABLE) and are \
                 lost on this replica",
                c.path.display(),
                c.offset,
                c.bytes,
                c.why,
                c.frames_after,
                c.frames_before
            ),
            Ok(None) => {}
            Err(e) => return Err(format!("{name}: cannot start from its log: {e}")),
        }
    }
    Wal::open_checked(&path, boot.repair, seen).map_err(|e| {
        let hint = if disk::as_corruption(&e).is_some() {
            " (refusing to start; see `dtm0 node --help` on --repair)"
        } else {
            ""
        };
        format!("{name}: cannot start from its log: {e}{hint}")
    })
}

/// The highest incarnation of `id` HA has seen (0: none), asking again
/// for up to `within`; `None` if HA did not answer.
fn ask_seen(spec: &LiveSpec, id: Id, within: Duration) -> Option<Inc> {
    let ha = spec.addr_of(spec.cluster.ha_id())?;
    let me = usize::from(id) as u32;
    let deadline = Instant::now() + within;
    while !within.is_zero() {
        let t = Instant::now();
        let left = deadline.saturating_duration_since(t);
        let wait = left.clamp(Duration::from_millis(10), Duration::from_millis(250));
        match request(&spec.auth, ha, &Wire::Seen { id: me }, wait) {
            Ok(Wire::SeenInc { id, inc }) if id == me => return Some(inc),
            // No answer (HA not up yet?), or not HA's: ask again.
            Ok(_) | Err(_) => std::thread::sleep(wait.saturating_sub(t.elapsed())),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    None
}

/// Refuses to start `id` empty if HA has seen an incarnation of it; if HA
/// does not answer within `boot.ha_wait`, refuses unless `first_boot`.
fn never_seen(spec: &LiveSpec, id: Id, data: &Path, boot: &Boot) -> Result<(), String> {
    let name = spec.name_of(id);
    let ha = spec
        .addr_of(spec.cluster.ha_id())
        .ok_or("no address for HA")?;
    match ask_seen(spec, id, boot.ha_wait) {
        Some(0) => return Ok(()),
        Some(inc) => {
            return Err(format!(
                "{name}: no log in {} but HA has seen incarnation {inc} of {name}: its \
                     storage was lost. Starting it empty would rejoin as a healthy replica \
                     without the writes it acknowledged; rejoining as an empty replica needs \
                     a resync from the other participants, which is not built: refusing to start",
                data.display()
            ));
        }
        None => {}
    }
    if boot.first_boot {
        tracing::warn!(
            "{name}: HA ({ha}) did not answer within {:?}; starting empty (--first-boot)",
            boot.ha_wait
        );
        return Ok(());
    }
    Err(format!(
        "{name}: no log in {} and HA ({ha}) did not answer within {:?} whether it has seen \
         {name} before; starting empty could bring back, as healthy, a participant whose \
         storage was lost. Start HA first, or pass --first-boot if {name} has never run",
        data.display(),
        boot.ha_wait
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::wire;
    use crate::protocol::types::Inc;
    use std::net::UdpSocket;
    use std::sync::Arc;

    /// A cluster whose HA address is a plain socket of the test's.
    fn setup(tag: &str) -> (Arc<LiveSpec>, UdpSocket, std::path::PathBuf) {
        let a = crate::live::procs::free_addrs(5).unwrap();
        let text = format!(
            "ha = \"{}\"\nparticipants = [\"{}\", \"{}\", \"{}\"]\n[[originators]]\nname = \"o\"\naddr = \"{}\"\n",
            a[4], a[0], a[1], a[2], a[3]
        );
        let spec = Arc::new(LiveSpec::parse(&text).unwrap());
        let ha = UdpSocket::bind(a[4]).unwrap();
        let dir = std::env::temp_dir().join(format!("dtm0-boot-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (spec, ha, dir)
    }

    /// Plays HA: answers one `Seen` request with `inc`.
    fn answer(ha: UdpSocket, inc: Inc) -> std::thread::JoinHandle<u32> {
        // Test clusters on loopback carry no key file: the keyless tag.
        let auth = crate::live::auth::Auth::keyless();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            let (len, from) = ha.recv_from(&mut buf).unwrap();
            let Ok(Wire::Seen { id }) = wire::open(&auth, &buf[..len]) else {
                panic!("not a Seen request");
            };
            ha.send_to(&wire::seal(&auth, &Wire::SeenInc { id, inc }), from)
                .unwrap();
            id
        })
    }

    fn quick(first_boot: bool) -> Boot {
        Boot {
            first_boot,
            ha_wait: Duration::from_millis(150),
            ..Boot::default()
        }
    }

    #[test]
    fn no_storage_starts_only_if_ha_never_saw_it() {
        let (spec, ha, dir) = setup("seen");
        let p2 = spec.cluster.participant_id(1);
        // HA has seen incarnation 3 of p2: refused, nothing created.
        let t = answer(ha.try_clone().unwrap(), 3);
        let e = open_participant(&spec, p2, &dir, &quick(true))
            .err()
            .expect("refused");
        assert_eq!(t.join().unwrap(), usize::from(p2) as u32);
        assert!(e.contains("HA has seen incarnation 3 of p2"), "{e}");
        assert!(!dir.exists(), "nothing created");
        // HA never heard of it: a first boot.
        let t = answer(ha, 0);
        let (_, rec) = open_participant(&spec, p2, &dir, &Boot::default()).unwrap();
        t.join().unwrap();
        assert!(rec.fresh && rec.store.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_silent_ha_refuses_a_first_boot_unless_told() {
        let (spec, ha, dir) = setup("silent");
        drop(ha); // nobody answers
        let p1 = spec.cluster.participant_id(0);
        let t = Instant::now();
        let e = open_participant(&spec, p1, &dir, &quick(false))
            .err()
            .expect("refused");
        assert!(t.elapsed() >= Duration::from_millis(150));
        assert!(
            e.contains("did not answer") && e.contains("--first-boot"),
            "{e}"
        );
        assert!(!dir.exists());
        let (mut wal, rec) = open_participant(&spec, p1, &dir, &quick(true)).unwrap();
        assert!(rec.fresh);
        // Once it has saved, HA is not asked again.
        let st = crate::protocol::participant::PartStore {
            inc: 1,
            kv: Default::default(),
            log: Vec::new().into(),
            base: 0,
            ghost: Default::default(),
        };
        wal.save(&st).unwrap();
        drop(wal);
        // With storage, a silent HA is no reason to refuse.
        let (_, rec) = open_participant(&spec, p1, &dir, &quick(false)).unwrap();
        assert!(!rec.fresh);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn storage_older_than_ha_has_seen_is_refused() {
        let (spec, ha, dir) = setup("older");
        let p3 = spec.cluster.participant_id(2);
        let path = store_path(&dir, "p3");
        std::fs::create_dir_all(&dir).unwrap();
        let (mut wal, _) = Wal::open(&path).unwrap();
        let mut st = crate::protocol::participant::PartStore {
            inc: 1,
            kv: Default::default(),
            log: Vec::new().into(),
            base: 0,
            ghost: Default::default(),
        };
        wal.save(&st).unwrap();
        st.inc = 2;
        wal.save(&st).unwrap();
        drop(wal);
        let (log, rec) = (std::fs::read(&path).unwrap(), inc_path(&path));
        let record = std::fs::read(&rec).unwrap();
        // HA has seen incarnation 3: this log and its record are an old copy.
        let t = answer(ha.try_clone().unwrap(), 3);
        let e = open_participant(&spec, p3, &dir, &quick(false))
            .err()
            .expect("refused");
        t.join().unwrap();
        assert!(
            e.contains("HA has seen incarnation 3") && e.contains("older copy"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), log, "nothing changed");
        assert_eq!(std::fs::read(&rec).unwrap(), record);
        // HA has seen incarnation 2, as the log holds: it starts.
        let t = answer(ha, 2);
        let (_, r) = open_participant(&spec, p3, &dir, &quick(false)).unwrap();
        t.join().unwrap();
        assert_eq!(r.store.map(|s| s.inc), Some(2));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
