//! Model files (TOML in `models/`): the cluster, the workload, the crash
//! budgets, the network, the variants and the checking bounds. Every
//! mistake is reported as one line naming the key at fault.

use crate::protocol::cluster::{toml_error, Cluster, OriginatorCfg, Variants};
use crate::protocol::types::{parse_get, parse_op, Ts, MAX_PARTICIPANTS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The network kinds a model can choose (README, "Models").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkKind {
    /// Per pair, messages arrive in send order (Motr's RPC, axiom M7).
    Ordered,
    /// Any order, each message delivered at most once.
    #[default]
    Unordered,
    /// Any order, and a message may be delivered again.
    Duplicating,
    /// Any order, and a message may be lost.
    Lossy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Bfs,
    #[default]
    Dfs,
    Sim,
}

/// How a model asks to be checked; command-line flags override each field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CheckFile {
    pub strategy: Option<Strategy>,
    pub max_depth: Option<usize>,
    pub timeout_secs: Option<u64>,
    pub threads: Option<usize>,
    pub symmetry: Option<bool>,
    /// `random`: shuffle the DFS order (seeded); `plain`: stateright's order.
    pub order: Option<Order>,
    /// `true`: keep the stored state vectors of a participant that can no
    /// longer crash as its last commit left them, instead of canonical
    /// (see `model::canonical`); for measuring what the map merges.
    pub exact_store: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Plain,
    Random,
}

/// What the model is expected to show: `hold` (every property holds) or
/// `violate` with the properties that must be violated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub verdict: Verdict,
    #[serde(default)]
    pub properties: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Hold,
    Violate,
}

/// How an originator sends the EXECUTEs of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Sends {
    /// Every EXECUTE of a step goes out in that step (the default).
    #[default]
    AllAtOnce,
    /// One EXECUTE per step: a crash can fall between two.
    OnePerStep,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginatorFile {
    name: String,
    /// One script per incarnation: ops (`put`, `del`) and reads (`get`) in
    /// order.
    scripts: Vec<Vec<String>>,
    /// First clock reading of each incarnation (default 10, then 100, 200...).
    clock: Option<Vec<Ts>>,
    /// Each incarnation's clock starts at exactly its `clock` entry, even
    /// below the previous incarnation's last timestamp (a volatile clock
    /// that lags after a reboot). Without it an incarnation's clock never
    /// goes back: `ts = max(start, last + 1)` across incarnations.
    #[serde(default)]
    lagging: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    name: Option<String>,
    description: Option<String>,
    participants: usize,
    keys: u8,
    #[serde(default)]
    network: NetworkKind,
    #[serde(default)]
    variants: Vec<String>,
    k: Option<usize>,
    originators: Vec<OriginatorFile>,
    #[serde(default)]
    crashes: BTreeMap<String, u8>,
    /// Participants that may fail for good (storage lost, never back): 0
    /// or 1 each, at most `k` in all.
    #[serde(default)]
    failures: BTreeMap<String, u8>,
    max_concurrent_crashes: Option<usize>,
    #[serde(default)]
    sends: Sends,
    #[serde(default)]
    check: CheckFile,
    expect: Option<Expect>,
}

/// A validated model: everything the checker needs.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub name: String,
    pub description: String,
    pub cluster: Cluster,
    pub network: NetworkKind,
    /// Crash budget of each actor, in actor order (HA last, always 0).
    pub budgets: Vec<u8>,
    pub max_concurrent_crashes: usize,
    pub check: CheckFile,
    pub expect: Expect,
    /// The TOML text the model was read from (saved with traces).
    pub source: String,
    /// The `--variant` names applied on top of the file's.
    pub extra_variants: Vec<String>,
}

impl ModelSpec {
    /// Pairs of dtxs of different writers that write one key at one
    /// timestamp, as `o1.R1 and q1.R1 both write k1 at 10`. The default
    /// version order breaks such a tie by the writer; Motr's
    /// (`motr-version-order`) keeps whichever record came first.
    pub fn clock_collisions(&self) -> Vec<String> {
        let c = &self.cluster;
        let mut all = Vec::new();
        for (slot, o) in c.originators.iter().enumerate() {
            for i in 0..o.plan.len() {
                all.extend(c.issued_by(slot, o.first_inc + i as crate::protocol::types::Inc));
            }
        }
        let mut out = Vec::new();
        for (i, (a, oa)) in all.iter().enumerate() {
            for (b, ob) in &all[i + 1..] {
                if a.ts == b.ts && oa.key() == ob.key() && (a.slot, a.inc) != (b.slot, b.inc) {
                    out.push(format!(
                        "{} and {} both write k{} at {}",
                        crate::model::table::dtx_name(c, a),
                        crate::model::table::dtx_name(c, b),
                        oa.key(),
                        a.ts
                    ));
                }
            }
        }
        out
    }

    /// Reads and validates a model file. The error is one line.
    pub fn load(path: &Path) -> Result<ModelSpec, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Self::parse(&text, &default_name).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a model from TOML text.
    pub fn parse(text: &str, default_name: &str) -> Result<ModelSpec, String> {
        if looks_like_cluster_file(text) {
            return Err("this is a live cluster file (for `dtm0 cluster up --cluster FILE`), not a model: a model has `participants = N`, `keys` and `[[originators]]` with scripts (e.g. models/tiny.toml)".into());
        }
        let f: ModelFile = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let mut spec = build(f, default_name)?;
        spec.source = text.to_string();
        Ok(spec)
    }

    /// Applies `--variant` names on top of the model's own.
    pub fn with_variants(mut self, names: &[String]) -> Result<ModelSpec, String> {
        contradiction(names).map_err(|e| format!("--variant: {e}"))?;
        for n in names {
            self.cluster
                .variants
                .set(n)
                .map_err(|e| format!("--variant: {e}"))?;
            self.extra_variants.push(n.clone());
        }
        Ok(self)
    }

    pub fn total_crashes(&self) -> usize {
        self.budgets.iter().map(|&b| b as usize).sum()
    }
}

/// A live cluster file (`models/cluster.toml`): HA's address, or
/// participants given as a list of addresses.
fn looks_like_cluster_file(text: &str) -> bool {
    let Ok(v) = text.parse::<toml::Table>() else {
        return false;
    };
    v.contains_key("ha")
        || v.contains_key("timing")
        || v.get("participants").is_some_and(|p| p.is_array())
}

/// Variants of one list that contradict each other (the same rule set
/// two ways): refused rather than the later silently winning.
pub fn contradiction(names: &[String]) -> Result<(), String> {
    const EXCLUSIVE: &[(&str, &str)] = &[
        ("stable-first-p", "stable-k-plus-1"),
        ("pruning", "no-pruning"),
        ("motr", "pruning"),
        ("motr", "stable-k-plus-1"),
    ];
    for (a, b) in EXCLUSIVE {
        if names.iter().any(|n| n == a) && names.iter().any(|n| n == b) {
            return Err(format!("`{a}` and `{b}` contradict each other: give one"));
        }
    }
    Ok(())
}

fn build(f: ModelFile, default_name: &str) -> Result<ModelSpec, String> {
    let n = f.participants;
    if n == 0 {
        return Err("participants: must be at least 1".into());
    }
    if n > MAX_PARTICIPANTS {
        return Err(format!(
            "participants: at most {MAX_PARTICIPANTS} are supported"
        ));
    }
    if f.keys == 0 {
        return Err("keys: must be at least 1".into());
    }
    if f.originators.is_empty() {
        return Err("originators: at least one originator is needed".into());
    }
    let mut variants = Variants::default();
    contradiction(&f.variants).map_err(|e| format!("variants: {e}"))?;
    for v in &f.variants {
        variants.set(v).map_err(|e| format!("variants: {e}"))?;
    }
    let k = f.k.unwrap_or(1);
    if n > 1 && k >= n {
        return Err(format!(
            "k: must be less than the number of participants ({n})"
        ));
    }
    let mut touched = vec![false; f.keys as usize + 1];
    let mut names: Vec<String> = (1..=n).map(|p| format!("p{p}")).collect();
    names.push("HA".into());
    let mut originators = Vec::new();
    for (i, of) in f.originators.iter().enumerate() {
        let at = format!("originators[{i}]");
        if of.name.is_empty() || !of.name.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "{at}.name: `{}` must be letters only (incarnations are numbered: o1, o2)",
                of.name
            ));
        }
        if names.iter().any(|x| x.eq_ignore_ascii_case(&of.name)) || of.name == "p" {
            return Err(format!("{at}.name: `{}` is already taken", of.name));
        }
        names.push(of.name.clone());
        if of.scripts.is_empty() {
            return Err(format!("{at}.scripts: at least one script is needed"));
        }
        if of.scripts.len() > 9 {
            return Err(format!(
                "{at}.scripts: at most 9 incarnations are supported"
            ));
        }
        if let Some(clock) = &of.clock {
            if clock.len() != of.scripts.len() {
                return Err(format!(
                    "{at}.clock: needs one start per script ({} given, {} scripts)",
                    clock.len(),
                    of.scripts.len()
                ));
            }
        }
        if of.lagging && of.clock.is_none() {
            return Err(format!(
                "{at}.lagging: needs `clock`, the start of each incarnation's clock"
            ));
        }
        let mut plan = Vec::new();
        let mut reads = Vec::new();
        let mut last: Option<Ts> = None;
        for (j, script) in of.scripts.iter().enumerate() {
            let mut gets = Vec::new();
            let start = match &of.clock {
                Some(c) => c[j],
                None if j == 0 => 10,
                None => 100 * j as Ts,
            };
            if of.lagging {
                // A volatile clock: each incarnation starts at its entry.
                last = None;
            } else if let Some(l) = last.filter(|&l| start <= l && of.clock.is_some()) {
                return Err(format!(
                    "{at}.clock[{j}]: {start} is not above {l}, the previous incarnation's last timestamp (`lagging = true` makes a clock that lags)"
                ));
            }
            let mut ops = Vec::new();
            for (q, text) in script.iter().enumerate() {
                // A read takes no timestamp: it waits for the dtxs before it.
                let get =
                    parse_get(text, f.keys).map_err(|e| format!("{at}.scripts[{j}][{q}]: {e}"))?;
                if let Some(key) = get {
                    if gets.len() >= 8 {
                        return Err(format!(
                            "{at}.scripts[{j}]: at most 8 reads per script are supported"
                        ));
                    }
                    touched[key as usize] = true;
                    gets.push((ops.len() as u32, crate::protocol::types::Key::from(key)));
                    continue;
                }
                let (op, key) =
                    parse_op(text, f.keys).map_err(|e| format!("{at}.scripts[{j}][{q}]: {e}"))?;
                touched[key as usize] = true;
                // ts = max(now, last + 1): strictly increasing per originator
                // (per incarnation when the clock is `lagging`).
                let ts = match last {
                    Some(l) => start.max(l.checked_add(1).ok_or("clock overflow")?),
                    None => start,
                };
                last = Some(ts);
                ops.push((ts, op));
            }
            plan.push(ops);
            reads.push(gets);
        }
        if reads.iter().all(|r| r.is_empty()) {
            reads.clear();
        }
        originators.push(OriginatorCfg {
            name: of.name.clone(),
            plan,
            first_inc: 1,
            reads,
        });
    }
    if let Some(k) = (1..=f.keys).find(|&k| !touched[k as usize]) {
        return Err(format!("keys: k{k} is touched by no op"));
    }
    let m = originators.len();
    let mut budgets = vec![0u8; n + m + 1];
    for (proc, &b) in &f.crashes {
        let at = format!("crashes.{proc}");
        if let Some(p) = proc
            .strip_prefix('p')
            .and_then(|d| d.parse::<usize>().ok())
            .filter(|&p| p >= 1 && p <= n)
        {
            budgets[p - 1] = b;
        } else if let Some(slot) = originators.iter().position(|o| &o.name == proc) {
            let max = originators[slot].plan.len() - 1;
            if b as usize > max {
                return Err(format!(
                    "{at}: originator {proc} has {} script(s), so it can crash at most {max} time(s)",
                    max + 1
                ));
            }
            budgets[n + slot] = b;
        } else if proc == "HA" {
            return Err(format!("{at}: HA never fails"));
        } else {
            return Err(format!("{at}: no process named `{proc}`"));
        }
        if b > 3 {
            return Err(format!("{at}: at most 3 crashes per process are supported"));
        }
    }
    let mut may_fail = vec![false; n];
    for (proc, &b) in &f.failures {
        let at = format!("failures.{proc}");
        let Some(p) = proc
            .strip_prefix('p')
            .and_then(|d| d.parse::<usize>().ok())
            .filter(|&p| p >= 1 && p <= n)
        else {
            return Err(if originators.iter().any(|o| &o.name == proc) {
                format!("{at}: an originator's incarnation is declared FAILED when it restarts: give it a crash budget in [crashes]")
            } else if proc == "HA" {
                format!("{at}: HA never fails")
            } else {
                format!("{at}: no participant named `{proc}` (p1..p{n})")
            });
        };
        if b > 1 {
            return Err(format!(
                "{at}: a participant fails for good at most once (0 or 1)"
            ));
        }
        may_fail[p - 1] = b == 1;
    }
    let failing = may_fail.iter().filter(|&&x| x).count();
    if failing > k {
        return Err(format!(
            "failures: {failing} participants may fail for good, more than k = {k} (the failures tolerated)"
        ));
    }
    let total: usize = budgets.iter().map(|&b| b as usize).sum();
    let max_concurrent_crashes = f.max_concurrent_crashes.unwrap_or(total);
    if max_concurrent_crashes > total {
        return Err(format!(
            "max_concurrent_crashes: {max_concurrent_crashes} exceeds the total crash budget ({total})"
        ));
    }
    if f.check.threads == Some(0) {
        return Err("check.threads: must be at least 1".into());
    }
    let expect = f.expect.unwrap_or(Expect {
        verdict: Verdict::Hold,
        properties: vec![],
    });
    if expect.verdict == Verdict::Hold && !expect.properties.is_empty() {
        return Err("expect.properties: only meaningful with verdict = \"violate\"".into());
    }
    for p in &expect.properties {
        if !crate::model::properties::PROPERTY_IDS.contains(&p.as_str()) {
            return Err(format!(
                "expect.properties: unknown property `{p}` (known: {})",
                crate::model::properties::PROPERTY_IDS.join(", ")
            ));
        }
    }
    Ok(ModelSpec {
        name: f.name.unwrap_or_else(|| default_name.to_string()),
        description: f.description.unwrap_or_default(),
        cluster: Cluster {
            n,
            originators,
            keys: f.keys.into(),
            variants,
            k,
            ghosts: true,
            one_send_per_step: f.sends == Sends::OnePerStep,
            may_fail,
        },
        network: f.network,
        budgets,
        max_concurrent_crashes,
        check: f.check,
        expect,
        source: String::new(),
        extra_variants: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::types::Op;

    const GOOD: &str = r#"
participants = 3
keys = 2
[[originators]]
name = "o"
scripts = [["put k1", "put k2 7"], ["del k1", "del k2"]]
[crashes]
p1 = 1
o = 1
"#;

    #[test]
    fn good_model_parses_with_clock_rule() {
        let m = ModelSpec::parse(GOOD, "g").unwrap();
        assert_eq!(m.cluster.n, 3);
        let plan = &m.cluster.originators[0].plan;
        assert_eq!(plan[0][0].0, 10);
        assert_eq!(plan[0][1], (11, Op::Put { key: 2, val: 7 }));
        assert_eq!(plan[1][0].0, 100, "second incarnation starts at 100");
        assert_eq!(m.budgets, vec![1, 0, 0, 1, 0]);
        assert_eq!(m.network, NetworkKind::Unordered);
    }

    #[test]
    fn a_get_is_a_read_at_its_place_in_the_script_and_takes_no_timestamp() {
        let text = GOOD.replace("\"put k2 7\"", "\"get k1\", \"put k2 7\", \"get k2\"");
        let m = ModelSpec::parse(&text, "x").unwrap();
        let o = &m.cluster.originators[0];
        assert_eq!(o.plan[0].len(), 2, "reads are not dtxs");
        assert_eq!((o.plan[0][0].0, o.plan[0][1].0), (10, 11));
        assert_eq!(o.reads, vec![vec![(1, 1), (2, 2)], vec![]]);
        assert!(m.cluster.has_reads());
        let plain = ModelSpec::parse(GOOD, "x").unwrap();
        assert!(plain.cluster.originators[0].reads.is_empty());
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                GOOD.replace("keys = 2", "keys = 2\nextra = 1"),
                "unknown field `extra`",
            ),
            (
                GOOD.replace("participants = 3", "participants = 0"),
                "participants",
            ),
            (GOOD.replace("p1 = 1", "p7 = 1"), "crashes.p7"),
            (GOOD.replace("o = 1", "o = 2"), "crashes.o"),
            (GOOD.replace("keys = 2", "keys = 3"), "keys: k3"),
            (GOOD.replace("put k2 7", "put k2 -7"), "bad value"),
            (
                GOOD.replace("\"put k1\"", "\"fetch k1\""),
                "originators[0].scripts[0][0]",
            ),
            (
                GOOD.replace("\"put k1\"", "\"get k9\""),
                "originators[0].scripts[0][0]: key `k9`",
            ),
            (GOOD.replace("p1 = 1", "HA = 1"), "HA never fails"),
            (
                format!("{GOOD}[failures]\np2 = 2\n"),
                "failures.p2: a participant fails for good at most once",
            ),
            (
                format!("{GOOD}[failures]\no = 1\n"),
                "failures.o: an originator's incarnation",
            ),
            (
                format!("{GOOD}[failures]\np4 = 1\n"),
                "failures.p4: no participant",
            ),
            (
                format!("{GOOD}[failures]\np2 = 1\np3 = 1\n"),
                "failures: 2 participants may fail for good, more than k = 1",
            ),
            (
                GOOD.replace("keys = 2", "keys = 2\nvariants = [\"nope\"]"),
                "variants: unknown variant",
            ),
            (
                GOOD.replace("name = \"o\"", "name = \"p\""),
                "already taken",
            ),
            (
                GOOD.replace("keys = 2", "keys = 2\nsends = \"sometimes\""),
                "line 4: unknown variant `sometimes`, expected `all-at-once` or `one-per-step`",
            ),
            (
                GOOD.replace("keys = 2", "keys = 2\nvariants = [\"motr\", \"pruning\"]"),
                "contradict",
            ),
        ];
        for (text, want) in cases {
            let e = ModelSpec::parse(&text, "x").unwrap_err();
            assert!(e.contains(want), "wanted `{want}` in `{e}`");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn a_lagging_clock_starts_each_incarnation_at_its_entry() {
        let lag = GOOD.replace(
            "scripts = [[\"put k1\", \"put k2 7\"], [\"del k1\", \"del k2\"]]",
            "scripts = [[\"put k1\", \"put k2 7\"], [\"del k1\", \"del k2\"]]\nclock = [100, 10]\nlagging = true",
        );
        let m = ModelSpec::parse(&lag, "g").unwrap();
        let plan = &m.cluster.originators[0].plan;
        assert_eq!((plan[0][0].0, plan[0][1].0), (100, 101));
        assert_eq!(
            (plan[1][0].0, plan[1][1].0),
            (10, 11),
            "o2 draws below o1's last timestamp, strictly increasing itself"
        );
        // Without `lagging`, a start above the last ts is kept as is, and
        // the clock never goes back within an incarnation.
        let ahead = lag.replace("clock = [100, 10]\nlagging = true", "clock = [100, 200]");
        let m = ModelSpec::parse(&ahead, "g").unwrap();
        assert_eq!(m.cluster.originators[0].plan[1][1].0, 201);
        // `lagging` with clocks that do not lag changes nothing.
        let m = ModelSpec::parse(&ahead.replace("200]", "200]\nlagging = true"), "g").unwrap();
        assert_eq!(m.cluster.originators[0].plan[1][0].0, 200);
        // Bad input: one line each, naming the key.
        for (text, want) in [
            (
                lag.replace("clock = [100, 10]\n", ""),
                "originators[0].lagging: needs `clock`",
            ),
            (
                lag.replace("\nlagging = true", ""),
                "originators[0].clock[1]: 10 is not above 101",
            ),
            (
                lag.replace("clock = [100, 10]\nlagging = true", "clock = [100, 101]"),
                "originators[0].clock[1]: 101 is not above 101",
            ),
            (
                lag.replace("lagging = true", "lagging = 1"),
                "expected a boolean",
            ),
        ] {
            let e = ModelSpec::parse(&text, "x").unwrap_err();
            assert!(e.contains(want), "wanted `{want}` in `{e}`");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn one_send_per_step_and_the_motr_preset_parse() {
        let m = ModelSpec::parse(
            &GOOD.replace("keys = 2", "keys = 2\nsends = \"one-per-step\""),
            "g",
        )
        .unwrap();
        assert!(m.cluster.one_send_per_step);
        assert!(
            !ModelSpec::parse(GOOD, "g")
                .unwrap()
                .cluster
                .one_send_per_step
        );
        let m = ModelSpec::parse(
            &GOOD.replace("keys = 2", "keys = 2\nvariants = [\"motr\"]"),
            "g",
        )
        .unwrap();
        let names = m.cluster.variants.names();
        for v in crate::protocol::cluster::MOTR_PRESET {
            assert!(names.contains(v), "{v} missing from {names:?}");
        }
    }

    #[test]
    fn every_shipped_model_loads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let cluster_file = p.file_name().is_some_and(|f| {
                let f = f.to_string_lossy();
                f.starts_with("cluster") || f == "mutants.toml" || f == "variants.toml"
            });
            if p.extension().is_some_and(|x| x == "toml") && !cluster_file {
                ModelSpec::load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 3);
    }
}
