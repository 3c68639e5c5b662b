//! The `dtm0` binary as a user runs it: exit codes, bad input, the seed,
//! and the explorer's JSON API on a counterexample path.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dtm0(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dtm0"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run dtm0")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_model(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dtm0-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

const GOOD: &str =
    "participants = 2\nkeys = 1\n[[originators]]\nname = \"o\"\nscripts = [[\"put k1\"]]\n";

#[test]
fn small_model_passes_with_exit_0() {
    let o = dtm0(&["check", "models/tiny.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("EXHAUSTIVE"), "{t}");
    for id in [
        "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "L1", "L2", "L3",
    ] {
        assert!(t.contains(&format!("  {id} ")), "{id} missing in {t}");
    }
}

#[test]
fn violation_exits_1_with_counterexample_and_explorer_path() {
    let o = dtm0(&[
        "check",
        "models/orphan.toml",
        "--variant",
        "del-absent-no-tombstone",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("S2 convergence violated") || t.contains("S3 no resurrection violated"),
        "{t}"
    );
    assert!(t.contains("(shortest)"), "{t}");
    assert!(t.contains("#/steps/0/"), "{t}");
    assert!(t.contains("oproc: crash"), "{t}");
}

#[test]
fn json_report_parses() {
    let o = dtm0(&["check", "models/tiny.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json on stdout");
    assert_eq!(v["model"], "tiny");
    assert_eq!(v["exhaustive"], true);
    assert_eq!(v["properties"].as_array().unwrap().len(), 12);
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["check".into(), "models/nope.toml".into()],
            "cannot read",
        ),
        (
            vec![
                "check".into(),
                "models/tiny.toml".into(),
                "--variant".into(),
                "bogus".into(),
            ],
            "unknown variant",
        ),
        (
            vec![
                "check".into(),
                "models/tiny.toml".into(),
                "--strategy".into(),
                "zzz".into(),
            ],
            "invalid value",
        ),
        (
            vec![
                "check".into(),
                "models/tiny.toml".into(),
                "--threads".into(),
                "0".into(),
            ],
            "--threads",
        ),
        (
            vec![
                "check".into(),
                "models/tiny.toml".into(),
                "--strategy".into(),
                "sim".into(),
            ],
            "--timeout",
        ),
        (
            vec![
                "check".into(),
                "models/put-crash.toml".into(),
                "--symmetry".into(),
            ],
            "interchangeable",
        ),
        (vec!["frobnicate".into()], "unrecognized subcommand"),
    ];
    let bad_models = [
        (format!("{GOOD}colour = 1\n"), "unknown field `colour`"),
        (
            GOOD.replace("participants = 2", "participants = 0"),
            "participants",
        ),
        (format!("{GOOD}[crashes]\np9 = 1\n"), "crashes.p9"),
        (format!("{GOOD}[crashes]\no = 1\n"), "crashes.o"),
        (
            GOOD.replace("keys = 1", "keys = 2"),
            "k2 is touched by no op",
        ),
        (GOOD.replace("put k1", "put k3"), "not one of"),
        (GOOD.replace("put k1", "frob k1"), "bad op"),
        ("participants = \n".to_string(), "line 1"),
    ];
    let mut all = cases;
    for (i, (body, want)) in bad_models.iter().enumerate() {
        let p = write_model(&format!("bad{i}.toml"), body);
        all.push((vec!["check".into(), p.to_string_lossy().into_owned()], want));
    }
    for (args, want) in all {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let o = dtm0(&a);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: wanted `{want}` in {err}");
        if !want.contains("invalid value") && !want.contains("unrecognized") {
            assert_eq!(
                err.trim_end().lines().count(),
                1,
                "{args:?}: not one line: {err}"
            );
        }
    }
}

#[test]
fn help_explains_each_subcommand() {
    for sub in ["check", "explore", "variants"] {
        let o = dtm0(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        let t = text(&o);
        assert!(t.len() > 200, "{sub}: {t}");
    }
    let t = text(&dtm0(&["check", "--help"]));
    assert!(t.contains("EXHAUSTIVE") && t.contains("--variant") && t.contains("--timeout"));
}

#[test]
fn seed_model_bounded_run_holds_with_every_witness() {
    let o = dtm0(&["check", "--timeout", "40"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("model seed"), "{t}");
    assert!(t.contains("BOUNDED"), "a bounded run must say so: {t}");
    assert!(!t.contains("NOT FOUND"), "{t}");
}

#[test]
fn seed_model_with_motr_tombstone_rule_is_caught() {
    let o = dtm0(&[
        "check",
        "models/seed.toml",
        "--variant",
        "del-absent-no-tombstone",
        "--timeout",
        "90",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let verdict = t.lines().find(|l| l.starts_with("verdict:")).unwrap();
    assert!(
        verdict.contains("S2") || verdict.contains("S3"),
        "{verdict}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        // HTTP/1.0: the body comes plain, not in chunks.
        "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((code, body))
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn explorer_opens_the_printed_counterexample_path() {
    let o = dtm0(&[
        "check",
        "models/orphan.toml",
        "--variant",
        "del-absent-no-tombstone",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let path = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "S3")
        .unwrap()["counterexample"]["explorer_path"]
        .as_str()
        .unwrap()
        .to_string();
    let steps = path.split('/').count() - 1;
    assert!(steps > 3, "{path}");

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_dtm0"))
        .args([
            "explore",
            "models/orphan.toml",
            "--variant",
            "del-absent-no-tombstone",
            "--addr",
            &addr,
        ])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (code, body) = loop {
        if let Some(r) = http_get(port, &format!("/.states/{path}")) {
            break r;
        }
        assert!(Instant::now() < deadline, "explorer did not answer");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(code, 200, "{body}");
    let next: serde_json::Value = serde_json::from_str(&body).unwrap();
    let states = next.as_array().expect("a list of next steps");
    assert!(!states.is_empty());
    // a bogus path is refused
    let (code, _) = http_get(port, "/.states/0/999/999").unwrap();
    assert_eq!(code, 404);

    // the same address again is busy: clear error, exit 2
    let o = dtm0(&["explore", "models/orphan.toml", "--addr", &addr]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot listen"));
    let o = dtm0(&["explore", "models/orphan.toml", "--addr", "not-an-address"]);
    assert_eq!(o.status.code(), Some(2));
}
