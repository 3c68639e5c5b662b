//! The live prototype on loopback: real processes, real UDP, real fsync,
//! real `kill -9`.

use dtm0::live::procs::{free_addrs, Children};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_dtm0")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A cluster of separately spawned processes on free loopback ports.
struct Live {
    dir: PathBuf,
    file: PathBuf,
    procs: Children,
    /// Nodes started with `--faults`.
    faults: bool,
}

impl Drop for Live {
    fn drop(&mut self) {
        // The processes first, then their files.
        drop(std::mem::take(&mut self.procs));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Live {
    fn new(tag: &str) -> Live {
        Live::with(tag, false, false)
    }

    /// A cluster whose file names a key made by `dtm0 keygen` (`keyed`),
    /// whose nodes take fault-layer commands (`faults`).
    fn with(tag: &str, keyed: bool, faults: bool) -> Live {
        let dir = std::env::temp_dir().join(format!("dtm0-live-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let a = free_addrs(5).unwrap();
        let mut body = format!(
            "name = \"t\"\nvariants = [\"pruning\"]\nha = \"{}\"\nparticipants = [\"{}\", \"{}\", \"{}\"]\n",
            a[4], a[0], a[1], a[2]
        );
        if keyed {
            let o = Command::new(exe())
                .arg("keygen")
                .arg(dir.join("cluster.key"))
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            body += "key = \"cluster.key\"\n";
        }
        body += &format!(
            "[[originators]]\nname = \"o\"\naddr = \"{}\"\n[timing]\ncommit_delay_ms = 1\nheartbeat_ms = 50\nfailure_timeout_ms = 5000\n",
            a[3]
        );
        let file = dir.join("cluster.toml");
        std::fs::write(&file, body).unwrap();
        let mut l = Live {
            dir,
            file,
            procs: Children::new(),
            faults,
        };
        for p in ["ha", "p1", "p2", "p3"] {
            l.start(p);
        }
        l
    }

    fn start(&mut self, name: &str) {
        let mut c = Command::new(exe());
        if name == "ha" {
            c.args(["ha", "--data"]).arg(self.dir.join("ha"));
        } else {
            c.args(["node", "--id", name, "--data"])
                .arg(self.dir.join(name));
        }
        c.arg("--cluster").arg(&self.file);
        if self.faults {
            c.arg("--faults");
        }
        // Each node's log, appended across restarts, for the tests that
        // read it (and for a look after a failure).
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.err")))
            .unwrap();
        c.stdout(Stdio::null()).stderr(log);
        self.procs.spawn(name, &mut c).unwrap();
        self.wait_up(name);
    }

    /// Waits until `name` answers an admin request. (Short requests: one
    /// sent before the process binds its port is lost, and `dtm0 inspect`
    /// would wait 2 s for its answer.)
    fn wait_up(&self, name: &str) {
        let spec = dtm0::live::spec::LiveSpec::load(&self.file).unwrap();
        let addr = spec.addr_of(spec.parse_id(name).unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let ask = dtm0::live::wire::Wire::Inspect;
        while dtm0::live::node::request(&spec.auth, addr, &ask, Duration::from_millis(100)).is_err()
        {
            assert!(Instant::now() < deadline, "{name} did not come up");
        }
    }

    fn kill9(&mut self, name: &str) {
        self.procs.kill(name).unwrap(); // SIGKILL, and reaped
    }

    fn dtm0(&self, args: &[&str]) -> Output {
        Command::new(exe())
            .args(args)
            .arg("--cluster")
            .arg(&self.file)
            .current_dir(root())
            .output()
            .unwrap()
    }

    fn client(&self, args: &[&str]) -> Output {
        let data = self.dir.join("client");
        let mut v = vec!["client", "--data", data.to_str().unwrap()];
        v.extend_from_slice(args);
        self.dtm0(&v)
    }

    fn try_inspect(&self, name: &str) -> Option<serde_json::Value> {
        let o = self.dtm0(&["inspect", "--id", name, "--json"]);
        if o.status.code() != Some(0) {
            return None;
        }
        serde_json::from_slice(&o.stdout).ok()
    }

    fn inspect(&self, name: &str) -> serde_json::Value {
        self.try_inspect(name)
            .unwrap_or_else(|| panic!("{name} does not answer"))
    }

    fn kv(&self, name: &str) -> serde_json::Value {
        self.inspect(name)["state"]["Participant"]["kv"].clone()
    }

    /// Waits until every participant is ONLINE in HA's table and all three
    /// catalogues are equal and nothing is pending.
    fn converged(&self, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let ha = self.inspect("ha");
            let table = ha["state"]["Ha"]["table"].clone();
            let online = (0..3).all(|i| table[i][1] == "Online");
            let views: Vec<serde_json::Value> =
                ["p1", "p2", "p3"].iter().map(|p| self.inspect(p)).collect();
            let settled = views.iter().all(|v| {
                let p = &v["state"]["Participant"];
                p["ndur"] == serde_json::json!(p["log"].as_array().map_or(0, |l| l.len()))
                    && v["commit_pending"] == false
            });
            let kvs: Vec<&serde_json::Value> = views
                .iter()
                .map(|v| &v["state"]["Participant"]["kv"])
                .collect();
            if online && settled && kvs[0] == kvs[1] && kvs[1] == kvs[2] {
                for v in &views {
                    // the runtime's own check of the durability rule
                    assert_eq!(v["counters"]["early_sends"], 0, "{}", v["counters"]);
                }
                return kvs[0].clone();
            }
            assert!(
                Instant::now() < deadline,
                "not converged: table {table}, kvs {kvs:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn cluster_accepts_puts_and_dels_and_reads_the_highest_version() {
    let l = Live::new("basic");
    let o = l.client(&["put", "k1", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // It returns once EXECUTED; a PERSISTENT notice handled in the same
    // turn may already have made it STABLE (seen under load).
    let t = text(&o);
    assert!(
        t.contains("PUT k1") && ["EXECUTED", "STABLE", "DONE"].iter().any(|s| t.contains(s)),
        "{t}"
    );
    let o = l.client(&["put", "k2", "7", "--wait", "stable", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        matches!(v[0]["state"].as_str(), Some("STABLE") | Some("DONE")),
        "{v}"
    );
    let o = l.client(&["del", "k1", "--wait", "stable"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = l.client(&["get", "k1"]);
    assert!(text(&o).contains("deleted"), "{}", text(&o));
    let o = l.client(&["get", "k2", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["value"], 7);
    assert_eq!(v["online"].as_array().unwrap().len(), 3);
    let kv = l.converged(Duration::from_secs(10));
    assert_eq!(kv.as_object().unwrap().len(), 2, "{kv}");
    // bad input: a clear error, exit 2
    let o = l.client(&["put", "banana", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("KEY `banana`"), "{}", text(&o));
}

#[test]
fn a_participant_killed_mid_workload_recovers_and_converges() {
    let mut l = Live::new("kill");
    let mut done = 0;
    for i in 1..=12 {
        if i == 5 {
            l.kill9("p2");
        }
        if i == 8 {
            l.start("p2");
        }
        let o = l.client(&["put", &format!("k{i}"), &i.to_string()]);
        assert_eq!(o.status.code(), Some(0), "put k{i}: {}", text(&o));
        done += 1;
    }
    let kv = l.converged(Duration::from_secs(20));
    assert_eq!(kv.as_object().unwrap().len(), done, "{kv}");
    let p2 = l.inspect("p2");
    assert_eq!(
        p2["state"]["Participant"]["inc"], 2,
        "p2 restarted as incarnation 2"
    );
    // the keys written while p2 was down reached it through recovery
    assert_eq!(l.kv("p2"), l.kv("p1"));
}

#[test]
fn a_stable_dtx_survives_killing_every_participant() {
    let mut l = Live::new("stable");
    let o = l.client(&["put", "k3", "33", "--wait", "stable"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for p in ["p1", "p2", "p3"] {
        l.kill9(p);
    }
    for p in ["p1", "p2", "p3"] {
        l.start(p);
    }
    l.converged(Duration::from_secs(20));
    let o = l.client(&["get", "k3", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(v["value"], 33, "{}", text(&o));
}

#[test]
fn a_torn_log_tail_is_cut_on_restart() {
    let mut l = Live::new("torn");
    let o = l.client(&["put", "k1", "1", "--wait", "stable"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    l.converged(Duration::from_secs(10));
    l.kill9("p1");
    let wal = l.dir.join("p1").join("p1.wal");
    // a frame header promising 100 bytes, then only 3 of them
    let mut b = std::fs::read(&wal).unwrap();
    b.extend_from_slice(&[100, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9]);
    std::fs::write(&wal, b).unwrap();
    l.start("p1");
    let v = l.inspect("p1");
    assert_eq!(v["counters"]["truncated_bytes"], 11, "{}", v["counters"]);
    assert!(
        v["state"]["Participant"]["kv"]["1"].is_object(),
        "k1 survived: {v}"
    );
    l.converged(Duration::from_secs(10));
}

/// A data dir written in another log format (here: format 1, which had no
/// header) is refused with one line naming the file, and left as it was:
/// replaying it would have cut every frame as a torn tail.
#[test]
fn a_log_of_another_format_is_refused_not_cut() {
    let mut l = Live::new("format");
    let o = l.client(&["put", "k1", "1", "--wait", "stable"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    l.kill9("p1");
    let wal = l.dir.join("p1").join("p1.wal");
    let b = std::fs::read(&wal).unwrap();
    assert_eq!(&b[..7], b"DTM0WAL");
    std::fs::write(&wal, &b[8..]).unwrap();
    let o = Command::new(exe())
        .args(["node", "--id", "p1", "--data"])
        .arg(l.dir.join("p1"))
        .arg("--cluster")
        .arg(&l.file)
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("p1.wal") && t.contains("before format 2"), "{t}");
    assert_eq!(std::fs::read(&wal).unwrap(), &b[8..], "the log was cut");
    // Restored, it starts and keeps k1.
    std::fs::write(&wal, &b).unwrap();
    l.start("p1");
    l.converged(Duration::from_secs(10));
}

#[test]
fn malformed_and_foreign_datagrams_are_dropped_and_counted() {
    let l = Live::new("junk");
    let p1 = l.inspect("p1");
    let cfg = std::fs::read_to_string(&l.file).unwrap();
    let addr = cfg
        .lines()
        .find(|x| x.starts_with("participants"))
        .unwrap()
        .split('"')
        .nth(1)
        .unwrap()
        .to_string();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(&[0xff; 7], &addr).unwrap();
    s.send_to(&[], &addr).unwrap();
    s.send_to(&vec![1u8; 61_000], &addr).unwrap();
    // a datagram of an older wire format (its body would decode)
    s.send_to(&[1, 0, 1, 0], &addr).unwrap();
    // the current format, but too short to carry a MAC
    let fmt = dtm0::live::wire::WIRE_FORMAT;
    s.send_to(&[fmt, 0, 1, 0], &addr).unwrap();
    // a well-formed, correctly tagged protocol datagram claiming to be p2,
    // from elsewhere (this cluster is keyless: the public key)
    use dtm0::live::auth::Auth;
    use dtm0::live::session::Hdr;
    use dtm0::live::wire::{seal, seal_proto, Wire};
    let hdr = Hdr {
        to: 0,
        inc: 1,
        boot: 1,
        seq: 1,
        low: 1,
        ack: None,
    };
    s.send_to(&seal_proto(&Auth::keyless(), 1, hdr, &[]), &addr)
        .unwrap();
    // the same under another key: unauthenticated
    let other = Auth::from_key(&[9; 32]);
    s.send_to(&seal_proto(&other, 1, hdr, &[]), &addr).unwrap();
    s.send_to(&seal(&other, &Wire::Inspect), &addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let after = l.inspect("p1");
    let c0 = &p1["counters"];
    let c1 = &after["counters"];
    let n = |c: &serde_json::Value, k: &str| c[k].as_u64().unwrap();
    assert_eq!(
        n(c1, "dropped_malformed") - n(c0, "dropped_malformed"),
        5,
        "{c1}"
    );
    assert_eq!(
        n(c1, "dropped_foreign") - n(c0, "dropped_foreign"),
        1,
        "{c1}"
    );
    assert_eq!(
        n(c1, "dropped_unauthenticated") - n(c0, "dropped_unauthenticated"),
        2,
        "{c1}"
    );
    // and the node still works
    let o = l.client(&["put", "k1", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn final_of(args: &[&str]) -> serde_json::Value {
    let o = Command::new(exe())
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    v["final"].clone()
}

#[test]
fn the_live_seed_ends_where_the_model_ends() {
    for variant in [None, Some("del-absent-no-tombstone")] {
        let mut live = vec!["scenario", "seed", "--live", "--json"];
        let mut model = vec!["scenario", "seed", "--finish", "--json"];
        if let Some(v) = variant {
            live.extend(["--variant", v]);
            model.extend(["--variant", v]);
        }
        let (l, m) = (final_of(&live), final_of(&model));
        assert_eq!(l, m, "variant {variant:?}");
        match variant {
            None => assert_eq!(l["p2"]["live"], serde_json::json!({})),
            Some(_) => assert_eq!(l["p2"]["live"], serde_json::json!({"k1": 10, "k3": 12})),
        }
    }
}

#[test]
fn a_client_whose_clock_lags_is_told_its_writes_were_superseded() {
    let l = Live::new("lag");
    let o = l.client(&["put", "k1", "5", "--wait", "done"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("DONE"), "{}", text(&o));
    // A client rebooted 5 s behind: its PUT and DEL lose to k1 = 5.
    for args in [
        &["put", "k1", "6", "--wait", "done", "--clock-lag", "5000"][..],
        &["del", "k1", "--wait", "done", "--clock-lag", "5000"][..],
    ] {
        let o = l.client(args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            text(&o).contains("SUPERSEDED") && !text(&o).contains("DONE"),
            "{args:?}: {}",
            text(&o)
        );
    }
    let o = l.client(&["get", "k1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["value"], 5, "{v}");
    // An up-to-date client's write is DONE again.
    let o = l.client(&["put", "k1", "7", "--wait", "done", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["state"], "DONE", "{v}");
    assert_eq!(v[0]["superseded"], false, "{v}");
}

impl Live {
    /// Runs `dtm0 node --id NAME` with `extra` arguments, expecting it to
    /// exit within 10 s (a refusal): its exit code and output.
    fn node_refused(&self, name: &str, extra: &[&str]) -> (Option<i32>, String) {
        let out = self.dir.join(format!("{name}.out"));
        let mut c = Command::new(exe());
        c.args(["node", "--id", name, "--data"])
            .arg(self.dir.join(name))
            .arg("--cluster")
            .arg(&self.file)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&out).unwrap());
        let mut child = c.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{name} did not exit: {}",
                    std::fs::read_to_string(&out).unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.code(), std::fs::read_to_string(&out).unwrap())
    }

    /// HA's row for participant `i`: (incarnation, state).
    fn ha_row(&self, i: usize) -> (u64, String) {
        let t = &self.inspect("ha")["state"]["Ha"]["table"][i];
        (t[0].as_u64().unwrap(), t[1].as_str().unwrap().to_string())
    }
}

/// (offset, frame number) of each frame of a format-3 log.
fn frames(b: &[u8]) -> Vec<(usize, u64)> {
    let (mut v, mut at) = (Vec::new(), 8);
    while at + 24 <= b.len() {
        let seq = u64::from_le_bytes(b[at + 4..at + 12].try_into().unwrap());
        let len = u32::from_le_bytes(b[at + 12..at + 16].try_into().unwrap()) as usize;
        v.push((at, seq));
        at += 24 + len;
    }
    v
}

/// Finding 1: one flipped bit mid-log used to cut every frame after it as
/// a torn tail. Now the node refuses to start, names the offset, and keeps
/// every byte; `--repair` says what it drops, then cuts and starts.
#[test]
fn a_flipped_bit_mid_log_refuses_the_start_and_repair_says_what_it_drops() {
    let mut l = Live::new("midflip");
    for i in 1..=3 {
        let o = l.client(&["put", &format!("k{i}"), "1", "--wait", "stable"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    l.kill9("p1");
    let wal = l.dir.join("p1").join("p1.wal");
    let mut b = std::fs::read(&wal).unwrap();
    let fr = frames(&b);
    assert!(fr.len() >= 4, "{fr:?}");
    let (bad, _) = fr[fr.len() / 2];
    b[bad + 30] ^= 0x08; // in its payload
    std::fs::write(&wal, &b).unwrap();
    let (code, err) = l.node_refused("p1", &[]);
    assert_eq!(code, Some(2), "{err}");
    let after = fr.len() - fr.len() / 2 - 1;
    assert!(
        err.contains("p1.wal")
            && err.contains(&format!("at byte {bad}"))
            && err.contains(&format!("followed by {after} valid frame(s)")),
        "{err}"
    );
    assert_eq!(std::fs::read(&wal).unwrap(), b, "every frame kept");
    // --repair: says what it drops, then cuts and starts.
    let out = l.dir.join("repair.out");
    let mut c = Command::new(exe());
    c.args(["node", "--id", "p1", "--repair", "--data"])
        .arg(l.dir.join("p1"))
        .arg("--cluster")
        .arg(&l.file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&out).unwrap());
    l.procs.spawn("p1", &mut c).unwrap();
    l.wait_up("p1");
    let said = std::fs::read_to_string(&out).unwrap();
    assert!(
        said.contains(&format!("cutting {} at byte {bad}", wal.display()))
            && said.contains(&format!("the {after} valid frame(s) after it"))
            && said.contains("acknowledged"),
        "{said}"
    );
    let now = std::fs::read(&wal).unwrap();
    assert_eq!(&now[..bad], &b[..bad], "the prefix is kept");
    assert_eq!(
        frames(&now)[fr.len() / 2].1,
        fr[fr.len() / 2].1,
        "appended after the cut"
    );
    assert_eq!(l.inspect("p1")["state"]["Participant"]["inc"], 2);
}

/// Finding 2: a participant whose log went back (truncated below its
/// incarnation record), whose storage is gone, or whose data dir is an
/// older copy (while HA has seen more) refuses to start instead of
/// rejoining as a healthy replica.
#[test]
fn a_truncated_or_deleted_log_refuses_the_start() {
    let mut l = Live::new("lostlog");
    let o = l.client(&["put", "k1", "1", "--wait", "stable"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    l.kill9("p1");
    let copy = l.dir.join("p1-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["p1.wal", "p1.inc"] {
        std::fs::copy(l.dir.join("p1").join(f), copy.join(f)).unwrap();
    }
    l.start("p1"); // incarnation 2: its start frame is recorded in p1.inc
    let o = l.client(&["put", "k2", "2", "--wait", "stable"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    l.kill9("p1");
    let wal = l.dir.join("p1").join("p1.wal");
    let inc = std::fs::read(l.dir.join("p1").join("p1.inc")).unwrap();
    let rec_seq = u64::from_le_bytes(inc[12..20].try_into().unwrap());
    let b = std::fs::read(&wal).unwrap();
    let (at, _) = *frames(&b)
        .iter()
        .find(|f| f.1 == rec_seq)
        .expect("the recorded frame is in the log");
    // Cut in the middle of the frame before the recorded one.
    let cut = at - 5;
    std::fs::write(&wal, &b[..cut]).unwrap();
    let (code, err) = l.node_refused("p1", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("truncated or restored") && err.contains("resync"),
        "{err}"
    );
    assert_eq!(std::fs::read(&wal).unwrap(), &b[..cut], "nothing cut");
    // Even --repair refuses: there is nothing it could repair.
    let (code, err) = l.node_refused("p1", &["--repair"]);
    assert_eq!(code, Some(2), "{err}");
    // Its data dir emptied: HA has seen p1, so it does not come back empty.
    std::fs::remove_dir_all(l.dir.join("p1")).unwrap();
    let (code, err) = l.node_refused("p1", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("HA has seen incarnation 2 of p1") && err.contains("resync"),
        "{err}"
    );
    assert!(!l.dir.join("p1").exists(), "nothing created");
    // The data dir restored from the copy made at incarnation 1 (log and
    // record agree): HA has seen incarnation 2, so it is an old copy.
    std::fs::rename(&copy, l.dir.join("p1")).unwrap();
    let (code, err) = l.node_refused("p1", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("HA has seen incarnation 2") && err.contains("older copy"),
        "{err}"
    );
    // HA never saw a new incarnation of p1 (no healthy rejoin).
    assert_eq!(l.ha_row(0).0, 2);
}

/// Finding 3 of the attack review: HA was a single point of failure (a
/// restarted HA started from scratch, processes ignored it, writes stopped
/// reaching a replica). Now HA keeps its table: killed and restarted under
/// a stream of writes, every write acknowledged STABLE stays readable and
/// every participant ends ONLINE.
#[test]
fn ha_killed_and_restarted_under_load_loses_no_stable_write() {
    let mut l = Live::new("ha-restart");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (file, data, stop) = (l.file.clone(), l.dir.join("client"), stop.clone());
        std::thread::spawn(move || {
            let mut stable = Vec::new();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                let key = format!("k{}", 1 + i % 5);
                let o = Command::new(exe())
                    .args(["client", "--data", data.to_str().unwrap(), "--timeout", "2"])
                    .args(["--cluster", file.to_str().unwrap()])
                    .args(["put", &key, &i.to_string(), "--wait", "stable", "--json"])
                    .output()
                    .unwrap();
                if o.status.code() == Some(0) {
                    stable.push((key, i));
                }
            }
            stable
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    l.kill9("ha");
    std::thread::sleep(Duration::from_millis(500));
    l.start("ha");
    std::thread::sleep(Duration::from_millis(1200));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let stable = writer.join().unwrap();
    assert!(
        stable.len() >= 3,
        "writes went on around the restart: {stable:?}"
    );
    let ha = l.inspect("ha");
    assert!(
        ha["state"]["Ha"]["seq"].as_u64().unwrap() >= 1,
        "HA went on from its table, not from view 0: {}",
        ha["state"]
    );
    l.converged(Duration::from_secs(20));
    // The last STABLE write of each key is what a read returns.
    let mut last = std::collections::BTreeMap::new();
    for (k, v) in &stable {
        last.insert(k.clone(), *v);
    }
    for (k, v) in last {
        let o = l.client(&["get", &k, "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        assert_eq!(r["value"], v, "{k}: {}", text(&o));
    }
}

#[test]
fn a_damaged_ha_table_is_refused_not_replaced() {
    let mut l = Live::new("ha-damaged");
    let o = l.client(&["put", "k1", "1", "--wait", "stable"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    l.kill9("ha");
    let f = l.dir.join("ha").join("ha.state");
    let mut b = std::fs::read(&f).expect("HA wrote its table");
    let at = b.len() / 2;
    b[at] ^= 0x10;
    std::fs::write(&f, &b).unwrap();
    let o = l.dtm0(&["ha", "--data", l.dir.join("ha").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("damaged"), "{}", text(&o));
    assert_eq!(std::fs::read(&f).unwrap(), b, "the file is left as it was");
}

/// `dtm0 nemesis`, short: kills, torn log tails and HA restarts under three clients on
/// colliding keys; every verdict holds, and the JSON shows the kills, the
/// restarts and the writes it judged. Bad input is one line and exit 2.
#[test]
fn a_short_nemesis_run_with_kills_torn_tails_and_ha_restarts_passes() {
    let bad = Command::new(exe())
        .args(["nemesis", "--faults", "kill,meteor"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
    assert!(text(&bad).contains("`meteor`"), "{}", text(&bad));
    let args = [
        "nemesis",
        "--duration",
        "6",
        "--seed",
        "5",
        "--faults",
        "kill,torn-tail,restart-ha",
        "--json",
    ];
    let o = Command::new(exe())
        .args(args)
        .arg("--history")
        .arg(std::env::temp_dir().join(format!("dtm0-nemesis-test-{}.json", std::process::id())))
        .output()
        .unwrap();
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(r["passed"], true);
    assert!(r["faults"]["kill"].as_u64().unwrap_or(0) >= 1, "{r}");
    assert!(r["faults"]["torn-tail"].as_u64().unwrap_or(0) >= 1, "{r}");
    assert!(r["faults"]["restart-ha"].as_u64().unwrap_or(0) >= 1, "{r}");
    assert!(r["kill_restart_cycles"].as_u64().unwrap() >= 3, "{r}");
    // Every torn tail was found and cut by the restart.
    for f in r["fault_log"].as_array().unwrap() {
        if f["planned"]["kind"] == "torn-tail" {
            let what = f["what"].as_str().unwrap();
            let n = what.split(' ').nth(3).unwrap();
            assert!(what.ends_with(&format!("it cut {n}")), "{what}");
        }
    }
    // Writes were acknowledged and reads made, so the history checks had
    // something to judge; every check is there and holds.
    assert!(r["ops"]["put"]["stable"].as_u64().unwrap_or(0) > 10, "{r}");
    assert!(r["ops"]["get"]["read"].as_u64().unwrap_or(0) > 10, "{r}");
    let ids: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in ["H1", "H2", "H3", "H4", "Q", "S1", "S2", "S3", "S5", "S6"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    // Same seed, same schedule.
    let again = Command::new(exe())
        .args(args)
        .arg("--schedule-only")
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(plan, r["schedule"]);
}

/// The cluster file's spec, as the tests' own in-process clients see it.
fn spec_of(l: &Live) -> std::sync::Arc<dtm0::live::spec::LiveSpec> {
    std::sync::Arc::new(dtm0::live::spec::LiveSpec::load(&l.file).unwrap())
}

fn count(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut x = &v["counters"];
    for p in path {
        x = &x[p];
    }
    x.as_u64()
        .unwrap_or_else(|| panic!("no counter {path:?} in {v}"))
}

/// A stranger on a free client slot's port, without the cluster key, sends
/// the messages of the attack (EXECUTE, REDO, a View numbered 2^32-1,
/// Starting 1000000): every one is dropped and counted, nothing changes on
/// any replica, and the cluster serves puts. It gets no answer to an
/// inspect. A process that has the key but sends from the client slot what
/// only HA or a participant sends is refused by the runtime's guard.
#[test]
fn a_stranger_without_the_key_changes_nothing() {
    use dtm0::live::auth::Auth;
    use dtm0::live::node::request;
    use dtm0::live::session::Hdr;
    use dtm0::live::wire::{seal_proto, Wire};
    use dtm0::protocol::msg::Msg;
    use dtm0::protocol::types::{Op, StateVec, TxId, Txr};
    let l = Live::with("stranger", true, false);
    let o = l.client(&["put", "k1", "1", "--wait", "done"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let kv0 = l.converged(Duration::from_secs(10));
    let spec = spec_of(&l);
    let names = ["p1", "p2", "p3", "ha"];
    let before: Vec<serde_json::Value> = names.iter().map(|n| l.inspect(n)).collect();
    // The stranger binds the slot's port (no client runs).
    let slot = spec.addrs[3];
    let s = UdpSocket::bind(slot).unwrap();
    let tx = TxId {
        ts: u64::MAX / 2,
        slot: 0,
        inc: 99,
    };
    let evil = [
        Msg::Execute {
            to: 1,
            tx,
            op: Op::Put { key: 7, val: 666 },
        },
        Msg::Redo {
            to: 1,
            from: 1,
            txr: Txr {
                id: tx,
                op: Op::Put { key: 8, val: 666 },
                sv: StateVec::default(),
            },
        },
        Msg::View {
            to: 1,
            seq: u32::MAX,
            table: Default::default(),
        },
        Msg::Starting { inc: 1_000_000 },
    ];
    let mut sent = [0u64; 4];
    let no_key = [Auth::keyless(), Auth::from_key(&[5; 32])];
    for (i, who) in names.iter().enumerate() {
        let to = spec.addr_of(spec.parse_id(who).unwrap()).unwrap();
        for (seq, a) in no_key.iter().enumerate() {
            let hdr = Hdr {
                to: i as u32 + if i == 3 { 1 } else { 0 },
                inc: 1_000_000,
                boot: 1,
                seq: seq as u64 + 1,
                low: 1,
                ack: None,
            };
            s.send_to(&seal_proto(a, 3, hdr, &evil), to).unwrap();
            sent[i] += 1;
        }
        // and the bare messages, with no format byte or MAC
        let bare = serde_json::to_vec(&evil).unwrap();
        s.send_to(&bare, to).unwrap();
    }
    // An inspect without the key: no answer at all.
    let p1 = spec.addr_of(spec.parse_id("p1").unwrap()).unwrap();
    let r = request(
        &Auth::keyless(),
        p1,
        &Wire::Inspect,
        Duration::from_millis(300),
    );
    assert!(r.is_err(), "answered a stranger: {r:?}");
    std::thread::sleep(Duration::from_millis(200));
    for (i, n) in names.iter().enumerate() {
        let v = l.inspect(n);
        let d = count(&v, &["dropped_unauthenticated"])
            - count(&before[i], &["dropped_unauthenticated"]);
        assert_eq!(d, sent[i] + u64::from(i == 0), "{n}: {}", v["counters"]);
        let m = count(&v, &["dropped_malformed"]) - count(&before[i], &["dropped_malformed"]);
        assert_eq!(m, 1, "{n}: the bare datagram");
        assert_eq!(v["state"], before[i]["state"], "{n} changed");
    }
    // A process with the key on the client slot's port, sending what a
    // client slot never sends, or a Starting far past HA's row: refused
    // by the runtime's guard. A session far past the slot's incarnation
    // (the last client's was 2) is refused below it.
    let hdr = |to: u32, inc: u32| Hdr {
        to,
        inc,
        boot: 2,
        seq: 1,
        low: 1,
        ack: None,
    };
    let ha = spec.addr_of(spec.parse_id("ha").unwrap()).unwrap();
    let p2 = spec.addr_of(spec.parse_id("p2").unwrap()).unwrap();
    s.send_to(&seal_proto(&spec.auth, 3, hdr(0, 3), &evil[1..3]), p1)
        .unwrap();
    s.send_to(&seal_proto(&spec.auth, 3, hdr(4, 3), &evil[3..]), ha)
        .unwrap();
    s.send_to(
        &seal_proto(&spec.auth, 3, hdr(1, 1_000_000), &evil[..1]),
        p2,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let v = l.inspect("p1");
    assert_eq!(
        count(&v, &["refused_sender"]),
        2,
        "REDO and View: {}",
        v["counters"]
    );
    let h = l.inspect("ha");
    assert_eq!(count(&h, &["refused_ahead"]), 1, "{}", h["counters"]);
    let v = l.inspect("p2");
    assert_eq!(count(&v, &["session", "ahead"]), 1, "{}", v["counters"]);
    drop(s);
    // Still the same data everywhere, HA's row of the slot untouched, and
    // the cluster serves puts (the EXECUTE from the slot was the one thing
    // a client may send: it is the slot's, an incarnation HA never saw).
    let o = l.client(&["put", "k2", "2", "--wait", "done"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let kv = l.converged(Duration::from_secs(10));
    assert!(kv.get("7").is_none() && kv.get("8").is_none(), "{kv}");
    assert_eq!(kv.get("1"), kv0.get("1"));
    assert!(kv.get("2").is_some(), "{kv}");
    let row = &l.inspect("ha")["state"]["Ha"]["table"][3];
    assert!(row[0].as_u64().unwrap() < 100, "the slot's row: {row}");
}

/// 100k malformed datagrams at a node: its log stays a few lines (one
/// summary a second at most), it counts them and still answers.
#[test]
fn a_flood_of_junk_leaves_a_short_log() {
    let l = Live::new("flood");
    let spec = spec_of(&l);
    let p1 = spec.addr_of(spec.parse_id("p1").unwrap()).unwrap();
    let before = count(&l.inspect("p1"), &["dropped_malformed"]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let t = Instant::now();
    for i in 0..100_000u32 {
        s.send_to(&i.to_le_bytes(), p1).unwrap();
        if i % 2000 == 1999 {
            // pace: let the node drain its socket
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let sending = t.elapsed();
    std::thread::sleep(Duration::from_millis(1200));
    let v = l.inspect("p1");
    let n = count(&v, &["dropped_malformed"]) - before;
    assert!(n >= 90_000, "counted {n} of 100000 (sent in {sending:?})");
    let o = l.client(&["put", "k1", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = std::fs::read_to_string(l.dir.join("p1.err")).unwrap();
    let lines = log.lines().count();
    assert!(
        lines < 50 && log.len() < 8192,
        "{lines} lines, {} bytes:\n{log}",
        log.len()
    );
    assert!(log.contains("dropped"), "a summary line: {log}");
}

/// 20% loss, 10% duplication and 30% of datagrams delayed up to 5 ms on
/// every node's input: 200 puts (4 client incarnations) complete, DONE, and
/// every replica converges; the sessions absorbed it (retransmissions and
/// duplicates counted).
#[test]
fn sessions_absorb_loss_duplication_and_reordering() {
    use dtm0::live::client::{run, Wait};
    use dtm0::live::node::request;
    use dtm0::live::wire::{Fault, Wire};
    use dtm0::protocol::types::Op;
    let l = Live::with("chaos", false, true);
    let spec = spec_of(&l);
    for (i, n) in ["p1", "p2", "p3", "ha"].iter().enumerate() {
        let c = dtm0::live::chaos::WireChaos {
            loss_pct: 20,
            dup_pct: 10,
            reorder_pct: 30,
            delay_ms: 5,
            seed: 1 + i as u64,
        };
        let a = spec.addr_of(spec.parse_id(n).unwrap()).unwrap();
        let r = request(
            &spec.auth,
            a,
            &Wire::Fault(Fault::Chaos(c)),
            Duration::from_secs(2),
        );
        assert!(
            matches!(&r, Ok(Wire::Json(j)) if j.contains("\"ok\":true")),
            "{r:?}"
        );
    }
    // 4 client incarnations of 50 puts (more datagrams than one batch).
    for i in 0..4u32 {
        let ops: Vec<Op> = (1..=50)
            .map(|k| Op::Put {
                key: i * 50 + k,
                val: u64::from(k),
            })
            .collect();
        let reps = run(
            &spec,
            0,
            &l.dir.join("client"),
            &ops,
            Wait::Done,
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(reps.len(), 50);
        assert!(reps.iter().all(|r| r.state == "DONE"), "{reps:?}");
    }
    let kv = l.converged(Duration::from_secs(20));
    assert_eq!(kv.as_object().unwrap().len(), 200);
    let all: Vec<serde_json::Value> = ["p1", "p2", "p3", "ha"]
        .iter()
        .map(|n| l.inspect(n))
        .collect();
    let sum = |path: &[&str]| all.iter().map(|v| count(v, path)).sum::<u64>();
    let counters: Vec<&serde_json::Value> = all.iter().map(|v| &v["counters"]).collect();
    assert!(sum(&["chaos", "lost"]) > 0, "{counters:?}");
    assert!(sum(&["chaos", "duplicated"]) > 0, "{counters:?}");
    assert!(sum(&["chaos", "delayed"]) > 0, "{counters:?}");
    assert!(sum(&["session", "duplicates"]) > 0, "{counters:?}");
    assert!(sum(&["session", "retransmits"]) > 0, "{counters:?}");
}
