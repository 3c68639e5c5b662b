//! The `dtm0` binary as a user runs it: exit codes, bad input, the seed,
//! and the explorer's JSON API on a counterexample path.

use dtm0::live::procs::{free_port, Children};
use std::io::{Read, Write};
use std::net::TcpStream;
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
        "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "L1", "L2", "L3",
    ] {
        assert!(t.contains(&format!("  {id} ")), "{id} missing in {t}");
    }
}

/// Two writers at one timestamp (issue 13, equal timestamps): the default
/// version order holds, Motr's diverges; `check` warns of the collision
/// and prints diverged replicas with value and writer.
#[test]
fn equal_timestamps_hold_by_default_and_diverge_under_motr_order() {
    let o = dtm0(&["check", "models/equal-ts.toml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("every property holds (exhaustive)"), "{t}");
    assert!(
        t.contains("warning: clocks collide: o1.R1 and q1.R1 both write k1 at 10"),
        "{t}"
    );
    let o = dtm0(&["check", "models/motr-equal-ts.toml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("verdict: violated: S1, S2"), "{t}");
    assert!(t.contains("(18 steps, shortest) violates S1, S2"), "{t}");
    assert!(
        t.contains("k1@10=1 by o1") && t.contains("k1@10=2 by q1"),
        "{t}"
    );
    // The same model file with the variant given on the command line.
    let o = dtm0(&[
        "check",
        "models/equal-ts.toml",
        "--variant",
        "motr-version-order",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // No collision, no warning.
    let o = dtm0(&["check", "models/tiny.toml"]);
    assert!(!text(&o).contains("clocks collide"), "{}", text(&o));
}

#[test]
fn three_crash_is_explored_to_the_end_by_default() {
    // 3 participants, p1 crashes: plain search does not finish; the
    // semantic reduction (the default) explores it to the end and every
    // property holds, the step-local ones included.
    let o = dtm0(&["check", "models/three-crash.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reduction"], "stubborn");
    assert_eq!(v["exhaustive"], true, "{v}");
    for p in v["properties"].as_array().unwrap() {
        assert_eq!(p["status"], "holds", "{p}");
    }
    let o = dtm0(&["check", "models/three-crash.toml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("EXHAUSTIVE"), "{t}");
}

#[test]
fn reduction_flag_and_compare_print_the_factor() {
    // Default: the semantic reduction; --compare reruns without reduction
    // and runs the exact oracle, and the text prints the three counts.
    let o = dtm0(&["check", "models/put-crash.toml", "--compare"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("reduction: stubborn (semantic)"), "{t}");
    let line = t
        .lines()
        .find(|l| l.starts_with("unique states: plain "))
        .unwrap_or_else(|| panic!("no comparison line in {t}"));
    let nums: Vec<f64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    let (plain, reduced, oracle) = (nums[0], nums[1], nums[2]);
    assert!(
        plain >= 30.0 * reduced,
        "reduced not 30x below plain: {line}"
    );
    assert!(oracle > 0.0 && oracle < plain, "{line}");
    // --reduction por: the actor-level reduction; one thread adds sleep sets.
    let o = dtm0(&[
        "check",
        "models/put-crash.toml",
        "--threads",
        "1",
        "--reduction",
        "por",
        "--compare",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reduction"], "por");
    assert_eq!(v["exhaustive"], true);
    let c = &v["comparison"];
    assert_eq!(c["same_verdicts"], true, "{c}");
    assert_eq!(c["plain_unique_states"], v["unique_states"], "{c}");
    // One thread: sleep sets skip transitions, so the factor is above 1.
    assert!(c["transition_factor"].as_f64().unwrap() > 1.5, "{c}");
    assert!(v["slept_transitions"].as_u64().unwrap() > 0);
    // The text says it too.
    let o = dtm0(&[
        "check",
        "models/tiny.toml",
        "--threads",
        "1",
        "--reduction",
        "por",
        "--compare",
    ]);
    let t = text(&o);
    assert!(t.contains("reduction: por"), "{t}");
    assert!(
        t.contains("reduction factor (against --reduction none"),
        "{t}"
    );
    // --reduction none: stateright's checker, and a bad kind is refused.
    let o = dtm0(&["check", "models/tiny.toml", "--reduction", "none"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("reduction: none"), "{}", text(&o));
    let o = dtm0(&["check", "models/tiny.toml", "--reduction", "fast"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // bfs has no reduction, and says so.
    let o = dtm0(&["check", "models/tiny.toml", "--strategy", "bfs"]);
    assert!(
        text(&o).contains("partial-order reduction applies to dfs only"),
        "{}",
        text(&o)
    );
}

#[test]
fn violation_exits_1_with_counterexample_and_explorer_path() {
    // The must-show: each distinct counterexample once, each with one
    // explanation line per property it violates, and the full explorer
    // command; progress lines while the shortest paths are searched.
    let o = dtm0(&[
        "check",
        "models/orphan.toml",
        "--variant",
        "del-absent-no-tombstone",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains("searching breadth-first for shortest counterexamples"),
        "{err}"
    );
    let violated: Vec<String> = t
        .lines()
        .filter(|l| l.contains(" VIOLATED "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert!(violated.contains(&"S2".to_string()), "{t}");
    // Split into the counterexamples' blocks.
    let blocks: Vec<&str> = t.split("\ncounterexample ").skip(1).collect();
    assert!(blocks.len() >= 2, "{t}");
    let mut paths = Vec::new();
    let mut covered = Vec::new();
    for b in &blocks {
        let header = b.lines().next().unwrap();
        let ids: Vec<&str> = header
            .split("violates ")
            .nth(1)
            .unwrap()
            .trim_end_matches(':')
            .split(", ")
            .collect();
        for id in &ids {
            let line = b
                .lines()
                .find(|l| l.starts_with(&format!("  {id}: \"")))
                .unwrap_or_else(|| panic!("no explanation of {id} in {b}"));
            assert!(line.contains("\" fails: "), "{line}");
            covered.push(id.to_string());
        }
        let explore = b
            .lines()
            .find(|l| l.trim_start().starts_with("explorer: "))
            .unwrap_or_else(|| panic!("no explorer line in {b}"));
        assert!(
            explore.contains("dtm0 explore models/orphan.toml --variant del-absent-no-tombstone"),
            "{explore}"
        );
        let url = b.lines().find(|l| l.contains("#/steps/")).unwrap();
        paths.push(url.split("#/steps/").nth(1).unwrap().trim().to_string());
    }
    // One block per distinct path, and every violated property in one.
    let mut distinct = paths.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        paths.len(),
        "a path printed twice: {paths:?}"
    );
    for v in &violated {
        assert!(covered.contains(v), "{v} in no counterexample: {t}");
    }
    // S2's explanation names the key, both replicas and what each holds.
    let s2 = t.lines().find(|l| l.starts_with("  S2: ")).unwrap();
    assert!(
        s2.contains("k1 differs") && s2.contains("p1 has") && s2.contains("p2 has"),
        "{s2}"
    );
    assert!(
        t.contains("(8 steps, shortest)") || t.contains(", shortest)"),
        "{t}"
    );
    // Processes named with their incarnation; internals only with --verbose.
    assert!(t.contains("o1proc: crash"), "{t}");
    assert!(!t.contains("oproc"), "{t}");
    assert!(!t.contains("sleep sets skipped"), "{t}");
    let verdict = t.lines().find(|l| l.starts_with("verdict:")).unwrap();
    assert!(verdict.starts_with("verdict: violated: "), "{verdict}");
}

#[test]
fn json_report_parses() {
    let o = dtm0(&["check", "models/tiny.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json on stdout");
    assert_eq!(v["model"], "tiny");
    assert_eq!(v["exhaustive"], true);
    assert_eq!(
        v["properties"].as_array().unwrap().len(),
        dtm0::model::properties::PROPS.len()
    );
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
            "invalid value 'zzz' for '--strategy <STRATEGY>' [possible values:",
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
        // clap's usage errors too: one line (with the possible values)
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
    }
}

#[test]
fn help_explains_each_subcommand() {
    for sub in [
        "check", "explore", "variants", "scenario", "trace", "node", "ha", "client", "inspect",
        "nemesis", "keygen",
    ] {
        let o = dtm0(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        let t = text(&o);
        assert!(t.len() > 200, "{sub}: {t}");
    }
    for sub in [["cluster", "up"], ["bench", "live"]] {
        let o = dtm0(&[sub[0], sub[1], "--help"]);
        assert_eq!(o.status.code(), Some(0));
        assert!(text(&o).len() > 200, "{sub:?}");
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
    // The actor-level reduction: its random DFS reaches the divergence (S2
    // or S3) within the limit; the semantic one, bounded on the seed,
    // finds S1 and S4-S8 first and had not reached S2/S3 after 150 s.
    let o = dtm0(&[
        "check",
        "models/seed.toml",
        "--variant",
        "del-absent-no-tombstone",
        "--reduction",
        "por",
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

/// `dtm0 explore ARGS` on a free loopback port: the guard, port, address.
fn explorer(args: &[&str]) -> (Children, u16, String) {
    let port = free_port().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut guard = Children::new();
    guard
        .spawn(
            "explore",
            Command::new(env!("CARGO_BIN_EXE_dtm0"))
                .arg("explore")
                .args(args)
                .args(["--addr", &addr])
                .current_dir(root())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .unwrap();
    (guard, port, addr)
}

/// GET /.states/PATH once the explorer answers (30 s at most).
fn get_when_up(port: u16, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = http_get(port, &format!("/.states/{path}")) {
            return r;
        }
        assert!(Instant::now() < deadline, "explorer did not answer");
        std::thread::sleep(Duration::from_millis(200));
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
    // Each violated property carries its explanation, each counterexample
    // the structured final states, the report the explorer command.
    let s3 = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "S3")
        .unwrap();
    let why = s3["explanation"].as_str().unwrap();
    assert!(why.starts_with("\"no resurrection\" fails: "), "{why}");
    let cx = &s3["counterexample"];
    assert!(cx["violations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == "S3"));
    assert_eq!(final_of(cx, "p2").0, ["k1@10"], "{cx}");
    assert_eq!(cx["final"]["p1"]["ha"], "ONLINE", "{cx}");
    assert_eq!(
        v["explorer"]["command"],
        "dtm0 explore models/orphan.toml --variant del-absent-no-tombstone"
    );

    let cx = &v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "S3")
        .unwrap()["counterexample"];
    let printed: Vec<&str> = cx["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let final_state = cx["final_state"].as_str().unwrap();

    let (_guard, port, addr) =
        explorer(&["models/orphan.toml", "--variant", "del-absent-no-tombstone"]);
    // Walk the printed path one index at a time: each index opens the step
    // `check` printed there, in the same words.
    let indices: Vec<&str> = path.split('/').collect();
    assert_eq!(indices.len(), printed.len() + 1, "{path}");
    let mut prefix = indices[0].to_string();
    let mut last = serde_json::Value::Null;
    for (i, idx) in indices[1..].iter().enumerate() {
        let (code, body) = get_when_up(port, &prefix);
        assert_eq!(code, 200, "{prefix}: {body}");
        let next: serde_json::Value = serde_json::from_str(&body).unwrap();
        let step = next
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["actionIndex"].as_u64() == idx.parse().ok())
            .unwrap_or_else(|| panic!("{prefix}: no action {idx} in {body}"))
            .clone();
        assert_eq!(step["action"], printed[i], "step {} of {path}", i + 1);
        prefix = format!("{prefix}/{idx}");
        last = step;
    }
    // The state it ends in: check's final state, in the protocol's
    // notation, under the violation it shows; the same in the diagram.
    let state = last["state"].as_str().unwrap();
    let outcome = last["outcome"].as_str().unwrap();
    let svg = last["svg"].as_str().unwrap();
    for text in [state, outcome] {
        assert!(text.contains(final_state), "{final_state}\nnot in\n{text}");
        assert!(text.starts_with("VIOLATED "), "{text}");
        assert!(text.contains("VIOLATED S3 no resurrection: "), "{text}");
        assert!(!text.contains("ActorModelState"), "{text}");
    }
    assert!(svg.contains("VIOLATED S3 no resurrection: "), "{svg}");
    assert!(
        svg.contains("o1 -&gt; p1: request o1.R1 [PUT k1 @10]"),
        "{svg}"
    );
    assert!(!svg.contains("Execute {"), "{svg}");
    // The end is settled and every crash budget is used: nothing is
    // offered (stateright alone offers `HAproc: crash` and the others).
    let (code, body) = get_when_up(port, &path);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body.trim(), "[]", "{body}");
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

/// The actions the explorer offers after the path `prefix`, by their text.
fn offered(port: u16, prefix: &str) -> Vec<(String, u64)> {
    let (code, body) = get_when_up(port, prefix);
    assert_eq!(code, 200, "{prefix}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_string(),
                s["actionIndex"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn explorer_offers_no_crash_the_budgets_forbid() {
    // orphan: only the originator may crash, once.
    let (_guard, port, _) = explorer(&["models/orphan.toml"]);
    let at_init = offered(port, "0");
    let texts: Vec<&str> = at_init.iter().map(|(a, _)| a.as_str()).collect();
    // o1's crash is the only crash offered (stateright alone would offer
    // HA's and the participants' too)
    let crashes: Vec<&&str> = texts.iter().filter(|t| t.contains("crash")).collect();
    assert_eq!(crashes, [&"o1proc: crash"], "{texts:?}");
    // Indices stay those of the offered list: 0, 1, 2, ...
    let idx: Vec<u64> = at_init.iter().map(|(_, i)| *i).collect();
    assert_eq!(idx, (0..idx.len() as u64).collect::<Vec<_>>());
    let find = |list: &[(String, u64)], what: &str| {
        list.iter()
            .find(|(a, _)| a == what)
            .unwrap_or_else(|| panic!("{what} not in {list:?}"))
            .1
    };
    let crashed = format!("0/{}", find(&at_init, "o1proc: crash"));
    let restarted = format!(
        "{crashed}/{}",
        find(&offered(port, &crashed), "o1proc: restart as o2")
    );
    // The second crash of o is beyond its budget: no crash at all now.
    let after = offered(port, &restarted);
    assert!(!after.is_empty(), "{after:?}");
    assert!(after.iter().all(|(a, _)| !a.contains("crash")), "{after:?}");
    // and the states are in the protocol's notation
    let (_, body) = get_when_up(port, &restarted);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let state = v[0]["state"].as_str().unwrap();
    assert!(
        state.contains("HA view #0: p1 is ONLINE, p2 is ONLINE, o1 is ONLINE"),
        "{state}"
    );
    // the restarted originator by its incarnation, and each message in
    // flight as the step that would deliver it
    assert!(state.contains("\no2: {}\n"), "{state}");
    assert!(
        state.contains("\n  o2 -> HA: started, ready to ONLINE"),
        "{state}"
    );
    assert!(!state.contains("VIOLATED"), "{state}");
}

fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn final_of(v: &serde_json::Value, p: &str) -> (Vec<String>, Vec<String>) {
    let f = &v["final"][p];
    let show = |x: &serde_json::Value| {
        x.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}@{v}"))
            .collect::<Vec<_>>()
    };
    (show(&f["live"]), show(&f["tombstones"]))
}

#[test]
fn scenario_seed_json_gives_the_seeds_final_states() {
    let dead = ["k1@100", "k2@101", "k3@102"];
    let o = dtm0(&["scenario", "seed", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json_of(&o);
    for p in ["p1", "p2", "p3"] {
        assert_eq!(
            final_of(&v, p),
            (vec![], dead.map(String::from).to_vec()),
            "{p}"
        );
    }
    assert!(v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["time"] == "@60"));

    let o = dtm0(&[
        "scenario",
        "seed",
        "--variant",
        "del-absent-no-tombstone",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json_of(&o);
    for p in ["p1", "p3"] {
        assert_eq!(
            final_of(&v, p),
            (vec![], dead.map(String::from).to_vec()),
            "{p}"
        );
    }
    let (live, tomb) = final_of(&v, "p2");
    assert_eq!(live, ["k1@10", "k3@12"]);
    assert_eq!(tomb, ["k2@101"]);
}

#[test]
fn scenario_seed_finish_reaches_quiescence() {
    let o = dtm0(&["scenario", "seed", "--finish", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json_of(&o);
    assert_eq!(v["settled"], true);
    assert_eq!(v["quiescent"], true);
    for p in ["p1", "p2", "p3"] {
        assert_eq!(v["final"][p]["ha"], "ONLINE");
    }
    let props = v["properties"].as_array().unwrap();
    assert_eq!(props.len(), dtm0::model::properties::PROPS.len());
    assert!(props.iter().all(|p| p["holds"] == true), "{props:?}");

    let o = dtm0(&[
        "scenario",
        "seed",
        "--finish",
        "--variant",
        "del-absent-no-tombstone",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("S2 convergence") && t.contains("VIOLATED"),
        "{t}"
    );
}

#[test]
fn scenario_seed_prints_the_table_and_an_explorer_path_that_opens() {
    let o = dtm0(&["scenario", "seed"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    for want in [
        "@10-15:",
        "@60:",
        "p1disk -> p1: committed(R1)",
        "R1[CAS PUT k3 @12 st=VVP],",
        "p2: kvs = <empty set>, tombstones = { k1@100, k2@101, k3@102 }",
    ] {
        assert!(t.contains(want), "{want} missing in {t}");
    }
    let line = t.lines().find(|l| l.starts_with("explorer: ")).unwrap();
    assert!(
        line.contains("dtm0 explore models/seed.toml --network unordered"),
        "{line}"
    );
    let path = line.split("#/steps/").nth(1).unwrap().trim().to_string();

    let (_guard, port, _) = explorer(&["models/seed.toml", "--network", "unordered"]);
    let (code, body) = get_when_up(port, &path);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("DEL"),
        "the state after the seed's last step: {body}"
    );
}

#[test]
fn saved_trace_shows_as_a_table_and_a_tampered_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("dtm0-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("l2.json");
    let f = file.to_str().unwrap();
    let o = dtm0(&[
        "check",
        "models/put-crash.toml",
        "--variant",
        "redo-skip-persistent",
        "--format",
        "table",
        "--save-trace",
        f,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("violates L2:") && t.contains("#1:") && t.contains("R1[CAS PUT k1 @10"),
        "{t}"
    );
    assert!(t.contains("saved 1 counterexample(s)"), "{t}");

    let o = dtm0(&["trace", f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("counterexample for L2 on model put-crash"),
        "{t}"
    );
    assert!(
        t.contains("L2 P everywhere") && t.contains("VIOLATED"),
        "{t}"
    );
    let o = dtm0(&["trace", f, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v = json_of(&o);
    assert_eq!(v["paths"][0]["property"], "L2");

    // change one event: the trace no longer replays
    let mut tr: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    tr["paths"][0]["events"][0] = "o1 -> p2: reply o1.R7".into();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, tr.to_string()).unwrap();
    let o = dtm0(&["trace", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("step 1"), "{}", text(&o));
    // a model with no counterexample writes nothing
    let none = dir.join("none.json");
    let o = dtm0(&[
        "check",
        "models/tiny.toml",
        "--save-trace",
        none.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!none.exists());
}

/// The `verdict:` line of a text report.
fn verdict_line(t: &str) -> String {
    t.lines()
        .find(|l| l.starts_with("verdict:"))
        .unwrap_or_else(|| panic!("no verdict in {t}"))
        .to_string()
}

#[test]
fn verdict_lines_say_exhaustive_or_not_a_proof() {
    let o = dtm0(&["check", "models/tiny.toml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert_eq!(
        verdict_line(&t),
        "verdict: every property holds (exhaustive)"
    );
    // Random walks are a sample: bounded, and no line calls it a proof.
    let o = dtm0(&[
        "check",
        "models/tiny.toml",
        "--strategy",
        "sim",
        "--timeout",
        "2",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("BOUNDED"), "{t}");
    assert_eq!(
        verdict_line(&t),
        "verdict: no violation found within the bounds (not a proof)"
    );
    for l in t.lines() {
        assert!(!l.contains("every property holds"), "{l}");
        assert!(!l.contains("proof") || l.contains("not a proof"), "{l}");
    }
}

#[test]
fn properties_subcommand_defines_each_property_and_its_clauses() {
    let o = dtm0(&["properties"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    for p in dtm0::model::properties::PROPS {
        assert!(
            t.contains(&format!("{}: {}", p.name, p.definition)),
            "{}",
            p.id
        );
        for c in p.clauses {
            assert!(t.contains(c), "{}: {c}", p.id);
        }
    }
    let o = dtm0(&["properties", "S2"]);
    let t = text(&o);
    assert!(
        t.contains("S2 convergence") && !t.contains("S3 no resurrection"),
        "{t}"
    );
    let o = dtm0(&["properties", "S99"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown property `S99`"), "{}", text(&o));
    // An explanation names a clause that `dtm0 properties` defines.
    let o = dtm0(&[
        "check",
        "models/put-crash.toml",
        "--variant",
        "redo-skip-persistent",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json_of(&o);
    let l2 = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "L2")
        .unwrap();
    let why = l2["explanation"].as_str().unwrap();
    let clause = why.split('"').nth(1).unwrap();
    let defs = text(&dtm0(&["properties", "L2"]));
    assert!(
        defs.contains(&format!("- {clause}: ")),
        "{clause} not in {defs}"
    );
}

#[test]
fn property_flag_checks_and_reports_only_those() {
    // put-crash with the HLD's skip violates only L2: asking for S2 and S3
    // checks those alone, and they hold.
    let args = [
        "check",
        "models/put-crash.toml",
        "--variant",
        "redo-skip-persistent",
    ];
    let o = dtm0(&[&args[..], &["--property", "S2,S3"]].concat());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("properties checked: S2, S3"), "{t}");
    let listed: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("  S") || l.starts_with("  L"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, ["S2", "S3"], "{t}");
    assert_eq!(
        verdict_line(&t),
        "verdict: every property checked holds (exhaustive)"
    );
    let o = dtm0(&[&args[..], &["--property", "L2", "--json"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json_of(&o);
    let ids: Vec<&str> = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["L2"]);
    assert_eq!(v["violated"], serde_json::json!(["L2"]));
    let o = dtm0(&["check", "models/tiny.toml", "--property", "X9"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn table_format_prints_each_path_once_with_its_explanation() {
    let o = dtm0(&[
        "check",
        "models/put-crash.toml",
        "--variant",
        "redo-skip-persistent",
        "--format",
        "table",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert_eq!(t.matches("\ncounterexample ").count(), 1, "{t}");
    assert!(t.contains("  L2: \""), "{t}");
    assert!(
        t.contains("explorer: dtm0 explore models/put-crash.toml --variant redo-skip-persistent"),
        "{t}"
    );
}

#[test]
fn steps_show_what_changed_and_full_on_request() {
    let args = [
        "check",
        "models/put-crash.toml",
        "--variant",
        "redo-skip-persistent",
    ];
    let short = text(&dtm0(&args));
    let full = text(&dtm0(&[&args[..], &["--full"]].concat()));
    let steps = |t: &str| {
        t.lines()
            .filter(|l| {
                let w = l.trim_start();
                w.split_once(". ")
                    .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
            })
            .count()
    };
    let n = steps(&short);
    assert!(n > 3, "{short}");
    assert_eq!(steps(&full), n);
    // --full: HA's table after every step (and in the final state);
    // without it, only where a step changed it.
    assert_eq!(full.matches("HA view #").count(), n + 1, "{full}");
    assert!(short.matches("HA view #").count() < n, "{short}");
    // Every view a step delivers lists every entry of HA's table.
    for l in short.lines().filter(|l| l.contains("-> p1: view #")) {
        assert!(
            l.contains("p1 is ") && l.contains("p2 is ") && l.contains("o1 is "),
            "{l}"
        );
    }
}

#[test]
fn verbose_shows_the_reduction_internals() {
    let plain = text(&dtm0(&["check", "models/tiny.toml"]));
    assert!(plain.contains("reduction: stubborn (semantic)"), "{plain}");
    assert!(!plain.contains("bytes per unique state"), "{plain}");
    let v = text(&dtm0(&["check", "models/tiny.toml", "--verbose"]));
    assert!(v.contains("bytes per unique state"), "{v}");
    // JSON carries them always.
    let j = json_of(&dtm0(&["check", "models/tiny.toml", "--json"]));
    assert!(j["bytes_per_state"].as_f64().is_some(), "{j}");
}

#[test]
fn ctrl_c_prints_the_partial_report_and_exits_130() {
    let child = Command::new(env!("CARGO_BIN_EXE_dtm0"))
        .args(["check", "models/seed.toml", "--timeout", "60"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(130), "{t}");
    assert!(t.contains("BOUNDED (interrupted"), "{t}");
    assert!(t.contains("  S2 convergence"), "{t}");
    assert!(verdict_line(&t).starts_with("verdict: "), "{t}");

    // Interrupted while the shortest paths are searched (orphan's search
    // ends within a second, the shortest-path search takes half a minute):
    // the violations found are reported with the run's own paths.
    let child = Command::new(env!("CARGO_BIN_EXE_dtm0"))
        .args([
            "check",
            "models/orphan.toml",
            "--variant",
            "del-absent-no-tombstone",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(130), "{t}");
    assert!(
        t.contains("interrupted while searching for shortest counterexamples")
            || t.contains("BOUNDED (interrupted"),
        "{t}"
    );
    assert!(verdict_line(&t).starts_with("verdict: violated: "), "{t}");
    assert!(t.contains("\ncounterexample 1 ("), "{t}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [&["properties"][..], &["variants"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dtm0"))
            .args(args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the child writes.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(o.status.code(), Some(101), "{args:?}: {err}");
    }
}

#[test]
fn small_input_mistakes_are_named() {
    // A TOML error names the line it is on.
    let p = write_model(
        "badline.toml",
        "participants = 2\nkeys = 1\nbogus = = 3\n[[originators]]\nname = \"o\"\nscripts = [[\"put k1\"]]\n",
    );
    let o = dtm0(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("line 3:"), "{}", text(&o));
    // The live cluster file is not a model.
    let o = dtm0(&["check", "models/cluster.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("live cluster file"), "{err}");
    assert!(!err.contains("unknown field"), "{err}");
    // Contradictory variants are refused.
    for pair in [
        ["stable-first-p", "stable-k-plus-1"],
        ["pruning", "no-pruning"],
    ] {
        let o = dtm0(&[
            "check",
            "models/tiny.toml",
            "--variant",
            pair[0],
            "--variant",
            pair[1],
        ]);
        assert_eq!(o.status.code(), Some(2), "{pair:?}: {}", text(&o));
        assert!(text(&o).contains("contradict"), "{}", text(&o));
    }
}

#[test]
fn scenario_says_where_replicas_differ_without_quiescence() {
    let o = dtm0(&["scenario", "seed", "--variant", "del-absent-no-tombstone"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("replicas differ on k1, k3: S2 not judged, not quiescent"),
        "{t}"
    );
    let s2 = t.lines().find(|l| l.contains("S2 convergence")).unwrap();
    assert!(s2.contains("not judged"), "{s2}");
    assert!(!t.contains("S2 convergence holds"), "{t}");
    // The correct protocol's seed ends on replicas that agree.
    let t = text(&dtm0(&["scenario", "seed"]));
    assert!(!t.contains("replicas differ"), "{t}");
}

#[test]
fn readme_defines_every_property_and_clause() {
    // The README's definitions are those the code checks (no link out).
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for p in dtm0::model::properties::PROPS {
        assert!(
            readme.contains(&format!("| {} | {} |", p.name, p.definition)),
            "{}",
            p.id
        );
        for c in p.clauses {
            assert!(readme.contains(&format!("  - {c}\n")), "{}: {c}", p.id);
        }
    }
    assert!(!readme.contains("PROTOCOL.md"), "the README points outside");
}

#[test]
fn no_source_points_outside_the_repository() {
    // A clone has no ../shared: the code and models cite the README.
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("rs" | "toml" | "md")
            ) {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for d in ["src", "tests", "models", "examples", "checker/src"] {
        walk(&root().join(d), &mut files);
    }
    assert!(files.len() > 20, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for bad in ["PROTOCOL.md", "../shared"] {
            assert!(!text.contains(bad), "{} mentions {bad}", f.display());
        }
    }
}

#[test]
fn keygen_writes_an_owner_only_key_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("dtm0-keygen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("cluster.key");
    let fs = f.to_str().unwrap();
    let o = dtm0(&["keygen", fs]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("key = "), "{}", text(&o));
    let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = std::fs::read(&f).unwrap();
    // again: refused in one line, exit 2, the key kept
    let o = dtm0(&["keygen", fs]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o).trim().lines().count(), 1, "{}", text(&o));
    assert!(text(&o).contains("exists"), "{}", text(&o));
    assert_eq!(std::fs::read(&f).unwrap(), key);
    let o = dtm0(&["keygen", fs, "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert_ne!(std::fs::read(&f).unwrap(), key);
    // a cluster file naming a missing key: one line, exit 2
    let c = dir.join("c.toml");
    std::fs::write(
        &c,
        "ha = \"127.0.0.1:1\"\nparticipants = [\"127.0.0.1:2\"]\nkey = \"nokey\"\n",
    )
    .unwrap();
    let o = dtm0(&["inspect", "--all", "--cluster", c.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("dtm0 keygen"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
