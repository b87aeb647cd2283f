//! The recent signal of every classified lead on a fixed 8 ms grid, so beat shapes are
//! compared in physical time whatever the sampling rate (125–1000 Hz give the same
//! template). A one-pole high-pass removes baseline wander first; each grid cell is the
//! mean of the samples that fall in it, which is also the anti-alias filter.

use super::shape::{BINS, MAX_LEADS, PRE_BINS, Shape};

/// Grid step. QRS complexes last 60–200 ms, so 8 ms resolves their width and shape while
/// keeping templates small (the per-patient state budget, classify/mod.rs).
pub(crate) const GRID_S: f64 = 0.008;
/// Cells kept (1.28 s): the oldest cell of a beat's window (144 ms before it, shape.rs)
/// must still be here when the detector reports the beat, up to its worst-case look-ahead
/// (1.1 s, params.rs) later.
pub(crate) const RING_CELLS: usize = 160;
/// Baseline wander removal: a 0.25 s time constant (cut-off ~0.6 Hz) keeps the QRS and
/// most of the T wave, which tell ventricular beats apart, and removes respiration drift.
const BASELINE_TAU_S: f64 = 0.25;

#[derive(Clone, Debug)]
pub(crate) struct GridSignal {
    fs: f64,
    leads: usize,
    alpha: f32,
    baseline: [f32; MAX_LEADS],
    sum: [f32; MAX_LEADS],
    count: u32,
    /// Grid cell the samples in `sum` belong to.
    cell: u64,
    ring: [[i16; RING_CELLS]; MAX_LEADS],
    /// Cells completed so far (the newest is `filled - 1`).
    filled: u64,
    started: bool,
}

impl GridSignal {
    pub(crate) fn new(fs: f64, leads: usize) -> Self {
        GridSignal {
            fs,
            leads: leads.clamp(1, MAX_LEADS),
            alpha: (1.0 / (BASELINE_TAU_S * fs)).min(1.0) as f32,
            baseline: [0.0; MAX_LEADS],
            sum: [0.0; MAX_LEADS],
            count: 0,
            cell: 0,
            ring: [[0; RING_CELLS]; MAX_LEADS],
            filled: 0,
            started: false,
        }
    }

    /// Grid cell (fractional) of a sample index.
    pub(crate) fn cell_of(&self, sample: u64) -> f64 {
        sample as f64 / (self.fs * GRID_S)
    }

    /// Feed frame number `n` (samples in µV; missing leads count as flat).
    pub(crate) fn push(&mut self, n: u64, frame: &[i16]) {
        let cell = self.cell_of(n).floor() as u64;
        if cell != self.cell && self.count > 0 {
            self.close_cell();
        }
        self.cell = cell;
        for lead in 0..self.leads {
            let x = frame.get(lead).copied().map_or(0.0, f32::from);
            if !self.started {
                self.baseline[lead] = x;
            }
            self.baseline[lead] += self.alpha * (x - self.baseline[lead]);
            self.sum[lead] += x - self.baseline[lead];
        }
        self.started = true;
        self.count += 1;
    }

    fn close_cell(&mut self) {
        // Cells skipped (fs below 125 Hz) repeat the last value.
        while self.filled <= self.cell {
            let slot = (self.filled % RING_CELLS as u64) as usize;
            for lead in 0..self.leads {
                let v = (self.sum[lead] / self.count as f32).round();
                self.ring[lead][slot] = v.clamp(-32768.0, 32767.0) as i16;
            }
            self.filled += 1;
        }
        self.sum = [0.0; MAX_LEADS];
        self.count = 0;
    }

    /// The window around a beat at `sample`: `PRE_BINS` cells before its cell to
    /// `BINS - PRE_BINS - 1` after. Cells not yet complete repeat the newest one (only at
    /// the end of input), cells already overwritten repeat the oldest one.
    pub(crate) fn window(&self, sample: u64) -> Shape {
        let centre = self.cell_of(sample).round() as i64;
        let newest = self.filled as i64 - 1;
        let oldest = (self.filled as i64 - RING_CELLS as i64).max(0);
        let mut shape = Shape::empty(self.leads);
        if newest < 0 {
            return shape;
        }
        for b in 0..BINS {
            let c = (centre - PRE_BINS as i64 + b as i64).clamp(oldest, newest);
            let slot = (c as u64 % RING_CELLS as u64) as usize;
            for lead in 0..self.leads {
                shape.data[lead][b] = self.ring[lead][slot];
            }
        }
        shape
    }
}
