//! Signal-quality index per lead, over one-second windows: flat line, saturation,
//! high-frequency noise. Physiological rules only trust a window where at least one lead
//! is good, so noise raises a technical alarm instead of a false asystole.
//!
//! Noise takes two things. First, high-frequency activity: turning points counted with a
//! 50 µV hysteresis — a clean ECG turns a handful of times per beat (P, Q, R, S, T), well
//! under 40 per second even at 200 bpm, while muscle noise or a loose electrode turns on most
//! samples. Second, that activity must be large beside the lead's own complexes: the QRS
//! detector still finds > 99 % of beats under 0.15 mV RMS of muscle noise on MIT-BIH, so a
//! window is only noise when its peak-to-peak — capped at the lead's running typical one, so
//! a single large ectopic beat does not vouch for a noisy window — is under
//! `NOISY_P2P_PER_SIGMA` times the noise RMS. The RMS is estimated from the mean absolute first difference (mean |Δx| = 2σ/√π for
//! white noise), which the slow ECG waves barely raise; noise alone spans ~5–6.5 σ in a
//! window (125–1000 samples), well under the threshold, so noise without beats is never
//! analysable. Calibrated by `muscle_noise_levels_detection_against_the_quality_gate`
//! (tests/accuracy.rs; table in docs/benchmarks.md).

/// Peak-to-peak below this over a whole window is a flat line (amplifier or electrode
/// failure): an asystolic ECG still carries tens of µV of baseline activity.
const FLAT_P2P_UV: i32 = 10;
/// Samples at or beyond this magnitude sit at the ADC rail.
const SATURATION_UV: i32 = 30_000;
/// Fraction of a window's samples at the rail that makes the window saturated.
const SATURATED_FRACTION: f64 = 0.2;
/// Turning-point hysteresis and the rate above which a window is noise.
const TURN_UV: i32 = 50;
const NOISY_TURNS_PER_S: f64 = 40.0;
/// Typical peak-to-peak over noise RMS below which a turning window is noise. 16 keeps
/// ~83 % of windows at 0.1 mV RMS muscle noise and ~50 % at 0.15 mV (where detection holds
/// ≥ 99.5 %), and drops to ~4 % at 0.3 mV and 0 % at 0.5 mV (where Se falls to 95 % and
/// 67 %). Looser is unsafe: at 13 the detector's flutter flag (false VF) gets through in
/// noisy seconds of record 203 at 0.3 mV (tests/flutter.rs); at 14 the alert engine on
/// 0.15 mV raised a false pause (208) and a false VF (203), which 16 does not.
const NOISY_P2P_PER_SIGMA: f64 = 16.0;
/// Windows the typical peak-to-peak averages over.
const TYPICAL_WINDOWS: f64 = 8.0;
/// mean |Δx| / σ for white noise: 2/√π.
const MEAN_ABS_DIFF_PER_SIGMA: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// The verdict on one lead for one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeadQuality {
    Good,
    Flat,
    Saturated,
    Noisy,
}

/// One finished window: each lead's verdict, and the window's last sample index.
#[derive(Clone, Debug, PartialEq)]
pub struct QualityWindow {
    pub end_sample: u64,
    pub leads: Vec<LeadQuality>,
    /// Per lead: it turned faster than `NOISY_TURNS_PER_S` (high-frequency activity, which
    /// fibrillation and flutter waves, at 3–8 Hz, never have: 7–16 turns/s on every VF
    /// episode of the shared records), whether or not the complexes stand above it.
    pub turning: Vec<bool>,
}

impl QualityWindow {
    /// At least one lead can be analysed.
    pub fn analysable(&self) -> bool {
        self.leads.contains(&LeadQuality::Good)
    }

    /// Some lead has this problem (technical alarms are per lead).
    pub fn any(&self, q: LeadQuality) -> bool {
        self.leads.contains(&q)
    }

    /// No lead can be analysed, and noise is why (not only flat or saturated leads).
    pub fn noise_blind(&self) -> bool {
        !self.analysable() && self.any(LeadQuality::Noisy)
    }

    /// Some lead is noisy while another is good without any high-frequency activity: the
    /// calm lead carries the analysis.
    pub fn calm_lead_beside_noise(&self) -> bool {
        self.any(LeadQuality::Noisy)
            && self
                .leads
                .iter()
                .zip(&self.turning)
                .any(|(q, turning)| *q == LeadQuality::Good && !turning)
    }

    /// Every live lead (not flat, not saturated) turned fast: high-frequency activity all
    /// over, which is not fibrillation.
    pub fn turning_everywhere(&self) -> bool {
        let live = |(q, _): &(&LeadQuality, &bool)| {
            !matches!(q, LeadQuality::Flat | LeadQuality::Saturated)
        };
        let mut leads = self.leads.iter().zip(&self.turning).filter(live).peekable();
        leads.peek().is_some() && leads.all(|(_, turning)| *turning)
    }
}

#[derive(Clone, Copy, Debug)]
struct LeadWindow {
    min: i32,
    max: i32,
    rail: u32,
    turns: u32,
    /// Sum of |x[i] - x[i-1]| over the window, and the previous sample (carried over).
    abs_diff: u64,
    prev: i32,
    /// Running mean of the windows' peak-to-peak (carried over): the lead's typical
    /// complex, so one large ectopic beat does not make a noisy window look clean.
    typical_p2p: f64,
    /// Windows seen so far (saturating), carried over: until the typical has averaged
    /// `TYPICAL_WINDOWS` of them a turning window is noise.
    seen: u32,
    /// Last turning point and whether the signal is rising from it.
    extreme: i32,
    rising: bool,
}

impl LeadWindow {
    fn new(first: i32) -> Self {
        Self {
            min: i32::MAX,
            max: i32::MIN,
            rail: 0,
            turns: 0,
            abs_diff: 0,
            prev: first,
            typical_p2p: 0.0,
            seen: 0,
            extreme: first,
            rising: true,
        }
    }

    #[inline]
    fn push(&mut self, x: i32) {
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if x.abs() >= SATURATION_UV {
            self.rail += 1;
        }
        self.abs_diff += u64::from(x.abs_diff(self.prev));
        self.prev = x;
        if self.rising {
            if x > self.extreme {
                self.extreme = x;
            } else if self.extreme - x >= TURN_UV {
                self.turns += 1;
                self.rising = false;
                self.extreme = x;
            }
        } else if x < self.extreme {
            self.extreme = x;
        } else if x - self.extreme >= TURN_UV {
            self.turns += 1;
            self.rising = true;
            self.extreme = x;
        }
    }

    fn turning(&self, seconds: f64) -> bool {
        f64::from(self.turns) / seconds > NOISY_TURNS_PER_S
    }

    fn verdict(&mut self, samples: u64, seconds: f64) -> LeadQuality {
        let p2p = f64::from(self.max - self.min);
        self.typical_p2p = if self.typical_p2p == 0.0 {
            p2p
        } else {
            self.typical_p2p + (p2p - self.typical_p2p) / TYPICAL_WINDOWS
        };
        self.seen = self.seen.saturating_add(1);
        if self.rail as f64 >= SATURATED_FRACTION * samples as f64 {
            LeadQuality::Saturated
        } else if self.max - self.min < FLAT_P2P_UV {
            LeadQuality::Flat
        } else if self.turning(seconds) && self.buried(samples) {
            LeadQuality::Noisy
        } else {
            LeadQuality::Good
        }
    }

    /// The window's peak-to-peak is not far above what its noise alone would span.
    fn buried(&self, samples: u64) -> bool {
        let sigma = self.abs_diff as f64 / (MEAN_ABS_DIFF_PER_SIGMA * samples.max(1) as f64);
        let amplitude = f64::from(self.max - self.min).min(self.typical_p2p);
        f64::from(self.seen) < TYPICAL_WINDOWS || amplitude < NOISY_P2P_PER_SIGMA * sigma
    }

    /// Next window: the turning-point tracker and the previous sample carry over, the
    /// statistics restart.
    fn restart(&mut self) {
        *self = Self {
            prev: self.prev,
            typical_p2p: self.typical_p2p,
            seen: self.seen,
            extreme: self.extreme,
            rising: self.rising,
            ..Self::new(self.extreme)
        };
    }
}

/// Streaming quality assessment for one patient's leads.
#[derive(Clone, Debug)]
pub struct SignalQuality {
    window_len: u64,
    seconds: f64,
    n: u64,
    in_window: u64,
    leads: Vec<LeadWindow>,
}

impl SignalQuality {
    pub fn new(fs_hz: f64, leads: usize) -> Self {
        let fs = if fs_hz.is_finite() && fs_hz > 0.0 {
            fs_hz
        } else {
            250.0
        };
        let window_len = fs.round().max(1.0) as u64;
        Self {
            window_len,
            seconds: window_len as f64 / fs,
            n: 0,
            in_window: 0,
            leads: vec![LeadWindow::new(0); leads.max(1)],
        }
    }

    /// Feeds one frame (µV per lead); returns the verdict when a one-second window ends.
    pub fn push(&mut self, frame: &[i16]) -> Option<QualityWindow> {
        if self.n == 0 {
            for (lead, &x) in self.leads.iter_mut().zip(frame) {
                *lead = LeadWindow::new(i32::from(x));
            }
        }
        for (lead, &x) in self.leads.iter_mut().zip(frame) {
            lead.push(i32::from(x));
        }
        self.n += 1;
        self.in_window += 1;
        if self.in_window < self.window_len {
            return None;
        }
        let window = QualityWindow {
            end_sample: self.n - 1,
            turning: self.leads.iter().map(|l| l.turning(self.seconds)).collect(),
            leads: self
                .leads
                .iter_mut()
                .map(|l| l.verdict(self.in_window, self.seconds))
                .collect(),
        };
        self.in_window = 0;
        self.leads.iter_mut().for_each(LeadWindow::restart);
        Some(window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(fs: f64, signal: impl Fn(usize) -> i16, seconds: usize) -> Vec<LeadQuality> {
        let mut q = SignalQuality::new(fs, 1);
        (0..seconds * fs as usize)
            .filter_map(|i| q.push(&[signal(i)]))
            .map(|w| w.leads[0])
            .collect()
    }

    /// A spike train at 75 bpm on a slow wave, like a clean ECG.
    fn ecg(fs: f64) -> impl Fn(usize) -> i16 {
        move |i| {
            let t = i as f64 / fs;
            let spike = if (t % 0.8) < 0.02 { 1200.0 } else { 0.0 };
            (spike + 100.0 * (t * 1.2).sin()) as i16
        }
    }

    #[test]
    fn a_clean_ecg_is_good_at_every_rate() {
        for fs in [125.0, 250.0, 360.0, 1000.0] {
            let v = verdicts(fs, ecg(fs), 5);
            assert!(v.iter().all(|q| *q == LeadQuality::Good), "{fs} Hz: {v:?}");
        }
    }

    #[test]
    fn a_constant_signal_is_flat() {
        let v = verdicts(250.0, |_| 312, 3);
        assert_eq!(v, vec![LeadQuality::Flat; 3]);
    }

    #[test]
    fn a_signal_at_the_rail_is_saturated() {
        let v = verdicts(250.0, |i| if i % 2 == 0 { 32767 } else { -32768 }, 2);
        assert_eq!(v, vec![LeadQuality::Saturated; 2]);
    }

    /// Reproducible noise of about `rms` µV (sum of four uniforms).
    fn noise(rms: f64) -> impl Fn(usize) -> f64 {
        move |i| {
            let u = |k: usize| {
                let h = (i * 4 + k) as u64 ^ 0x9e37_79b9_7f4a_7c15;
                let h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                let h = (h ^ (h >> 31)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            };
            rms * 3f64.sqrt() * (u(0) + u(1) + u(2) + u(3))
        }
    }

    #[test]
    fn beats_standing_well_above_noise_are_good_and_the_noise_alone_is_noisy() {
        for fs in [125.0, 360.0, 1000.0] {
            // A 2.4 mV QRS over 60 µV RMS: ~40 σ peak-to-peak.
            let (clean, n) = (ecg(fs), noise(60.0));
            let v = verdicts(fs, |i| (2.0 * f64::from(clean(i)) + n(i)) as i16, 12);
            // Noise until the lead's typical complex is known (TYPICAL_WINDOWS seconds).
            let warm = TYPICAL_WINDOWS as usize - 1;
            assert!(
                v[..warm].iter().all(|q| *q == LeadQuality::Noisy),
                "{fs} Hz: {v:?}"
            );
            assert!(
                v[warm..].iter().all(|q| *q == LeadQuality::Good),
                "{fs} Hz: {v:?}"
            );
            let v = verdicts(fs, |i| n(i) as i16, 5);
            assert!(v.iter().all(|q| *q == LeadQuality::Noisy), "{fs} Hz: {v:?}");
        }
    }

    #[test]
    fn beats_buried_in_noise_are_noisy() {
        let (clean, n) = (ecg(360.0), noise(300.0));
        let v = verdicts(360.0, |i| (f64::from(clean(i)) + n(i)) as i16, 5);
        assert!(v.iter().all(|q| *q == LeadQuality::Noisy), "{v:?}");
    }

    #[test]
    fn alternating_noise_is_noisy() {
        let v = verdicts(250.0, |i| if (i / 2) % 2 == 0 { 200 } else { -200 }, 2);
        assert_eq!(v, vec![LeadQuality::Noisy; 2]);
    }
}
