//! The live commands: `cluster up`, `node`, `ha`, `client`, `inspect`.

use dtm0::live::boot::Boot;
use dtm0::live::client::{self, Wait};
use dtm0::live::node::{request, Node};
use dtm0::live::procs::Children;
use dtm0::live::spec::LiveSpec;
use dtm0::live::wire::Wire;
use dtm0::protocol::actor::Dtm0State;
use dtm0::protocol::cluster::Cluster;
use dtm0::protocol::originator::OrigState;
use dtm0::protocol::participant::PartState;
use dtm0::protocol::types::Op;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn default_cluster() -> PathBuf {
    let local = PathBuf::from("models/cluster.toml");
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/cluster.toml")
}

pub fn load(cluster: Option<PathBuf>) -> Result<(PathBuf, Arc<LiveSpec>), String> {
    let p = cluster.unwrap_or_else(default_cluster);
    let s = LiveSpec::load(&p)?;
    Ok((p, Arc::new(s)))
}

/// Logs through `tracing`, level from RUST_LOG (default `info` for
/// servers, `warn` for one-shot commands).
pub fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let _ = ctrlc::set_handler(move || s.store(true, Ordering::SeqCst));
    stop
}

/// `dtm0 node` and `dtm0 ha`: one process until Ctrl-C or SIGTERM.
pub fn node(
    cluster: Option<PathBuf>,
    id: &str,
    data: Option<PathBuf>,
    faults: bool,
    allow_mutants: bool,
    boot: &Boot,
) -> Result<ExitCode, String> {
    init_logs("info");
    let (_, spec) = load(cluster)?;
    spec.check_mutants(allow_mutants)?;
    let id = spec.parse_id(id)?;
    let data = match (spec.cluster.proc_of(id), data) {
        (dtm0::protocol::cluster::Proc::Ha, Some(d)) => d,
        (dtm0::protocol::cluster::Proc::Ha, None) => {
            tracing::warn!(
                "ha: no --data: its table is not kept, so a restart starts from scratch (processes ignore it)"
            );
            // A directory of this process alone: nothing to restore.
            let d = std::env::temp_dir().join(format!("dtm0-ha-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            d
        }
        (_, Some(d)) => d,
        (_, None) => {
            return Err("--data DIR: a participant or originator needs a data directory".into())
        }
    };
    let stop = stop_flag();
    let mut n = Node::start_with(
        spec.clone(),
        Arc::new(spec.cluster.clone()),
        id,
        &data,
        faults,
        boot,
    )?;
    println!("{} listening on {}", spec.name_of(id), n.local_addr());
    n.run(&stop)?;
    Ok(ExitCode::SUCCESS)
}

/// How `cluster up` restarts a process that exited: after a delay that
/// doubles from `FIRST_DELAY` up to `MAX_DELAY` while the process keeps
/// exiting within `STABLE_AFTER` of its start, and not at all after
/// `GIVE_UP` such exits in a row.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(10);
const STABLE_AFTER: Duration = Duration::from_secs(10);
const GIVE_UP: u32 = 8;

/// One supervised process of `cluster up`.
struct Supervised {
    name: String,
    started: Instant,
    /// Exits in a row, each within `STABLE_AFTER` of its start.
    quick_exits: u32,
    /// When it is due to be started again, if it is down.
    restart_at: Option<Instant>,
}

impl Supervised {
    /// Records an exit at `now`; returns the delay before the restart, or
    /// `None` to give up.
    fn exited(&mut self, now: Instant) -> Option<Duration> {
        if now.duration_since(self.started) < STABLE_AFTER {
            self.quick_exits += 1;
        } else {
            self.quick_exits = 1;
        }
        if self.quick_exits >= GIVE_UP {
            return None;
        }
        let delay = FIRST_DELAY
            .saturating_mul(1 << (self.quick_exits - 1).min(16))
            .min(MAX_DELAY);
        self.restart_at = Some(now + delay);
        Some(delay)
    }
}

/// `dtm0 cluster up`: HA and every participant as local processes,
/// restarted when they exit.
pub fn up(
    cluster: Option<PathBuf>,
    data: PathBuf,
    faults: bool,
    allow_mutants: bool,
) -> Result<ExitCode, String> {
    init_logs("info");
    let (path, spec) = load(cluster)?;
    spec.check_mutants(allow_mutants)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut kids = Children::new();
    let spawn = |kids: &mut Children, name: &str| -> Result<(), String> {
        let mut cmd = Command::new(&exe);
        cmd.arg(if name == "ha" { "ha" } else { "node" })
            .arg("--cluster")
            .arg(&path)
            .arg("--data")
            .arg(data.join(name));
        if name != "ha" {
            cmd.args(["--id", name]);
        }
        if faults {
            cmd.arg("--faults");
        }
        if allow_mutants {
            cmd.arg("--allow-mutants");
        }
        kids.spawn(name, &mut cmd)
            .map_err(|e| format!("cannot start {name}: {e}"))
    };
    let mut procs: Vec<Supervised> = std::iter::once("ha".to_string())
        .chain((0..spec.n()).map(|p| format!("p{}", p + 1)))
        .map(|name| Supervised {
            name,
            started: Instant::now(),
            quick_exits: 0,
            restart_at: None,
        })
        .collect();
    for p in &mut procs {
        spawn(&mut kids, &p.name)?;
        p.started = Instant::now();
    }
    println!("cluster {} ({}):", spec.name, path.display());
    for (i, a) in spec.addrs.iter().enumerate() {
        let id = stateright::actor::Id::from(i);
        if matches!(
            spec.cluster.proc_of(id),
            dtm0::protocol::cluster::Proc::Originator(_)
        ) {
            println!("  {:<4} {a}  (for `dtm0 client`)", spec.name_of(id));
        } else {
            println!("  {:<4} {a}", spec.name_of(id));
        }
    }
    println!("data in {}; Ctrl-C stops every process", data.display());
    let stop = stop_flag();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let now = Instant::now();
        for (name, st) in kids.exited() {
            let Some(p) = procs.iter_mut().find(|p| p.name == name) else {
                continue;
            };
            // A crash (kill -9) or an exit: restart it, as a supervisor
            // would; a participant's new incarnation recovers through
            // REDO/EOL, HA goes on from its table.
            match p.exited(now) {
                Some(d) => println!(
                    "{name} exited ({st}); restarting it in {} ms",
                    d.as_millis()
                ),
                None => {
                    println!(
                        "{name} exited ({st}) {GIVE_UP} times in a row within {} s of starting; giving up (see its log above): stopping the cluster",
                        STABLE_AFTER.as_secs()
                    );
                    return Ok(ExitCode::from(1));
                }
            }
        }
        for p in &mut procs {
            if p.restart_at.is_some_and(|t| t <= now) {
                p.restart_at = None;
                spawn(&mut kids, &p.name)?;
                p.started = Instant::now();
            }
        }
    }
    println!("stopping");
    Ok(ExitCode::SUCCESS)
}

pub enum ClientCmd {
    Put { key: String, value: u64 },
    Del { key: String },
    Get { key: String },
}

/// How `client` runs and prints.
pub struct ClientOpts {
    pub wait: Wait,
    pub json: bool,
    pub timeout: Duration,
    /// How far behind the real clock the client's clock runs.
    pub clock_lag: Duration,
}

pub fn client(
    cluster: Option<PathBuf>,
    slot: Option<String>,
    data: PathBuf,
    cmd: ClientCmd,
    opts: ClientOpts,
) -> Result<ExitCode, String> {
    let ClientOpts {
        wait,
        json,
        timeout,
        clock_lag,
    } = opts;
    init_logs("warn");
    let (_, spec) = load(cluster)?;
    let slot = match slot {
        None => 0,
        Some(s) => {
            let id = spec.parse_id(&s)?;
            match spec.cluster.proc_of(id) {
                dtm0::protocol::cluster::Proc::Originator(k) => k,
                _ => return Err(format!("--slot {s}: not an originator")),
            }
        }
    };
    let op = match &cmd {
        ClientCmd::Put { key, value } => Op::Put {
            key: client::parse_key(key)?,
            val: *value,
        },
        ClientCmd::Del { key } => Op::Del {
            key: client::parse_key(key)?,
        },
        ClientCmd::Get { key } => {
            let r = client::get(&spec, client::parse_key(key)?, timeout)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
                );
            } else {
                match (r.value, r.version) {
                    (Some(v), Some(ver)) => println!("{} = {v} (version {ver})", r.key),
                    (None, Some(ver)) => println!("{}: deleted (tombstone version {ver})", r.key),
                    _ => println!("{}: not found", r.key),
                }
                println!(
                    "  read from ONLINE or RECOVERING participants: {}",
                    r.online.join(", ")
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let reps = client::run_with_clock(&spec, slot, &data, &[op], wait, timeout, clock_lag)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reps).map_err(|e| e.to_string())?
        );
    } else {
        for r in &reps {
            println!(
                "{} {}: {} (st={}, version {})",
                r.txid, r.op, r.state, r.sv, r.version
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON dump of one node.
pub fn inspect_one(
    spec: &LiveSpec,
    id: &str,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let id = spec.parse_id(id)?;
    let addr = spec.addr_of(id).ok_or("no address")?;
    match request(&spec.auth, addr, &Wire::Inspect, timeout)? {
        Wire::Json(j) => serde_json::from_str(&j).map_err(|e| format!("bad answer: {e}")),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// One line per node: its state, the HA view it holds and its counters,
/// in that order.
fn render(spec: &LiveSpec, v: &serde_json::Value) -> String {
    let mut out = render_state(spec, v);
    out += &render_view(&spec.cluster, v);
    out += &render_counters(v);
    out
}

/// The node's own state: a participant's log, an originator's
/// transactions, the HA's view number, or the summary when the state did
/// not fit one datagram.
fn render_state(spec: &LiveSpec, v: &serde_json::Value) -> String {
    let c = &spec.cluster;
    let name = v["id"].as_str().unwrap_or("?").to_string();
    let state: Option<Dtm0State> = serde_json::from_value(v["state"].clone()).ok();
    match state {
        Some(Dtm0State::Participant(p)) => render_participant(spec, &name, &p),
        Some(Dtm0State::Originator(o)) => render_originator(c, &o),
        Some(Dtm0State::Ha(h)) => format!("ha: view #{}\n", h.seq),
        None => format!(
            "{name}: (state too large for one datagram: summary)\n{}\n",
            v["summary"]
        ),
    }
}

/// A participant: its incarnation and HA state, its log (uncommitted
/// records marked), its KV and how much it pruned.
fn render_participant(spec: &LiveSpec, name: &str, p: &PartState) -> String {
    let c = &spec.cluster;
    let mut out = String::new();
    let me = usize::from(spec.parse_id(name).unwrap_or(0.into()));
    let (inc, st) = p.view.get(me);
    out += &format!(
        "{name} (incarnation {}; in its view of HA: {}{})\n",
        p.inc,
        st.name(),
        if inc != p.inc { " (stale)" } else { "" }
    );
    out += "{\n";
    for (i, r) in p.log.iter().enumerate() {
        let durable = if i < p.ndur as usize {
            ""
        } else {
            " (not committed)"
        };
        out += &format!(
            "  {},{durable}\n",
            dtm0::model::table::part_record(c, me, p.base as usize + i + 1, r)
        );
    }
    out += "}\n";
    out += &format!(
        "{}\n",
        dtm0::model::render::kv(c, &p.kv, &Default::default())
    );
    out += &format!("pruned {} record(s) so far\n", p.base);
    out
}

/// An originator: its name and incarnation, then one line per transaction.
fn render_originator(c: &Cluster, o: &OrigState) -> String {
    let mut out = format!(
        "{}{} (issued: {})\n",
        c.originators
            .get(o.slot as usize)
            .map_or("o", |x| x.name.as_str()),
        o.inc,
        o.issued
    );
    for (i, d) in o.dtxs.iter().enumerate() {
        out += &format!(
            "  R{}[CAS {} st={}] {}\n",
            i + 1,
            dtm0::protocol::types::render_op(&d.op, d.id.ts),
            d.sv.render(c.n),
            d.st.name()
        );
    }
    out
}

/// The HA view the node holds (a participant's or originator's view, or
/// the HA's table), or nothing when the answer carries none.
fn render_view(c: &Cluster, v: &serde_json::Value) -> String {
    let view: Option<dtm0::protocol::msg::HaTable> =
        serde_json::from_value(v["state"]["Participant"]["view"].clone())
            .ok()
            .or_else(|| serde_json::from_value(v["state"]["Ha"]["table"].clone()).ok())
            .or_else(|| serde_json::from_value(v["state"]["Originator"]["view"].clone()).ok());
    let Some(t) = view else {
        return String::new();
    };
    let parts: Vec<String> =
        t.0.iter()
            .enumerate()
            .map(|(i, (inc, st))| {
                if i < c.n {
                    format!("p{}#{inc} {}", i + 1, st.name())
                } else {
                    let name = c.originators.get(i - c.n).map_or("o", |x| x.name.as_str());
                    format!("{name}{inc} {}", st.name())
                }
            })
            .collect();
    format!("HA view: {}\n", parts.join(", "))
}

/// The node's message, datagram, save and drop counters.
fn render_counters(v: &serde_json::Value) -> String {
    let k = &v["counters"];
    let s = &k["session"];
    format!(
        "counters: in {} msgs / {} datagrams, out {} msgs / {} datagrams, saves {}, commits {}, dropped: malformed {}, unauthenticated {}, foreign {}, by fault {}; refused: sender {}, too far ahead {}\n\
         sessions: sent {}, retransmitted {}, acks {}, duplicates {}, stale {}, skipped {}, given up {}\n",
        k["msgs_in"], k["datagrams_in"], k["msgs_out"], k["datagrams_out"], k["saves"], k["commits"],
        k["dropped_malformed"], k["dropped_unauthenticated"], k["dropped_foreign"], k["dropped_by_fault"],
        k["refused_sender"], k["refused_ahead"],
        s["sent"], s["retransmits"], s["acks_sent"], s["duplicates"], s["stale"], s["skipped"], s["gave_up"]
    )
}

pub fn inspect(
    cluster: Option<PathBuf>,
    id: Option<String>,
    all: bool,
    json: bool,
) -> Result<ExitCode, String> {
    init_logs("warn");
    let (_, spec) = load(cluster)?;
    let ids: Vec<String> = match (id, all) {
        (Some(i), false) => vec![i],
        (None, true) => {
            let mut v: Vec<String> = (0..spec.n()).map(|p| format!("p{}", p + 1)).collect();
            v.push("ha".into());
            v
        }
        _ => return Err("give --id NAME or --all".into()),
    };
    let mut vals = Vec::new();
    for i in &ids {
        vals.push(inspect_one(&spec, i, Duration::from_secs(2))?);
    }
    if json {
        let out = if vals.len() == 1 {
            vals.remove(0)
        } else {
            serde_json::Value::Array(vals)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        for v in &vals {
            println!("{}", render(&spec, v));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delays_double_and_the_supervisor_gives_up() {
        let t0 = Instant::now();
        let mut p = Supervised {
            name: "p1".into(),
            started: t0,
            quick_exits: 0,
            restart_at: None,
        };
        let mut delays = Vec::new();
        while let Some(d) = p.exited(t0 + Duration::from_millis(1)) {
            delays.push(d.as_millis());
        }
        assert_eq!(delays, vec![100, 200, 400, 800, 1600, 3200, 6400]);
        assert_eq!(p.quick_exits, GIVE_UP);
        // A process that ran long enough starts over from the first delay.
        let mut q = Supervised {
            name: "ha".into(),
            started: t0,
            quick_exits: 5,
            restart_at: None,
        };
        assert_eq!(q.exited(t0 + STABLE_AFTER), Some(FIRST_DELAY));
    }
}
