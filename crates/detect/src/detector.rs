//! Streaming multi-lead QRS detector (Pan–Tompkins family): per-lead band-pass and slope
//! energy, quality-weighted fusion, moving-window integration, adaptive thresholds; each
//! candidate is then re-weighed lead by lead (baseline steps and leads in a noise burst lose
//! their say), and a bounded search-back reports small beats that a pause proves real.

use crate::lead::Lead;
use crate::params::{BLOCKS, Params};

/// Seconds of signal used to learn each lead's level before beats are reported.
const LEARN_S: f64 = 2.0;
/// Threshold between noise and signal peak levels. Higher than Hamilton & Tompkins' 0.3125
/// because the search-back below recovers the small beats it misses, while P/T waves and
/// noise that pass 0.3125 are reported at once and cannot be taken back.
const THRESHOLD_FRACTION: f32 = 0.45;
/// After this many average RR intervals without a beat, the threshold halves (the causal
/// counterpart of Pan–Tompkins' search-back).
const RELAX_RR: f64 = 1.5;
/// Candidates closer than this to the previous beat must have at least `T_WAVE_SLOPE` of
/// its slope, otherwise they are T waves (Hamilton & Tompkins).
const T_WAVE_S: f64 = 0.36;
const T_WAVE_SLOPE: f32 = 0.5;
/// Flutter/fibrillation: the integrated feature no longer returns towards baseline between
/// detections (valley above this fraction of the peak, averaged over beats) at a fast rate.
const FLUTTER_VALLEY: f32 = 0.3;
const FLUTTER_RR_S: f64 = 0.5;
const FLUTTER_RATE: f32 = 0.2;
/// …and no lead that can be read still returns to baseline: over the last four seconds
/// every live lead spends at least this share of its samples away from it (baseline.rs).
/// On MIT-BIH (`cargo run -p cw-detect --release --example flutter_scan`) the flagged
/// flutter time of 207 is the same from 0.2 to 0.35 and drops from 0.4 (−7 of 116 s);
/// 208's sinus tachycardia with PVCs, which the fast-activity criterion alone called
/// flutter, passes a share of 0.2 on the clean record and of 0.3 under 2 mV of baseline
/// wander, but not 0.35.
const FLUTTER_AWAY_SHARE: f32 = 0.35;
/// Blocks (20 ms) per window of the baseline check: about one second.
const WINDOW_BLOCKS: u32 = 50;
/// After this long without beats the signal level decays, so a lost or weakened signal
/// is picked up again.
const DECAY_AFTER_S: f64 = 2.0;
/// Background energy between the previous beat and a candidate, relative to the lead's
/// beat level, at which the lead's say in that candidate is halved: a lead in the middle
/// of a noise burst cannot vouch for a beat.
const BACKGROUND_K: f32 = 0.25;
/// Leads are combined partly by a weighted geometric mean of their relative energies, so
/// a clean lead showing nothing vetoes a peak the others see, not only dilutes it (a soft
/// AND; a true beat shows in every lead that is not perpendicular to it). Relative
/// energies below the floor count as the floor, so one lead cannot veto alone outright.
const GEOMETRIC_SHARE: f32 = 0.35;
const GEOMETRIC_FLOOR: f32 = 0.02;
/// A candidate's fused feature may grow at most this much when noisy leads are discounted.
const MAX_EVIDENCE_GAIN: f32 = 2.0;
/// Bounded search-back (Pan & Tompkins look back over a missed interval for a peak above
/// half the threshold): the largest peak above this fraction of the threshold since the
/// last beat is kept and reported once it is clear that no beat follows within `RELAX_RR`
/// average intervals — at most `SEARCH_BACK_S` (800 ms, params.rs) after it.
const SEARCH_BACK_FRACTION: f32 = 0.6;
/// Initial guesses, replaced within a few beats.
const INITIAL_RR_S: f64 = 0.8;
const INITIAL_SPK: f32 = 0.2;

/// A detected QRS complex.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Beat {
    /// Absolute sample index (since the detector started) of the R wave.
    pub sample: u64,
}

#[derive(Clone, Copy, Debug)]
struct Accepted {
    /// Position of the integrated-feature peak (not the reported fiducial).
    peak: u64,
    slope: f32,
}

/// Streaming QRS detector for one patient. State is bounded: 512 bytes per lead plus
/// a ring of `~0.26 s` of the fused feature (`state_bytes`).
#[derive(Clone, Debug)]
pub struct QrsDetector {
    p: Params,
    leads: Vec<Lead>,
    n: u64,
    learn_end: u64,
    /// Fused feature history (ring), long enough for the integration window plus the
    /// confirmation delay.
    hist: Vec<f32>,
    mwi_sum: f64,
    prev_mwi: f32,
    cand_value: f32,
    cand_peak: u64,
    spk: f32,
    npk: f32,
    rr_avg: f64,
    last: Option<Accepted>,
    /// Integrated-feature peaks of the last beats, to tell settled blocks apart.
    recent_peaks: [u64; 4],
    noise_committed_for: u64,
    /// Samples until the current quality block ends.
    block_left: u64,
    /// Lowest integrated feature since the last beat: near zero between normal beats,
    /// high when the signal never returns to baseline (flutter, fibrillation).
    valley: f32,
    /// Running mean of valley/peak ratios and of raw RR intervals (samples).
    flutter_score: f32,
    fast_rr: f64,
    /// Every live lead has been away from baseline long enough (updated once per window).
    no_baseline: bool,
    /// Blocks until the baseline check's window ends.
    window_left: u32,
    /// The largest candidate since the last beat that missed the threshold but would pass
    /// the search-back threshold: reported late if no beat follows in time.
    weak: Option<Weak>,
}

/// A sub-threshold candidate kept for the bounded search-back.
#[derive(Clone, Copy, Debug)]
struct Weak {
    peak: u64,
    value: f32,
    slope: f32,
    fid: u64,
    /// Feature time at which it is accepted unless a beat came first.
    deadline: u64,
}

impl QrsDetector {
    /// `fs_hz` is the sampling rate (125–1000 Hz intended; others work with coarser timing),
    /// `leads` the number of samples in each frame.
    pub fn new(fs_hz: f64, leads: usize) -> Self {
        let fs = if fs_hz.is_finite() && fs_hz > 0.0 {
            fs_hz
        } else {
            250.0
        };
        let p = Params::new(fs);
        let leads = leads.max(1);
        let mut d = QrsDetector {
            block_left: p.block_len,
            learn_end: p.samples(LEARN_S),
            hist: vec![0.0; p.history_len()],
            rr_avg: INITIAL_RR_S * fs,
            leads: vec![Lead::new(); leads],
            p,
            n: 0,
            mwi_sum: 0.0,
            prev_mwi: 0.0,
            cand_value: 0.0,
            cand_peak: 0,
            spk: INITIAL_SPK,
            npk: 0.0,
            last: None,
            recent_peaks: [u64::MAX; 4],
            noise_committed_for: u64::MAX,
            valley: f32::MAX,
            flutter_score: 0.0,
            fast_rr: INITIAL_RR_S * fs,
            no_baseline: false,
            window_left: WINDOW_BLOCKS,
            weak: None,
        };
        d.update_shares();
        d
    }

    /// Bytes of per-patient state, heap included (the vectors are sized once, in `new`).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(self.leads.as_slice())
            + std::mem::size_of_val(self.hist.as_slice())
    }

    /// Worst-case number of samples between a beat and the `push` that reports it.
    pub fn lookahead_samples(&self) -> usize {
        self.p.lookahead() as usize
    }

    /// Sample index from which beats may still be reported: every beat before it has been
    /// returned by `push` already. It trails the newest frame by the 300 ms of a beat above
    /// threshold, and by up to `lookahead_samples()` only while a search-back candidate is
    /// pending — so silence (asystole) can be measured up to here instead of a fixed
    /// worst case behind the newest frame. Never decreases.
    pub fn reported_until(&self) -> u64 {
        let normal = self
            .n
            .saturating_sub(self.p.confirm + self.p.mwi_len as u64 + self.p.fiducial_delay);
        match self.weak {
            Some(w) => normal.min(w.fid.saturating_sub(self.p.fiducial_delay)),
            None => normal,
        }
    }

    /// Feed one frame (one sample per lead, microvolts). Missing leads count as flat,
    /// extra samples are ignored. Returns a beat whose position became final with this
    /// frame; beats are at least the refractory period (200 ms) apart, and a beat is
    /// final within `lookahead_samples()`, so at most one beat can become final per frame.
    pub fn push(&mut self, frame: &[i16]) -> Option<Beat> {
        let n = self.n;
        self.n += 1;
        let mut fused = 0.0f32;
        for (i, lead) in self.leads.iter_mut().enumerate() {
            let x = frame.get(i).copied().map_or(0.0, f32::from);
            let e = lead.energy(&self.p, n, x);
            fused += lead.contribution(e);
        }
        // A countdown instead of `n % block_len`: no division on the per-sample path.
        self.block_left -= 1;
        if self.block_left == 0 {
            self.block_left = self.p.block_len;
            self.end_block(n / self.p.block_len);
        }
        if n < self.learn_end {
            if n + 1 == self.learn_end {
                self.finish_learning();
            }
            return None;
        }
        self.integrate(n, fused)
    }

    fn integrate(&mut self, n: u64, fused: f32) -> Option<Beat> {
        let len = self.hist.len();
        let w = self.p.mwi_len;
        let slot = n as usize % len;
        let leaving = self.hist[(slot + len - w) % len];
        self.hist[slot] = fused;
        self.mwi_sum = (self.mwi_sum + f64::from(fused) - f64::from(leaving)).max(0.0);
        let mwi = (self.mwi_sum / w as f64) as f32;
        // Candidates only on rising or flat-top samples, so the decaying tail after a
        // finalised peak never poses as a new peak.
        if mwi > self.cand_value && mwi >= self.prev_mwi {
            self.cand_value = mwi;
            self.cand_peak = n;
        }
        self.prev_mwi = mwi;
        self.valley = self.valley.min(mwi);
        if self.cand_value > 0.0 && n - self.cand_peak >= self.p.confirm {
            let (value, peak) = (self.cand_value, self.cand_peak);
            self.cand_value = 0.0;
            let done = (n / self.p.block_len).saturating_sub(1);
            if let Some(beat) = self.classify(n, peak, value, done, false) {
                return Some(beat);
            }
        }
        // Every candidate peaking before the deadline has been decided by now.
        if let Some(weak) = self.weak
            && n >= weak.deadline + self.p.confirm
        {
            self.weak = None;
            return self.take(weak.peak, weak.value, weak.slope, weak.fid, true);
        }
        None
    }

    /// True while the signal looks like ventricular flutter or fibrillation: detections come
    /// fast and never return to baseline between them (`continuous_activity`), and no lead
    /// that can be read still shows an isoelectric baseline — every live lead has spent most
    /// of the last four seconds away from it. The caller should raise a VF/VFL alarm, and
    /// must not read the missing beats as asystole.
    pub fn flutter(&self) -> bool {
        self.no_baseline && self.continuous_activity()
    }

    /// True while detections come fast and the integrated feature never returns to baseline
    /// between them: flutter waves, fibrillation, or noise — not QRS complexes, so they are
    /// not reported as beats, and not silence either (no asystole). Only with `flutter()`
    /// is it an arrhythmia; alone (a lead still shows discrete complexes on a baseline) it
    /// is not.
    pub fn continuous_activity(&self) -> bool {
        self.flutter_score > FLUTTER_VALLEY && self.p.seconds_f(self.fast_rr) < FLUTTER_RR_S
    }

    /// End of input: decide the pending candidate now instead of after the confirmation
    /// delay (which will never come). The detector keeps working if more frames follow.
    pub fn finish(&mut self) -> Option<Beat> {
        if self.cand_value <= 0.0 || self.n <= self.learn_end {
            return None;
        }
        let (value, peak) = (self.cand_value, self.cand_peak);
        self.cand_value = 0.0;
        // The complex may be cut short: the unfinished block joins the lead rings and the
        // (smaller) feature is held to the search-back threshold only.
        let block = self.n / self.p.block_len;
        for lead in &mut self.leads {
            lead.flush_partial(block);
        }
        self.classify(self.n - 1, peak, value, block, true)
    }

    /// Decide whether a confirmed integrated-feature peak is a QRS complex. `done` is the
    /// last block whose maxima are in the lead rings; `truncated` marks a candidate cut
    /// short by the end of input.
    fn classify(
        &mut self,
        n: u64,
        peak: u64,
        value: f32,
        done: u64,
        truncated: bool,
    ) -> Option<Beat> {
        let since = self.last.map(|l| peak - l.peak);
        if since.is_some_and(|s| s < self.p.refractory) {
            return None;
        }
        let value = value * self.evidence(peak, done);
        let (fid, slope) = self.fiducial(n, peak);
        if let (Some(s), Some(last)) = (since, self.last)
            && self.p.seconds(s) < T_WAVE_S
            && slope < T_WAVE_SLOPE * last.slope
        {
            self.noise_peak(value);
            return None;
        }
        let mut threshold = self.npk + THRESHOLD_FRACTION * (self.spk - self.npk);
        let relaxed = since.is_some_and(|s| s as f64 > RELAX_RR * self.rr_avg);
        if relaxed {
            threshold *= 0.5;
        }
        if truncated {
            threshold *= SEARCH_BACK_FRACTION;
        }
        if value <= threshold {
            self.noise_peak(value);
            let search = SEARCH_BACK_FRACTION * threshold;
            if !relaxed
                && value > search
                && let Some(s) = since
                && self.weak.is_none_or(|w| value > w.value)
            {
                let last = peak - s;
                let due = last + (RELAX_RR * self.rr_avg) as u64;
                let deadline = due.min(peak + self.p.search_back);
                self.weak = Some(Weak {
                    peak,
                    value,
                    slope,
                    fid,
                    deadline,
                });
            }
            return None;
        }
        self.take(peak, value, slope, fid, relaxed)
    }

    /// Accept a beat: update levels and rhythm, report it unless flutter is going on.
    fn take(&mut self, peak: u64, value: f32, slope: f32, fid: u64, relaxed: bool) -> Option<Beat> {
        let since = self.last.map(|l| peak - l.peak);
        self.weak = None;
        let rate = if relaxed { 0.25 } else { 0.125 };
        self.spk += rate * (value.min(4.0 * self.spk) - self.spk);
        if let Some(s) = since {
            self.update_rr(s as f64);
            self.fast_rr += f64::from(FLUTTER_RATE) * (s as f64 - self.fast_rr);
        }
        self.flutter_score += FLUTTER_RATE * ((self.valley / value).min(1.0) - self.flutter_score);
        self.accept(peak, slope);
        if self.continuous_activity() {
            // Flutter waves drive the thresholds like beats but are not QRS complexes.
            return None;
        }
        let sample = fid.saturating_sub(self.p.fiducial_delay);
        Some(Beat { sample })
    }

    /// Factor by which the fused feature of a candidate at `peak` is corrected once every
    /// lead's view of it is known: a lead whose slope there is one-sided (a baseline step)
    /// or that was already busy just before (a noise burst) loses its say, and the other
    /// leads' relative energies decide.
    fn evidence(&self, peak: u64, done: u64) -> f32 {
        let b = self.p.block_len;
        let first = (peak + 1).saturating_sub(self.p.mwi_len as u64 + b) / b;
        let last = ((peak + b) / b).min(done);
        let oldest = (done + 2).saturating_sub(BLOCKS as u64);
        let after_last = self.last.map_or(0, |l| (l.peak + b) / b + 1);
        let bg_first = oldest.max(after_last);
        let (mut fused, mut weighted, mut weights, mut log) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for lead in &self.leads {
            let x = lead.relative(lead.max_over(first, last));
            let bipolar = lead.bipolarity(first, last);
            let bg = lead.background(bg_first, first.saturating_sub(1)) / BACKGROUND_K;
            let w = lead.share() * (0.5 + 0.5 * bipolar) / (1.0 + bg * bg);
            fused += lead.share() * x;
            weighted += w * bipolar * x;
            weights += w;
            log += w * (bipolar * x).max(GEOMETRIC_FLOOR).ln();
        }
        if fused <= 0.0 || weights <= 0.0 {
            return 1.0;
        }
        let arith = weighted / weights;
        let geo = (log / weights).exp();
        (arith.powf(1.0 - GEOMETRIC_SHARE) * geo.powf(GEOMETRIC_SHARE) / fused)
            .min(MAX_EVIDENCE_GAIN)
    }

    /// Position and height of the largest fused slope energy in the integration window
    /// that ends at `peak`.
    fn fiducial(&self, n: u64, peak: u64) -> (u64, f32) {
        let len = self.hist.len() as u64;
        let first = (peak + 1)
            .saturating_sub(self.p.mwi_len as u64)
            .max(n + 1 - len);
        let mut best = (peak, f32::MIN);
        for t in first..=peak {
            let v = self.hist[(t % len) as usize];
            if v > best.1 {
                best = (t, v);
            }
        }
        best
    }

    fn noise_peak(&mut self, value: f32) {
        self.npk += 0.125 * (value - self.npk);
    }

    fn update_rr(&mut self, rr: f64) {
        // Regular intervals adapt the average quickly; outliers (ectopics, missed beats)
        // only slowly, so a new rhythm is still learned.
        let rate = if rr > 0.5 * self.rr_avg && rr < 1.75 * self.rr_avg {
            0.125
        } else {
            0.03
        };
        self.rr_avg += rate * (rr - self.rr_avg);
    }

    fn accept(&mut self, peak: u64, slope: f32) {
        self.last = Some(Accepted { peak, slope });
        self.valley = f32::MAX;
        self.recent_peaks.rotate_right(1);
        self.recent_peaks[0] = peak;
        // Each lead's own beat level, from its energy around the beat — unless those
        // blocks have left the ring (a search-back beat, decided up to 800 ms late).
        let b = self.p.block_len;
        let first = (peak + 1).saturating_sub(self.p.mwi_len as u64 + b) / b;
        let last = (peak + b) / b;
        let current = self.n / b;
        if first + BLOCKS as u64 > current {
            for lead in &mut self.leads {
                let level = lead.max_over(first, last.min(current.saturating_sub(1)));
                lead.on_beat(level);
            }
        }
        self.update_shares();
    }

    /// Called at every block boundary: store block maxima, settle old blocks into noise
    /// levels, decay the signal level during long pauses.
    fn end_block(&mut self, block: u64) {
        let learning = self.n <= self.learn_end;
        for lead in &mut self.leads {
            lead.end_block(block);
            if learning {
                lead.track_learning(block);
            }
        }
        if block >= self.p.settle_lag {
            self.settle(block - self.p.settle_lag);
        }
        self.window_left -= 1;
        if self.window_left == 0 {
            self.window_left = WINDOW_BLOCKS;
            self.end_window();
        }
        let quiet = match self.last {
            Some(l) => self.n.saturating_sub(l.peak),
            None => self.n.saturating_sub(self.learn_end),
        };
        let limit = self.p.samples(DECAY_AFTER_S) + (RELAX_RR * self.rr_avg) as u64;
        if self.n > self.learn_end && quiet > limit {
            // Halves about every second of silence.
            let per_block = (-(self.p.seconds(self.p.block_len)) * std::f64::consts::LN_2).exp();
            self.spk = self.npk + (self.spk - self.npk) * per_block as f32;
        }
    }

    /// About a second has passed: re-read whether every live lead has lost its baseline.
    fn end_window(&mut self) {
        let mut live = false;
        let mut all_away = true;
        for lead in &mut self.leads {
            lead.end_window(self.p.fs);
            if let Some(share) = lead.away_share(u64::from(WINDOW_BLOCKS) * self.p.block_len) {
                live = true;
                all_away &= share >= FLUTTER_AWAY_SHARE;
            }
        }
        self.no_baseline = live && all_away;
    }

    /// A block old enough that no future beat can claim it: either it belongs to a beat's
    /// window (then the noise gathered since the previous beat is committed) or it is noise.
    fn settle(&mut self, block: u64) {
        let b = self.p.block_len;
        let (start, end) = (block * b, block * b + b);
        let w = self.p.mwi_len as u64;
        let owner = self
            .recent_peaks
            .iter()
            .copied()
            .find(|&pk| pk != u64::MAX && start <= pk + 2 * b && end + w + b > pk);
        match owner {
            Some(pk) => {
                if self.noise_committed_for != pk {
                    self.noise_committed_for = pk;
                    for lead in &mut self.leads {
                        lead.commit_noise();
                    }
                    self.update_shares();
                }
            }
            None => {
                for lead in &mut self.leads {
                    lead.noise_block(block);
                }
            }
        }
    }

    fn finish_learning(&mut self) {
        for lead in &mut self.leads {
            lead.learn();
        }
        self.update_shares();
    }

    fn update_shares(&mut self) {
        let total: f32 = self.leads.iter().map(Lead::weight).sum();
        for lead in &mut self.leads {
            let share = if total > 0.0 {
                lead.weight() / total
            } else {
                0.0
            };
            lead.set_share(share);
        }
    }
}
