//! The table of visited states: open addressing on 64-bit fingerprints
//! (0 marks a free slot), with an optional parallel array of sleep masks
//! (`sleep.rs`). The parallel search shards it (`parallel.rs`).

pub(super) struct Table {
    fps: Vec<u64>,
    masks: Vec<u16>,
    len: usize,
}

impl Table {
    pub(super) fn new(with_masks: bool) -> Table {
        let cap = 1 << 8;
        Table {
            fps: vec![0; cap],
            masks: if with_masks { vec![0; cap] } else { vec![] },
            len: 0,
        }
    }
    pub(super) fn bytes(&self) -> usize {
        self.fps.len() * 8 + self.masks.len() * 2
    }
    fn slot(&self, fp: u64) -> (usize, bool) {
        let m = self.fps.len() - 1;
        let mut i = (fp.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) as usize & m;
        loop {
            match self.fps[i] {
                0 => return (i, false),
                x if x == fp => return (i, true),
                _ => i = (i + 1) & m,
            }
        }
    }
    /// Inserts `fp`; returns its slot and whether it was new.
    pub(super) fn insert(&mut self, fp: u64) -> (usize, bool) {
        if (self.len + 1) * 8 > self.fps.len() * 7 {
            self.grow();
        }
        let (i, found) = self.slot(fp);
        if !found {
            self.fps[i] = fp;
            self.len += 1;
        }
        (i, !found)
    }
    fn grow(&mut self) {
        let with_masks = !self.masks.is_empty();
        let cap = self.fps.len() * 2;
        let old_fps = std::mem::replace(&mut self.fps, vec![0; cap]);
        let old_masks = std::mem::replace(
            &mut self.masks,
            if with_masks { vec![0; cap] } else { vec![] },
        );
        for (j, &fp) in old_fps.iter().enumerate() {
            if fp != 0 {
                let (i, _) = self.slot(fp);
                self.fps[i] = fp;
                if with_masks {
                    self.masks[i] = old_masks[j];
                }
            }
        }
    }
    /// The sleep mask stored with `fp` (0: none, or no masks kept).
    pub(super) fn mask(&self, fp: u64) -> u16 {
        match self.slot(fp) {
            (i, true) if !self.masks.is_empty() => self.masks[i],
            _ => 0,
        }
    }
    /// Stores `mask` with `fp`, if `fp` is in the table and masks are kept.
    pub(super) fn set_mask(&mut self, fp: u64, mask: u16) {
        if let (i, true) = self.slot(fp) {
            if !self.masks.is_empty() {
                self.masks[i] = mask;
            }
        }
    }
}
