//! Wire chaos for tests and `dtm0 nemesis`: loss, duplication and
//! reordering (random delay) of incoming session datagrams, applied by a
//! node started with `--faults` below its session layer, which must
//! absorb them. Seeded, so a run can be replayed; sans-IO (the runtime
//! passes `now` in milliseconds).

use serde::{Deserialize, Serialize};

/// What a `Fault::Chaos` command sets. All zero: off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireChaos {
    /// Percent of datagrams lost.
    pub loss_pct: u8,
    /// Percent of datagrams delivered twice.
    pub dup_pct: u8,
    /// Percent of datagrams held back by a random 1..=`delay_ms`.
    pub reorder_pct: u8,
    pub delay_ms: u32,
    pub seed: u64,
}

impl WireChaos {
    pub fn is_off(&self) -> bool {
        self.loss_pct == 0 && self.dup_pct == 0 && (self.reorder_pct == 0 || self.delay_ms == 0)
    }
}

/// What the chaos did, for a node's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChaosStats {
    pub lost: u64,
    pub duplicated: u64,
    pub delayed: u64,
}

/// A seeded splitmix64 generator.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `pct` percent.
    pub fn pct(&mut self, pct: u8) -> bool {
        pct > 0 && self.next_u64() % 100 < u64::from(pct)
    }
}

pub struct Chaos<T> {
    pub cfg: WireChaos,
    rng: Rng,
    /// Held back: (due, order, item).
    held: Vec<(u64, u64, T)>,
    order: u64,
    pub stats: ChaosStats,
}

impl<T: Clone> Chaos<T> {
    pub fn new(cfg: WireChaos) -> Chaos<T> {
        Chaos {
            cfg,
            rng: Rng(cfg.seed),
            held: Vec::new(),
            order: 0,
            stats: ChaosStats::default(),
        }
    }

    /// Changes the settings; what is held stays held until due.
    pub fn set(&mut self, cfg: WireChaos) {
        self.cfg = cfg;
        self.rng = Rng(cfg.seed);
    }

    /// An arriving datagram: returns the copies to handle now (none if
    /// lost or held back, two if duplicated).
    pub fn admit(&mut self, now: u64, item: T) -> Vec<T> {
        let c = self.cfg;
        if self.rng.pct(c.loss_pct) {
            self.stats.lost += 1;
            return Vec::new();
        }
        let copies = if self.rng.pct(c.dup_pct) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let mut now_out = Vec::new();
        for _ in 0..copies {
            if c.delay_ms > 0 && self.rng.pct(c.reorder_pct) {
                let d = 1 + self.rng.next_u64() % u64::from(c.delay_ms);
                self.stats.delayed += 1;
                self.order += 1;
                self.held.push((now + d, self.order, item.clone()));
            } else {
                now_out.push(item.clone());
            }
        }
        now_out
    }

    /// The held datagrams due by `now`, in due order.
    pub fn due(&mut self, now: u64) -> Vec<T> {
        if self.held.is_empty() {
            return Vec::new();
        }
        self.held.sort_by_key(|(t, o, _)| (*t, *o));
        let k = self.held.partition_point(|(t, ..)| *t <= now);
        self.held.drain(..k).map(|(_, _, x)| x).collect()
    }

    pub fn next_due(&self) -> Option<u64> {
        self.held.iter().map(|(t, ..)| *t).min()
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_loses_duplicates_and_delays_about_as_set_and_replays_by_seed() {
        let cfg = WireChaos {
            loss_pct: 20,
            dup_pct: 10,
            reorder_pct: 50,
            delay_ms: 10,
            seed: 42,
        };
        let run = || {
            let mut c = Chaos::new(cfg);
            let mut out = Vec::new();
            for i in 0..10_000u64 {
                out.extend(c.admit(i, i));
                out.extend(c.due(i));
            }
            out.extend(c.due(u64::MAX));
            (out, c.stats.clone())
        };
        let (out, st) = run();
        assert_eq!(run().0, out, "same seed, same outcome");
        assert!((1700..2300).contains(&st.lost), "{st:?}");
        assert!((600..1000).contains(&st.duplicated), "{st:?}");
        assert_eq!(out.len() as u64, 10_000 - st.lost + st.duplicated);
        assert!(out.windows(2).any(|w| w[0] > w[1]), "reordered");
        let off = WireChaos::default();
        assert!(off.is_off());
        let mut c = Chaos::new(off);
        assert_eq!(c.admit(0, 1), vec![1]);
        assert_eq!(c.next_due(), None);
    }
}
