//! Cluster files (TOML): where each process of a live cluster listens, the
//! protocol variants, the timing of the runtime, and optionally the
//! originators' scripts (for scripted runs such as the live seed).
//!
//! ```toml
//! name = "local3"
//! variants = ["pruning"]
//! ha = "127.0.0.1:7100"
//! participants = ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]
//! [[originators]]
//! name = "o"
//! addr = "127.0.0.1:7201"
//! key = "cluster.key"   # `dtm0 keygen cluster.key`; relative to this file
//! [timing]
//! commit_delay_ms = 1
//! ```
//!
//! Without `key`, the cluster must be all loopback: its datagrams are
//! tagged under a public key (see `auth`), and the nodes say so at start.
//!
//! Actor ids are the model's: participants `0..n`, originator slots next,
//! HA last.

use crate::protocol::cluster::{Cluster, OriginatorCfg, Proc, Variants};
use crate::protocol::types::{Inc, Op, Ts, MAX_PARTICIPANTS};
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use std::net::SocketAddr;
use std::path::Path;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// Group commit: a participant commits this long after the first
    /// executed dtx of a batch (one fsync for the batch).
    #[serde(default = "d_commit")]
    pub commit_delay_ms: u64,
    /// Every process sends HA a heartbeat this often.
    #[serde(default = "d_heartbeat")]
    pub heartbeat_ms: u64,
    /// HA declares a process TRANSIENT after this long without one.
    #[serde(default = "d_timeout")]
    pub failure_timeout_ms: u64,
}

fn d_commit() -> u64 {
    1
}
fn d_heartbeat() -> u64 {
    100
}
fn d_timeout() -> u64 {
    1500
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            commit_delay_ms: d_commit(),
            heartbeat_ms: d_heartbeat(),
            failure_timeout_ms: d_timeout(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrigFile {
    pub name: String,
    pub addr: String,
    /// Scripts per incarnation, as in model files (`"put k1 5"`, `"del k1"`).
    #[serde(default)]
    pub scripts: Vec<Vec<String>>,
    /// First timestamp of each scripted incarnation (default 10, 100, ...).
    #[serde(default)]
    pub clock: Vec<Ts>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LiveFile {
    pub name: Option<String>,
    #[serde(default)]
    pub variants: Vec<String>,
    pub k: Option<usize>,
    pub ha: String,
    pub participants: Vec<String>,
    #[serde(default)]
    pub originators: Vec<OrigFile>,
    #[serde(default)]
    pub timing: Timing,
    /// Keep the properties' ghost records (pruned records, STABLE dtxs) on
    /// disk, so that the model's properties can judge the final state.
    /// Costs space that grows with every dtx: off by default.
    #[serde(default)]
    pub ghosts: bool,
    /// The cluster key file (`dtm0 keygen`), relative to the cluster file.
    /// None: a loopback-only cluster without authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A validated cluster file.
#[derive(Clone, Debug)]
pub struct LiveSpec {
    pub name: String,
    pub file: LiveFile,
    pub cluster: Cluster,
    /// Address of each actor id.
    pub addrs: Vec<SocketAddr>,
    /// The MAC key of every datagram (`Auth::keyless()` without `key`).
    pub auth: super::auth::Auth,
}

fn addr(what: &str, s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("{what}: `{s}` is not an address like 127.0.0.1:7101 ({e})"))
}

impl LiveSpec {
    pub fn load(path: &Path) -> Result<LiveSpec, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse_at(&text, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A cluster file's text; its key file, if any, relative to the
    /// current directory.
    pub fn parse(text: &str) -> Result<LiveSpec, String> {
        Self::parse_at(text, Path::new(""))
    }

    /// A cluster file's text, its key file relative to `base`.
    pub fn parse_at(text: &str, base: &Path) -> Result<LiveSpec, String> {
        let f: LiveFile =
            toml::from_str(text).map_err(|e| crate::protocol::cluster::toml_error(text, &e))?;
        Self::from_file_at(f, base)
    }

    pub fn from_file(f: LiveFile) -> Result<LiveSpec, String> {
        Self::from_file_at(f, Path::new(""))
    }

    /// A cluster file, its key file relative to `base`.
    pub fn from_file_at(f: LiveFile, base: &Path) -> Result<LiveSpec, String> {
        let n = f.participants.len();
        if n == 0 || n > MAX_PARTICIPANTS {
            return Err(format!(
                "participants: between 1 and {MAX_PARTICIPANTS} addresses, got {n}"
            ));
        }
        if f.timing.heartbeat_ms == 0 || f.timing.failure_timeout_ms <= f.timing.heartbeat_ms {
            return Err(
                "timing: heartbeat_ms must be > 0 and below failure_timeout_ms".to_string(),
            );
        }
        let mut addrs = Vec::new();
        for (i, a) in f.participants.iter().enumerate() {
            addrs.push(addr(&format!("participants[{i}]"), a)?);
        }
        let mut originators = Vec::new();
        for (s, o) in f.originators.iter().enumerate() {
            addrs.push(addr(&format!("originators[{s}].addr"), &o.addr)?);
            if o.name.is_empty()
                || !o.name.chars().all(|c| c.is_ascii_alphabetic())
                || o.name == "p"
                || o.name.eq_ignore_ascii_case("ha")
            {
                return Err(format!(
                    "originators[{s}].name: `{}` must be letters, not `p` or `ha`",
                    o.name
                ));
            }
            if f.originators[..s].iter().any(|e| e.name == o.name) {
                return Err(format!(
                    "originators[{s}].name: `{}` is used twice (each slot needs its own name)",
                    o.name
                ));
            }
            let mut plan = Vec::new();
            for (j, script) in o.scripts.iter().enumerate() {
                let first: Ts =
                    o.clock
                        .get(j)
                        .copied()
                        .unwrap_or(if j == 0 { 10 } else { 100 * j as Ts });
                let mut ops = Vec::new();
                for (q, text) in script.iter().enumerate() {
                    let (op, _) = crate::protocol::types::parse_op(text, u8::MAX)
                        .map_err(|e| format!("originators[{s}].scripts[{j}][{q}]: {e}"))?;
                    ops.push((first + q as Ts, op));
                }
                plan.push(ops);
            }
            originators.push(OriginatorCfg {
                name: o.name.clone(),
                plan,
                first_inc: 1,
                reads: Vec::new(),
            });
        }
        addrs.push(addr("ha", &f.ha)?);
        let mut seen = std::collections::BTreeSet::new();
        for a in &addrs {
            if !seen.insert(*a) {
                return Err(format!("address {a} is used twice"));
            }
        }
        let mut variants = Variants::default();
        for v in &f.variants {
            variants.set(v).map_err(|e| format!("variants: {e}"))?;
        }
        let auth = match &f.key {
            Some(k) => super::auth::Auth::load(&base.join(k)).map_err(|e| format!("key: {e}"))?,
            None => {
                if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                    return Err(format!(
                        "key: a cluster beyond loopback ({a}) needs a key: `dtm0 keygen FILE`, then key = \"FILE\""
                    ));
                }
                super::auth::Auth::keyless()
            }
        };
        let k = f.k.unwrap_or(1);
        if n > 1 && k >= n {
            return Err(format!(
                "k = {k}: the failures tolerated must be below the number of participants ({n})"
            ));
        }
        let cluster = Cluster {
            n,
            originators,
            keys: 0,
            variants,
            k,
            ghosts: f.ghosts,
            one_send_per_step: false,
            may_fail: Vec::new(),
        };
        Ok(LiveSpec {
            name: f.name.clone().unwrap_or_else(|| "cluster".into()),
            file: f,
            cluster,
            addrs,
            auth,
        })
    }

    /// Refuses a cluster whose variants include a mutant (a deliberately
    /// broken rule, kept for the checker to catch) unless the user asked
    /// for one with `--allow-mutants`: a live cluster that can lose data
    /// must not start by a slip of the variant list.
    pub fn check_mutants(&self, allow: bool) -> Result<(), String> {
        let mutants: Vec<&String> = self
            .file
            .variants
            .iter()
            .filter(|v| {
                crate::protocol::mutant::MUTANTS
                    .iter()
                    .any(|m| m.0 == v.as_str())
            })
            .collect();
        match mutants.first() {
            Some(m) if !allow => Err(format!(
                "variants: `{m}` is a mutant (a broken rule kept for the checker to catch); a live cluster runs it only with --allow-mutants"
            )),
            Some(_) => {
                tracing::warn!("running mutant variant(s) {mutants:?}: this cluster may lose data");
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub fn n(&self) -> usize {
        self.cluster.n
    }

    pub fn addr_of(&self, id: Id) -> Option<SocketAddr> {
        self.addrs.get(usize::from(id)).copied()
    }

    pub fn id_of_addr(&self, a: SocketAddr) -> Option<Id> {
        self.addrs.iter().position(|x| *x == a).map(Id::from)
    }

    /// `p1`, `o`, `ha` (also `o1`, `o2`: an originator slot's name with an
    /// incarnation, which its storage decides).
    pub fn parse_id(&self, s: &str) -> Result<Id, String> {
        let c = &self.cluster;
        if s.eq_ignore_ascii_case("ha") {
            return Ok(c.ha_id());
        }
        if let Some(num) = s.strip_prefix('p') {
            if let Ok(i) = num.parse::<usize>() {
                if i >= 1 && i <= c.n {
                    return Ok(c.participant_id(i - 1));
                }
            }
        }
        let base = s.trim_end_matches(|ch: char| ch.is_ascii_digit());
        if let Some(slot) = c.originators.iter().position(|o| o.name == base) {
            return Ok(c.originator_id(slot));
        }
        let mut known: Vec<String> = (0..c.n).map(|p| format!("p{}", p + 1)).collect();
        known.extend(c.originators.iter().map(|o| o.name.clone()));
        known.push("ha".into());
        Err(format!(
            "--id {s}: not in the cluster file (known: {})",
            known.join(", ")
        ))
    }

    pub fn name_of(&self, id: Id) -> String {
        match self.cluster.proc_of(id) {
            Proc::Participant(p) => format!("p{}", p + 1),
            Proc::Originator(s) => self.cluster.originators[s].name.clone(),
            Proc::Ha => "ha".into(),
        }
    }

    /// The cluster as a live client of slot `slot` sees it: its incarnation
    /// `inc` issues `ops` (timestamps already drawn).
    pub fn cluster_for_client(&self, slot: usize, inc: Inc, ops: Vec<(Ts, Op)>) -> Cluster {
        let mut c = self.cluster.clone();
        c.originators[slot].plan = vec![ops];
        c.originators[slot].first_inc = inc;
        c
    }

    /// Writes a cluster file for `n` participants and `m` originators on
    /// consecutive loopback ports from `port`.
    pub fn local_text(name: &str, n: usize, origs: &[&str], port: u16) -> String {
        let mut t = format!("name = \"{name}\"\nvariants = [\"pruning\"]\nha = \"127.0.0.1:{port}\"\nparticipants = [");
        let ps: Vec<String> = (0..n)
            .map(|i| format!("\"127.0.0.1:{}\"", port + 1 + i as u16))
            .collect();
        t.push_str(&ps.join(", "));
        t.push_str("]\n");
        for (s, o) in origs.iter().enumerate() {
            t.push_str(&format!(
                "\n[[originators]]\nname = \"{o}\"\naddr = \"127.0.0.1:{}\"\n",
                port + 1 + n as u16 + s as u16
            ));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_file_parses_and_maps_ids() {
        let s = LiveSpec::parse(&LiveSpec::local_text("t", 3, &["o", "q"], 7100)).unwrap();
        assert_eq!(s.n(), 3);
        assert_eq!(s.addrs.len(), 6);
        assert_eq!(s.parse_id("p2").unwrap(), Id::from(1));
        assert_eq!(s.parse_id("o7").unwrap(), Id::from(3));
        assert_eq!(s.parse_id("q").unwrap(), Id::from(4));
        assert_eq!(s.parse_id("ha").unwrap(), Id::from(5));
        assert!(s
            .parse_id("p4")
            .unwrap_err()
            .contains("known: p1, p2, p3, o, q, ha"));
        assert_eq!(
            s.id_of_addr("127.0.0.1:7101".parse().unwrap()),
            Some(Id::from(0))
        );
        assert_eq!(s.id_of_addr("127.0.0.1:9999".parse().unwrap()), None);
        assert!(s.cluster.variants.pruning);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let good = LiveSpec::local_text("t", 2, &["o"], 7100);
        for (text, want) in [
            (good.replace("127.0.0.1:7101", "nowhere"), "participants[0]"),
            (
                good.replace("127.0.0.1:7102", "127.0.0.1:7101"),
                "used twice",
            ),
            (
                good.replace("participants = [", "participants = [] #"),
                "participants",
            ),
            (good.clone() + "bogus = 1\n", "unknown field"),
            (
                good.replace("name = \"o\"", "name = \"p\""),
                "must be letters",
            ),
            (good.clone() + "[timing]\nheartbeat_ms = 0\n", "timing"),
            (
                LiveSpec::local_text("t", 2, &["o", "o"], 7100),
                "used twice (each slot",
            ),
            (format!("k = 2\n{good}"), "k = 2"),
            (
                good.replace("127.0.0.1:7101", "10.0.0.1:7101"),
                "needs a key",
            ),
            (
                good.replace("name = \"t\"", "name = \"t\"\nkey = \"/nonexistent.key\""),
                "dtm0 keygen",
            ),
        ] {
            let e = LiveSpec::parse(&text).unwrap_err();
            assert!(e.contains(want), "wanted `{want}` in `{e}`");
        }
    }

    #[test]
    fn mutants_need_to_be_asked_for() {
        let good = LiveSpec::local_text("t", 2, &["o"], 7100);
        let m = crate::protocol::mutant::MUTANTS[0].0;
        let text = good.replace("variants = [", &format!("variants = [\"{m}\", "));
        let s = LiveSpec::parse(&text).unwrap();
        let e = s.check_mutants(false).unwrap_err();
        assert!(e.contains(m) && e.contains("--allow-mutants"), "{e}");
        assert!(s.check_mutants(true).is_ok());
        assert!(LiveSpec::parse(&good).unwrap().check_mutants(false).is_ok());
    }
}
