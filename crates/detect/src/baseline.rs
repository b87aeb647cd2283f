//! Per-lead check that a lead still shows an isoelectric baseline, the second condition of
//! the flutter flag. Between discrete QRS complexes (sinus, bundle-branch block, ectopic
//! beats, regular VT with a T wave and a pause) the signal rests near baseline for most of
//! each cycle; ventricular flutter and fibrillation are a continuous oscillation that
//! hardly ever does. Measured as in the threshold-crossing sample count of Arafat et al.
//! (2009): the share of samples farther from baseline than `AWAY_FRACTION` of the lead's
//! recent amplitude, over the last `WINDOWS` one-second windows. A time share, so it reads
//! the same at any sampling rate; relative to the lead's own amplitude, so it reads the
//! same on a small lead as on a large one.

/// Samples farther than this fraction of the amplitude from baseline count as "away". A
/// sine spends 87 % of its time beyond 0.2 of its peak, a QRS complex at 75 bpm ~5 %.
const AWAY_FRACTION: f32 = 0.2;
/// Windows averaged (about one second each): the oscillation must last this long.
pub(crate) const WINDOWS: usize = 4;
/// The baseline is a running median (a sign tracker: up one step above it, down one below),
/// not a mean: the mean of a train of monophasic complexes sits well above the isoelectric
/// line, the median on it. Its step is this many times the lead's amplitude per second:
/// fast enough to follow 2 mV of respiratory wander on a 1 mV lead, slow enough to move
/// only ~0.1 of the amplitude within a flutter half-wave.
const SLEW_PER_S: f64 = 3.0;
/// Until the amplitude is known (the first window), a one-pole low-pass with this time
/// constant stands in for the median.
pub(crate) const BASELINE_TAU_S: f64 = 0.25;
/// A lead whose amplitude stays under this (µV, from baseline) is flat: it has no say.
const LIVE_UV: f32 = 20.0;

/// Kept small (40 bytes): it is per lead, and twelve leads must fit the detector's budget.
#[derive(Clone, Debug)]
pub(crate) struct Baseline {
    /// Baseline estimate (µV).
    level: f32,
    /// Current window: largest distance from baseline, samples away from it.
    max: f32,
    away: u16,
    /// Finished windows (ring; `next` is the slot to fill, `seen` counts windows up to
    /// saturation).
    maxima: [f32; WINDOWS],
    aways: [u16; WINDOWS],
    next: u8,
    seen: u8,
    /// `AWAY_FRACTION` of the median amplitude of the finished windows (µV), and the
    /// median tracker's step per sample (0 until the amplitude is known).
    limit: f32,
    step: f32,
}

impl Baseline {
    pub(crate) fn new() -> Self {
        Baseline {
            level: 0.0,
            max: 0.0,
            away: 0,
            maxima: [0.0; WINDOWS],
            aways: [0; WINDOWS],
            next: 0,
            seen: 0,
            limit: f32::MAX,
            step: 0.0,
        }
    }

    /// One low-passed sample (µV); `rate` is the warm-up low-pass's per-sample update rate
    /// (`Params::baseline_rate`). The estimate starts at zero: the first windows' amplitude
    /// is too large, which only delays the check.
    #[inline]
    pub(crate) fn push(&mut self, x: f32, rate: f32) {
        if self.step > 0.0 {
            self.level += if x > self.level {
                self.step
            } else {
                -self.step
            };
        } else {
            self.level += rate * (x - self.level);
        }
        let dist = (x - self.level).abs();
        self.max = self.max.max(dist);
        self.away = self.away.saturating_add(u16::from(dist > self.limit));
    }

    /// Close the current window (`fs` samples per second); the amplitude for the next one is
    /// the median of the finished windows' maxima, so one large ectopic beat does not set it.
    pub(crate) fn end_window(&mut self, fs: f64) {
        let i = usize::from(self.next);
        self.maxima[i] = self.max;
        self.aways[i] = self.away;
        self.next = ((i + 1) % WINDOWS) as u8;
        self.seen = self.seen.saturating_add(1);
        // Until the ring is full, the median of the windows there are.
        let n = usize::from(self.seen).min(WINDOWS);
        let mut m = self.maxima;
        let m = &mut m[..n];
        m.sort_unstable_by(f32::total_cmp);
        let amplitude = 0.5 * (m[(n - 1) / 2] + m[n / 2]);
        self.limit = AWAY_FRACTION * amplitude;
        self.step = (SLEW_PER_S * f64::from(amplitude) / fs) as f32;
        self.max = 0.0;
        self.away = 0;
    }

    /// Share of the last `WINDOWS` windows' samples away from baseline; None while the lead
    /// is flat or some of those windows were counted before any amplitude was known.
    /// `window_len` is the samples in one window.
    pub(crate) fn away_share(&self, window_len: u64) -> Option<f32> {
        if usize::from(self.seen) <= WINDOWS || self.limit < AWAY_FRACTION * LIVE_UV {
            return None;
        }
        let away: u32 = self.aways.iter().map(|&a| u32::from(a)).sum();
        Some(away as f32 / (WINDOWS as u64 * window_len).max(1) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Share of samples away from baseline after `seconds` of `signal` at `fs`.
    fn share(fs: f64, seconds: f64, signal: impl Fn(f64) -> f32) -> Option<f32> {
        let rate = (1.0 / (BASELINE_TAU_S * fs)) as f32;
        let window = fs.round() as u64;
        let mut b = Baseline::new();
        for i in 0..(seconds * fs) as u64 {
            b.push(signal(i as f64 / fs), rate);
            if (i + 1) % window == 0 {
                b.end_window(fs);
            }
        }
        b.away_share(window)
    }

    #[test]
    fn a_sine_wave_is_away_from_baseline_most_of_the_time_at_any_rate() {
        for fs in [125.0, 360.0, 1000.0] {
            let s = share(fs, 10.0, |t| {
                800.0 * (std::f64::consts::TAU * 4.5 * t).sin() as f32
            });
            assert!(s.is_some_and(|s| s > 0.75), "{fs} Hz: {s:?}");
        }
    }

    #[test]
    fn narrow_complexes_on_a_baseline_are_not() {
        for fs in [125.0, 360.0, 1000.0] {
            // 150 bpm, 100 ms complexes, a T wave a quarter of their height.
            let s = share(fs, 10.0, |t| {
                let phase = t % 0.4;
                let qrs = if phase < 0.1 { 1500.0 } else { 0.0 };
                let tw = if (0.2..0.3).contains(&phase) {
                    300.0
                } else {
                    0.0
                };
                qrs + tw
            });
            assert!(s.is_some_and(|s| s < 0.4), "{fs} Hz: {s:?}");
        }
    }

    #[test]
    fn a_flat_lead_has_no_say_and_a_new_one_none_yet() {
        assert_eq!(share(360.0, 10.0, |_| 3.0), None);
        assert_eq!(share(360.0, 3.0, |t| 800.0 * (30.0 * t).sin() as f32), None);
    }
}
