//! The golden state counts (tests/golden-counts.toml): every exhaustive
//! model's unique and terminal states under the plain, the reduced and the
//! semantic search. A refactor must not move them; a change meant to move
//! them regenerates the file with `cargo run --release -- golden --write`.
//!
//! Models whose plain space exceeds `LARGE` unique states (today
//! `crash-twice`, `fail-prune`, `gc-orphan`, `orphan`, `orphan-split`,
//! `put-del-crash` and `four`, over 10 minutes together on 2 cores) have
//! only their semantic column checked (seconds), unless
//! `DTM0_GOLDEN_ALL=1`, to keep CI under its time budget;
//! `cargo run --release -- golden` checks every column of every one.

use dtm0::engine::golden;
use std::path::Path;

const LARGE: u64 = 300_000;

#[test]
fn every_exhaustive_model_keeps_its_golden_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let want = golden::read(&root.join("tests/golden-counts.toml")).unwrap();
    let specs = golden::pinned_models(&root.join("models")).unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let pinned: Vec<&str> = want.model.iter().map(|c| c.model.as_str()).collect();
    assert_eq!(
        names, pinned,
        "the golden file must list exactly the exhaustive models (regenerate it)"
    );
    assert!(names.len() >= 8, "too few exhaustive models: {names:?}");
    let all = std::env::var_os("DTM0_GOLDEN_ALL").is_some();
    let mut moved = Vec::new();
    let mut checked = 0;
    for (spec, w) in specs.iter().zip(&want.model) {
        if w.plain_unique > LARGE && !all {
            // The plain and reduced columns take minutes here; the
            // semantic one, which guards the reduction, takes seconds.
            let (u, t) = golden::measure_semantic(spec).unwrap();
            eprintln!(
                "golden: {} semantic column only (large; DTM0_GOLDEN_ALL=1 checks all)",
                w.model
            );
            assert_eq!(t, w.plain_terminal, "{}: terminal states", w.model);
            if (u, t) != (w.semantic_unique, w.semantic_terminal) {
                moved.push(format!("want {w:?}\n got semantic {u}/{t}"));
            }
            continue;
        }
        let got = golden::measure(spec).unwrap();
        checked += 1;
        // The counts are not trivial: a search that stops at the initial
        // state, or finds no end state, would be caught here too (on a
        // duplicating network no state is terminal: a message can always
        // be delivered again).
        let dup = spec.network == dtm0::model::file::NetworkKind::Duplicating;
        assert!(got.plain_unique > 1, "{got:?}");
        assert_eq!(got.plain_terminal == 0, dup, "{got:?}");
        assert!(got.reduced_unique <= got.plain_unique, "{got:?}");
        // The semantic reduction keeps every terminal state.
        assert_eq!(got.semantic_terminal, got.plain_terminal, "{got:?}");
        assert!(got.semantic_unique <= got.plain_unique, "{got:?}");
        if &got != w {
            moved.push(format!("want {w:?}\n got {got:?}"));
        }
    }
    assert!(checked >= 8, "too few models checked: {checked}");
    assert!(
        moved.is_empty(),
        "golden counts moved:\n{}",
        moved.join("\n")
    );
}
