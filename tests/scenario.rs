//! The seed scenario replayed through the model's actors (issue 3): the
//! final states the seed scenario gives (README, "The seed scenario"),
//! every block of the seed's tables where the seed is self-consistent, and
//! the path's
//! properties. Each place where the replay reads the seed differently is
//! marked `reading N` and listed in README's "The seed scenario".

use dtm0::model::file::{ModelSpec, NetworkKind};
use dtm0::model::properties;
use dtm0::model::scenario::{self, Replay, SEED};
use dtm0::model::table::Block;
use dtm0::model::{build, Dtm0Model};
use std::path::Path;

fn seed_model(variants: &[&str]) -> Dtm0Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed.toml");
    let names: Vec<String> = variants.iter().map(|s| s.to_string()).collect();
    let mut spec = ModelSpec::load(&path)
        .unwrap()
        .with_variants(&names)
        .unwrap();
    spec.network = NetworkKind::Unordered;
    build(&spec)
}

fn run(variants: &[&str], finish: bool) -> (Dtm0Model, Replay) {
    let m = seed_model(variants);
    let r = scenario::replay(&m, SEED, finish).expect("the seed replays");
    (m, r)
}

/// Final catalogue of participant `p` as (live, tombstones), `k1@10` style.
fn fin(m: &Dtm0Model, r: &Replay, p: &str) -> (Vec<String>, Vec<String>) {
    let f = scenario::final_kvs(m, r);
    let f = &f[p];
    let show = |x: &std::collections::BTreeMap<String, dtm0::protocol::types::Ts>| {
        x.iter()
            .map(|(k, v)| format!("{k}@{v}"))
            .collect::<Vec<_>>()
    };
    (show(&f.live), show(&f.tombstones))
}

const ALL_DEAD: [&str; 3] = ["k1@100", "k2@101", "k3@102"];

#[test]
fn correct_rule_leaves_every_replica_empty_with_the_same_tombstones() {
    let (m, r) = run(&[], false);
    for p in ["p1", "p2", "p3"] {
        let (live, dead) = fin(&m, &r, p);
        assert!(live.is_empty(), "{p}: {live:?}");
        assert_eq!(dead, ALL_DEAD, "{p}");
    }
}

#[test]
fn motr_rule_diverges_as_in_the_seed() {
    let (m, r) = run(&["del-absent-no-tombstone"], false);
    for p in ["p1", "p3"] {
        let (live, dead) = fin(&m, &r, p);
        assert!(live.is_empty(), "{p}: {live:?}");
        assert_eq!(dead, ALL_DEAD, "{p}");
    }
    let (live, dead) = fin(&m, &r, "p2");
    assert_eq!(live, ["k1@10", "k3@12"]);
    // reading 9: p2 held k2@11 when DEL k2@101 came, so it keeps that
    // tombstone (the seed's table says `tombstones = <empty set>`).
    assert_eq!(dead, ["k2@101"]);
}

#[test]
fn finish_reaches_quiescence_with_every_property_holding() {
    let (m, r) = run(&[], true);
    let last = r.states.last().unwrap();
    assert!(r.settled);
    assert!(
        properties::quiescent(&m, last),
        "every participant ONLINE, nothing left"
    );
    let f = scenario::final_kvs(&m, &r);
    for (p, kv) in &f {
        assert_eq!(kv.ha, "ONLINE", "{p}");
        assert!(kv.live.is_empty(), "{p}");
        assert_eq!(kv.tombstones.len(), 3, "{p}");
    }
    for v in scenario::verdicts(&m, &r.states) {
        assert!(v.holds, "{} on the finished seed", v.name);
    }
    // o2's DELs are all STABLE (here DONE: P everywhere)
    let o2 = last.actor_states[3].originator().unwrap();
    assert_eq!(o2.inc, 2);
    assert_eq!(o2.dtxs.len(), 3);
    assert!(o2
        .dtxs
        .iter()
        .all(|d| d.st >= dtm0::protocol::originator::DtxSt::Stable));
    // every participant finished recovery: p1, p3 pruned their all-P logs
    assert!(r
        .blocks
        .last()
        .unwrap()
        .events
        .iter()
        .any(|e| e == "p1 -> HA: recovered, ready to ONLINE"));
    assert!(r
        .blocks
        .last()
        .unwrap()
        .events
        .iter()
        .any(|e| e == "p3 -> HA: recovered, ready to ONLINE"));
}

#[test]
fn finish_with_motr_rule_keeps_the_divergence_and_breaks_s2_s3() {
    let (m, r) = run(&["del-absent-no-tombstone"], true);
    assert!(properties::quiescent(&m, r.states.last().unwrap()));
    assert_eq!(fin(&m, &r, "p2").0, ["k1@10", "k3@12"]);
    let v = scenario::verdicts(&m, &r.states);
    let broken: Vec<&str> = v.iter().filter(|v| !v.holds).map(|v| v.id).collect();
    assert!(
        broken.contains(&"S2") && broken.contains(&"S3"),
        "{broken:?}"
    );
    // and not before the end: S2/S3 speak of quiescent states only
    let s2 = v.iter().find(|v| v.id == "S2").unwrap();
    assert_eq!(s2.first_violated_at, Some(r.states.len() - 1));
}

#[test]
fn the_scenario_is_a_path_of_the_model() {
    let (m, r) = run(&[], true);
    // the same actions replay from the initial state, step by step
    let states = dtm0::model::replay(&m, &r.actions).expect("replays");
    assert_eq!(states, r.states);
    let path = dtm0::model::explorer::path(&m, &r.states[0], &r.actions);
    assert_eq!(path.split('/').count(), r.actions.len() + 1, "{path}");
}

fn column<'a>(b: &'a Block, name: &str) -> &'a [String] {
    &b.columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{}: no column {name}", b.time))
        .entries
}

fn block<'a>(r: &'a Replay, time: &str) -> &'a Block {
    r.blocks.iter().find(|b| b.time == time).unwrap()
}

/// The seed's tables, block by block, as the replay must show them. Lines
/// equal to the seed's are unmarked; the others name their reading.
#[test]
fn every_block_matches_the_seeds_tables() {
    let (_, r) = run(&["del-absent-no-tombstone"], false);
    let check = |time: &str, col: &str, want: &[&str]| {
        let got = column(block(&r, time), col);
        assert_eq!(got, want, "{time}, column {col}");
    };
    check(
        "@10-15",
        "User",
        &["[DIX PUT k1 @10]", "[DIX PUT k2 @11]", "[DIX PUT k3 @12]"],
    );
    check(
        "@10-15",
        "o1",
        &[
            "R1[CAS PUT k1 @10 st=III]",
            "R2[CAS PUT k2 @11 st=III]",
            "R3[CAS PUT k3 @12 st=III]",
        ],
    );
    // @25 and @30-40: reading 4 (a request is executed when delivered):
    // the seed's received-but-not-executed records (st=III) are still in
    // flight; the executed first records are the seed's @30-40 ones.
    check("@25-40", "p1", &["R1[CAS PUT k1 @10 st=VVV]"]);
    check("@25-40", "p2", &["R1[CAS PUT k2 @11 st=VVV]"]);
    check("@25-40", "p3", &["R1[CAS PUT k3 @12 st=VVV]"]);
    check(
        "@50",
        "o1",
        &[
            "R1[CAS PUT k1 @10 st=VII]",
            "R2[CAS PUT k2 @11 st=IVI]",
            "R3[CAS PUT k3 @12 st=IIV]",
        ],
    );
    check(
        "@60",
        "p1",
        &[
            "R1[CAS PUT k1 @10 st=PVV]",
            "R2[CAS PUT k2 @11 st=VVV]",
            "R3[CAS PUT k3 @12 st=VVV]",
        ],
    );
    check("@60", "p2", &["R1[CAS PUT k2 @11 st=VPV]"]);
    check(
        "@60",
        "p3",
        &[
            "R1[CAS PUT k3 @12 st=VVP]",
            "R2[CAS PUT k2 @11 st=VVV]",
            "R3[CAS PUT k1 @10 st=VVV]",
        ],
    );
    // reading 6: the seed shows VVV for all three at o1, but p2 never
    // received o1.R1 nor o1.R3, so o1 cannot have its reply.
    check(
        "@60",
        "o1",
        &[
            "R1[CAS PUT k1 @10 st=VIV]",
            "R2[CAS PUT k2 @11 st=VVV]",
            "R3[CAS PUT k3 @12 st=VIV]",
        ],
    );
    // @100-105: the seed exactly (the uncommitted records are gone)
    check(
        "@100-105",
        "User",
        &["[DIX DEL k1]", "[DIX DEL k2]", "[DIX DEL k3]"],
    );
    check(
        "@100-105",
        "o2",
        &[
            "R1[CAS DEL k1 @100 st=III]",
            "R2[CAS DEL k2 @101 st=III]",
            "R3[CAS DEL k3 @102 st=III]",
        ],
    );
    check("@100-105", "p1", &["R1[CAS PUT k1 @10 st=PVV]"]);
    check("@100-105", "p2", &["R1[CAS PUT k2 @11 st=VPV]"]);
    check("@100-105", "p3", &["R1[CAS PUT k3 @12 st=VVP]"]);
    // @120 (the seed's R5, R6 are the REDOs). p2 as the seed, with its DELs
    // executed (reading 4) and the REDOs carrying their sender's P
    // (reading 7). p1 and p3 got their REDOs before the DELs (reading 8).
    check(
        "@120",
        "p2",
        &[
            "R1[CAS PUT k2 @11 st=VPV]",
            "R2[CAS DEL k1 @100 st=VVV]",
            "R3[CAS DEL k2 @101 st=VVV]",
            "R4[CAS DEL k3 @102 st=VVV]",
            "R5[CAS PUT k1 @10 st=PVV]",
            "R6[CAS PUT k3 @12 st=VVP]",
        ],
    );
    check(
        "@120",
        "p1",
        &[
            "R1[CAS PUT k1 @10 st=PVV]",
            "R2[CAS PUT k2 @11 st=VPV]",
            "R3[CAS PUT k3 @12 st=VVP]",
            "R4[CAS DEL k1 @100 st=VVV]",
            "R5[CAS DEL k2 @101 st=VVV]",
            "R6[CAS DEL k3 @102 st=VVV]",
        ],
    );
    check(
        "@120",
        "p3",
        &[
            "R1[CAS PUT k3 @12 st=VVP]",
            "R2[CAS PUT k1 @10 st=PVV]",
            "R3[CAS PUT k2 @11 st=VPV]",
            "R4[CAS DEL k1 @100 st=VVV]",
            "R5[CAS DEL k2 @101 st=VVV]",
            "R6[CAS DEL k3 @102 st=VVV]",
        ],
    );
    // @130: the seed's catalogues (reading 9 for p2's tombstone)
    let kvs = &block(&r, "@130").kvs;
    let want = [
        (
            "p1",
            "kvs = <empty set>, tombstones = { k1@100, k2@101, k3@102 }",
        ),
        ("p2", "kvs = { k1@10, k3@12 }, tombstones = { k2@101 }"),
        (
            "p3",
            "kvs = <empty set>, tombstones = { k1@100, k2@101, k3@102 }",
        ),
    ];
    for (p, kv) in want {
        assert!(kvs.iter().any(|(q, k)| q == p && k == kv), "{p}: {kvs:?}");
    }
}

#[test]
fn events_are_written_in_the_seeds_notation() {
    let (_, r) = run(&[], false);
    let ev = |time: &str| block(&r, time).events.clone();
    assert!(ev("@25-40").contains(&"o1 -> p1: request o1.R1 [PUT k1 @10]".to_string()));
    // reading 1: each reply names the request it answers
    assert_eq!(
        ev("@50"),
        [
            "p1 -> o1: reply o1.R1",
            "p2 -> o1: reply o1.R2",
            "p3 -> o1: reply o1.R3"
        ]
    );
    assert!(ev("@60").starts_with(&[
        "p1disk -> p1: committed(R1)".to_string(),
        "p2disk -> p2: committed(R1)".to_string(),
        "p3disk -> p3: committed(R1)".to_string()
    ]));
    assert!(ev("@70").contains(&"o1proc: restart as o2".to_string()));
    assert!(ev("@90").contains(
        &"HA -> p2: view #5: p1 is RECOVERING, p2 is ONLINE, p3 is RECOVERING, o1 is FAILED, o2 is ONLINE"
            .to_string()
    ));
    assert!(ev("@120").contains(&"p1 -> p2: REDO p1.R1 = o1.R1 [PUT k1 @10]".to_string()));
    let t = dtm0::model::table::text(&r.blocks);
    assert!(t.contains("@60:\n# Three different records"), "{t}");
    assert!(t.contains("R1[CAS PUT k1 @10 st=PVV],"), "{t}");
}

#[test]
fn a_step_that_is_not_enabled_is_refused_by_name() {
    let m = seed_model(&[]);
    let bad = [scenario::Step {
        time: "@1",
        notes: &[],
        events: &["o1 -> p2: reply o1.R9"],
    }];
    let e = scenario::replay(&m, &bad, false).err().expect("refused");
    assert!(
        e.contains("@1") && e.contains("reply o1.R9") && e.contains("enabled:"),
        "{e}"
    );
}
