//! The report of `dtm0 check` as text: a header, one line per property,
//! the counterexamples, the verdict.

use dtm0::engine::check::{Counterexample, Reduction, Report, Status, WitnessStatus};
use std::fmt::Write;

/// How the report is printed.
pub(crate) struct Style {
    /// `dtm0 explore ...` with the model and variants of the run.
    pub(crate) explore: String,
    /// Reduction internals (persistent sets, sleep sets, bytes per state).
    pub(crate) verbose: bool,
    /// The whole state after every step, not only what changed.
    pub(crate) full: Option<Vec<Vec<Vec<String>>>>,
}

/// The report as text: a header, one line per property, each distinct
/// counterexample once, the verdict. `full`: per path (in `paths` order),
/// the state after each step.
pub(crate) fn text(r: &Report, st: &Style) -> String {
    let mut o = String::new();
    header(&mut o, r);
    reduction(&mut o, r, st.verbose);
    properties(&mut o, r);
    for (k, g) in paths(r).iter().enumerate() {
        counterexample(&mut o, r, g, k, st);
    }
    verdict(&mut o, r);
    o
}

/// The report without the counterexamples' steps (for `--format table`,
/// which prints them as tables): header, properties, verdict.
pub(crate) fn text_summary(r: &Report, st: &Style) -> String {
    let mut o = String::new();
    header(&mut o, r);
    reduction(&mut o, r, st.verbose);
    properties(&mut o, r);
    verdict(&mut o, r);
    o
}

/// A distinct counterexample: the path, and the properties reported
/// violated with it (several properties may share one path).
pub(crate) struct Group<'a> {
    pub(crate) cx: &'a Counterexample,
    pub(crate) ids: Vec<&'static str>,
}

/// The counterexamples of a report, each distinct path once, in the
/// order of the first property that has it.
pub(crate) fn paths(r: &Report) -> Vec<Group<'_>> {
    let mut v: Vec<Group> = Vec::new();
    for p in &r.properties {
        let Some(cx) = &p.counterexample else {
            continue;
        };
        match v.iter_mut().find(|g| g.cx.actions == cx.actions) {
            Some(g) => g.ids.push(p.id),
            None => v.push(Group {
                cx,
                ids: vec![p.id],
            }),
        }
    }
    v
}

/// The explanation lines of a path: each property it violates (those the
/// report names first), `S2: "clause" fails: data`.
pub(crate) fn explanation_lines(r: &Report, g: &Group) -> Vec<String> {
    let checked = |id: &str| r.only.is_empty() || r.only.contains(&id);
    let mut ids: Vec<&str> = g.ids.clone();
    for v in &g.cx.violations {
        if checked(v.id) && !ids.contains(&v.id) {
            ids.push(v.id);
        }
    }
    ids.sort_by_key(|id| {
        dtm0::model::properties::PROPS
            .iter()
            .position(|p| p.id == *id)
    });
    ids.iter()
        .map(|id| {
            let why = g.cx.violations.iter().find(|v| v.id == *id).map_or(
                "no explanation found on this path (its violation was seen on a state the path does not end in)",
                |v| v.explanation.as_str(),
            );
            format!("{id}: {why}")
        })
        .collect()
}

/// The command and URL that open a path in the explorer.
pub(crate) fn explorer_lines(explore: &str, path: &str) -> String {
    format!("  explorer: {explore}\n            then open http://127.0.0.1:3000/#/steps/{path}\n")
}

/// The model, the run and its counts.
fn header(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "model {} (network {}, variants: {})",
        r.model,
        r.network,
        r.variants.join(", ")
    );
    if !r.only.is_empty() {
        let _ = writeln!(
            o,
            "properties checked: {} (--property; the others were not checked)",
            r.only.join(", ")
        );
    }
    let kind = if r.exhaustive && r.reduction == Reduction::Stubborn {
        format!(
            "EXHAUSTIVE (semantic reduction): every terminal and settled state within the model's \
crash budgets was explored, for the properties judged at rest; {} were \
judged by their step-local forms on every transition taken (a property marked bounded below \
is not proved: a form it relies on was violated)",
            dtm0::model::steps::STEP_IDS.join(", ")
        )
    } else if r.exhaustive {
        "EXHAUSTIVE: the whole state space within the model's crash budgets was explored"
            .to_string()
    } else {
        format!("BOUNDED ({}): not a proof", r.bounded_by.join("; "))
    };
    let _ = writeln!(
        o,
        "{} with {} thread(s){}: {}",
        r.strategy,
        r.threads,
        if r.symmetry { ", symmetry" } else { "" },
        kind
    );
    let _ = writeln!(
        o,
        "states {}, unique {}, max depth {}, {:.2}s, {:.0} states/s",
        r.states, r.unique_states, r.max_depth, r.seconds, r.states_per_second
    );
    if r.interrupted && !r.bounded_by.iter().any(|b| b == "interrupted") {
        let _ = writeln!(
            o,
            "interrupted while searching for shortest counterexamples: a path not marked shortest is the one the run found"
        );
    }
}

/// The reduction that ran (its internals with `--verbose`), and its
/// factor with `--compare`.
fn reduction(o: &mut String, r: &Report, verbose: bool) {
    if !verbose {
        let _ = writeln!(
            o,
            "reduction: {}",
            match r.reduction {
                Reduction::Stubborn => "stubborn (semantic)",
                Reduction::Por => "por",
                Reduction::None => "none (stateright's checker)",
            }
        );
    } else if let (Some(red), Some(slept)) = (r.reduced_states, r.slept_transitions) {
        let _ = writeln!(
            o,
            "reduction: {} (our DFS, {} thread(s)): persistent sets smaller than the enabled set at {} states; sleep sets skipped {} transitions; {:.1} bytes per unique state",
            if r.reduction == Reduction::Stubborn { "stubborn (semantic)" } else { "por" },
            r.threads,
            red,
            slept,
            r.bytes_per_state.unwrap_or(0.0)
        );
    } else {
        let _ = writeln!(o, "reduction: none (stateright's checker)");
    }
    // A note says why the reduction asked for did not apply (bfs, sim) or
    // what it left out (sleep sets): internals, except where it fell back.
    if let Some(note) = r
        .reduction_note
        .as_ref()
        .filter(|_| verbose || r.reduction == Reduction::None)
    {
        let _ = writeln!(o, "  note: {note}");
    }
    if let Some(c) = &r.comparison {
        match (c.transition_factor, c.unique_factor, c.time_factor) {
            (Some(t), Some(u), Some(s)) => {
                let _ = writeln!(
                    o,
                    "reduction factor (against --reduction none, both exhaustive): transitions {t:.2}x, unique states {u:.2}x, time {s:.2}x (plain: {} states, {} unique, {:.2}s); same verdicts: {}",
                    c.plain_states,
                    c.plain_unique_states,
                    c.plain_seconds,
                    if c.same_verdicts { "yes" } else { "NO" }
                );
                let _ = writeln!(
                    o,
                    "unique states: plain {}, reduced {}, oracle {}",
                    c.plain_unique_states,
                    r.unique_states,
                    c.oracle_unique_states.map_or_else(
                        || "not built (plain space too large)".to_string(),
                        |n| n.to_string()
                    )
                );
            }
            _ => {
                let _ = writeln!(
                    o,
                    "reduction factor: not measured (a run was bounded; plain: {} unique states in {:.2}s)",
                    c.plain_unique_states, c.plain_seconds
                );
            }
        }
    }
}

/// One line per property: its verdict and its witness.
fn properties(o: &mut String, r: &Report) {
    for p in &r.properties {
        let status = match p.status {
            Status::Holds => "holds",
            Status::HoldsWithinBounds => "no violation found (bounded)",
            Status::Violated => "VIOLATED",
        };
        let witness = match p.witness_status {
            WitnessStatus::Found => "witness found".to_string(),
            WitnessStatus::NotFound if !r.violated.is_empty() => {
                "witness not searched to the end (run stopped at a violation)".to_string()
            }
            WitnessStatus::NotFound => {
                "WITNESS NOT FOUND: the property may hold vacuously".to_string()
            }
            WitnessStatus::NotApplicable => {
                format!(
                    "witness n/a ({})",
                    p.why_not_applicable.map_or("", |n| n.describe())
                )
            }
        };
        // The widest property name sets the column (S11's is the longest).
        let width = dtm0::model::properties::PROPS
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(26);
        let _ = writeln!(o, "  {:<width$} {:<30} {}", p.name, status, witness);
    }
}

/// One distinct counterexample: the properties it violates and why, its
/// steps with what each changed (or the whole state, with `--full`), the
/// final state, and the explorer command and path.
fn counterexample(o: &mut String, r: &Report, g: &Group, k: usize, st: &Style) {
    let cx = g.cx;
    let lines = explanation_lines(r, g);
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    let _ = writeln!(
        o,
        "\ncounterexample {} ({} steps{}) violates {}:",
        k + 1,
        cx.steps.len(),
        if cx.shortest { ", shortest" } else { "" },
        ids.join(", ")
    );
    for l in &lines {
        let _ = writeln!(o, "  {l}");
    }
    for (i, s) in cx.steps.iter().enumerate() {
        let _ = writeln!(o, "  {:>3}. {}", i + 1, s);
        let shown = match &st.full {
            Some(all) => all
                .get(k)
                .and_then(|p| p.get(i))
                .cloned()
                .unwrap_or_default(),
            None => cx.changes.get(i).cloned().unwrap_or_default(),
        };
        for l in shown {
            let _ = writeln!(o, "         {l}");
        }
    }
    let _ = writeln!(o, "  final state:");
    for l in cx.final_state.lines() {
        let _ = writeln!(o, "    {l}");
    }
    o.push_str(&explorer_lines(&st.explore, &cx.explorer_path));
}

fn verdict(o: &mut String, r: &Report) {
    let bounded: Vec<&str> = r
        .properties
        .iter()
        .filter(|p| p.status == Status::HoldsWithinBounds)
        .map(|p| p.id)
        .collect();
    let which = if r.only.is_empty() {
        "every property"
    } else {
        "every property checked"
    };
    let _ = writeln!(
        o,
        "\nverdict: {}",
        if r.ok && !r.exhaustive {
            "no violation found within the bounds (not a proof)".to_string()
        } else if r.ok && !bounded.is_empty() {
            format!(
                "no violation found (exhaustive); not proved: {} (see their lines)",
                bounded.join(", ")
            )
        } else if r.ok {
            format!("{which} holds (exhaustive)")
        } else if !r.violated.is_empty() {
            format!("violated: {}", r.violated.join(", "))
        } else {
            format!("witnesses not reached: {}", r.missing_witnesses.join(", "))
        }
    );
}
