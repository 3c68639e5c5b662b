//! Saved counterexamples (`dtm0 check --save-trace FILE`, `dtm0 trace
//! FILE`). A trace file is JSON and self-contained: the model's TOML text,
//! the variants and network it was checked with, and per violated property
//! the path as events in the seed's notation. Replaying matches each event
//! against the enabled actions of the rebuilt model, and checks that the
//! result is the same path (its explorer path), so a trace that no longer
//! fits the code or the model is refused rather than shown wrong.

use crate::model::explorer::path as explorer_path;
use crate::model::file::{ModelSpec, NetworkKind};
use crate::model::{build, Action, Dtm0Model, SysState};
use serde::{Deserialize, Serialize};
use stateright::Model;

/// Version 2: explorer paths index the actions the explorer offers (no
/// crash beyond the budgets), so version-1 paths open other states; and
/// steps name every entry of an HA view (`view #5: p1 is RECOVERING, p2
/// is ONLINE, ...`), not only its changes.
pub const FORMAT: &str = "dtm0-trace/2";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFile {
    pub format: String,
    pub model: String,
    /// The model file's text.
    pub model_source: String,
    /// `--variant` names applied on top of the file's.
    pub variants: Vec<String>,
    pub network: NetworkKind,
    pub paths: Vec<TracePath>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracePath {
    /// The property the path violates (`S2`), or a label.
    pub property: String,
    /// The steps, as `table::event` renders them.
    pub events: Vec<String>,
    pub explorer_path: String,
}

/// The events of a path of `m`, in the seed's notation.
pub fn events_of(m: &Dtm0Model, actions: &[Action]) -> Result<Vec<String>, String> {
    let states = crate::model::replay(m, actions).ok_or("the path does not replay")?;
    Ok(actions
        .iter()
        .zip(&states)
        .map(|(a, s)| crate::model::render::step(m.cfg(), s, a))
        .collect())
}

impl TraceFile {
    /// A trace file for `spec` (as checked) with the given paths.
    pub fn new(
        spec: &ModelSpec,
        m: &Dtm0Model,
        paths: &[(&str, &[Action])],
    ) -> Result<Self, String> {
        let init = m
            .init_states()
            .into_iter()
            .next()
            .ok_or("no initial state")?;
        let paths = paths
            .iter()
            .map(|(prop, actions)| {
                Ok(TracePath {
                    property: prop.to_string(),
                    events: events_of(m, actions)?,
                    explorer_path: explorer_path(m, &init, actions),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TraceFile {
            format: FORMAT.into(),
            model: spec.name.clone(),
            model_source: spec.source.clone(),
            variants: spec.extra_variants.clone(),
            network: spec.network,
            paths,
        })
    }

    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let t: TraceFile = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a trace file: {e}", path.display()))?;
        if t.format != FORMAT {
            return Err(format!(
                "{}: trace format {:?}, this dtm0 reads {FORMAT:?}",
                path.display(),
                t.format
            ));
        }
        Ok(t)
    }

    /// The model the trace was checked on.
    pub fn spec(&self) -> Result<ModelSpec, String> {
        let mut spec = ModelSpec::parse(&self.model_source, &self.model)
            .map_err(|e| format!("the trace's model: {e}"))?
            .with_variants(&self.variants)?;
        spec.network = self.network;
        Ok(spec)
    }
}

/// Replays one saved path on `m`: each event must name an enabled action,
/// and the whole must be the path that was saved.
pub fn replay(m: &Dtm0Model, p: &TracePath) -> Result<(Vec<Action>, Vec<SysState>), String> {
    let init = m
        .init_states()
        .into_iter()
        .next()
        .ok_or("no initial state")?;
    let mut states = vec![init.clone()];
    let mut actions = Vec::new();
    for (k, ev) in p.events.iter().enumerate() {
        let cur = states.last().unwrap();
        let mut acts = Vec::new();
        m.actions(cur, &mut acts);
        let found = acts.into_iter().find_map(|a| {
            if crate::model::render::step(m.cfg(), cur, &a) == *ev {
                m.next_state(cur, a.clone()).map(|n| (a, n))
            } else {
                None
            }
        });
        let (a, next) = found.ok_or_else(|| {
            format!(
                "step {} `{ev}` is not enabled: the trace does not fit this model or this version",
                k + 1
            )
        })?;
        actions.push(a);
        states.push(next);
    }
    if explorer_path(m, &init, &actions) != p.explorer_path {
        return Err("the replayed path differs from the saved one: the trace does not fit this model or this version".into());
    }
    Ok((actions, states))
}

/// Builds the model of a trace file.
pub fn model(t: &TraceFile) -> Result<(ModelSpec, Dtm0Model), String> {
    let spec = t.spec()?;
    let m = build(&spec);
    Ok((spec, m))
}
