//! The checker's engine: one run of a model (`check`) and its report
//! (`report`), our own searches (`search`: shortest paths, cycles; `por`:
//! the reduced search), the progress line, the golden state counts and the
//! suite of every model and mutant.

pub mod check;
pub mod golden;
pub mod oracle;
pub mod por;
pub mod progress;
pub mod report;
pub mod search;
pub mod stubborn;
pub mod suite;
