//! `dtm0 scenario seed --live`: the seed story on a real local cluster.
//! Spawned processes (HA, p1-p3, the originator), real `kill -9` of p1, p3
//! and o1, restarts from the durable logs, o2's DELs, recovery. The seed's
//! order comes from real mechanisms only: the fault layer of each node
//! holds back or drops chosen incoming messages and holds commits back,
//! and the driver releases them, kills and restarts processes, watching
//! each node through `inspect`. The final states are then judged by the
//! model's own property functions.

use dtm0::live::node::request;
use dtm0::live::procs::{free_addrs, Children};
use dtm0::live::spec::{LiveFile, LiveSpec, OrigFile, Timing};
use dtm0::live::wire::{Fault, Filter, Wire};
use dtm0::model::file::{ModelSpec, NetworkKind};
use dtm0::model::scenario::PropVerdict;
use dtm0::model::table::FinalKv;
use dtm0::model::{build, SysState};
use dtm0::protocol::actor::{Dtm0State, Dtm0Store};
use dtm0::protocol::cluster::{Cluster, OriginatorCfg};
use serde::Serialize;
use stateright::actor::{Id, Network};
use stateright::Model;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
pub struct LiveReport {
    pub final_kvs: BTreeMap<String, FinalKv>,
    pub properties: Vec<PropVerdict>,
    pub quiescent: bool,
    /// What the driver did, with the time since the start.
    pub steps: Vec<String>,
    pub seconds: f64,
}

struct Driver {
    exe: PathBuf,
    file: PathBuf,
    dir: PathBuf,
    spec: Arc<LiveSpec>,
    /// The cluster's processes, killed when the driver is dropped.
    procs: Children,
    steps: Vec<String>,
    t0: Instant,
    verbose: bool,
}

impl Driver {
    fn note(&mut self, s: String) {
        let line = format!("{:>7.3}s  {s}", self.t0.elapsed().as_secs_f64());
        if self.verbose {
            eprintln!("{line}");
        }
        self.steps.push(line);
    }

    fn addr(&self, name: &str) -> SocketAddr {
        let id = self.spec.parse_id(name).expect("known");
        self.spec.addr_of(id).expect("addr")
    }

    fn start(&mut self, name: &str) -> Result<(), String> {
        let mut cmd = Command::new(&self.exe);
        if name == "ha" {
            cmd.arg("ha");
        } else {
            cmd.args(["node", "--id", name, "--data"])
                .arg(self.dir.join(name));
        }
        cmd.arg("--cluster").arg(&self.file).arg("--faults");
        cmd.stdout(Stdio::null());
        if !self.verbose {
            cmd.stderr(Stdio::null());
        }
        self.procs
            .spawn(name, &mut cmd)
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        dtm0::live::node::wait_answering(
            &self.spec.auth,
            self.addr(name),
            name,
            Duration::from_secs(10),
        )?;
        self.note(format!("{name}: started"));
        Ok(())
    }

    fn kill9(&mut self, name: &str) -> Result<(), String> {
        self.procs.kill(name)?; // SIGKILL
        self.note(format!("{name}: kill -9"));
        Ok(())
    }

    fn fault(&mut self, name: &str, f: Fault) -> Result<(), String> {
        let what = format!("{f:?}");
        match request(
            &self.spec.auth,
            self.addr(name),
            &Wire::Fault(f),
            Duration::from_secs(2),
        )? {
            Wire::Json(j) if j.contains("\"ok\":true") => {
                self.note(format!("{name}: fault layer {what}"));
                Ok(())
            }
            other => Err(format!("{name}: fault command refused: {other:?}")),
        }
    }

    fn inspect(&self, name: &str) -> Result<serde_json::Value, String> {
        match request(
            &self.spec.auth,
            self.addr(name),
            &Wire::Inspect,
            Duration::from_secs(2),
        )? {
            Wire::Json(j) => serde_json::from_str(&j).map_err(|e| e.to_string()),
            other => Err(format!("unexpected {other:?}")),
        }
    }

    fn part(&self, name: &str) -> Result<(dtm0::protocol::participant::PartState, u64), String> {
        let v = self.inspect(name)?;
        let held = v["held"].as_u64().unwrap_or(0);
        match serde_json::from_value::<Dtm0State>(v["state"].clone()) {
            Ok(Dtm0State::Participant(p)) => Ok((p, held)),
            _ => Err(format!("{name}: no participant state in {v}")),
        }
    }

    fn wait(
        &mut self,
        what: &str,
        mut cond: impl FnMut(&Driver) -> Result<bool, String>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if cond(self)? {
                self.note(format!("reached: {what}"));
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for: {what}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn exec(ts: Option<u64>) -> Filter {
    Filter {
        kind: Some("execute".into()),
        from: None,
        ts,
    }
}

fn has(p: &dtm0::protocol::participant::PartState, ts: u64) -> bool {
    p.log.iter().any(|r| r.id.ts == ts)
}

/// A fresh directory for the cluster file and the nodes' data.
fn work_dir(t0: Instant) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "dtm0-live-seed-{}-{}",
        std::process::id(),
        t0.elapsed().as_nanos() ^ dtm0::live::client::now_us() as u128
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// The seed model as a live cluster file: p1-p3 on `addrs[..3]`, the
/// originator on `addrs[3]` with the model's scripts and clocks, the HA
/// on `addrs[4]`.
fn cluster_file(c: &Cluster, addrs: &[SocketAddr]) -> LiveFile {
    let o = &c.originators[0];
    let render = |op: &dtm0::protocol::types::Op| match op {
        dtm0::protocol::types::Op::Put { key, val } => format!("put k{key} {val}"),
        dtm0::protocol::types::Op::Del { key } => format!("del k{key}"),
    };
    LiveFile {
        name: Some("live-seed".into()),
        variants: c.variants.names().iter().map(|s| s.to_string()).collect(),
        k: Some(c.k),
        ha: addrs[4].to_string(),
        participants: addrs[..3].iter().map(|a| a.to_string()).collect(),
        originators: vec![OrigFile {
            name: o.name.clone(),
            addr: addrs[3].to_string(),
            scripts: o
                .plan
                .iter()
                .map(|p| p.iter().map(|(_, op)| render(op)).collect())
                .collect(),
            clock: o
                .plan
                .iter()
                .map(|p| p.first().map_or(0, |x| x.0))
                .collect(),
        }],
        timing: Timing {
            commit_delay_ms: 1,
            heartbeat_ms: 100,
            // Long: the seed's HA learns of crashes at the restarts.
            failure_timeout_ms: 60_000,
        },
        ghosts: true,
        key: None,
    }
}

/// The model's verdicts on the live final state: the properties, whether
/// it is quiescent, and each participant's final KV.
type Judged = (Vec<PropVerdict>, bool, BTreeMap<String, FinalKv>);

impl Driver {
    /// Checks that `seed` is the seed model, writes its cluster file into
    /// `dir` and returns a driver with no process started yet.
    fn setup(
        exe: &Path,
        seed: &ModelSpec,
        dir: &Path,
        t0: Instant,
        verbose: bool,
    ) -> Result<Driver, String> {
        let c = &seed.cluster;
        if c.n != 3 || c.m() != 1 {
            return Err("the live seed needs the seed model: 3 participants, 1 originator".into());
        }
        let addrs = free_addrs(5)?;
        let file = cluster_file(c, &addrs);
        let text = toml::to_string(&file).map_err(|e| e.to_string())?;
        let path = dir.join("cluster.toml");
        std::fs::write(&path, &text).map_err(|e| e.to_string())?;
        let spec = Arc::new(LiveSpec::from_file(file)?);
        Ok(Driver {
            exe: exe.to_path_buf(),
            file: path,
            dir: dir.to_path_buf(),
            spec,
            procs: Children::new(),
            steps: Vec::new(),
            t0,
            verbose,
        })
    }

    /// @10-20: the cluster, then o1 with its requests held at p1 and p3
    /// and two of them lost on the way to p2.
    fn o1_requests_held(&mut self, o: &OriginatorCfg) -> Result<(), String> {
        let d = self;
        let (ts1, ts3) = (o.plan[0][0].0, o.plan[0][2].0);
        for p in ["ha", "p1", "p2", "p3"] {
            d.start(p)?;
        }
        d.fault("p1", Fault::Hold(exec(None)))?;
        d.fault("p3", Fault::Hold(exec(None)))?;
        d.fault("p2", Fault::Drop(exec(Some(ts1))))?;
        d.fault("p2", Fault::Drop(exec(Some(ts3))))?;
        d.start(&o.name)?;
        d.wait("p1 and p3 hold o1's three requests", |d| {
            Ok(d.part("p1")?.1 == 3 && d.part("p3")?.1 == 3)
        })
    }

    /// @25-60: each executes and commits its first request; p1 and p3
    /// then execute the others with their commits held back.
    fn r1_committed_then_r2_r3_executed(&mut self, o: &OriginatorCfg) -> Result<(), String> {
        let d = self;
        let (ts1, ts2, ts3) = (o.plan[0][0].0, o.plan[0][1].0, o.plan[0][2].0);
        d.fault("p1", Fault::Release(exec(Some(ts1))))?;
        d.fault("p3", Fault::Release(exec(Some(ts3))))?;
        d.wait("committed(R1) at p1, p2, p3", |d| {
            Ok(["p1", "p2", "p3"]
                .iter()
                .map(|p| d.part(p).map(|x| x.0.ndur == 1))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .all(|b| b))
        })?;
        d.fault("p1", Fault::HoldCommits(true))?;
        d.fault("p3", Fault::HoldCommits(true))?;
        d.fault("p1", Fault::Release(exec(None)))?;
        d.fault("p3", Fault::Release(exec(Some(ts2))))?;
        d.fault("p3", Fault::Release(exec(Some(ts1))))?;
        d.wait("p1 and p3 executed R2, R3 (not committed)", |d| {
            let (a, b) = (d.part("p1")?.0, d.part("p3")?.0);
            Ok(a.log.len() == 3 && b.log.len() == 3)
        })
    }

    /// @70-90: p2 starts holding REDOs; p1, p3 and o1 are killed; p1 and
    /// p3 restart from their logs with incoming requests held.
    fn reboot(&mut self, o: &OriginatorCfg) -> Result<(), String> {
        let d = self;
        // p2 holds REDOs from now on, to take them after o2's DELs.
        d.fault(
            "p2",
            Fault::Hold(Filter {
                kind: Some("redo".into()),
                ..Filter::default()
            }),
        )?;
        // @70: reboots.
        for p in ["p1", "p3", o.name.as_str()] {
            d.kill9(p)?;
        }
        // @80-90: p1, p3 restart from their logs; HA, REDOs.
        for p in ["p1", "p3"] {
            d.start(p)?;
            d.fault(p, Fault::Hold(exec(None)))?;
        }
        Ok(())
    }

    /// @100-120: o2 issues the DELs; p2 gets them before its REDOs, then
    /// every fault layer is cleared.
    fn o2_dels_before_p2s_redos(&mut self, o: &OriginatorCfg) -> Result<(), String> {
        let d = self;
        let (ts1, ts2, ts3) = (o.plan[0][0].0, o.plan[0][1].0, o.plan[0][2].0);
        // @100-110: o2 issues the DELs.
        d.start(&o.name)?;
        let (dk1, dk2, dk3) = (o.plan[1][0].0, o.plan[1][1].0, o.plan[1][2].0);
        d.wait("p1 and p3 executed the REDOs sent at @90", |d| {
            let (a, b) = (d.part("p1")?.0, d.part("p3")?.0);
            Ok(has(&a, ts2) && has(&a, ts3) && has(&b, ts1) && has(&b, ts2))
        })?;
        d.wait("p1 and p3 hold o2's DELs", |d| {
            Ok(d.part("p1")?.1 == 3 && d.part("p3")?.1 == 3)
        })?;
        // @115: the DELs everywhere; p2 gets them before its REDOs.
        d.fault("p1", Fault::Release(exec(None)))?;
        d.fault("p3", Fault::Release(exec(None)))?;
        d.wait("p2 executed o2's DELs", |d| {
            let p = d.part("p2")?.0;
            Ok(has(&p, dk1) && has(&p, dk2) && has(&p, dk3))
        })?;
        // @120: p2's REDOs.
        d.fault("p2", Fault::Clear)?;
        d.fault("p2", Fault::Release(Filter::default()))?;
        for p in ["p1", "p3"] {
            d.fault(p, Fault::Clear)?;
        }
        Ok(())
    }

    /// --finish: to quiescence. Waits until every participant is ONLINE
    /// in its own view with nothing held or uncommitted, o2 is done, and
    /// no state changed for 30 polls (300 ms).
    fn quiescence(&mut self, on: &str) -> Result<(), String> {
        let mut last = String::new();
        let mut same = 0;
        self.wait(
            "quiescence: all ONLINE, o2 done, nothing pending, no change for 300 ms",
            |d| {
                let mut snap = String::new();
                let mut ok = true;
                for p in ["p1", "p2", "p3"] {
                    let v = d.inspect(p)?;
                    let (ps, held) = d.part(p)?;
                    ok &= held == 0
                        && !v["commit_pending"].as_bool().unwrap_or(true)
                        && ps.ndur as usize == ps.log.len()
                        && ps
                            .view
                            .get(d.spec.parse_id(p).map(usize::from).unwrap_or(0))
                            .1
                            == dtm0::protocol::msg::HaSt::Online;
                    snap += &v["state"].to_string();
                }
                let ov = d.inspect(on)?;
                if let Ok(Dtm0State::Originator(os)) = serde_json::from_value(ov["state"].clone()) {
                    ok &= os.inc == 2
                        && os.dtxs.len() == 3
                        && os
                            .dtxs
                            .iter()
                            .all(|x| x.st >= dtm0::protocol::originator::DtxSt::Stable);
                } else {
                    ok = false;
                }
                snap += &ov["state"].to_string();
                if ok && snap == last {
                    same += 1;
                } else {
                    same = 0;
                }
                last = snap;
                if same < 30 {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(same >= 30)
            },
        )
    }

    /// Judge the final state with the model's properties: the live
    /// nodes' states and stores, put into a model state with an empty
    /// network.
    fn judge(&self, seed: &ModelSpec, on: &str) -> Result<Judged, String> {
        let d = self;
        let mut mspec = seed.clone();
        mspec.network = NetworkKind::Unordered;
        let m = build(&mspec);
        let mut s: SysState = m.init_states().remove(0);
        s.network = Network::new_unordered_nonduplicating([]);
        let names = ["p1", "p2", "p3", on, "ha"];
        for (i, name) in names.iter().enumerate() {
            let v = d.inspect(name)?;
            let st: Dtm0State =
                serde_json::from_value(v["state"].clone()).map_err(|e| format!("{name}: {e}"))?;
            s.actor_states[i] = Arc::new(st);
            let store: Option<Dtm0Store> =
                serde_json::from_value(v["store"].clone()).map_err(|e| format!("{name}: {e}"))?;
            if i < 4 {
                s.actor_storages[i] = store;
            }
            let _ = Id::from(i);
        }
        let properties = dtm0::model::scenario::verdicts(&m, std::slice::from_ref(&s));
        let quiescent = dtm0::model::properties::quiescent(&m, &s);
        let final_kvs = dtm0::model::table::final_kvs(m.cfg(), &s);
        Ok((properties, quiescent, final_kvs))
    }
}

/// Runs the seed on a live cluster of processes started from `exe` (the
/// `dtm0` binary), with the model file `seed` and extra `variants`.
pub fn run(exe: &Path, seed: &ModelSpec, verbose: bool) -> Result<LiveReport, String> {
    let t0 = Instant::now();
    let dir = work_dir(t0)?;
    let mut d = Driver::setup(exe, seed, &dir, t0, verbose)?;
    let o = &seed.cluster.originators[0];
    d.o1_requests_held(o)?;
    d.r1_committed_then_r2_r3_executed(o)?;
    d.reboot(o)?;
    d.o2_dels_before_p2s_redos(o)?;
    d.quiescence(&o.name)?;
    let (properties, quiescent, final_kvs) = d.judge(seed, &o.name)?;
    let seconds = d.t0.elapsed().as_secs_f64();
    let steps = std::mem::take(&mut d.steps);
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(LiveReport {
        final_kvs,
        properties,
        quiescent,
        steps,
        seconds,
    })
}
