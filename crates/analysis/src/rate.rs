//! The heart rate the HR rules evaluate: a trimmed mean of the last N RR intervals.
//!
//! A plain mean of N intervals is dragged by a single outlier — a premature beat (short
//! interval then a long compensatory one), a beat the detector missed (one interval twice
//! as long) or a T wave taken for a beat (one interval split in two) — so bedside monitors
//! average over many beats (~12), which makes them slow: after a step from 80 to 120 bpm a
//! 12-interval mean crosses 100 bpm only after 8 fast beats (4 s). Dropping the longest and
//! shortest quarter of the window before averaging (the interquartile mean) rejects up to
//! N/4 outliers on each side, so a short window is as robust as a long mean and answers a
//! real change once a little over half of its intervals have changed: with the default
//! N = 8, 5 fast beats (2.5 s at 120 bpm).

/// Trimmed-mean rate over a ring of the last `window` RR intervals.
#[derive(Clone, Debug)]
pub struct RobustRate {
    rr: Vec<f64>,
    next: usize,
    filled: usize,
    /// Scratch for sorting, allocated once.
    sorted: Vec<f64>,
}

impl RobustRate {
    /// `window` RR intervals (at least 1); a quarter of them is trimmed from each end.
    pub fn new(window: usize) -> Self {
        let window = window.max(1);
        Self {
            rr: vec![0.0; window],
            next: 0,
            filled: 0,
            sorted: Vec::with_capacity(window),
        }
    }

    /// Feeds one RR interval (seconds) and returns the rate in bpm over the window so far;
    /// None for an interval that is not a positive finite number.
    pub fn on_rr(&mut self, rr_s: f64) -> Option<f32> {
        if !(rr_s.is_finite() && rr_s > 0.0) {
            return None;
        }
        self.rr[self.next] = rr_s;
        self.next = (self.next + 1) % self.rr.len();
        self.filled = (self.filled + 1).min(self.rr.len());
        self.sorted.clear();
        self.sorted.extend_from_slice(&self.rr[..self.filled]);
        self.sorted.sort_by(f64::total_cmp);
        // Trim by the full window's quarter even while filling, but always keep one.
        let trim = (self.rr.len() / 4).min((self.filled - 1) / 2);
        let kept = &self.sorted[trim..self.filled - trim];
        let mean = kept.iter().sum::<f64>() / kept.len() as f64;
        Some((60.0 / mean) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(rate: &mut RobustRate, rr: &[f64]) -> Vec<f32> {
        rr.iter().filter_map(|r| rate.on_rr(*r)).collect()
    }

    #[test]
    fn a_steady_rhythm_reads_its_rate() {
        let mut r = RobustRate::new(8);
        let bpm = feed(&mut r, &[0.75; 20]);
        assert!(bpm.iter().all(|b| (b - 80.0).abs() < 0.01), "{bpm:?}");
    }

    #[test]
    fn a_step_from_80_to_120_crosses_100_on_the_fifth_fast_beat() {
        let mut r = RobustRate::new(8);
        feed(&mut r, &[0.75; 20]);
        let after = feed(&mut r, &[0.5; 8]);
        let first_over = after.iter().position(|b| *b > 100.0);
        assert_eq!(first_over, Some(4), "{after:?}");
        assert!((after[7] - 120.0).abs() < 0.01, "{after:?}");
    }

    #[test]
    fn one_premature_beat_with_its_compensatory_pause_moves_the_rate_little() {
        let mut r = RobustRate::new(8);
        feed(&mut r, &[0.75; 20]);
        // PVC at 0.45 s, full compensatory pause: 0.45 + 1.05 = 2 × 0.75.
        let around = feed(&mut r, &[0.45, 1.05, 0.75, 0.75, 0.75]);
        assert!(around.iter().all(|b| (b - 80.0).abs() < 1.0), "{around:?}");
    }

    #[test]
    fn one_missed_beat_moves_the_rate_little() {
        let mut r = RobustRate::new(8);
        feed(&mut r, &[0.5; 20]);
        let around = feed(&mut r, &[1.0, 0.5, 0.5, 0.5]);
        assert!(around.iter().all(|b| (b - 120.0).abs() < 1.0), "{around:?}");
    }

    #[test]
    fn one_extra_detection_moves_the_rate_little() {
        let mut r = RobustRate::new(8);
        feed(&mut r, &[0.75; 20]);
        // A T wave counted as a beat splits one interval into two.
        let around = feed(&mut r, &[0.3, 0.45, 0.75, 0.75]);
        assert!(around.iter().all(|b| (b - 80.0).abs() < 1.0), "{around:?}");
    }

    #[test]
    fn small_windows_still_average() {
        let mut r = RobustRate::new(1);
        assert_eq!(feed(&mut r, &[1.0, 0.5]), vec![60.0, 120.0]);
        let mut r = RobustRate::new(2);
        assert_eq!(feed(&mut r, &[1.0, 0.5, 0.5]), vec![60.0, 80.0, 120.0]);
        assert_eq!(RobustRate::new(4).on_rr(f64::NAN), None);
    }
}
