//! Rhythm features from the RR series: runs of fast or slow beats and RR irregularity
//! (atrial fibrillation). Bounded state: one ring of RR intervals per patient.

/// RR intervals kept for the irregularity index (the policy allows windows up to 128,
/// plus the lags, plus context for undoing premature beats).
const RR_KEPT: usize = 140;
/// Earlier intervals an RR interval is compared with (bigeminy and trigeminy repeat).
const LAGS: usize = 3;
/// Intervals before the window given to the premature-beat correction as context.
const CONTEXT: usize = 8;

#[derive(Clone, Debug)]
pub struct Rhythm {
    rr: Box<[f32; RR_KEPT]>,
    next: usize,
    filled: usize,
    /// Consecutive beats whose beat-to-beat rate was above / below the run limits.
    fast: u32,
    slow: u32,
}

impl Default for Rhythm {
    fn default() -> Self {
        Self {
            rr: Box::new([0.0; RR_KEPT]),
            next: 0,
            filled: 0,
            fast: 0,
            slow: 0,
        }
    }
}

impl Rhythm {
    /// Feeds one RR interval and the beat-to-beat rate; `tachy_bpm` / `brady_bpm` are the
    /// run limits in force (None: that run rule is off).
    pub fn on_rr(
        &mut self,
        rr_s: f64,
        instant_bpm: f32,
        tachy_bpm: Option<f32>,
        brady_bpm: Option<f32>,
    ) {
        self.rr[self.next] = rr_s as f32;
        self.next = (self.next + 1) % RR_KEPT;
        self.filled = (self.filled + 1).min(RR_KEPT);
        self.fast = match tachy_bpm {
            Some(limit) if instant_bpm > limit => self.fast + 1,
            _ => 0,
        };
        self.slow = match brady_bpm {
            Some(limit) if instant_bpm < limit => self.slow + 1,
            _ => 0,
        };
    }

    /// An interval that cannot be trusted (noise, a gap in analysable signal): the runs of
    /// consecutive fast or slow beats it lies in are broken.
    pub fn interrupt(&mut self) {
        self.fast = 0;
        self.slow = 0;
    }

    pub fn fast_run(&self) -> u32 {
        self.fast
    }

    pub fn slow_run(&self) -> u32 {
        self.slow
    }

    /// Irregularity over the last `window` intervals: the median, over beats, of the
    /// smallest difference between an RR interval and any of the 3 before it, relative to
    /// the mean RR; None until the window (plus 3) is full. Sinus rhythm with isolated
    /// ectopic beats stays low (the median ignores them); so do bigeminy and trigeminy,
    /// which repeat with a period of 2 or 3 intervals; frequent premature beats with
    /// varying coupling or couplets are first undone (`ectopy.rs`). AF is irregularly
    /// irregular: no earlier interval matches.
    pub fn irregularity(&self, window: usize) -> Option<f32> {
        let window = window.clamp(2, RR_KEPT - LAGS - CONTEXT);
        if self.filled < window + LAGS {
            return None;
        }
        let span = (window + LAGS + CONTEXT).min(self.filled);
        let raw: Vec<f32> = (1..=span)
            .rev()
            .map(|back| self.rr[(self.next + RR_KEPT - back) % RR_KEPT])
            .collect();
        let series = crate::ectopy::corrected(&raw);
        let rr = series.get(series.len().saturating_sub(window + LAGS)..)?;
        if rr.len() < window + LAGS {
            return None;
        }
        let mean = rr[LAGS..].iter().sum::<f32>() / window as f32;
        let mut diffs: Vec<f32> = (LAGS..rr.len())
            .map(|k| {
                (1..=LAGS)
                    .map(|lag| (rr[k] - rr[k - lag]).abs())
                    .fold(f32::INFINITY, f32::min)
            })
            .collect();
        diffs.sort_by(f32::total_cmp);
        let median = diffs[diffs.len() / 2];
        (mean > 0.0).then_some(median / mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_rhythm_with_one_ectopic_beat_is_regular() {
        let mut r = Rhythm::default();
        for k in 0..40 {
            let rr = match k {
                20 => 0.5, // premature beat
                21 => 1.1, // compensatory pause
                _ => 0.8 + 0.01 * f64::from(k % 3),
            };
            r.on_rr(rr, (60.0 / rr) as f32, None, None);
        }
        let irr = r.irregularity(32).expect("window full");
        assert!(irr < 0.03, "{irr}");
    }

    #[test]
    fn an_irregular_rhythm_is_irregular() {
        let mut r = Rhythm::default();
        // Pseudo-random RR between 0.45 and 1.0 s, as in AF.
        let mut x: u32 = 7;
        for _ in 0..40 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let rr = 0.45 + f64::from((x >> 16) % 550) / 1000.0;
            r.on_rr(rr, (60.0 / rr) as f32, None, None);
        }
        let irr = r.irregularity(32).expect("window full");
        assert!(irr > 0.04, "{irr}");
    }

    #[test]
    fn bigeminy_is_regularly_irregular() {
        let mut r = Rhythm::default();
        for k in 0..40 {
            let rr = if k % 2 == 0 { 0.5 } else { 1.4 };
            r.on_rr(rr, (60.0 / rr) as f32, None, None);
        }
        let irr = r.irregularity(32).expect("window full");
        assert!(irr < 0.02, "{irr}");
    }

    #[test]
    fn runs_count_consecutive_beats_beyond_the_limit() {
        let mut r = Rhythm::default();
        for bpm in [80.0, 130.0, 135.0, 140.0] {
            r.on_rr(60.0 / f64::from(bpm), bpm, Some(120.0), Some(40.0));
        }
        assert_eq!((r.fast_run(), r.slow_run()), (3, 0));
        r.on_rr(0.75, 80.0, Some(120.0), Some(40.0));
        assert_eq!(r.fast_run(), 0);
    }
}
