//! Signal-quality index per lead, over one-second windows: flat line, saturation,
//! high-frequency noise. Physiological rules only trust a window where at least one lead
//! is good, so noise raises a technical alarm instead of a false asystole.
//!
//! Noise is measured by counting turning points with a 50 µV hysteresis: a clean ECG turns
//! a handful of times per beat (P, Q, R, S, T), well under 40 per second even at 200 bpm,
//! while muscle noise or a loose electrode turns on most samples. The measure is nearly
//! independent of the sampling rate and of the QRS amplitude.

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
}

#[derive(Clone, Copy, Debug)]
struct LeadWindow {
    min: i32,
    max: i32,
    rail: u32,
    turns: u32,
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

    fn verdict(&self, samples: u64, seconds: f64) -> LeadQuality {
        if self.rail as f64 >= SATURATED_FRACTION * samples as f64 {
            LeadQuality::Saturated
        } else if self.max - self.min < FLAT_P2P_UV {
            LeadQuality::Flat
        } else if f64::from(self.turns) / seconds > NOISY_TURNS_PER_S {
            LeadQuality::Noisy
        } else {
            LeadQuality::Good
        }
    }

    /// Next window: the turning-point tracker carries over, the statistics restart.
    fn restart(&mut self) {
        *self = Self {
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
            leads: self
                .leads
                .iter()
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

    #[test]
    fn alternating_noise_is_noisy() {
        let v = verdicts(250.0, |i| if (i / 2) % 2 == 0 { 200 } else { -200 }, 2);
        assert_eq!(v, vec![LeadQuality::Noisy; 2]);
    }
}
