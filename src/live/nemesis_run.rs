//! `dtm0 nemesis`, the half with processes: starts a local cluster (HA
//! and the participants as `dtm0` processes, on free loopback ports, in a
//! fresh data directory), runs puts, dels and gets on a few colliding keys
//! from every originator slot (each write one `dtm0 client` process, so it
//! can be killed), injects the seed's faults, heals, waits for
//! quiescence, reads every node's final state and judges it
//! (`check_reads` here; H1 and the model's properties through the
//! caller's `Judge`, since the live runtime does not see the model).

use super::chaos::WireChaos;
use super::client;
use super::disk::Wal;
use super::nemesis::{self, Check, FaultKind, Final, HOp, OpKind, Outcome, Planned, Rng, Shape};
use super::node::{request, store_path};
use super::procs::{die_with_parent, free_addrs, Children};
use super::spec::{LiveFile, LiveSpec, OrigFile, Timing};
use super::wire::{Fault, Filter, Wire};
use crate::protocol::actor::Dtm0State;
use crate::protocol::ha::HaState;
use crate::protocol::msg::{HaSt, HaTable};
use crate::protocol::originator::OrigStore;
use crate::protocol::types::{Inc, Key};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct NemesisOpts {
    /// The `dtm0` binary (for the nodes and the clients).
    pub exe: PathBuf,
    /// A cluster file to take the shape from (participants, originator
    /// slots, variants, `k`, timing); its addresses are not used.
    pub cluster: Option<PathBuf>,
    pub duration: Duration,
    pub seed: u64,
    pub faults: Vec<FaultKind>,
    pub variants: Vec<String>,
    /// Keys `k1..=kN`, written by every slot.
    pub keys: Key,
    /// Where a failing run's history goes.
    pub history: PathBuf,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Set by Ctrl-C: stop at once (the cluster is killed).
    pub stop: Arc<AtomicBool>,
    /// The model's half of the verdicts (see `nemesis::Judge`).
    pub judge: nemesis::Judge,
}

/// What one injected fault did.
#[derive(Clone, Debug, Serialize)]
pub struct FaultRecord {
    pub planned: Planned,
    /// When it began and ended, seconds since the start.
    pub began_s: f64,
    pub ended_s: f64,
    pub what: String,
    /// A process was killed and started again.
    pub kill_restart: bool,
    /// Seconds from the restart (or SIGCONT, or the end of a wire fault)
    /// until the target was ONLINE again in its own view; `None` where it
    /// does not apply or it never was (then `what` says so).
    pub recovery_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NemesisReport {
    pub seed: u64,
    pub duration_s: f64,
    pub seconds: f64,
    pub participants: usize,
    pub clients: Vec<String>,
    pub keys: Key,
    pub variants: Vec<String>,
    pub faults_enabled: Vec<&'static str>,
    /// Ops by kind, then by outcome.
    pub ops: BTreeMap<String, BTreeMap<String, u64>>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// SIGKILLs followed by a restart (participants, HA, clients).
    pub kill_restart_cycles: u64,
    /// Planned faults not injected: the run's time was up (an earlier
    /// fault's target was slow to come back), or Ctrl-C.
    pub faults_skipped: usize,
    pub recovery_s: RecoveryStats,
    pub quiescent: bool,
    pub checks: Vec<Check>,
    pub passed: bool,
    pub schedule: Vec<Planned>,
    pub fault_log: Vec<FaultRecord>,
    pub notes: Vec<String>,
    /// Written when the run failed: the history, for inspection.
    pub history_file: Option<String>,
    /// Kept when the run failed: the nodes' data and logs.
    pub data_dir: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RecoveryStats {
    pub samples: usize,
    pub mean: f64,
    pub max: f64,
}

/// A failing run's history: everything to look at it again.
#[derive(Serialize)]
struct History<'a> {
    report: &'a NemesisReport,
    cluster_file: String,
    ops: &'a [HOp],
}

/// The ops every client thread appends to, and the pid of each slot's
/// running client process (0: none), for the nemesis to kill.
struct Shared {
    t0: Instant,
    ops: Mutex<Vec<HOp>>,
    pids: Vec<AtomicU32>,
    next_id: AtomicU64,
    stop_clients: AtomicBool,
}

impl Shared {
    fn us(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }
}

struct Driver {
    exe: PathBuf,
    file: PathBuf,
    dir: PathBuf,
    spec: Arc<LiveSpec>,
    procs: Children,
    /// Participants currently SIGSTOPped.
    stopped: Vec<String>,
    t0: Instant,
    notes: Vec<String>,
    /// Ctrl-C: every wait ends early.
    stop: Arc<AtomicBool>,
}

impl Driver {
    fn s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    fn addr(&self, name: &str) -> std::net::SocketAddr {
        let id = self.spec.parse_id(name).expect("a known process");
        self.spec.addr_of(id).expect("an address")
    }

    /// Starts `name` (HA or a participant) with its log on stderr appended
    /// to `logs/NAME.log`, and waits until it answers (`wait`).
    fn start(&mut self, name: &str, wait: Duration) -> Result<(), String> {
        let mut cmd = Command::new(&self.exe);
        if name == "ha" {
            cmd.args(["ha", "--data"]).arg(self.dir.join("ha"));
        } else {
            cmd.args(["node", "--id", name, "--data"])
                .arg(self.dir.join(name));
        }
        cmd.arg("--cluster").arg(&self.file).arg("--faults");
        if self.spec.check_mutants(false).is_err() {
            // A mutant asked for with --variant: the nemesis is where one
            // is run on purpose.
            cmd.arg("--allow-mutants");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("logs").join(format!("{name}.log")))
            .map_err(|e| format!("{name}: log file: {e}"))?;
        cmd.stdout(Stdio::null()).stderr(log);
        self.procs
            .spawn(name, &mut cmd)
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        super::node::wait_answering(&self.spec.auth, self.addr(name), name, wait)
    }

    fn inspect(&self, name: &str) -> Option<serde_json::Value> {
        match request(
            &self.spec.auth,
            self.addr(name),
            &Wire::Inspect,
            Duration::from_millis(500),
        ) {
            Ok(Wire::Json(j)) => serde_json::from_str(&j).ok(),
            _ => None,
        }
    }

    /// A participant's incarnation, its own view of HA, and whether
    /// everything it executed is committed and nothing is held.
    fn part_status(&self, name: &str) -> Option<PartStatus> {
        let v = self.inspect(name)?;
        let me = usize::from(self.spec.parse_id(name).ok()?);
        let (inc, view, ndur, log_len) = match &v["state"]["Participant"] {
            serde_json::Value::Null => {
                let s = &v["summary"];
                (
                    s["inc"].as_u64()?,
                    serde_json::from_value::<HaTable>(s["view"].clone()).ok()?,
                    s["ndur"].as_u64()?,
                    s["log_len"].as_u64()?,
                )
            }
            p => (
                p["inc"].as_u64()?,
                serde_json::from_value::<HaTable>(p["view"].clone()).ok()?,
                p["ndur"].as_u64()?,
                p["log"].as_array()?.len() as u64,
            ),
        };
        let (vinc, st) = view.get(me);
        Some(PartStatus {
            online: vinc as u64 == inc && st == HaSt::Online,
            settled: ndur == log_len
                && v["held"].as_u64() == Some(0)
                && !v["commit_pending"].as_bool().unwrap_or(false),
            snapshot: format!("{inc}/{ndur}/{log_len}/{}", v["counters"]["saves"]),
            truncated_bytes: v["counters"]["truncated_bytes"].as_u64().unwrap_or(0),
        })
    }

    fn ha_state(&self) -> Option<HaState> {
        let v = self.inspect("ha")?;
        match serde_json::from_value::<Dtm0State>(v["state"].clone()).ok()? {
            Dtm0State::Ha(h) => Some(h),
            _ => None,
        }
    }

    /// Seconds until `name` is ONLINE in its own view (at most `limit`).
    fn wait_online(&self, name: &str, limit: Duration) -> Option<f64> {
        let t = Instant::now();
        while t.elapsed() < limit && !self.stop.load(Ordering::SeqCst) {
            if self.part_status(name).is_some_and(|s| s.online) {
                return Some(t.elapsed().as_secs_f64());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn signal(&self, name: &str, sig: libc::c_int) -> Result<(), String> {
        let pid = self
            .procs
            .pid(name)
            .ok_or_else(|| format!("{name}: not running"))?;
        // SAFETY: a signal to our own child's pid, which we have not reaped.
        if unsafe { libc::kill(pid as libc::pid_t, sig) } != 0 {
            return Err(format!(
                "signal {sig} to {name}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// A fault-layer command to a node (started with `--faults`).
    fn fault(&self, name: &str, f: Fault) -> Result<(), String> {
        match request(
            &self.spec.auth,
            self.addr(name),
            &Wire::Fault(f.clone()),
            Duration::from_secs(2),
        )? {
            Wire::Json(j) if j.contains("\"ok\":true") => Ok(()),
            other => Err(format!("{name}: fault command {f:?} refused: {other:?}")),
        }
    }

    /// Where a wire fault reaches a node: the fault layer's datagram-level
    /// chaos (`Fault::Chaos`), applied to incoming datagrams BELOW the
    /// session layer, which must absorb it (retransmit what is lost, drop
    /// duplicates, deliver in order). Rates are drawn from `detail`:
    /// - loss: 10-40% of datagrams lost;
    /// - dup: 10-40% delivered twice;
    /// - reorder: 30% held back by up to 5-30 ms, so later ones overtake;
    /// - delay: every datagram held back by up to 50-300 ms.
    ///
    /// `on`: start the fault; otherwise end it (held datagrams released).
    fn wire_fault(
        &self,
        kind: FaultKind,
        node: &str,
        detail: u64,
        on: bool,
    ) -> Result<String, String> {
        let off = WireChaos {
            loss_pct: 0,
            dup_pct: 0,
            reorder_pct: 0,
            delay_ms: 0,
            seed: detail,
        };
        if !on {
            self.fault(node, Fault::Chaos(off))?;
            return Ok(String::new());
        }
        let pct = 10 + (detail % 31) as u8;
        let c = match kind {
            FaultKind::Loss => WireChaos {
                loss_pct: pct,
                ..off
            },
            FaultKind::Dup => WireChaos {
                dup_pct: pct,
                ..off
            },
            FaultKind::Reorder => WireChaos {
                reorder_pct: 30,
                delay_ms: 5 + (detail % 26) as u32,
                ..off
            },
            FaultKind::Delay => WireChaos {
                reorder_pct: 100,
                delay_ms: 50 + (detail % 251) as u32,
                ..off
            },
            _ => return Err(format!("{}: not a wire fault", kind.name())),
        };
        self.fault(node, Fault::Chaos(c))?;
        Ok(format!(
            "incoming datagrams: {}% lost, {}% duplicated, {}% held up to {} ms",
            c.loss_pct, c.dup_pct, c.reorder_pct, c.delay_ms
        ))
    }

    /// Injects one planned fault and undoes it (`hold_ms` later).
    fn inject(&mut self, p: &Planned, shared: &Shared) -> FaultRecord {
        let began_s = self.s();
        let hold = Duration::from_millis(p.hold_ms);
        let mut rec = FaultRecord {
            planned: p.clone(),
            began_s,
            ended_s: began_s,
            what: String::new(),
            kill_restart: false,
            recovery_s: None,
        };
        let limit = Duration::from_secs(20);
        let r: Result<(), String> = (|| {
            match p.kind {
                FaultKind::Kill if p.target.starts_with('p') => {
                    self.procs.kill(&p.target)?;
                    std::thread::sleep(hold);
                    let t = Instant::now();
                    self.start(&p.target, Duration::from_secs(10))?;
                    rec.kill_restart = true;
                    rec.recovery_s = self.wait_online(&p.target, limit).map(|_| secs(t));
                    rec.what = format!("kill -9, down {} ms, restarted", p.hold_ms);
                }
                FaultKind::Kill => {
                    let slot = self
                        .spec
                        .cluster
                        .originators
                        .iter()
                        .position(|o| o.name == p.target)
                        .ok_or("no such client")?;
                    let pid = shared.pids[slot].load(Ordering::SeqCst);
                    if pid == 0 {
                        rec.what = "no client running: nothing killed".into();
                    } else {
                        // SAFETY: a signal to a client process its thread has not reaped.
                        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                        rec.kill_restart = true;
                        rec.what =
                            format!("kill -9 of client pid {pid} (its slot's next op restarts it)");
                    }
                }
                FaultKind::Stop => {
                    self.signal(&p.target, libc::SIGSTOP)?;
                    self.stopped.push(p.target.clone());
                    std::thread::sleep(hold);
                    // What HA made of the silence, before the SIGCONT.
                    let idx = usize::from(self.spec.parse_id(&p.target)?);
                    let seen = self.ha_state().map_or("?", |h| h.table.get(idx).1.name());
                    self.signal(&p.target, libc::SIGCONT)?;
                    self.stopped.retain(|x| *x != p.target);
                    rec.recovery_s = self.wait_online(&p.target, limit);
                    rec.what = format!(
                        "SIGSTOP for {} ms (HA's table then: {seen}), SIGCONT",
                        p.hold_ms
                    );
                }
                FaultKind::RestartHa => {
                    self.procs.kill("ha")?;
                    std::thread::sleep(hold);
                    let t = Instant::now();
                    self.start("ha", Duration::from_secs(10))?;
                    rec.kill_restart = true;
                    let n = self.spec.n();
                    while t.elapsed() < limit
                        && !self.stop.load(Ordering::SeqCst)
                        && !self.ha_state().is_some_and(|h| nemesis::all_online(&h, n))
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let ok = self.ha_state().is_some_and(|h| nemesis::all_online(&h, n));
                    rec.recovery_s = ok.then(|| t.elapsed().as_secs_f64());
                    rec.what = format!("HA kill -9, down {} ms, restarted", p.hold_ms);
                }
                FaultKind::TornTail => {
                    // Stopped first, so that no save is under way.
                    self.signal(&p.target, libc::SIGSTOP)?;
                    std::thread::sleep(Duration::from_millis(20));
                    self.procs.kill(&p.target)?;
                    let bytes = torn_frame(p.detail);
                    let path = store_path(&self.dir.join(&p.target), &p.target);
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .and_then(|mut f| f.write_all(&bytes))
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    std::thread::sleep(hold);
                    let t = Instant::now();
                    self.start(&p.target, Duration::from_secs(10))?;
                    rec.kill_restart = true;
                    let cut = self.part_status(&p.target).map_or(0, |s| s.truncated_bytes);
                    rec.recovery_s = self.wait_online(&p.target, limit).map(|_| secs(t));
                    rec.what = format!(
                        "stopped, kill -9, {} torn bytes appended to its log, restarted: it cut {cut}",
                        bytes.len()
                    );
                }
                k => {
                    rec.what = self.wire_fault(k, &p.target, p.detail, true)?;
                    std::thread::sleep(hold);
                    self.wire_fault(k, &p.target, p.detail, false)?;
                    rec.recovery_s = self.wait_online(&p.target, limit);
                    rec.what += &format!(" for {} ms", p.hold_ms);
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            rec.what = format!("{} (FAILED: {e})", rec.what);
        } else if rec.recovery_s.is_none() && p.target.starts_with('p') {
            rec.what += "; NOT back ONLINE within 20 s";
        }
        rec.ended_s = self.s();
        rec
    }

    /// Ends every fault: continues stopped participants, clears every
    /// node's fault layer, starts whatever is down.
    fn heal(&mut self) {
        for name in std::mem::take(&mut self.stopped) {
            let _ = self.signal(&name, libc::SIGCONT);
        }
        for (name, st) in self.procs.exited() {
            self.notes.push(format!(
                "{name} exited by itself ({st}) at {:.3}s",
                self.s()
            ));
        }
        let mut names: Vec<String> = vec!["ha".into()];
        names.extend((1..=self.spec.n()).map(|p| format!("p{p}")));
        for name in names {
            if !self.procs.has(&name) {
                if let Err(e) = self.start(&name, Duration::from_secs(10)) {
                    self.notes.push(format!("heal: {e}"));
                }
            }
            let _ = self.fault(&name, Fault::Clear);
            let _ = self.fault(&name, Fault::Release(Filter::default()));
            let _ = self.fault(&name, Fault::HoldCommits(false));
        }
    }

    /// Waits (at most `limit`) until every participant is ONLINE in its
    /// own view and in HA's table, with nothing held or uncommitted, and
    /// nothing changed for 10 polls (0.5 s).
    fn quiescence(&self, limit: Duration) -> bool {
        let t = Instant::now();
        let (mut last, mut same) = (String::new(), 0);
        let n = self.spec.n();
        while t.elapsed() < limit && !self.stop.load(Ordering::SeqCst) {
            let mut snap = String::new();
            let mut ok = self.ha_state().is_some_and(|h| nemesis::all_online(&h, n));
            for p in 1..=n {
                match self.part_status(&format!("p{p}")) {
                    Some(s) => {
                        ok &= s.online && s.settled;
                        snap += &s.snapshot;
                        snap.push(' ');
                    }
                    None => ok = false,
                }
            }
            if ok && snap == last {
                same += 1;
                if same >= 10 {
                    return true;
                }
            } else {
                same = 0;
            }
            last = snap;
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

struct PartStatus {
    online: bool,
    settled: bool,
    snapshot: String,
    truncated_bytes: u64,
}

/// A torn last frame: a frame header promising more bytes than follow
/// (or a header cut short), as a crash in the middle of an append leaves.
fn torn_frame(detail: u64) -> Vec<u8> {
    let mut r = Rng::new(detail);
    if detail.is_multiple_of(2) {
        // A cut header: fewer bytes than any frame header.
        (0..r.range(1, 7)).map(|_| r.next_u64() as u8).collect()
    } else {
        let len = r.range(200, 4000) as u32;
        let mut b = len.to_le_bytes().to_vec();
        b.extend((0..4 + r.range(0, len as u64 / 2)).map(|_| r.next_u64() as u8));
        b
    }
}

/// The cluster file of a run: the shape of `base` (or 3 participants and
/// slots o, q, r), on fresh loopback ports, with ghosts recorded (the
/// judge reads them) and the extra variants.
fn cluster_file(base: Option<&LiveSpec>, variants: &[String]) -> Result<LiveFile, String> {
    let (n, names, mut vars, k, timing) = match base {
        Some(s) => (
            s.n(),
            s.file.originators.iter().map(|o| o.name.clone()).collect(),
            s.file.variants.clone(),
            s.file.k,
            s.file.timing.clone(),
        ),
        None => (
            3,
            vec!["o".to_string(), "q".into(), "r".into()],
            vec!["pruning".to_string()],
            None,
            Timing {
                commit_delay_ms: 1,
                heartbeat_ms: 100,
                failure_timeout_ms: 1000,
            },
        ),
    };
    let names: Vec<String> = if names.is_empty() {
        vec!["o".into(), "q".into(), "r".into()]
    } else {
        names
    };
    vars.extend(variants.iter().cloned());
    let a = free_addrs(n + names.len() + 1)?;
    Ok(LiveFile {
        name: Some("nemesis".into()),
        variants: vars,
        k,
        ha: a[n + names.len()].to_string(),
        participants: a[..n].iter().map(|x| x.to_string()).collect(),
        originators: names
            .iter()
            .enumerate()
            .map(|(i, name)| OrigFile {
                name: name.clone(),
                addr: a[n + i].to_string(),
                scripts: Vec::new(),
                clock: Vec::new(),
            })
            .collect(),
        timing,
        ghosts: true,
        key: None,
    })
}

/// One client slot's loop: random puts, dels and gets on the keys until
/// told to stop. Writes are `dtm0 client` processes (waiting for STABLE),
/// reads are made here.
/// Where a client slot's processes come from and go: the `dtm0` binary,
/// the cluster file, the clients' data directory.
struct Paths {
    exe: PathBuf,
    file: PathBuf,
    data: PathBuf,
}

fn client_loop(
    paths: Paths,
    spec: Arc<LiveSpec>,
    slot: usize,
    seed: u64,
    keys: Key,
    sh: Arc<Shared>,
) {
    let Paths { exe, file, data } = paths;
    let name = spec.cluster.originators[slot].name.clone();
    let mut r = Rng::new(seed.wrapping_mul(31).wrapping_add(slot as u64 + 1));
    while !sh.stop_clients.load(Ordering::SeqCst) {
        let id = sh.next_id.fetch_add(1, Ordering::SeqCst);
        let key = 1 + (r.next_u64() % keys as u64) as Key;
        let op = match r.next_u64() % 10 {
            0..=4 => OpKind::Put { key, val: id },
            5..=6 => OpKind::Del { key },
            _ => OpKind::Get { key },
        };
        let start_us = sh.us();
        let outcome = match op {
            OpKind::Get { key } => match client::get(&spec, key, Duration::from_millis(500)) {
                Ok(g) => Outcome::Read {
                    value: g.value,
                    version: g.version,
                    tombstone: g.tombstone,
                },
                Err(e) => Outcome::Failed { error: e },
            },
            _ => write(&exe, &file, &data, &name, &op, &sh.pids[slot]),
        };
        let end_us = sh.us();
        sh.ops.lock().expect("ops").push(HOp {
            id,
            client: name.clone(),
            slot,
            op,
            start_us,
            end_us,
            outcome,
        });
    }
}

/// One write as a `dtm0 client` process of slot `name`, waiting for
/// STABLE (5 s at most); its pid is in `pid` while it runs.
fn write(
    exe: &Path,
    file: &Path,
    data: &Path,
    name: &str,
    op: &OpKind,
    pid: &AtomicU32,
) -> Outcome {
    let mut cmd = Command::new(exe);
    cmd.arg("client")
        .arg("--cluster")
        .arg(file)
        .args(["--slot", name, "--data"])
        .arg(data)
        .args(["--wait", "stable", "--timeout", "5", "--json"]);
    match op {
        OpKind::Put { key, val } => cmd.args(["put", &format!("k{key}"), &val.to_string()]),
        OpKind::Del { key } => cmd.args(["del", &format!("k{key}")]),
        OpKind::Get { .. } => unreachable!("reads are in-process"),
    };
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::Failed {
                error: format!("spawn: {e}"),
            }
        }
    };
    pid.store(child.id(), Ordering::SeqCst);
    let out = child.wait_with_output();
    pid.store(0, Ordering::SeqCst);
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            return Outcome::Failed {
                error: format!("wait: {e}"),
            }
        }
    };
    use std::os::unix::process::ExitStatusExt;
    if out.status.signal() == Some(libc::SIGKILL) {
        return Outcome::Killed;
    }
    if !out.status.success() {
        let e = String::from_utf8_lossy(&out.stderr);
        return Outcome::Failed {
            error: e.lines().next().unwrap_or("failed").to_string(),
        };
    }
    let parsed: Option<Outcome> = (|| {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let d = &v.as_array()?[0];
        let txid = d["txid"].as_str()?;
        let inc: Inc = txid
            .split('@')
            .next()?
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .ok()?;
        Some(Outcome::Acked {
            state: d["state"].as_str()?.to_string(),
            ts: d["version"].as_u64()?,
            inc,
            superseded: d["superseded"].as_bool()?,
        })
    })();
    parsed.unwrap_or_else(|| Outcome::Failed {
        error: format!(
            "unreadable client answer: {}",
            String::from_utf8_lossy(&out.stdout)
        ),
    })
}

/// The cluster file, its spec and the fault schedule of a run.
fn setup(o: &NemesisOpts) -> Result<(LiveFile, Arc<LiveSpec>, Vec<Planned>), String> {
    let base = match &o.cluster {
        Some(p) => Some(LiveSpec::load(p)?),
        None => None,
    };
    let lf = cluster_file(base.as_ref(), &o.variants)?;
    let spec = Arc::new(LiveSpec::from_file(lf.clone())?);
    let shape = Shape {
        participants: spec.n(),
        clients: spec
            .cluster
            .originators
            .iter()
            .map(|x| x.name.clone())
            .collect(),
        failure_timeout_ms: spec.file.timing.failure_timeout_ms,
    };
    let plan = nemesis::schedule(o.seed, o.duration.as_millis() as u64, &o.faults, &shape);
    Ok((lf, spec, plan))
}

/// The fault schedule a run with these options would follow.
pub fn plan(o: &NemesisOpts) -> Result<Vec<Planned>, String> {
    Ok(setup(o)?.2)
}

/// Runs the nemesis. `Err` for bad input or a cluster that would not
/// start; a run that found violations is `Ok` with `passed: false`.
pub fn run(o: &NemesisOpts) -> Result<NemesisReport, String> {
    let (lf, spec, plan) = setup(o)?;
    let clients: Vec<String> = spec
        .cluster
        .originators
        .iter()
        .map(|x| x.name.clone())
        .collect();
    let t0 = Instant::now();
    let dir = std::env::temp_dir().join(format!(
        "dtm0-nemesis-{}-{}",
        std::process::id(),
        client::now_us()
    ));
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join("cluster.toml");
    let text = toml::to_string(&lf).map_err(|e| e.to_string())?;
    std::fs::write(&file, &text).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut d = Driver {
        exe: o.exe.clone(),
        file: file.clone(),
        dir: dir.clone(),
        spec: spec.clone(),
        procs: Children::new(),
        stopped: Vec::new(),
        t0,
        notes: Vec::new(),
        stop: o.stop.clone(),
    };
    let say = |s: String| {
        if o.progress {
            eprintln!("nemesis: {s}");
        }
    };
    say(format!(
        "seed {}: {} faults planned over {:.0} s ({}); cluster {} participants, clients {}; data in {}",
        o.seed,
        plan.len(),
        o.duration.as_secs_f64(),
        o.faults.iter().map(|k| k.name()).collect::<Vec<_>>().join(","),
        spec.n(),
        clients.join(","),
        dir.display()
    ));
    d.start("ha", Duration::from_secs(10))?;
    for p in 1..=spec.n() {
        d.start(&format!("p{p}"), Duration::from_secs(10))?;
    }
    for p in 1..=spec.n() {
        if d.wait_online(&format!("p{p}"), Duration::from_secs(10))
            .is_none()
        {
            return Err(format!("p{p} did not come ONLINE at the start"));
        }
    }
    let shared = Arc::new(Shared {
        t0,
        ops: Mutex::new(Vec::new()),
        pids: clients.iter().map(|_| AtomicU32::new(0)).collect(),
        next_id: AtomicU64::new(1),
        stop_clients: AtomicBool::new(false),
    });
    let cdata = dir.join("clients");
    let mut threads = Vec::new();
    for slot in 0..clients.len() {
        let paths = Paths {
            exe: o.exe.clone(),
            file: file.clone(),
            data: cdata.clone(),
        };
        let (spec, sh, seed, keys) = (spec.clone(), shared.clone(), o.seed, o.keys);
        threads.push(std::thread::spawn(move || {
            client_loop(paths, spec, slot, seed, keys, sh)
        }));
    }
    // The faults, in the main thread (which owns the cluster's processes).
    let mut log: Vec<FaultRecord> = Vec::new();
    let mut next_progress = 5.0;
    // A fault that overran (a target slow to come back) delays the next
    // ones; none starts after the end of the run (counted as skipped).
    let over = |d: &Driver| o.stop.load(Ordering::SeqCst) || d.t0.elapsed() >= o.duration;
    let mut skipped = 0;
    for p in &plan {
        while d.t0.elapsed() < Duration::from_millis(p.at_ms) && !over(&d) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if over(&d) {
            skipped += 1;
            continue;
        }
        for (name, st) in d.procs.exited() {
            d.notes
                .push(format!("{name} exited by itself ({st}) at {:.3}s", d.s()));
        }
        let rec = d.inject(p, &shared);
        log.push(rec);
        if d.s() >= next_progress {
            next_progress = d.s() + 5.0;
            let ops = shared.ops.lock().expect("ops").len();
            say(format!(
                "{:.0}s/{:.0}s: {ops} ops, {} faults ({} kill/restart cycles)",
                d.s(),
                o.duration.as_secs_f64(),
                log.len(),
                log.iter().filter(|r| r.kill_restart).count()
            ));
        }
    }
    while d.t0.elapsed() < o.duration && !o.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    shared.stop_clients.store(true, Ordering::SeqCst);
    if o.stop.load(Ordering::SeqCst) {
        // Ctrl-C: kill the clients; the guard kills the cluster.
        for p in &shared.pids {
            let pid = p.load(Ordering::SeqCst);
            if pid != 0 {
                // SAFETY: a client process not yet reaped by its thread.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        for t in threads {
            let _ = t.join();
        }
        drop(d);
        let _ = std::fs::remove_dir_all(&dir);
        return Err("interrupted".into());
    }
    say(format!(
        "{:.1}s: healing, then waiting for quiescence",
        d.s()
    ));
    d.heal();
    for t in threads {
        let _ = t.join();
    }
    d.heal();
    let quiescent = d.quiescence(Duration::from_secs(30));
    if o.stop.load(Ordering::SeqCst) {
        drop(d);
        let _ = std::fs::remove_dir_all(&dir);
        return Err("interrupted".into());
    }
    say(format!(
        "{:.1}s: {}; reading the final states",
        d.s(),
        if quiescent {
            "quiescent"
        } else {
            "NOT quiescent after 30 s"
        }
    ));
    // Final reads: every key, after every write has returned.
    for key in 1..=o.keys {
        let start_us = shared.us();
        let outcome = match client::get(&spec, key, Duration::from_secs(1)) {
            Ok(g) => Outcome::Read {
                value: g.value,
                version: g.version,
                tombstone: g.tombstone,
            },
            Err(e) => Outcome::Failed { error: e },
        };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        shared.ops.lock().expect("ops").push(HOp {
            id,
            client: "final".into(),
            slot: usize::MAX,
            op: OpKind::Get { key },
            start_us,
            end_us: shared.us(),
            outcome,
        });
    }
    let ha = d.ha_state();
    let online: Vec<bool> = (1..=spec.n())
        .map(|p| d.part_status(&format!("p{p}")).is_some_and(|s| s.online))
        .collect();
    for (name, st) in d.procs.exited() {
        d.notes
            .push(format!("{name} exited by itself ({st}) at {:.3}s", d.s()));
    }
    // Stop the participants (a crash: their logs are the truth) and read
    // their logs.
    for p in 1..=spec.n() {
        let _ = d.procs.kill(&format!("p{p}"));
    }
    let _ = d.procs.kill("ha");
    let mut stores = Vec::new();
    for p in 1..=spec.n() {
        let name = format!("p{p}");
        let path = store_path(&dir.join(&name), &name);
        let (_, r) = Wal::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        stores.push((name, r.store.unwrap_or_else(empty_store)));
    }
    let orig_stores: Vec<Option<OrigStore>> = clients
        .iter()
        .map(|c| {
            std::fs::read(cdata.join(format!("{c}.inc")))
                .ok()
                .and_then(|b| postcard::from_bytes(&b).ok())
        })
        .collect();
    let ops = std::mem::take(&mut *shared.ops.lock().expect("ops"));
    // The verdicts.
    let collects = spec.cluster.collects();
    let mut checks = vec![
        Check::from_lines(
            "H1",
            "every acknowledged (STABLE) write durable on every replica, no replica behind one",
            &(o.judge.acked)(&ops, &stores, collects),
        ),
        Check::from_lines(
            "H2",
            "every read consistent with the writes before and during it",
            &nemesis::check_reads(&ops),
        ),
        Check::from_lines(
            "H3",
            "all participants ONLINE in their own view at the end",
            &online
                .iter()
                .enumerate()
                .filter(|(_, on)| !**on)
                .map(|(p, _)| format!("p{} is not", p + 1))
                .collect::<Vec<_>>(),
        ),
        Check::from_lines(
            "H4",
            "quiescence reached after healing (within 30 s)",
            &if quiescent {
                vec![]
            } else {
                vec!["not every participant ONLINE and settled within 30 s".to_string()]
            },
        ),
        Check::from_lines(
            "H5",
            "every injected fault carried out and every target back",
            &log.iter()
                .filter(|r| r.what.contains("FAILED") || r.what.contains("NOT back"))
                .map(|r| {
                    format!(
                        "{} {} at {:.1}s: {}",
                        r.planned.kind.name(),
                        r.planned.target,
                        r.began_s,
                        r.what
                    )
                })
                .chain(
                    d.notes
                        .iter()
                        .filter(|n| n.contains("exited by itself") || n.starts_with("heal"))
                        .cloned(),
                )
                .collect::<Vec<_>>(),
        ),
    ];
    match ha {
        Some(ha) => checks.extend((o.judge.model)(
            &Final {
                cluster: spec.cluster.clone(),
                keys: o.keys,
                stores: stores.iter().map(|(_, s)| s.clone()).collect(),
                orig_stores,
                ha,
            },
            &ops,
        )),
        None => checks.push(Check::from_lines(
            "Q",
            "model: HA's state readable",
            &["HA did not answer at the end".to_string()],
        )),
    }
    let passed = checks.iter().all(|c| c.holds);
    let mut by_op: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for op in &ops {
        *by_op
            .entry(op.op.name().to_string())
            .or_default()
            .entry(op.outcome.name().to_string())
            .or_default() += 1;
    }
    let mut by_fault: BTreeMap<String, u64> = BTreeMap::new();
    for r in &log {
        *by_fault
            .entry(r.planned.kind.name().to_string())
            .or_default() += 1;
    }
    let rec: Vec<f64> = log.iter().filter_map(|r| r.recovery_s).collect();
    let mut report = NemesisReport {
        seed: o.seed,
        duration_s: o.duration.as_secs_f64(),
        seconds: 0.0,
        participants: spec.n(),
        clients,
        keys: o.keys,
        variants: spec
            .cluster
            .variants
            .names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        faults_enabled: o.faults.iter().map(|k| k.name()).collect(),
        ops: by_op,
        faults: by_fault,
        kill_restart_cycles: log.iter().filter(|r| r.kill_restart).count() as u64,
        faults_skipped: skipped,
        recovery_s: RecoveryStats {
            samples: rec.len(),
            mean: rec.iter().sum::<f64>() / rec.len().max(1) as f64,
            max: rec.iter().copied().fold(0.0, f64::max),
        },
        quiescent,
        checks,
        passed,
        schedule: plan,
        fault_log: log,
        notes: std::mem::take(&mut d.notes),
        history_file: None,
        data_dir: None,
    };
    drop(d);
    report.seconds = t0.elapsed().as_secs_f64();
    if passed {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        report.data_dir = Some(dir.display().to_string());
        report.history_file = Some(o.history.display().to_string());
        let h = History {
            report: &report,
            cluster_file: text,
            ops: &ops,
        };
        let j = serde_json::to_string_pretty(&h).map_err(|e| e.to_string())?;
        std::fs::write(&o.history, j + "\n")
            .map_err(|e| format!("history {}: {e}", o.history.display()))?;
    }
    Ok(report)
}

fn empty_store() -> crate::protocol::participant::PartStore {
    crate::protocol::participant::PartStore {
        inc: 0,
        kv: Default::default(),
        log: Vec::new().into(),
        base: 0,
        ghost: Default::default(),
    }
}
