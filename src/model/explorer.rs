//! The model as stateright's web explorer shows it (`dtm0 explore`).
//!
//! stateright's explorer serves its own page and renders a state with
//! `Debug`, a step with `format_action`/`format_step` and the path with
//! `as_svg`. `Explorer` wraps the model so that all of them speak the
//! protocol's notation (`render`), and so that the "Next Action Choices"
//! never offer a crash the budgets forbid (stateright offers every crash up
//! to `max_crashes`, HA's included, and only the boundary drops them).
//!
//! A path in the explorer is a list of indices into the actions offered at
//! each state; `path` computes the same indices for a path of the model, so
//! the `#/steps/...` a report prints opens the same states here.

use crate::model::{in_flight, render, steps, within_budgets, Action, Dtm0Model, SysState};
use stateright::actor::ActorModelAction;
use stateright::{Expectation, Model, Path, Property};
use std::fmt::Write;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The model the explorer serves.
pub struct Explorer {
    pub m: Arc<Dtm0Model>,
}

/// A state of the explorer: the model's state, and the model to render it
/// with (its `Debug` is the whole state in the protocol's notation).
/// Equality and hash are the state's alone.
#[derive(Clone)]
pub struct View {
    pub s: SysState,
    m: Arc<Dtm0Model>,
}

impl PartialEq for View {
    fn eq(&self, other: &Self) -> bool {
        self.s == other.s
    }
}

impl Eq for View {}

impl Hash for View {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.s.hash(h)
    }
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&state_text(&self.m, None, &self.s))
    }
}

/// An action as the explorer offers it: the model's action, with its text
/// in the one step notation (`render::step`), read against the state it is
/// offered at (stateright's `format_action` sees no state). Equality and
/// hash are the action's alone.
#[derive(Clone, Debug)]
pub struct Step {
    pub a: Action,
    text: String,
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        self.a == other.a
    }
}

impl Eq for Step {}

impl Hash for Step {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.a.hash(h)
    }
}

/// Whether the explorer offers `a` at `s`: every action but a crash that
/// would take its actor beyond its crash budget.
pub fn allowed(m: &Dtm0Model, s: &SysState, a: &Action) -> bool {
    match a {
        ActorModelAction::Crash(_) => m
            .next_state(s, a.clone())
            .is_none_or(|n| within_budgets(m.cfg(), &n)),
        _ => true,
    }
}

/// The actions the explorer offers at `s`, in the model's order.
pub fn offered(m: &Dtm0Model, s: &SysState) -> Vec<Action> {
    let mut acts = Vec::new();
    m.actions(s, &mut acts);
    acts.retain(|a| allowed(m, s, a));
    acts
}

/// The explorer's path (`0/4/2/...`) of `actions` from `init`; empty when
/// they do not replay.
pub fn path(m: &Dtm0Model, init: &SysState, actions: &[Action]) -> String {
    let Some(first) = m.init_states().iter().position(|s| s == init) else {
        return String::new();
    };
    let mut out = vec![first.to_string()];
    let mut s = init.clone();
    for a in actions {
        let Some(i) = offered(m, &s).iter().position(|b| b == a) else {
            return String::new();
        };
        let Some(next) = m.next_state(&s, a.clone()) else {
            return String::new();
        };
        out.push(i.to_string());
        s = next;
    }
    out.join("/")
}

/// A property's clause in a few words, as the violation line states it.
fn clause(id: &str) -> &'static str {
    match id {
        "S1" => "a catalogue went behind a durable log record on its key, or behind the durable catalogue",
        "S2" => "at quiescence the replicas do not hold the same record for every key",
        "S3" => "at quiescence a key whose highest durable op is a DEL is alive somewhere",
        "S4" => "something shows P for a participant where the dtx is not durable",
        "S5" => "a dtx an originator saw STABLE is not kept durable",
        "S6" => "at quiescence a dtx is durable at some participant but not at all",
        "S7" => "a record was pruned while not durable at every participant",
        "S8" => "a participant declared itself recovered before applying every record its peers logged",
        "S9" => "an EOL was sent before every REDO of its round was acked",
        "S10" => "at quiescence a dtx is DONE at its originator though it lost to a newer version everywhere",
        "S11" => "a read returned a version older than a write its originator had seen STABLE, or a key deleted by one",
        "S12" => "a tombstone was collected before every replica held it, or an older op came back after it",
        "L1" => "settled with a participant not ONLINE",
        "L2" => "settled with a dtx not durable everywhere or not P in every record of it",
        "L3" => "settled with a dtx of a live originator neither STABLE nor DONE",
        _ => "violated",
    }
}

/// One line per property violated at `s` (each `always` property false
/// there), and, when `s` was reached by `step` (the state before and the
/// action), per step-local form the transition violates:
/// `VIOLATED S2 convergence: ...`. Empty when every property holds.
pub fn violation_lines(
    m: &Dtm0Model,
    step: Option<(&SysState, &Action)>,
    s: &SysState,
) -> Vec<String> {
    let mut ids: Vec<(&'static str, &'static str, bool)> = Vec::new();
    for r in &m.registered {
        if matches!(r.property.expectation, Expectation::Always) && !(r.property.condition)(m, s) {
            ids.push((r.spec.id, r.spec.name, false));
        }
    }
    if let Some((before, a)) = step {
        for id in steps::step_violations(m, before, a, s) {
            if !ids.iter().any(|(i, _, _)| *i == id) {
                let name = m
                    .registered
                    .iter()
                    .find(|r| r.spec.id == id)
                    .map_or(id, |r| r.spec.name);
                ids.push((id, name, true));
            }
        }
    }
    // The explanation of a global form names the failing clause and its
    // data; a step-local form's violation keeps the clause in words.
    let why = crate::model::properties::explain(m, s);
    ids.iter()
        .map(|(id, name, at_step)| {
            let when = if *at_step { " (by this step)" } else { "" };
            let text = why
                .iter()
                .find(|(w, _)| w == id)
                .map_or_else(|| clause(id).to_string(), |(_, t)| t.clone());
            format!("VIOLATED {name}{when}: {text}")
        })
        .collect()
}

/// The whole state in the protocol's notation: the violations first, then
/// each process, HA's view, and every message in flight.
pub fn state_text(m: &Dtm0Model, step: Option<(&SysState, &Action)>, s: &SysState) -> String {
    let mut out = String::new();
    for l in violation_lines(m, step, s) {
        let _ = writeln!(out, "{l}");
    }
    out.push_str(&render::state(m.cfg(), s));
    for (src, dst, msg) in in_flight(s) {
        let a = ActorModelAction::Deliver {
            src,
            dst,
            msg: msg.clone(),
        };
        let _ = write!(out, "\n  {}", render::step(m.cfg(), s, &a));
    }
    out
}

impl Explorer {
    pub fn new(m: Dtm0Model) -> Self {
        assert!(
            m.registered.len() <= CONDS.len(),
            "more properties than the explorer can show"
        );
        Explorer { m: Arc::new(m) }
    }

    fn view(&self, s: SysState) -> View {
        View {
            s,
            m: self.m.clone(),
        }
    }
}

impl Model for Explorer {
    type State = View;
    type Action = Step;

    fn init_states(&self) -> Vec<View> {
        self.m
            .init_states()
            .into_iter()
            .map(|s| self.view(s))
            .collect()
    }
    fn actions(&self, state: &View, actions: &mut Vec<Step>) {
        let cfg = self.m.cfg();
        actions.extend(offered(&self.m, &state.s).into_iter().map(|a| Step {
            text: render::step(cfg, &state.s, &a),
            a,
        }));
    }
    fn next_state(&self, last: &View, action: Step) -> Option<View> {
        self.m.next_state(&last.s, action.a).map(|s| self.view(s))
    }
    fn format_action(&self, action: &Step) -> String {
        action.text.clone()
    }
    fn format_step(&self, last: &View, action: Step) -> Option<String> {
        let next = self.m.next_state(&last.s, action.a.clone())?;
        Some(state_text(&self.m, Some((&last.s, &action.a)), &next))
    }
    fn as_svg(&self, path: Path<View, Step>) -> Option<String> {
        let (states, actions): (Vec<SysState>, Vec<Option<Step>>) =
            path.into_vec().into_iter().map(|(v, a)| (v.s, a)).unzip();
        let actions: Vec<Action> = actions.into_iter().flatten().map(|x| x.a).collect();
        Some(svg(&self.m, &states, &actions))
    }
    fn properties(&self) -> Vec<Property<Self>> {
        self.m
            .registered
            .iter()
            .zip(CONDS)
            .map(|(r, condition)| Property {
                expectation: r.property.expectation.clone(),
                name: r.property.name,
                condition,
            })
            .collect()
    }
    fn within_boundary(&self, state: &View) -> bool {
        self.m.within_boundary(&state.s)
    }
}

/// stateright's properties are plain functions, so each registered property
/// is reached through one of these by its index.
fn cond<const I: usize>(e: &Explorer, v: &View) -> bool {
    (e.m.registered[I].property.condition)(&e.m, &v.s)
}

type Cond = fn(&Explorer, &View) -> bool;

const CONDS: [Cond; 32] = [
    cond::<0>, cond::<1>, cond::<2>, cond::<3>, cond::<4>, cond::<5>, cond::<6>, cond::<7>,
    cond::<8>, cond::<9>, cond::<10>, cond::<11>, cond::<12>, cond::<13>, cond::<14>, cond::<15>,
    cond::<16>, cond::<17>, cond::<18>, cond::<19>, cond::<20>, cond::<21>, cond::<22>, cond::<23>,
    cond::<24>, cond::<25>, cond::<26>, cond::<27>, cond::<28>, cond::<29>, cond::<30>, cond::<31>,
];

/// Longest label drawn in full in the sequence diagram; longer ones end in
/// `…` and carry the full text as a tooltip (it is in the step list too).
pub const SVG_LABEL_MAX: usize = 100;

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

/// The path as a sequence diagram: a timeline per process, an arrow per
/// delivered message from the step that sent it, a dot per commit, crash
/// and restart, and at the right of each row the step in the protocol's
/// notation (`3. o1 -> p1: EXECUTE o1@10 [PUT k1 @10]`). Below the last
/// row, in red, what the last state violates.
pub fn svg(m: &Dtm0Model, states: &[SysState], actions: &[Action]) -> String {
    let c = &m.cfg().cluster;
    let names: Vec<String> = (0..c.actor_count())
        .map(|i| {
            if i < c.n {
                c.participant_name(i)
            } else if i < c.n + c.m() {
                c.originators[i - c.n].name.clone()
            } else {
                "HA".to_string()
            }
        })
        .collect();
    const COL: usize = 64;
    const ROW: usize = 22;
    const CHAR: f64 = 7.3; // px per character at 12px monospace
    let x_of = |i: usize| 30 + i * COL;
    let y_of = |t: usize| 30 + t * ROW;
    let label_x = x_of(names.len()) - COL / 2 + 16;
    let labels: Vec<(String, String)> = actions
        .iter()
        .enumerate()
        .map(|(t, a)| {
            let full = format!("{}. {}", t + 1, render::step(m.cfg(), &states[t], a));
            let shown = if full.chars().count() > SVG_LABEL_MAX {
                let cut: String = full.chars().take(SVG_LABEL_MAX - 1).collect();
                format!("{cut}…")
            } else {
                full.clone()
            };
            (shown, full)
        })
        .collect();
    let last = states.last();
    let violations = match (last, actions.last()) {
        (Some(s), Some(a)) if states.len() >= 2 => {
            violation_lines(m, Some((&states[states.len() - 2], a)), s)
        }
        (Some(s), _) => violation_lines(m, None, s),
        _ => vec![],
    };
    let widest = labels
        .iter()
        .map(|(l, _)| l.chars().count())
        .chain(violations.iter().map(|v| v.chars().count()))
        .max()
        .unwrap_or(0);
    let text_w = (widest as f64 * CHAR) as usize;
    let width = (label_x + text_w + 20).max(x_of(names.len()));
    let rows_end = y_of(actions.len() + 1);
    let height = rows_end + violations.len() * ROW + 10;

    let mut out = String::new();
    let _ = write!(
        out,
        "<svg version='1.1' width='{width}' height='{height}' viewBox='0 0 {width} {height}' \
         xmlns='http://www.w3.org/2000/svg' font-family='monospace' font-size='12px'>\
         <defs><marker class='svg-event-shape' id='arrow' markerWidth='10' markerHeight='8' \
         refX='10' refY='4' orient='auto'><polygon points='0 0, 10 4, 0 8' /></marker></defs>"
    );
    for (i, name) in names.iter().enumerate() {
        let x = x_of(i);
        let _ = write!(
            out,
            "<line x1='{x}' y1='{}' x2='{x}' y2='{}' class='svg-actor-timeline' />\
             <text x='{x}' y='{}' text-anchor='middle' class='svg-actor-label'>{}</text>",
            y_of(0) - 6,
            rows_end - ROW / 2,
            y_of(0) - 12,
            esc(name)
        );
    }
    // Which row sent each message in flight (row 0: the initial state).
    let mut sent: Vec<((usize, usize, &crate::protocol::msg::Msg), usize)> = states
        .first()
        .map(|s| {
            in_flight(s)
                .into_iter()
                .map(|(a, b, msg)| ((usize::from(a), usize::from(b), msg), 0))
                .collect()
        })
        .unwrap_or_default();
    for (k, a) in actions.iter().enumerate() {
        let t = k + 1;
        let y = y_of(t);
        let actor = match a {
            ActorModelAction::Deliver { src, dst, msg } => {
                let (src, dst) = (usize::from(*src), usize::from(*dst));
                let from = sent
                    .iter()
                    .position(|((a, b, m2), _)| *a == src && *b == dst && *m2 == msg)
                    .map_or(0, |i| sent.remove(i).1);
                let _ = write!(
                    out,
                    "<line x1='{}' y1='{}' x2='{}' y2='{y}' marker-end='url(#arrow)' class='svg-event-line' />",
                    x_of(src),
                    y_of(from),
                    x_of(dst)
                );
                dst
            }
            ActorModelAction::Drop(env) => usize::from(env.src),
            ActorModelAction::Timeout(id, _)
            | ActorModelAction::Crash(id)
            | ActorModelAction::Recover(id) => usize::from(*id),
            ActorModelAction::SelectRandom { actor, .. } => usize::from(*actor),
        };
        let (r, fill) = match a {
            ActorModelAction::Crash(_) | ActorModelAction::Drop(_) => (6, " fill='#e06c75'"),
            ActorModelAction::Deliver { .. } => (3, ""),
            _ => (5, ""),
        };
        let _ = write!(
            out,
            "<circle cx='{}' cy='{y}' r='{r}' class='svg-event-shape'{fill} />\
             <line x1='{}' y1='{y}' x2='{}' y2='{y}' class='svg-actor-timeline' stroke-dasharray='2 4' />",
            x_of(actor),
            x_of(actor) + 8,
            label_x - 6
        );
        let (shown, full) = &labels[k];
        let _ = write!(
            out,
            "<text x='{label_x}' y='{}' class='svg-event-label'><title>{}</title>{}</text>",
            y + 4,
            esc(full),
            esc(shown)
        );
        // What this step sent: in flight after it, not before.
        if let (Some(before), Some(after)) = (states.get(k), states.get(t)) {
            let mut old = in_flight(before);
            for (a, b, msg) in in_flight(after) {
                if let Some(i) = old
                    .iter()
                    .position(|(x, y2, m2)| *x == a && *y2 == b && *m2 == msg)
                {
                    old.remove(i);
                } else {
                    sent.push(((usize::from(a), usize::from(b), msg), t));
                }
            }
        }
    }
    for (i, v) in violations.iter().enumerate() {
        let _ = write!(
            out,
            "<text x='{}' y='{}' fill='#ff6b6b' font-weight='bold' class='dtm0-violation'>{}</text>",
            x_of(0) - 20,
            rows_end + i * ROW + 6,
            esc(v)
        );
    }
    out.push_str("</svg>");
    out
}
