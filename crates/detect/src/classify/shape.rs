//! A beat's shape: every classified lead on the 8 ms grid (signal.rs) around the detector's
//! fiducial point, and the measures the rules read off it: how far it is from a template
//! (every lead at once) and how wide its QRS complex is.

use super::signal::GRID_S;

/// Leads whose morphology is kept. Most gateways send one to three; with more, the first
/// three carry the decision (the state budget, classify/mod.rs, allows no more).
pub(crate) const MAX_LEADS: usize = 3;
/// Cells before the fiducial cell and total cells: −144 ms … +224 ms, the QRS with room
/// for a misplaced fiducial, and the start of the ST segment.
pub(crate) const PRE_BINS: usize = 18;
pub(crate) const BINS: usize = 47;
/// Cells compared, relative to the fiducial: −96 ms … +160 ms (a wide QRS and its
/// ST segment, where ventricular beats differ most).
const CORE_FROM: i32 = -12;
const CORE_TO: i32 = 20;
/// Largest realignment tried when comparing (±24 ms): the fiducial of a beat of another
/// shape falls elsewhere on the complex.
pub(crate) const MAX_SHIFT: i32 = 3;
/// Energy floor per compared cell (µV²): leads flatter than ~30 µV are not compared on
/// their noise alone.
const ENERGY_FLOOR_UV2: f32 = 900.0;
/// Cumulative slope-energy fractions between which the QRS width is measured.
const WIDTH_FROM: f32 = 0.1;
const WIDTH_TO: f32 = 0.9;

/// Noise is not measured this close to a neighbouring beat (its QRS), nor on fewer cells
/// than this per lead.
const NEIGHBOUR_S: f32 = 0.12;
const MIN_NOISE_CELLS: usize = 4;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub leads: u8,
    pub data: [[i16; BINS]; MAX_LEADS],
}

/// How well a beat matches a template.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Match {
    /// Residual energy after the best shift and per-lead offset, over the mean energy of
    /// the two: 0 identical, ~0.4 for twice the size, ~2 for unrelated, ~4 for inverted.
    pub distance: f32,
    pub shift: i32,
}

impl Shape {
    pub(crate) fn empty(leads: usize) -> Self {
        Shape {
            leads: leads.min(MAX_LEADS) as u8,
            data: [[0; BINS]; MAX_LEADS],
        }
    }

    fn leads(&self) -> usize {
        usize::from(self.leads)
    }

    fn at(&self, lead: usize, rel: i32) -> f32 {
        let i = (PRE_BINS as i32 + rel).clamp(0, BINS as i32 - 1) as usize;
        f32::from(self.data[lead][i])
    }

    /// Compare with `template`, this beat shifted by up to `MAX_SHIFT` cells.
    pub(crate) fn compare(&self, template: &Shape) -> Match {
        let mut best = Match {
            distance: f32::MAX,
            shift: 0,
        };
        for shift in -MAX_SHIFT..=MAX_SHIFT {
            let d = self.distance_at(template, shift);
            if d < best.distance {
                best = Match { distance: d, shift };
            }
        }
        best
    }

    fn distance_at(&self, t: &Shape, shift: i32) -> f32 {
        let n = (CORE_TO - CORE_FROM + 1) as f32;
        let (mut resid, mut energy) = (0.0f32, 0.0f32);
        for lead in 0..self.leads().min(t.leads()) {
            let (mut sx, mut st, mut sd2, mut sx2, mut st2) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for rel in CORE_FROM..=CORE_TO {
                let x = self.at(lead, rel + shift);
                let y = t.at(lead, rel);
                sx += x;
                st += y;
                sd2 += (x - y) * (x - y);
                sx2 += x * x;
                st2 += y * y;
            }
            let (mx, mt) = (sx / n, st / n);
            resid += sd2 - n * (mx - mt) * (mx - mt);
            energy += 0.5 * ((sx2 - n * mx * mx) + (st2 - n * mt * mt));
        }
        resid / energy.max(ENERGY_FLOOR_UV2 * n)
    }

    /// Move this shape towards `beat` (seen at `shift` against it) by `rate`.
    pub(crate) fn blend(&mut self, beat: &Shape, shift: i32, rate: f32) {
        for lead in 0..self.leads().min(beat.leads()) {
            for b in 0..BINS {
                let rel = b as i32 - PRE_BINS as i32;
                let x = beat.at(lead, rel + shift);
                let t = f32::from(self.data[lead][b]);
                self.data[lead][b] = (t + rate * (x - t)).round() as i16;
            }
        }
    }

    /// QRS width in seconds: the span holding the middle 80 % of the slope energy over the
    /// compared cells, all leads summed. Steep narrow complexes concentrate it within a few
    /// cells; ventricular beats spread it.
    pub(crate) fn width_s(&self) -> f32 {
        let mut energy = [0.0f32; (CORE_TO - CORE_FROM) as usize];
        for (k, e) in energy.iter_mut().enumerate() {
            let rel = CORE_FROM + k as i32;
            for lead in 0..self.leads() {
                let d = self.at(lead, rel + 1) - self.at(lead, rel);
                *e += d * d;
            }
        }
        let total: f32 = energy.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        let (mut cum, mut from, mut to) = (0.0f32, None, None);
        for (k, e) in energy.iter().enumerate() {
            let before = cum;
            cum += e;
            if from.is_none() && cum >= WIDTH_FROM * total {
                from = Some(k as f32 + (WIDTH_FROM * total - before) / e.max(f32::MIN_POSITIVE));
            }
            if to.is_none() && cum >= WIDTH_TO * total {
                to = Some(k as f32 + (WIDTH_TO * total - before) / e.max(f32::MIN_POSITIVE));
            }
        }
        match (from, to) {
            (Some(a), Some(b)) => (b - a) * GRID_S as f32,
            _ => 0.0,
        }
    }

    /// High-frequency activity outside the QRS (mean absolute second difference over the
    /// cells before −64 ms and after +96 ms) relative to the QRS peak-to-peak, all leads
    /// summed: near 0 for a clean beat, large when noise rides on it. Cells within
    /// `NEIGHBOUR_S` of the beats before and after (`rr_before_s`, `rr_after_s`) are left
    /// out: at fast rates their QRS complexes fall inside the window and are not noise.
    /// Too few cells left (≥ 250 bpm): 0, unknown.
    pub(crate) fn noise(&self, rr_before_s: Option<f32>, rr_after_s: f32) -> f32 {
        let grid = GRID_S as f32;
        let first = rr_before_s.map_or(i32::MIN, |rr| ((NEIGHBOUR_S - rr) / grid).ceil() as i32);
        let last = ((rr_after_s - NEIGHBOUR_S) / grid).floor() as i32;
        let kept = |rel: &i32| *rel >= first && *rel <= last;
        let (mut rough, mut cells, mut p2p) = (0.0f32, 0u32, 0.0f32);
        for lead in 0..self.leads() {
            let outside = (-(PRE_BINS as i32) + 1..=-8).chain(12..=(BINS - PRE_BINS) as i32 - 2);
            for rel in outside.filter(kept) {
                let d2 = self.at(lead, rel + 1) - 2.0 * self.at(lead, rel) + self.at(lead, rel - 1);
                rough += d2.abs();
                cells += 1;
            }
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for rel in -8..=12 {
                let x = self.at(lead, rel);
                lo = lo.min(x);
                hi = hi.max(x);
            }
            p2p += hi - lo;
        }
        if p2p <= 0.0 || (cells as usize) < MIN_NOISE_CELLS * self.leads() {
            return 0.0;
        }
        rough / cells as f32 * self.leads() as f32 / p2p
    }
}
