//! The report of `dtm0 check` as text: a header, one line per property,
//! the counterexamples, the verdict.

use dtm0::engine::check::{Reduction, Report, Status, WitnessStatus};
use std::fmt::Write;

/// The report as text: a header, one line per property, counterexamples.
pub(crate) fn text(r: &Report) -> String {
    text_with(r, true)
}

/// The report as text without the counterexamples' steps (for `--format
/// table`, which prints them as tables).
pub(crate) fn text_summary(r: &Report) -> String {
    text_with(r, false)
}

fn text_with(r: &Report, with_cx: bool) -> String {
    let mut o = String::new();
    header(&mut o, r);
    reduction(&mut o, r);
    properties(&mut o, r);
    if with_cx {
        counterexamples(&mut o, r);
    }
    verdict(&mut o, r);
    o
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
    let kind = if r.exhaustive && r.reduction == Reduction::Stubborn {
        "EXHAUSTIVE (semantic reduction): every terminal and settled state within the model's \
crash budgets was explored, for the properties judged at rest; S1, S4, S5, S7, S8, S9 were \
judged by their step-local forms on every transition taken (a property marked bounded below \
is not proved: a form it relies on was violated)"
            .to_string()
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
}

/// The reduction that ran, and its factor with `--compare`.
fn reduction(o: &mut String, r: &Report) {
    if let (Some(red), Some(slept)) = (r.reduced_states, r.slept_transitions) {
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
    if let Some(note) = &r.reduction_note {
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
        let _ = writeln!(o, "  {:<26} {:<30} {}", p.name, status, witness);
    }
}

/// Each counterexample's steps, final state and explorer path.
fn counterexamples(o: &mut String, r: &Report) {
    for p in &r.properties {
        if let Some(cx) = &p.counterexample {
            let _ = writeln!(
                o,
                "\n{} violated: counterexample of {} steps{}:",
                p.name,
                cx.steps.len(),
                if cx.shortest { " (shortest)" } else { "" }
            );
            for (i, s) in cx.steps.iter().enumerate() {
                let _ = writeln!(o, "  {:>3}. {}", i + 1, s);
            }
            let _ = writeln!(o, "  final state:");
            for l in cx.final_state.lines() {
                let _ = writeln!(o, "    {l}");
            }
            let _ = writeln!(
                o,
                "  explorer: dtm0 explore, then open #/steps/{}",
                cx.explorer_path
            );
        }
    }
}

fn verdict(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "\nverdict: {}",
        if r.ok
            && r.properties
                .iter()
                .any(|p| p.status == Status::HoldsWithinBounds)
        {
            "no violation found; not a proof for the properties marked bounded".to_string()
        } else if r.ok {
            "every property holds".to_string()
        } else if !r.violated.is_empty() {
            format!("violated: {}", r.violated.join(", "))
        } else {
            format!("witnesses not reached: {}", r.missing_witnesses.join(", "))
        }
    );
}
