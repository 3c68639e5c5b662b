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
        let dir = std::env::temp_dir().join(format!("dtm0-live-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let a = free_addrs(5).unwrap();
        let body = format!(
            "name = \"t\"\nvariants = [\"pruning\"]\nha = \"{}\"\nparticipants = [\"{}\", \"{}\", \"{}\"]\n\
             [[originators]]\nname = \"o\"\naddr = \"{}\"\n[timing]\ncommit_delay_ms = 1\nheartbeat_ms = 50\nfailure_timeout_ms = 5000\n",
            a[4], a[0], a[1], a[2], a[3]
        );
        let file = dir.join("cluster.toml");
        std::fs::write(&file, body).unwrap();
        let mut l = Live {
            dir,
            file,
            procs: Children::new(),
        };
        for p in ["ha", "p1", "p2", "p3"] {
            l.start(p);
        }
        l
    }

    fn start(&mut self, name: &str) {
        let mut c = Command::new(exe());
        if name == "ha" {
            c.arg("ha");
        } else {
            c.args(["node", "--id", name, "--data"])
                .arg(self.dir.join(name));
        }
        c.arg("--cluster").arg(&self.file);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        self.procs.spawn(name, &mut c).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.try_inspect(name).is_none() {
            assert!(Instant::now() < deadline, "{name} did not come up");
            std::thread::sleep(Duration::from_millis(20));
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
    assert!(
        text(&o).contains("PUT k1") && text(&o).contains("EXECUTED"),
        "{}",
        text(&o)
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
