//! Beat classification in the stream: every beat the QRS detector reports gets its AAMI
//! class (N, S, V, F, Q) from the patient's own learned templates — its shape on every
//! classified lead against the normal beat, its QRS width, its prematurity against the
//! running normal RR, and the pause after it.
//!
//! F (fusion) is not produced: fusion beats come out N or V (EC57 counts neither against
//! the VEB figures). Q marks the learning period (the first beats) and beats that would
//! be V but for the noise on them.
//!
//! A beat is decided when the next one is reported (the pause after it is then known) or,
//! if none comes, once the pause is long enough to be a pause: at most `MAX_WAIT_S` after
//! the beat was reported.
//!
//! Everything is in physical units (seconds, µV) on a fixed 8 ms grid (signal.rs), so
//! the same constants hold from 125 to 1000 Hz. State is fixed-size, no heap
//! (`state_bytes`).

mod rules;
mod shape;
mod signal;
mod templates;

use crate::detector::Beat;
use rules::Evidence;
pub use rules::RuleLevels;
use shape::Shape;
use signal::GridSignal;
use templates::{MATCH_DISTANCE, Templates};

/// AAMI EC57 beat classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BeatClass {
    /// Normal, bundle-branch block, escape beats.
    N,
    /// Supraventricular ectopic.
    S,
    /// Ventricular ectopic.
    V,
    /// Fusion of ventricular and normal.
    F,
    /// Unclassifiable (learning period, noise).
    Q,
}

impl BeatClass {
    /// The one-letter AAMI code.
    pub fn code(self) -> char {
        match self {
            BeatClass::N => 'N',
            BeatClass::S => 'S',
            BeatClass::V => 'V',
            BeatClass::F => 'F',
            BeatClass::Q => 'Q',
        }
    }
}

impl std::fmt::Display for BeatClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// A detected beat with its class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassifiedBeat {
    pub sample: u64,
    pub class: BeatClass,
    /// High-frequency activity before and after the QRS over its size, all leads summed
    /// (near 0 for a clean beat; 0 also when unknown: before the first template, or too
    /// little room between beats). The analysis reads it as the beat's signal quality.
    pub noise: f32,
}

/// Beats before the templates are trusted: they are reported as Q.
const LEARN_BEATS: u32 = 8;
/// A beat waits for the next one at most this many normal RRs (a compensatory pause is
/// two), and at most `MAX_WAIT_S`, plus the detector's usual reporting delay.
const WAIT_RR: f32 = 2.2;
const MAX_WAIT_S: f32 = 2.5;
const REPORT_DELAY_S: f32 = 0.35;
/// The rhythm is irregular (atrial fibrillation, frequent ectopy) while successive RR
/// intervals differ by this share of the normal RR on average (over ~8 beats): a premature
/// beat is then not a premature supraventricular beat but the rhythm's own variation.
const IRREGULAR: f32 = 0.15;
const IRREGULARITY_RATE: f32 = 0.125;
/// Normal RR tracking: intervals between two normal beats within this band of the
/// current value adapt it at `RR_RATE`, others at `RR_OUTLIER_RATE` (a new rhythm is
/// still learned).
const RR_BAND: (f32, f32) = (0.7, 1.4);
const RR_RATE: f32 = 0.125;
const RR_OUTLIER_RATE: f32 = 0.03;

#[derive(Clone, Copy, Debug)]
struct Pending {
    sample: u64,
    shape: Shape,
    rr_before_s: Option<f32>,
}

/// Streaming beat classifier for one patient. Feed it every frame, with the beat the
/// detector reported at that frame, if any.
#[derive(Clone, Debug)]
pub struct BeatClassifier {
    fs: f64,
    n: u64,
    signal: GridSignal,
    templates: Templates,
    pending: Option<Pending>,
    last_beat: Option<(u64, BeatClass)>,
    /// The V run up to the last beat holds two consecutive V beats of one shape (a
    /// ventricular shape confirmed by repetition, not two unrelated odd beats).
    v_run_confirmed: bool,
    /// Template the last beat went to.
    last_template: Option<usize>,
    last_rr_s: Option<f32>,
    /// Running mean of successive RR differences over the normal RR.
    irregularity: f32,
    normal_rr_s: Option<f32>,
    beats: u32,
    levels: RuleLevels,
}

impl BeatClassifier {
    /// `fs_hz` and `leads` as given to the `QrsDetector` it follows.
    pub fn new(fs_hz: f64, leads: usize) -> Self {
        Self::with_levels(fs_hz, leads, RuleLevels::default())
    }

    /// With other rule levels than the tuned defaults (for the leave-one-record-out check).
    pub fn with_levels(fs_hz: f64, leads: usize, levels: RuleLevels) -> Self {
        let fs = if fs_hz.is_finite() && fs_hz > 0.0 {
            fs_hz
        } else {
            250.0
        };
        BeatClassifier {
            fs,
            n: 0,
            signal: GridSignal::new(fs, leads),
            templates: Templates::new(),
            pending: None,
            last_beat: None,
            v_run_confirmed: false,
            last_template: None,
            last_rr_s: None,
            irregularity: 0.0,
            normal_rr_s: None,
            beats: 0,
            levels,
        }
    }

    /// Bytes of per-patient state (no heap).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    /// Feed one frame and the beat the detector reported with it. Returns a beat whose
    /// class became final (an earlier one: classes trail beats by one beat).
    pub fn push(&mut self, frame: &[i16], beat: Option<Beat>) -> Option<ClassifiedBeat> {
        self.signal.push(self.n, frame);
        self.n += 1;
        match beat {
            Some(beat) => self.on_beat(beat),
            None => {
                let pending = self.pending?;
                let waited = ((self.n - pending.sample) as f64 / self.fs) as f32;
                let wait = (WAIT_RR * self.normal_rr_s.unwrap_or(1.0)).min(MAX_WAIT_S);
                if waited > wait + REPORT_DELAY_S {
                    self.decide_pending(None)
                } else {
                    None
                }
            }
        }
    }

    /// End of input, with the beat `QrsDetector::finish` reported if any: decides every
    /// beat still waiting.
    pub fn finish(&mut self, last: Option<Beat>) -> impl Iterator<Item = ClassifiedBeat> {
        let before = last.and_then(|beat| self.on_beat(beat));
        [before, self.decide_pending(None)].into_iter().flatten()
    }

    fn on_beat(&mut self, beat: Beat) -> Option<ClassifiedBeat> {
        let decided = self.decide_pending(Some(beat.sample));
        // After deciding, the last beat is the one before this one.
        let rr_before_s = self
            .last_beat
            .map(|(s, _)| (beat.sample.saturating_sub(s) as f64 / self.fs) as f32);
        self.pending = Some(Pending {
            sample: beat.sample,
            shape: self.signal.window(beat.sample),
            rr_before_s,
        });
        decided
    }

    fn decide_pending(&mut self, next: Option<u64>) -> Option<ClassifiedBeat> {
        let p = self.pending.take()?;
        let rr_after_s = match next {
            Some(s) => s.saturating_sub(p.sample) as f64 / self.fs,
            None => self.n.saturating_sub(p.sample) as f64 / self.fs,
        } as f32;
        self.beats += 1;
        let closest = self.templates.closest(&p.shape);
        let evidence = self.evidence(&p, closest, rr_after_s);
        let noise = evidence.map_or(0.0, |e| e.noise);
        let class = match evidence {
            Some(e) if self.beats > LEARN_BEATS => e.decide(&self.levels),
            _ => BeatClass::Q,
        };
        let ventricular = class == BeatClass::V;
        if let Some(d) = self.templates.dominant()
            && self.templates.get(d).is_some_and(|t| t.ventricular >= 0.5)
        {
            self.templates.relearn_as_normal(d);
        }
        let previous_template = self.last_template;
        self.last_template = self.templates.learn(
            &p.shape,
            closest,
            (class != BeatClass::Q).then_some(ventricular),
            p.rr_before_s,
        );
        self.track_rr(p.rr_before_s, class);
        let was_v = self.last_beat.is_some_and(|(_, c)| c == BeatClass::V);
        self.last_beat = Some((p.sample, class));
        self.v_run_confirmed = ventricular
            && (self.v_run_confirmed
                || (was_v
                    && self.last_template.is_some()
                    && self.last_template == previous_template));
        Some(ClassifiedBeat {
            sample: p.sample,
            class,
            noise,
        })
    }

    fn evidence(
        &self,
        p: &Pending,
        closest: Option<(usize, shape::Match)>,
        rr_after_s: f32,
    ) -> Option<Evidence> {
        let dominant = self.templates.dominant()?;
        let normal = self.templates.get(dominant)?;
        let to_normal = p.shape.compare(&normal.shape);
        let known_ventricular = closest.is_some_and(|(i, m)| {
            i != dominant
                && m.distance <= MATCH_DISTANCE
                && self.templates.get(i).is_some_and(|t| t.ventricular >= 0.5)
        });
        let share = |rr: f32| self.normal_rr_s.map(|n| rr / n);
        // A run: the last beat was ventricular and this one has its shape, or (in a run
        // with two V beats of one shape already) another shape unlike the normal beat at
        // the run's fast rate (multiform VT: rules.rs `continues_fast_run`).
        let continues_run = self.last_beat.is_some_and(|(_, c)| c == BeatClass::V)
            && (closest.is_some_and(|(i, m)| {
                Some(i) == self.last_template && m.distance <= MATCH_DISTANCE
            }) || (self.v_run_confirmed
                && rules::continues_fast_run(to_normal.distance, p.rr_before_s.and_then(share))));
        Some(Evidence {
            follows_v: self.last_beat.is_some_and(|(_, c)| c == BeatClass::V),
            distance: to_normal.distance,
            width_s: p.shape.width_s(),
            normal_width_s: normal.width_s,
            known_ventricular,
            continues_run,
            noise: p.shape.noise(p.rr_before_s, rr_after_s),
            irregular: self.irregularity >= IRREGULAR,
            prematurity: p.rr_before_s.and_then(share),
            pause: share(rr_after_s),
        })
    }

    fn track_rr(&mut self, rr_before_s: Option<f32>, class: BeatClass) {
        let Some(rr) = rr_before_s else { return };
        if let (Some(previous), Some(normal)) = (self.last_rr_s, self.normal_rr_s) {
            let step = (rr - previous).abs() / normal;
            self.irregularity += IRREGULARITY_RATE * (step - self.irregularity);
        }
        self.last_rr_s = Some(rr);
        let previous_normal = self
            .last_beat
            .is_some_and(|(_, c)| matches!(c, BeatClass::N | BeatClass::Q));
        if !(previous_normal && matches!(class, BeatClass::N | BeatClass::Q)) {
            return;
        }
        match self.normal_rr_s {
            None => self.normal_rr_s = Some(rr),
            Some(n) => {
                let share = rr / n;
                let rate = if share > RR_BAND.0 && share < RR_BAND.1 {
                    RR_RATE
                } else {
                    RR_OUTLIER_RATE
                };
                self.normal_rr_s = Some(n + rate * (rr - n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic two-lead record: narrow upright beats every 0.8 s, and every fifth beat
    /// a wide inverted one 0.5 s early followed by a compensatory pause.
    fn bigeminy_like(fs: f64, seconds: f64) -> (Vec<i16>, Vec<(f64, bool)>) {
        let mut beats = Vec::new();
        let mut t = 1.0;
        let mut k = 0;
        while t < seconds - 1.0 {
            k += 1;
            let ectopic = k % 5 == 0;
            if ectopic {
                beats.push((t - 0.3, true));
            } else {
                beats.push((t, false));
            }
            t += 0.8;
        }
        let n = (seconds * fs) as usize;
        let mut uv = vec![0i16; 2 * n];
        for i in 0..n {
            let time = i as f64 / fs;
            let (mut a, mut b) = (0.0, 0.0);
            for &(at, ectopic) in &beats {
                let dt = time - at;
                if dt.abs() > 0.3 {
                    continue;
                }
                let (width, height) = if ectopic {
                    (0.035, -1400.0)
                } else {
                    (0.01, 1000.0)
                };
                let g = (-0.5 * (dt / width) * (dt / width)).exp();
                a += height * g;
                b += 0.5 * height * g;
            }
            uv[2 * i] = a as i16;
            uv[2 * i + 1] = b as i16;
        }
        (uv, beats)
    }

    #[test]
    fn wide_premature_beats_are_ventricular_and_the_others_normal() {
        for fs in [125.0, 360.0, 1000.0] {
            let (uv, truth) = bigeminy_like(fs, 90.0);
            let classified = crate::classify_all(fs, 2, &uv);
            let mut checked = 0;
            for &(at, ectopic) in truth.iter().skip(12) {
                let sample = (at * fs) as u64;
                let window = (0.05 * fs) as u64;
                let beat = classified
                    .iter()
                    .find(|b| b.sample.abs_diff(sample) <= window)
                    .unwrap_or_else(|| panic!("{fs} Hz: beat at {at:.2} s not detected"));
                let expected = if ectopic { BeatClass::V } else { BeatClass::N };
                assert_eq!(beat.class, expected, "{fs} Hz: beat at {at:.2} s");
                checked += 1;
            }
            assert!(checked > 80, "{fs} Hz: only {checked} beats checked");
        }
    }

    #[test]
    fn learning_period_beats_are_unclassifiable() {
        let (uv, _) = bigeminy_like(250.0, 20.0);
        let classified = crate::classify_all(250.0, 2, &uv);
        let learning = LEARN_BEATS as usize;
        assert!(classified.len() > learning);
        assert!(
            classified[..learning]
                .iter()
                .all(|b| b.class == BeatClass::Q)
        );
    }

    #[test]
    fn state_stays_within_its_budget() {
        // The engine's whole per-patient state must stay ≤ 8 KiB; the classifier's share
        // is ≤ 3 KiB at any lead count.
        for leads in [1, 2, 3, 12] {
            let c = BeatClassifier::new(360.0, leads);
            println!("{leads} leads: {} bytes", c.state_bytes());
            assert!(c.state_bytes() <= 3 * 1024, "{} bytes", c.state_bytes());
        }
    }
}
