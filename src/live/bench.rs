//! `dtm0 bench live`: figures of the live prototype on loopback, with 3
//! participants (separate processes, real fsync) and in-process clients.
//!
//! - throughput: `clients` originator slots in parallel, each running
//!   incarnations of `batch` PUTs on random keys, each incarnation waiting
//!   until all its dtxs are DONE (persistent on every participant, which
//!   paces the clients to the slowest participant: there is no other flow
//!   control, and an overrun UDP socket drops datagrams); dtx/s over the
//!   run, and the kernel's count of dropped datagrams during it;
//! - time-to-STABLE, unloaded: one dtx at a time, from its issue to the
//!   first PERSISTENT notice at the originator; percentiles;
//! - restart time against log length: a participant log of N records
//!   (nothing pruned) and the time `Node::start` takes to replay it;
//! - with `down_seconds` > 0, a participant down under load: clients pace
//!   on STABLE (nothing is DONE while a replica is down), first with every
//!   participant up, then with p3 killed for `down_seconds` (no record can
//!   be pruned, so the survivors' logs grow and every commit hands the
//!   runtime a longer store), in windows of throughput and log length;
//!   then p3 restarts under the same load and the time until HA shows it
//!   ONLINE again is the recovery time.

use super::client::{self, Wait};
use super::disk::Wal;
use super::node::{request, Node};
use super::procs::{free_addrs, Children};
use super::spec::LiveSpec;
use super::wire::Wire;
use crate::protocol::participant::PartStore;
use crate::protocol::types::{Kv, Op, Rec, StateVec, TxId, Txr, Version};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct BenchOpts {
    pub seconds: f64,
    pub clients: usize,
    pub batch: usize,
    pub keys: u32,
    pub latency_samples: usize,
    pub log_lengths: Vec<usize>,
    pub commit_delay_ms: u64,
    pub data: PathBuf,
    /// Seconds a participant stays down under load (0: no such phase).
    pub down_seconds: f64,
    /// How long to wait for the restarted participant to be ONLINE.
    pub recovery_timeout: f64,
}

/// One window of a paced-on-STABLE run.
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    /// Seconds since the phase began, at the window's end.
    pub at_seconds: f64,
    pub dtx_per_second: f64,
    /// p1's log length at the window's end (none: p1 did not answer
    /// `inspect` within 2 s).
    pub log_records: Option<u64>,
}

/// A participant down under load (see the module doc).
#[derive(Clone, Debug, Serialize)]
pub struct DownReport {
    /// Clients pace on STABLE in both phases.
    pub healthy_seconds: f64,
    pub healthy_dtx_per_second: f64,
    pub down_seconds: f64,
    pub down_dtx_per_second: f64,
    /// down / healthy.
    pub ratio: f64,
    pub healthy_windows: Vec<Window>,
    pub down_windows: Vec<Window>,
    /// From p3's restart (under load) to HA showing it ONLINE.
    pub recovery_seconds: Option<f64>,
    /// p1's commits (fsyncs) during the down phase.
    pub down_commits: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    pub samples: usize,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RestartPoint {
    pub log_records: usize,
    pub log_bytes: u64,
    pub restart_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub participants: usize,
    pub clients: usize,
    pub batch: usize,
    pub keys: u32,
    pub commit_delay_ms: u64,
    /// Dtxs persistent on every participant during the run.
    pub dtxs_done: u64,
    /// UDP datagrams the kernel dropped for full receive buffers during the
    /// throughput run (`RcvbufErrors` of /proc/net/snmp, all sockets).
    pub udp_rcvbuf_drops: Option<u64>,
    pub seconds: f64,
    pub dtx_per_second: f64,
    /// fsyncs (commits) per participant during the throughput run, and dtxs
    /// per fsync: the group commit at work.
    pub commits_per_participant: Vec<u64>,
    pub dtx_per_commit: f64,
    pub time_to_stable_unloaded: Percentiles,
    pub time_to_executed_unloaded: Percentiles,
    pub restart: Vec<RestartPoint>,
    pub participant_down: Option<DownReport>,
}

fn pct(mut v: Vec<u64>) -> Percentiles {
    v.sort_unstable();
    let at = |q: f64| -> u64 {
        if v.is_empty() {
            return 0;
        }
        v[((v.len() as f64 - 1.0) * q).round() as usize]
    };
    Percentiles {
        samples: v.len(),
        p50_us: at(0.5),
        p90_us: at(0.9),
        p99_us: at(0.99),
        max_us: v.last().copied().unwrap_or(0),
    }
}

fn cluster_file(dir: &Path, clients: usize, commit_delay_ms: u64) -> Result<PathBuf, String> {
    let a = free_addrs(4 + clients)?;
    let mut t = format!(
        "name = \"bench\"\nvariants = [\"pruning\"]\nha = \"{}\"\nparticipants = [\"{}\", \"{}\", \"{}\"]\n",
        a[3], a[0], a[1], a[2]
    );
    let letters = "oqrstuvwxyzabcdefghijklmn";
    for c in 0..clients {
        let name: String = letters.chars().nth(c % letters.len()).unwrap().to_string()
            + &"o".repeat(c / letters.len());
        t += &format!(
            "\n[[originators]]\nname = \"{name}\"\naddr = \"{}\"\n",
            a[4 + c]
        );
    }
    t += &format!(
        "\n[timing]\ncommit_delay_ms = {commit_delay_ms}\nheartbeat_ms = 100\nfailure_timeout_ms = 10000\n"
    );
    let f = dir.join("cluster.toml");
    std::fs::write(&f, t).map_err(|e| e.to_string())?;
    Ok(f)
}

fn commits(spec: &LiveSpec) -> Vec<u64> {
    (0..spec.n())
        .map(|p| {
            let addr = spec.addr_of(spec.cluster.participant_id(p)).unwrap();
            match request(&spec.auth, addr, &Wire::Inspect, Duration::from_secs(2)) {
                Ok(Wire::Json(j)) => serde_json::from_str::<serde_json::Value>(&j)
                    .ok()
                    .and_then(|v| v["counters"]["commits"].as_u64())
                    .unwrap_or(0),
                _ => 0,
            }
        })
        .collect()
}

pub fn run(exe: &Path, o: &BenchOpts) -> Result<BenchReport, String> {
    let dir = o.data.join(format!("bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = cluster_file(&dir, o.clients.max(1), o.commit_delay_ms)?;
    let spec = Arc::new(LiveSpec::load(&file)?);
    let mut procs = Children::new();
    for name in ["ha", "p1", "p2", "p3"] {
        start(
            exe,
            &dir,
            &file,
            &spec,
            &mut procs,
            name,
            Duration::from_secs(10),
        )?;
    }
    let cdata = dir.join("clients");
    // Unloaded latency first: one dtx at a time on slot 0.
    let mut stable = Vec::new();
    let mut executed = Vec::new();
    for i in 0..o.latency_samples {
        let op = Op::Put {
            key: 1 + (i as u32 % o.keys),
            val: i as u64,
        };
        let r = client::run(
            &spec,
            0,
            &cdata,
            &[op],
            Wait::Stable,
            Duration::from_secs(10),
        )?;
        stable.extend(r.iter().filter_map(|d| d.stable_us));
        executed.extend(r.iter().filter_map(|d| d.executed_us));
    }
    // Throughput: every slot in parallel.
    let before = commits(&spec);
    let drops_before = rcvbuf_errors();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(o.seconds);
    let mut handles = Vec::new();
    for slot in 0..o.clients {
        let spec = spec.clone();
        let cdata = cdata.clone();
        let (batch, keys) = (o.batch, o.keys);
        handles.push(std::thread::spawn(move || -> Result<u64, String> {
            let mut n = 0u64;
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ slot as u64;
            while Instant::now() < deadline {
                let ops = random_puts(&mut x, batch, keys);
                let r = client::run(
                    &spec,
                    slot,
                    &cdata,
                    &ops,
                    Wait::Done,
                    Duration::from_secs(30),
                )?;
                n += r.len() as u64;
            }
            Ok(n)
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "a client thread panicked")??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let after = commits(&spec);
    let drops_after = rcvbuf_errors();
    let per: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let mean_commits = per.iter().sum::<u64>() as f64 / per.len().max(1) as f64;
    let participant_down = if o.down_seconds > 0.0 {
        Some(down_phase(exe, o, &dir, &file, &spec, &mut procs)?)
    } else {
        None
    };
    drop(procs);
    let restart = o
        .log_lengths
        .iter()
        .map(|&n| restart_point(&dir, n))
        .collect::<Result<Vec<_>, _>>()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(BenchReport {
        participants: 3,
        clients: o.clients,
        batch: o.batch,
        keys: o.keys,
        commit_delay_ms: o.commit_delay_ms,
        dtxs_done: total,
        udp_rcvbuf_drops: drops_after.zip(drops_before).map(|(a, b)| a - b),
        seconds: secs,
        dtx_per_second: total as f64 / secs,
        commits_per_participant: per,
        dtx_per_commit: total as f64 / mean_commits.max(1.0),
        time_to_stable_unloaded: pct(stable),
        time_to_executed_unloaded: pct(executed),
        restart,
        participant_down,
    })
}

/// `batch` PUTs on random keys of `1..=keys` (xorshift from `x`).
fn random_puts(x: &mut u64, batch: usize, keys: u32) -> Vec<Op> {
    (0..batch)
        .map(|_| {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            Op::Put {
                key: 1 + (*x % keys as u64) as u32,
                val: *x,
            }
        })
        .collect()
}

/// Starts process `name` of the bench cluster and waits until it answers.
fn start(
    exe: &Path,
    dir: &Path,
    file: &Path,
    spec: &LiveSpec,
    procs: &mut Children,
    name: &str,
    wait: Duration,
) -> Result<(), String> {
    let mut c = Command::new(exe);
    if name == "ha" {
        c.args(["ha", "--data"]).arg(dir.join("ha"));
    } else {
        c.args(["node", "--id", name, "--data"]).arg(dir.join(name));
    }
    c.arg("--cluster")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    procs
        .spawn(name, &mut c)
        .map_err(|e| format!("start {name}: {e}"))?;
    let addr = spec.addr_of(spec.parse_id(name)?).unwrap();
    super::node::wait_answering(&spec.auth, addr, name, wait)
}

/// The JSON `inspect` of process `name`, if it answers.
fn inspect(spec: &LiveSpec, name: &str) -> Option<serde_json::Value> {
    let addr = spec.addr_of(spec.parse_id(name).ok()?)?;
    match request(&spec.auth, addr, &Wire::Inspect, Duration::from_secs(2)) {
        Ok(Wire::Json(j)) => serde_json::from_str(&j).ok(),
        _ => None,
    }
}

/// A participant's log length from its `inspect` (whole or summarised).
fn log_records(v: &serde_json::Value) -> Option<u64> {
    v["summary"]["log_len"].as_u64().or_else(|| {
        v["state"]["Participant"]["log"]
            .as_array()
            .map(|l| l.len() as u64)
    })
}

/// Clients on every slot, each running incarnations of `batch` PUTs and
/// waiting for STABLE, until `stop`; they count finished dtxs in `done`.
fn paced_load(
    spec: &Arc<LiveSpec>,
    o: &BenchOpts,
    cdata: &Path,
    done: &Arc<std::sync::atomic::AtomicU64>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<Result<(), String>>> {
    use std::sync::atomic::Ordering;
    (0..o.clients)
        .map(|slot| {
            let (spec, cdata, done, stop) = (
                spec.clone(),
                cdata.to_path_buf(),
                done.clone(),
                stop.clone(),
            );
            let (batch, keys) = (o.batch, o.keys);
            std::thread::spawn(move || -> Result<(), String> {
                let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ slot as u64;
                while !stop.load(Ordering::Relaxed) {
                    let ops = random_puts(&mut x, batch, keys);
                    let r = client::run(
                        &spec,
                        slot,
                        &cdata,
                        &ops,
                        Wait::Stable,
                        Duration::from_secs(60),
                    )?;
                    done.fetch_add(r.len() as u64, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect()
}

/// Samples `done` and p1's log length every `every` for `length`.
fn windows(
    spec: &LiveSpec,
    done: &std::sync::atomic::AtomicU64,
    length: f64,
    every: f64,
) -> (f64, Vec<Window>) {
    use std::sync::atomic::Ordering;
    let t0 = Instant::now();
    let start = done.load(Ordering::Relaxed);
    let (mut last_t, mut last_n) = (0.0, start);
    let mut out = Vec::new();
    while last_t < length {
        let next = (last_t + every).min(length);
        std::thread::sleep(Duration::from_secs_f64(
            (next - t0.elapsed().as_secs_f64()).max(0.0),
        ));
        let (t, n) = (t0.elapsed().as_secs_f64(), done.load(Ordering::Relaxed));
        out.push(Window {
            at_seconds: t,
            dtx_per_second: (n - last_n) as f64 / (t - last_t).max(1e-9),
            log_records: inspect(spec, "p1").and_then(|v| log_records(&v)),
        });
        (last_t, last_n) = (t, n);
    }
    let total = (done.load(Ordering::Relaxed) - start) as f64 / t0.elapsed().as_secs_f64();
    (total, out)
}

/// A participant down under load, then its recovery (module doc).
fn down_phase(
    exe: &Path,
    o: &BenchOpts,
    dir: &Path,
    file: &Path,
    spec: &Arc<LiveSpec>,
    procs: &mut Children,
) -> Result<DownReport, String> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let cdata = dir.join("clients");
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load = paced_load(spec, o, &cdata, &done, &stop);
    let every = (o.down_seconds / 6.0).clamp(1.0, 10.0);
    let healthy_seconds = o.seconds.max(every);
    let (healthy, healthy_windows) = windows(spec, &done, healthy_seconds, every);
    procs.kill("p3")?;
    let p1_commits = || inspect(spec, "p1").and_then(|v| v["counters"]["commits"].as_u64());
    let commits_before = p1_commits();
    let (down, down_windows) = windows(spec, &done, o.down_seconds, every);
    let down_commits = p1_commits()
        .zip(commits_before)
        .map(|(a, b)| a.saturating_sub(b));
    let t = Instant::now();
    // Busy replaying and recovering under load, p3 may answer `inspect`
    // late: the recovery time is read from HA's table instead.
    start(exe, dir, file, spec, procs, "p3", Duration::from_secs(120))?;
    let mut recovery_seconds = None;
    let give_up = Duration::from_secs_f64(o.recovery_timeout);
    while t.elapsed() < give_up {
        let online = inspect(spec, "ha").is_some_and(|v| {
            v["state"]["Ha"]["table"][2][1] == "Online"
                && v["state"]["Ha"]["table"][2][0].as_u64() > Some(1)
        });
        if online {
            recovery_seconds = Some(t.elapsed().as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for h in load {
        h.join().map_err(|_| "a client thread panicked")??;
    }
    Ok(DownReport {
        healthy_seconds,
        healthy_dtx_per_second: healthy,
        down_seconds: o.down_seconds,
        down_dtx_per_second: down,
        ratio: down / healthy.max(1e-9),
        healthy_windows,
        down_windows,
        recovery_seconds,
        down_commits,
    })
}

/// Writes a participant log of `n` records (in saves of 1000, nothing
/// pruned) and times a real node start on it.
fn restart_point(dir: &Path, n: usize) -> Result<RestartPoint, String> {
    let d = dir.join(format!("restart-{n}"));
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    let path = super::node::store_path(&d, "p1");
    let (mut wal, _) = Wal::open(&path).map_err(|e| e.to_string())?;
    let mut st = PartStore {
        inc: 1,
        kv: Kv::new(),
        log: Vec::new().into(),
        base: 0,
        ghost: Default::default(),
    };
    let mut sv = StateVec::default();
    sv.raise(0, crate::protocol::types::St::P);
    for i in 0..n {
        let ts = 10 + i as u64;
        let key = 1 + (i as u32 % 10_000);
        st.log.make_flat().push(Txr {
            id: TxId {
                ts,
                slot: 0,
                inc: 2,
            },
            op: Op::Put { key, val: i as u64 },
            sv,
        });
        st.kv.insert(
            key,
            Rec {
                ver: Version {
                    ts,
                    del: false,
                    slot: 0,
                    inc: 2,
                },
                val: i as u64,
            },
        );
        if (i + 1) % 1000 == 0 || i + 1 == n {
            wal.save(&st).map_err(|e| e.to_string())?;
        }
    }
    drop(wal);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let file = cluster_file(&d, 1, 1)?;
    let spec = Arc::new(LiveSpec::load(&file)?);
    let t = Instant::now();
    // No HA runs here: the start does not ask it (`Boot::ha_wait` zero).
    let boot = crate::live::boot::Boot {
        ha_wait: Duration::ZERO,
        ..Default::default()
    };
    let node = Node::start_with(
        spec.clone(),
        Arc::new(spec.cluster.clone()),
        spec.cluster.participant_id(0),
        &d,
        false,
        &boot,
    )?;
    let secs = t.elapsed().as_secs_f64();
    let crate::protocol::actor::Dtm0State::Participant(p) = node.state() else {
        return Err("not a participant".into());
    };
    if p.log.len() != n {
        return Err(format!(
            "restart replayed {} records, wrote {n}",
            p.log.len()
        ));
    }
    Ok(RestartPoint {
        log_records: n,
        log_bytes: bytes,
        restart_seconds: secs,
    })
}

/// The kernel's count of UDP datagrams dropped for a full receive buffer.
fn rcvbuf_errors() -> Option<u64> {
    let t = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut lines = t.lines().filter(|l| l.starts_with("Udp:"));
    let (names, vals) = (lines.next()?, lines.next()?);
    let i = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
    vals.split_whitespace().nth(i)?.parse().ok()
}
