//! Per-lead front end: band-pass, slope energy, and the lead's own signal and noise levels,
//! which turn into its weight in the fused detection feature. A lead full of noise peaks as
//! large as its QRS complexes gets a small weight, so a clean second lead carries the beat.

use crate::baseline::Baseline;
use crate::biquad::State;
use crate::params::{BLOCKS, DERIV_RING, Params};

/// A lead's energy is clipped at this multiple of its beat level before fusion, so one
/// lead's artefact burst cannot outvote the other leads.
const CLIP: f32 = 3.0;
/// Energy floor (µV² of slope) under which a lead counts as flat.
const FLOOR: f32 = 25.0;
/// Adaptation rates of the beat and noise levels (per beat).
const SIG_RATE: f32 = 0.125;
const NOISE_RATE: f32 = 0.25;
/// Ratio of the smaller to the larger raw slope polarity that still counts fully as a QRS.
const BIPOLAR: f32 = 0.25;

#[derive(Clone, Debug)]
pub(crate) struct Lead {
    hp: State,
    lp1: State,
    lp2: State,
    /// Recent band-passed samples, for the slope over `deriv_lag` samples.
    deriv: [f32; DERIV_RING],
    /// Previous low-passed (not yet high-passed) sample, for the signed raw slope.
    prev_lp: f32,
    /// Maximum slope energy in each recent block (ring indexed by block number).
    blocks: [f32; BLOCKS],
    block_max: f32,
    /// Largest rising and falling raw slope in each recent block: a QRS complex has both
    /// within a few tens of milliseconds, a baseline step (electrode motion) only one.
    ups: [f32; BLOCKS],
    downs: [f32; BLOCKS],
    up_max: f32,
    down_max: f32,
    /// Typical peak slope energy of this lead's QRS complexes.
    sig: f32,
    /// Typical largest slope energy between two beats (T waves, noise, artefacts).
    noise: f32,
    noise_acc: f32,
    /// Largest block maximum seen during the learning period.
    learn_max: f32,
    /// `1 / sig`, cached for the per-sample path.
    inv_sig: f32,
    /// This lead's share of the fused feature (weights over all leads sum to 1).
    share: f32,
    /// Whether the lead still returns to an isoelectric baseline (the flutter flag's check).
    baseline: Baseline,
}

impl Lead {
    pub(crate) fn new() -> Self {
        Lead {
            hp: State::default(),
            lp1: State::default(),
            lp2: State::default(),
            deriv: [0.0; DERIV_RING],
            prev_lp: 0.0,
            blocks: [0.0; BLOCKS],
            block_max: 0.0,
            ups: [0.0; BLOCKS],
            downs: [0.0; BLOCKS],
            up_max: 0.0,
            down_max: 0.0,
            sig: FLOOR,
            noise: 0.0,
            noise_acc: 0.0,
            learn_max: 0.0,
            inv_sig: 1.0 / FLOOR,
            share: 0.0,
            baseline: Baseline::new(),
        }
    }

    /// Filter one sample and return its slope energy.
    #[inline]
    pub(crate) fn energy(&mut self, p: &Params, n: u64, x: f32) -> f32 {
        // Low-pass first (the sections commute), so the raw slope can be read before the
        // high-pass turns a baseline step into a biphasic wiggle — after the well-damped
        // section only (Q 0.54, no overshoot): the full 4th-order Butterworth rings after a
        // step, and the ringing would pass for the other half of a QRS complex.
        let y = self.lp1.step(&p.lp1, x);
        let raw = y - self.prev_lp;
        self.prev_lp = y;
        self.up_max = self.up_max.max(raw);
        self.down_max = self.down_max.max(-raw);
        let y = self.lp2.step(&p.lp2, y);
        self.baseline.push(y, p.baseline_rate);
        let y = self.hp.step(&p.hp, y);
        let i = n as usize % DERIV_RING;
        let old = self.deriv[(i + DERIV_RING - p.deriv_lag) % DERIV_RING];
        self.deriv[i] = y;
        let e = (y - old).abs();
        self.block_max = self.block_max.max(e);
        e
    }

    /// This lead's contribution to the fused feature.
    #[inline]
    pub(crate) fn contribution(&self, e: f32) -> f32 {
        (e * self.inv_sig).min(CLIP) * self.share
    }

    pub(crate) fn end_block(&mut self, block: u64) {
        let i = block as usize % BLOCKS;
        self.blocks[i] = self.block_max;
        self.ups[i] = self.up_max;
        self.downs[i] = self.down_max;
        self.block_max = 0.0;
        self.up_max = 0.0;
        self.down_max = 0.0;
    }

    /// End of input: the unfinished block's maxima go into the ring as they are (if more
    /// samples follow, `end_block` stores the block again when it is complete).
    pub(crate) fn flush_partial(&mut self, block: u64) {
        let i = block as usize % BLOCKS;
        self.blocks[i] = self.block_max;
        self.ups[i] = self.up_max;
        self.downs[i] = self.down_max;
    }

    /// Largest block maximum over blocks `first..=last` (all must still be in the ring).
    pub(crate) fn max_over(&self, first: u64, last: u64) -> f32 {
        (first..=last)
            .map(|b| self.blocks[b as usize % BLOCKS])
            .fold(0.0, f32::max)
    }

    /// How much blocks `first..=last` look like a QRS complex rather than a baseline step:
    /// 1 when the smaller of the largest rising and falling slopes is at least `BIPOLAR` of
    /// the larger, falling linearly to 0 for a one-sided slope.
    pub(crate) fn bipolarity(&self, first: u64, last: u64) -> f32 {
        let (mut up, mut down) = (0.0f32, 0.0f32);
        for b in first..=last {
            let i = b as usize % BLOCKS;
            up = up.max(self.ups[i]);
            down = down.max(self.downs[i]);
        }
        let big = up.max(down);
        if big <= 0.0 {
            return 1.0;
        }
        (up.min(down) / big / BIPOLAR).min(1.0)
    }

    /// The lead's largest energy over blocks `first..=last` relative to its beat level,
    /// or its long-term noise level when the range is empty.
    pub(crate) fn background(&self, first: u64, last: u64) -> f32 {
        if first > last {
            return self.noise * self.inv_sig;
        }
        self.max_over(first, last) * self.inv_sig
    }

    /// Energy relative to the beat level, clipped as in the fused feature.
    pub(crate) fn relative(&self, energy: f32) -> f32 {
        (energy * self.inv_sig).min(CLIP)
    }

    pub(crate) fn share(&self) -> f32 {
        self.share
    }

    pub(crate) fn block(&self, block: u64) -> f32 {
        self.blocks[block as usize % BLOCKS]
    }

    /// During the learning period, remember the largest energy.
    pub(crate) fn track_learning(&mut self, block: u64) {
        self.learn_max = self.learn_max.max(self.block(block));
    }

    /// End of the learning period: the lead's largest slope energy so far sets its level.
    pub(crate) fn learn(&mut self) {
        self.sig = (0.5 * self.learn_max).max(FLOOR);
        self.inv_sig = 1.0 / self.sig;
    }

    /// A beat was accepted; `peak` is this lead's energy maximum around it.
    pub(crate) fn on_beat(&mut self, peak: f32) {
        // Bounded step up: one artefact coinciding with a beat must not inflate the level.
        let peak = peak.min(4.0 * self.sig);
        self.sig = (self.sig + SIG_RATE * (peak - self.sig)).max(FLOOR);
        self.inv_sig = 1.0 / self.sig;
    }

    /// A settled block that lies between beats.
    pub(crate) fn noise_block(&mut self, block: u64) {
        self.noise_acc = self.noise_acc.max(self.block(block));
    }

    /// The settled history reached the next beat: the interval's largest energy becomes
    /// one noise observation.
    pub(crate) fn commit_noise(&mut self) {
        self.noise += NOISE_RATE * (self.noise_acc - self.noise);
        self.noise_acc = 0.0;
    }

    /// Unnormalised quality weight in (0, 1]: near 1 when the lead's between-beat peaks are
    /// small against its QRS peaks, small when they are comparable.
    pub(crate) fn weight(&self) -> f32 {
        let q = self.sig / (self.sig + self.noise + FLOOR);
        q * q
    }

    /// About a second has passed: the baseline check closes its window.
    pub(crate) fn end_window(&mut self, fs: f64) {
        self.baseline.end_window(fs);
    }

    /// Share of recent samples away from baseline (`window_len` samples per window); None
    /// while the lead is flat or warming up.
    pub(crate) fn away_share(&self, window_len: u64) -> Option<f32> {
        self.baseline.away_share(window_len)
    }

    pub(crate) fn set_share(&mut self, share: f32) {
        self.share = share;
    }
}
