//! The learning period after a stream starts (a patch put on, a gap, a new geometry): the
//! detector learns each lead's level, the rate and rhythm have no history yet, and the
//! first beats may be missed, so a long "RR", a low rate or a false asystole would be an
//! artefact of starting. Issue 12 measured asystole at 5 s and low HR at 3.8 s that way.
//! No physiological rule may fire until the analysis has enough clean signal to decide:
//! `MIN_CLEAN_S` of analysable signal holding `MIN_BEATS` detected beats, or at the latest
//! `MAX_S` after the start whatever was found (then "no beats" over clean signal is itself
//! a finding, and signal no lead can analyse holds the physiological rules anyway).
//!
//! One exception, because it cannot wait: asystole. While learning it is judged on the
//! raw signal instead of the detector: no QRS energy on any lead — no change of at least
//! `QRS_SLOPE_UV` within `SLOPE_WINDOW_S`, which every QRS complex has (≥ 0.5 mV in
//! ~40 ms) and P waves, T waves and baseline wander do not — for the asystole limit.

use cw_core::messages::AnalysisState;

/// Learning ends at the latest this long after the stream started (issue 12: ≤ 10 s).
pub const MAX_S: f64 = 10.0;
/// …or once this much analysable signal held `MIN_BEATS` beats.
const MIN_CLEAN_S: f64 = 3.0;
/// 5 beats are 4 RR intervals: the rate's trimmed mean then rejects one outlier each way.
const MIN_BEATS: u32 = 5;
/// A change of at least this much within `SLOPE_WINDOW_S` on some lead is QRS energy.
const QRS_SLOPE_UV: i32 = 200;
const SLOPE_WINDOW_S: f64 = 0.02;

#[derive(Clone, Debug)]
pub struct Learning {
    fs: f64,
    leads: usize,
    /// Seconds since the start; analysable seconds in the current clean run, and beats
    /// detected in it.
    elapsed_s: f64,
    clean_s: f64,
    beats: u32,
    done: bool,
    /// The last `lag` frames (ring, interleaved) for the slope test.
    recent: Vec<i16>,
    lag: usize,
    next: usize,
    frames: u64,
    /// Sample index of the last QRS energy seen on any lead.
    last_energy: Option<u64>,
}

impl Learning {
    pub fn new(fs: f64, leads: usize) -> Self {
        let lag = ((SLOPE_WINDOW_S * fs).round() as usize).max(1);
        let leads = leads.max(1);
        Self {
            fs,
            leads,
            elapsed_s: 0.0,
            clean_s: 0.0,
            beats: 0,
            done: false,
            recent: vec![0; lag * leads],
            lag,
            next: 0,
            frames: 0,
            last_energy: None,
        }
    }

    pub fn state(&self) -> AnalysisState {
        if self.done {
            AnalysisState::Analysing
        } else {
            AnalysisState::Learning
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// One frame (µV per lead), for the QRS-energy test while learning.
    pub fn on_frame(&mut self, frame: &[i16]) {
        if self.done {
            return;
        }
        let sample = self.frames;
        self.frames += 1;
        let slot = &mut self.recent[self.next * self.leads..(self.next + 1) * self.leads];
        let full = sample >= self.lag as u64;
        for (old, &x) in slot.iter_mut().zip(frame) {
            if full && (i32::from(x) - i32::from(*old)).abs() >= QRS_SLOPE_UV {
                self.last_energy = Some(sample);
            }
            *old = x;
        }
        self.next = (self.next + 1) % self.lag;
    }

    /// A beat the detector reported over analysable signal.
    pub fn on_beat(&mut self) {
        self.beats += 1;
    }

    /// One finished quality window of `seconds`; a window no lead can analyse starts the
    /// clean run over.
    pub fn on_window(&mut self, analysable: bool, seconds: f64) {
        if self.done {
            return;
        }
        self.elapsed_s += seconds;
        if analysable {
            self.clean_s += seconds;
        } else {
            self.clean_s = 0.0;
            self.beats = 0;
        }
        self.done =
            self.elapsed_s >= MAX_S || (self.clean_s >= MIN_CLEAN_S && self.beats >= MIN_BEATS);
    }

    /// Seconds up to `until` (a sample index) without QRS energy on any lead, counted from
    /// `since` at the earliest (the start of the analysable signal).
    pub fn without_qrs_energy_s(&self, since: u64, until: u64) -> f64 {
        let from = self.last_energy.map_or(since, |e| e.max(since));
        until.saturating_sub(from) as f64 / self.fs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_after_a_few_clean_seconds_with_beats_or_at_the_cap() {
        let mut l = Learning::new(250.0, 1);
        l.on_window(true, 1.0);
        l.on_window(true, 1.0);
        for _ in 0..5 {
            l.on_beat();
        }
        assert!(!l.is_done(), "under the minimum clean time");
        l.on_window(true, 1.0);
        assert_eq!(l.state(), AnalysisState::Analysing);
        let mut silent = Learning::new(250.0, 1);
        for _ in 0..9 {
            silent.on_window(true, 1.0);
        }
        assert!(!silent.is_done());
        silent.on_window(true, 1.0);
        assert!(silent.is_done(), "at most 10 s");
    }

    #[test]
    fn noise_starts_the_clean_run_over_but_not_the_cap() {
        let mut l = Learning::new(250.0, 1);
        l.on_window(true, 1.0);
        l.on_window(true, 1.0);
        l.on_window(false, 1.0);
        for _ in 0..5 {
            l.on_beat();
        }
        l.on_window(true, 1.0);
        l.on_window(true, 1.0);
        assert!(!l.is_done(), "the beats came in a clean run of 2 s");
        for _ in 0..5 {
            l.on_window(false, 1.0);
        }
        assert!(l.is_done(), "10 s after the start");
    }

    #[test]
    fn a_qrs_is_energy_a_slow_wave_is_not() {
        let fs = 250.0;
        let mut l = Learning::new(fs, 2);
        // 1 s of a 0.3 mV, 1 Hz wave on lead 0 (a T wave or baseline wander is slower).
        for i in 0..250 {
            let x = (300.0 * (i as f64 / fs * std::f64::consts::TAU).sin()) as i16;
            l.on_frame(&[x, 0]);
        }
        assert_eq!(l.without_qrs_energy_s(0, 250), 1.0);
        // A 1 mV spike on lead 1 only.
        l.on_frame(&[0, 1000]);
        assert!(l.without_qrs_energy_s(0, 251) < 0.01);
    }
}
