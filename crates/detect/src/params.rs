//! Every length and time constant of the detector, derived once from the sampling rate so
//! the same code runs at 125 Hz and at 1000 Hz.

use crate::baseline::BASELINE_TAU_S;
use crate::biquad::Coeffs;

/// Band-pass edges: QRS energy sits around 5–20 Hz; P/T waves and baseline wander lie below,
/// mains hum and most EMG above.
const HIGHPASS_HZ: f64 = 6.0;
const LOWPASS_HZ: f64 = 18.0;
/// Span of the slope estimate (first difference over this many seconds).
const DERIVATIVE_S: f64 = 0.008;
/// Moving-window integration: about the width of a wide QRS (Pan–Tompkins use 150 ms).
const MWI_S: f64 = 0.15;
/// A candidate becomes final when no larger integrated peak follows within this time.
const CONFIRM_S: f64 = 0.11;
/// No two beats closer than this (physiological refractory period).
pub(crate) const REFRACTORY_S: f64 = 0.2;
/// Granularity of the per-lead energy history used for quality estimates.
const BLOCK_S: f64 = 0.02;
/// Delay from the R peak to the fiducial point of the fused slope feature (band-pass group
/// delay plus half the derivative span; calibrated to a median offset of 0–3 ms against
/// the MIT-BIH annotations). CONFIRM + MWI + this delay is the look-ahead of a beat above
/// threshold (305 ms); a search-back beat adds up to SEARCH_BACK_S.
const FIDUCIAL_DELAY_S: f64 = 0.04;

/// Longest wait for a search-back candidate: no beat within this time after a peak that
/// missed the threshold (but passed the search-back one) makes it a beat.
const SEARCH_BACK_S: f64 = 0.8;

/// Number of per-lead block maxima kept; must span CONFIRM + MWI plus a margin.
pub(crate) const BLOCKS: usize = 32;
/// Longest derivative delay line (supports fs up to ~1.8 kHz).
pub(crate) const DERIV_RING: usize = 16;

#[derive(Clone, Debug)]
pub(crate) struct Params {
    pub fs: f64,
    pub hp: Coeffs,
    pub lp1: Coeffs,
    pub lp2: Coeffs,
    pub deriv_lag: usize,
    pub mwi_len: usize,
    pub confirm: u64,
    pub refractory: u64,
    pub block_len: u64,
    /// Blocks older than this many blocks can no longer fall into a future beat window.
    pub settle_lag: u64,
    pub fiducial_delay: u64,
    pub search_back: u64,
    /// Per-sample update rate of each lead's baseline estimate (baseline.rs).
    pub baseline_rate: f32,
}

impl Params {
    pub(crate) fn new(fs: f64) -> Self {
        // Two sections with Butterworth Qs give a 4th-order Butterworth low-pass: mains hum
        // at 50/60 Hz is attenuated about 30 dB before the derivative.
        let samples = |s: f64| ((s * fs).round() as u64).max(1);
        let block_len = samples(BLOCK_S);
        let confirm = samples(CONFIRM_S);
        let mwi_len = samples(MWI_S) as usize;
        let settle_lag = (confirm + mwi_len as u64).div_ceil(block_len) + 3;
        Params {
            fs,
            hp: Coeffs::highpass(fs, HIGHPASS_HZ, std::f64::consts::FRAC_1_SQRT_2),
            lp1: Coeffs::lowpass(fs, LOWPASS_HZ, 0.541_196_1),
            lp2: Coeffs::lowpass(fs, LOWPASS_HZ, 1.306_563),
            deriv_lag: (samples(DERIVATIVE_S) as usize).min(DERIV_RING - 1),
            mwi_len,
            confirm,
            refractory: samples(REFRACTORY_S),
            block_len,
            settle_lag: settle_lag.min(BLOCKS as u64 - 1),
            fiducial_delay: (FIDUCIAL_DELAY_S * fs).round() as u64,
            search_back: samples(SEARCH_BACK_S),
            baseline_rate: (1.0 / (BASELINE_TAU_S * fs)).min(1.0) as f32,
        }
    }

    /// Samples between the end of the fused feature history and its oldest useful entry.
    pub(crate) fn history_len(&self) -> usize {
        self.mwi_len + self.confirm as usize + 2
    }

    /// Worst-case delay between a beat's reported sample and the push that reports it: a
    /// search-back beat waits out its deadline, then every candidate before the deadline
    /// is confirmed (and one more frame if such a candidate was decided in that frame).
    pub(crate) fn lookahead(&self) -> u64 {
        self.search_back + self.confirm + self.mwi_len as u64 + self.fiducial_delay + 1
    }

    pub(crate) fn seconds(&self, samples: u64) -> f64 {
        samples as f64 / self.fs
    }

    pub(crate) fn seconds_f(&self, samples: f64) -> f64 {
        samples / self.fs
    }

    pub(crate) fn samples(&self, seconds: f64) -> u64 {
        (seconds * self.fs).round().max(0.0) as u64
    }
}
