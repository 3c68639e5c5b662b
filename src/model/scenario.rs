//! Scenarios: a story told as a path of the model. Each step names an
//! event in the seed's notation (a prefix of `table::event`), and the
//! replay picks the enabled action of the model that renders so. The
//! actors are the model's own: no second implementation of the protocol,
//! and the path opens in the explorer.
//!
//! `SEED` is the seed scenario (`3pa-and-originator-failure.txt`), block by
//! block; README's "The seed scenario" section lists where the replay
//! reads the seed's slips.

use crate::model::properties::{self, PROPS};
use crate::model::table::{self, Block, FinalKv};
use crate::model::{Action, Dtm0Model, SysState};
use serde::Serialize;
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::BTreeMap;

/// One time step of a scenario: its label, the seed's comments, and the
/// events to take, in order.
pub struct Step {
    pub time: &'static str,
    pub notes: &'static [&'static str],
    pub events: &'static [&'static str],
}

/// The seed, on the seed model over an unordered network (p3's requests
/// arrive in another order than they were sent).
pub const SEED: &[Step] = &[
    Step {
        time: "@10-15",
        notes: &["o1 issues three PUTs and sends each request to p1, p2 and p3 at once (@20)"],
        events: &[],
    },
    Step {
        time: "@20",
        notes: &[
            "o1 -> p1, p2, p3: request o1.R1, o1.R2, o1.R3 (all sent when issued)",
            "The requests to p2 with o1.R1 and o1.R3 got stuck (never delivered before o1's crash)",
        ],
        events: &[],
    },
    Step {
        time: "@25-40",
        notes: &[
            "A participant executes a request in the step that delivers it.",
            "Each executes its first request; p3 gets o1.R3 first (network re-ordering).",
        ],
        events: &[
            "o1 -> p1: request o1.R1",
            "o1 -> p2: request o1.R2",
            "o1 -> p3: request o1.R3",
        ],
    },
    Step {
        time: "@50",
        notes: &["Reply was sent for each executed request."],
        events: &[
            "p1 -> o1: reply o1.R1",
            "p2 -> o1: reply o1.R2",
            "p3 -> o1: reply o1.R3",
        ],
    },
    Step {
        time: "@60",
        notes: &[
            "Three different records reach the persistent state on three different nodes;",
            "then p1 and p3 execute their other requests, which stay uncommitted.",
        ],
        events: &[
            "p1disk -> p1: committed(R1)",
            "p2disk -> p2: committed(R1)",
            "p3disk -> p3: committed(R1)",
            "o1 -> p1: request o1.R2",
            "o1 -> p1: request o1.R3",
            "o1 -> p3: request o1.R2",
            "o1 -> p3: request o1.R1",
            "p1 -> o1: reply o1.R2",
            "p1 -> o1: reply o1.R3",
            "p3 -> o1: reply o1.R2",
            "p3 -> o1: reply o1.R1",
        ],
    },
    Step {
        time: "@70",
        notes: &["p1, p3 and o1 reboot; o1 comes back as o2. Uncommitted records are lost."],
        events: &[
            "p1proc: crash",
            "p1proc: restart",
            "p3proc: crash",
            "p3proc: restart",
            "o1proc: crash",
            "o1proc: restart as o2",
        ],
    },
    Step {
        time: "@80-85",
        notes: &["HA learns of the restarts (p1, p3 TRANSIENT: the seed's CRASHED); both get ready to recover."],
        events: &[
            "p1 -> HA: restarted",
            "p3 -> HA: restarted",
            "o2 -> HA: started",
            "HA -> p1: view #3",
            "HA -> p3: view #3",
            "p1 -> HA: ready to RECOVERING",
            "p3 -> HA: ready to RECOVERING",
        ],
    },
    Step {
        time: "@90",
        notes: &[
            "p2 learns: p1, p3 RECOVERING, o1 FAILED (the seed's OFFLINE), o2 ONLINE.",
            "Restore rounds and eviction send their REDOs now (the seed lists them at @120).",
        ],
        events: &["HA -> p2: view #5", "HA -> p1: view #5", "HA -> p3: view #5"],
    },
    Step {
        time: "@100-105",
        notes: &["S3 client sends a DEL operation to remove the objects: o2 issues three DELs."],
        events: &["HA -> o2: view #5"],
    },
    Step {
        time: "@110",
        notes: &["o2 -> p1, p2, p3: request o2.R1, o2.R2, o2.R3 (sent when issued)"],
        events: &[],
    },
    Step {
        time: "@115",
        notes: &[
            "p1 and p3 receive the REDOs sent at @90 before o2's DELs; p2 receives the DELs first.",
        ],
        events: &[
            "p2 -> p1: REDO p2.R1",
            "p3 -> p1: REDO p3.R1",
            "p1 -> p3: REDO p1.R1",
            "p2 -> p3: REDO p2.R1",
            "o2 -> p1: request o2.R1",
            "o2 -> p1: request o2.R2",
            "o2 -> p1: request o2.R3",
            "o2 -> p2: request o2.R1",
            "o2 -> p2: request o2.R2",
            "o2 -> p2: request o2.R3",
            "o2 -> p3: request o2.R1",
            "o2 -> p3: request o2.R2",
            "o2 -> p3: request o2.R3",
        ],
    },
    Step {
        time: "@120",
        notes: &["p2 receives the REDOs of o1's orphaned records from p1 and p3."],
        events: &["p1 -> p2: REDO p1.R1", "p3 -> p2: REDO p3.R1"],
    },
    Step {
        time: "@130",
        notes: &["The requests are executed (each when delivered). The catalogues:"],
        events: &[],
    },
];

/// A replayed scenario.
pub struct Replay {
    pub blocks: Vec<Block>,
    pub actions: Vec<Action>,
    /// Every state of the path, the initial one first.
    pub states: Vec<SysState>,
    /// `--finish` ran to a state where only crashes remain.
    pub settled: bool,
}

/// Every enabled action of `s` with its rendering, sorted by rendering;
/// crashes, restarts and losses only when `faults`.
fn enabled(m: &Dtm0Model, s: &SysState, faults: bool) -> Vec<(String, Action)> {
    let mut acts = Vec::new();
    m.actions(s, &mut acts);
    let mut v: Vec<(String, Action)> = acts
        .into_iter()
        .filter(|a| {
            faults
                || matches!(
                    a,
                    ActorModelAction::Deliver { .. } | ActorModelAction::Timeout(..)
                )
        })
        .map(|a| (crate::model::render::step(m.cfg(), s, &a), a))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Takes the step named `pattern` (a prefix of its rendering).
fn take(m: &Dtm0Model, s: &SysState, pattern: &str) -> Result<(String, Action, SysState), String> {
    let opts = enabled(m, s, true);
    for (ev, a) in &opts {
        if ev.starts_with(pattern) {
            if let Some(next) = m.next_state(s, a.clone()) {
                return Ok((ev.clone(), a.clone(), next));
            }
        }
    }
    let list: Vec<&str> = opts.iter().map(|(e, _)| e.as_str()).collect();
    Err(format!(
        "no enabled event matches `{pattern}`; enabled: {}",
        list.join(" | ")
    ))
}

/// Replays `steps` on `m`; with `finish`, goes on to a settled state by
/// delivering every message and firing every timer (deliveries first, in
/// the order of their renderings), with no further failure.
pub fn replay(m: &Dtm0Model, steps: &[Step], finish: bool) -> Result<Replay, String> {
    let cfg = m.cfg();
    let init = m
        .init_states()
        .into_iter()
        .next()
        .ok_or("the model has no initial state")?;
    let mut states = vec![init];
    let mut actions = Vec::new();
    let mut blocks = Vec::new();
    for (k, st) in steps.iter().enumerate() {
        let start = states.len() - 1;
        let mut events = Vec::new();
        for pat in st.events {
            let cur = states.last().unwrap();
            let (ev, a, next) =
                take(m, cur, pat).map_err(|e| format!("{} step {pat:?}: {e}", st.time))?;
            events.push(ev);
            actions.push(a);
            states.push(next);
        }
        let end = states.last().unwrap();
        let issued = if k == 0 {
            table::newly_issued(cfg, end, end)
                .into_iter()
                .chain(initial_issued(cfg, end))
                .collect::<Vec<_>>()
        } else {
            table::newly_issued(cfg, &states[start], end)
        };
        let mut b = table::snapshot(cfg, end, &issued);
        b.time = st.time.into();
        b.notes = st.notes.iter().map(|s| s.to_string()).collect();
        b.events = events;
        blocks.push(b);
    }
    let mut settled = false;
    if finish {
        let start = states.len() - 1;
        let mut events = Vec::new();
        for _ in 0..100_000 {
            let cur = states.last().unwrap();
            let opts = enabled(m, cur, false);
            let pick = opts
                .iter()
                .filter(|(_, a)| matches!(a, ActorModelAction::Deliver { .. }))
                .chain(opts.iter())
                .find_map(|(ev, a)| {
                    m.next_state(cur, a.clone())
                        .filter(|n| n != cur)
                        .map(|n| (ev.clone(), a.clone(), n))
                });
            match pick {
                Some((ev, a, next)) => {
                    events.push(ev);
                    actions.push(a);
                    states.push(next);
                }
                None => {
                    settled = true;
                    break;
                }
            }
        }
        if !settled {
            return Err("--finish: no settled state within 100000 steps".into());
        }
        let end = states.last().unwrap();
        let mut b = table::snapshot(cfg, end, &table::newly_issued(cfg, &states[start], end));
        b.time = "finish".into();
        b.notes = vec![
            "Where the seed stops: every message delivered, every commit done, no further failure."
                .into(),
        ];
        b.events = events;
        blocks.push(b);
    }
    Ok(Replay {
        blocks,
        actions,
        states,
        settled,
    })
}

/// The dtxs issued in the initial state (first boots issue at start).
fn initial_issued(
    cfg: &crate::model::ModelCfg,
    s: &SysState,
) -> Vec<(crate::protocol::types::TxId, crate::protocol::types::Op)> {
    let c = &cfg.cluster;
    (0..c.m())
        .filter_map(|slot| s.actor_states[usize::from(c.originator_id(slot))].originator())
        .flat_map(|o| o.dtxs.iter().map(|d| (d.id, d.op)))
        .collect()
}

/// A property's verdict on a replayed path.
#[derive(Clone, Debug, Serialize)]
pub struct PropVerdict {
    pub id: &'static str,
    pub name: &'static str,
    /// Not violated (where it was not judged, nothing was found either).
    pub holds: bool,
    /// False where the path gives it nothing to judge: a property read at
    /// quiescence on a path with no quiescent state, liveness on a final
    /// state that is not settled.
    pub judged: bool,
    /// Where it was evaluated: safety on every state of the path, liveness
    /// on the final state when it is settled.
    pub on: &'static str,
    /// The first state (0 = initial, k = after step k) where it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_violated_at: Option<usize>,
    /// Why it fails there: the clause and its data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl PropVerdict {
    /// `holds`, `not judged`, or `VIOLATED from step 12`.
    pub fn text(&self) -> String {
        let why = self
            .explanation
            .as_ref()
            .map_or(String::new(), |w| format!("\n    why: {w}"));
        match (self.holds, self.judged, self.first_violated_at) {
            (true, false, _) => format!("{:<28} not judged: {}", self.name, self.on),
            (true, true, _) => format!("{:<28} holds     on {}", self.name, self.on),
            (false, _, Some(k)) => format!("{:<28} VIOLATED  from step {k} on{why}", self.name),
            (false, _, None) => format!("{:<28} VIOLATED  on {}{why}", self.name, self.on),
        }
    }
}

/// Every property of the spec on a path: safety at each state, liveness
/// at the last (meaningful only when it is settled); a property read at
/// quiescence is judged only where the path has a quiescent state.
pub fn verdicts(m: &Dtm0Model, states: &[SysState]) -> Vec<PropVerdict> {
    let last = states.last().expect("a path has a state");
    let any_quiescent = states.iter().any(|s| properties::quiescent(m, s));
    PROPS
        .iter()
        .map(|p| {
            if p.liveness {
                let settled = properties::settled(m, last);
                let holds = (p.check)(m, last);
                PropVerdict {
                    id: p.id,
                    name: p.name,
                    holds,
                    judged: settled,
                    first_violated_at: None,
                    explanation: if holds { None } else { (p.why)(m, last) },
                    on: if settled {
                        "final state (settled)"
                    } else {
                        "the final state is not settled"
                    },
                }
            } else {
                let first = states.iter().position(|s| !(p.check)(m, s));
                let judged = !p.at_rest || any_quiescent || first.is_some();
                PropVerdict {
                    id: p.id,
                    name: p.name,
                    holds: first.is_none(),
                    judged,
                    explanation: first.and_then(|k| (p.why)(m, &states[k])),
                    on: if !judged {
                        "no state of the path is quiescent"
                    } else if states.len() == 1 {
                        "the final state"
                    } else {
                        "every state of the path"
                    },
                    first_violated_at: first,
                }
            }
        })
        .collect()
}

/// Where a path ends on replicas that differ without being quiescent
/// (so S2 says nothing yet): `replicas differ on k1, k3: S2 not judged,
/// not quiescent`. The catalogues compared are the visible ones (on disk
/// while crashed), as the final states show them.
pub fn divergence(m: &Dtm0Model, s: &SysState) -> Option<String> {
    if properties::quiescent(m, s) {
        return None;
    }
    let c = &m.cfg().cluster;
    let kv = |p: usize| match crate::model::live(s, p) {
        Some(ps) => &ps.kv,
        None => &crate::model::store(s, p).kv,
    };
    let keys: Vec<String> = (1..=c.keys)
        .filter(|k| (1..c.n).any(|p| kv(p).get(k) != kv(0).get(k)))
        .map(|k| format!("k{k}"))
        .collect();
    (!keys.is_empty()).then(|| {
        format!(
            "replicas differ on {}: S2 not judged, not quiescent",
            keys.join(", ")
        )
    })
}

/// The final catalogues.
pub fn final_kvs(m: &Dtm0Model, r: &Replay) -> BTreeMap<String, FinalKv> {
    table::final_kvs(m.cfg(), r.states.last().expect("a path has a state"))
}
