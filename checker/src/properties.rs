//! `dtm0 properties`: each property's definition, the clauses it checks,
//! where it is judged and its witness, from `model::properties`.

use dtm0::model::properties::{Prop, PROPS};
use dtm0::model::steps::has_step_form;
use std::process::ExitCode;

/// The properties named by `ids` (every one when empty); `Err` names an
/// unknown id.
pub(crate) fn select(ids: &[String]) -> Result<Vec<&'static Prop>, String> {
    if ids.is_empty() {
        return Ok(PROPS.iter().collect());
    }
    ids.iter()
        .map(|id| {
            PROPS
                .iter()
                .find(|p| p.id.eq_ignore_ascii_case(id.trim()))
                .ok_or_else(|| {
                    format!(
                        "unknown property `{id}` (known: {})",
                        PROPS.iter().map(|p| p.id).collect::<Vec<_>>().join(", ")
                    )
                })
        })
        .collect()
}

pub(crate) fn run(ids: &[String]) -> Result<ExitCode, String> {
    let props = select(ids)?;
    println!("Quiescent: nothing left to deliver or commit, no process crashed, every participant ONLINE.");
    println!("Settled: the same without the ONLINE clause.\n");
    for p in props {
        println!("{}: {}", p.name, p.definition);
        let judged = if p.liveness {
            "at settled states, not on a lossy network"
        } else if p.at_rest {
            "at quiescent states"
        } else if has_step_form(p.id) {
            "on every state; under the semantic reduction by its step-local form on every transition"
        } else {
            "on every state"
        };
        println!("  judged: {judged}");
        println!("  clauses:");
        for c in p.clauses {
            println!("    - {c}");
        }
        println!(
            "  witness: {}\n",
            p.witness_name.split(": ").nth(1).unwrap_or(p.witness_name)
        );
    }
    Ok(ExitCode::SUCCESS)
}
