//! The progress line of a long run, on standard error: one printer for
//! stateright's checker (polled by `check`) and for the reduced search.

use std::time::{Duration, Instant};

/// Prints a progress line at most every two seconds.
pub struct Progress {
    start: Instant,
    last: Instant,
    last_states: usize,
}

impl Progress {
    /// A printer for a run that started at `start`.
    pub fn since(start: Instant) -> Progress {
        Progress {
            start,
            last: Instant::now(),
            last_states: 0,
        }
    }

    /// Prints the counts (and the rate since the last line) when two
    /// seconds have passed since the last line; `note` ends the line.
    pub fn tick(&mut self, states: usize, unique: usize, depth: usize, note: &str) {
        let since = self.last.elapsed();
        if since < Duration::from_secs(2) {
            return;
        }
        let rate = states.saturating_sub(self.last_states) as f64 / since.as_secs_f64();
        eprintln!(
            "progress: {:>6.1}s  states {states}  unique {unique}  depth {depth}  {rate:.0} states/s{note}",
            self.start.elapsed().as_secs_f64(),
        );
        self.last = Instant::now();
        self.last_states = states;
    }
}
