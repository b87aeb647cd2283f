//! The decision for one beat, from what the templates and the rhythm say about it.
//!
//! A beat that does not match the normal template is ventricular when enough independent
//! signs agree: how different its shape is, how much wider its QRS is, how premature it
//! comes, and whether a pause follows. Each sign scores a point per level reached; no
//! single sign decides alone, because each has its mimics: aberrant or noisy beats differ
//! in shape, sinus arrhythmia and AF make normal beats premature, a fiducial misplaced by
//! noise widens a normal beat, and ventricular beats in AF need not be followed by a
//! pause. A beat that matches a template whose beats were mostly ventricular, or that
//! continues a run of ventricular beats (with its shape, or clean, unlike the normal beat
//! and not narrower than it), needs fewer points; a noisy beat
//! needs more (and is Q, unclassifiable, when it would be V on a clean signal).
//!
//! A premature beat that is not ventricular is supraventricular (S), unless the rhythm is
//! irregular (atrial fibrillation): there prematurity is the rhythm's own.
//!
//! The point levels below were set from the distributions of these signs on the MIT-BIH
//! records in ../shared/data; `RuleLevels` were tuned there too, and are checked
//! leave-one-record-out (tests/classification.rs names the commands).

use super::BeatClass;
use super::templates::MATCH_DISTANCE;

/// Distance from the normal template (shape.rs: ~0.4 is the same shape at twice the size,
/// ~2 an unrelated one) below which a beat is never ventricular, and the levels that
/// score a point each.
const NOT_VENTRICULAR_BELOW: f32 = 0.4;
const DIFFERENT: [f32; 3] = [0.6, 1.0, 1.5];
/// QRS widening beyond the normal beat's (seconds), a point per level.
const WIDER_S: [f32; 2] = [0.02, 0.04];
/// RR before the beat as a share of the normal RR, a point per level it is below.
const PREMATURE: [f32; 2] = [0.9, 0.75];
/// RR after the beat as a share of the normal RR above which a pause follows. It scores
/// only after a premature beat (the compensatory pause): after a beat on time it is a
/// slowing rhythm.
const PAUSE: f32 = 1.1;
/// Premature supraventricular beats: a narrower band than ventricular prematurity, as
/// sinus arrhythmia moves normal beats by ±10 %.
const SV_PREMATURE: f32 = 0.85;

/// Inside a run holding two consecutive ventricular beats of one shape, a beat of another shape continues the
/// run when it is unlike the normal beat (`NOT_VENTRICULAR_BELOW`) and comes at a
/// tachycardia pace against the normal rhythm (RR under the second `PREMATURE` level):
/// multiform VT changes shape from beat to beat (vfdb 421), and a conducted beat after a
/// PVC or a couplet comes on time or late.
pub(crate) fn continues_fast_run(distance: f32, prematurity: Option<f32>) -> bool {
    distance >= NOT_VENTRICULAR_BELOW && prematurity.is_some_and(|p| p < PREMATURE[1])
}

/// The levels tuned on the MIT-BIH records. Exposed so that a leave-one-record-out check
/// can retune them (`cargo run -p cw-detect --release --example classify_loo`); use the
/// defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleLevels {
    /// Points that make a beat ventricular.
    pub ventricular_points: u32,
    /// Points that make a beat ventricular when it matches a template whose beats were
    /// mostly ventricular.
    pub known_ventricular_points: u32,
    /// Noise riding on a beat (high-frequency activity before and after the QRS over its
    /// size) at which it needs `noisy_extra_points` more: noise changes a beat's shape and
    /// width and moves its fiducial, so those signs count less.
    pub noisy: f32,
    pub noisy_extra_points: u32,
    /// Points for continuing a run of ventricular beats (with the same shape, or
    /// `after_ventricular_unlike_normal`): inside a run beats are no longer premature
    /// against each other and no pause follows them.
    pub run_points: u32,
}

impl Default for RuleLevels {
    fn default() -> Self {
        RuleLevels {
            ventricular_points: 4,
            known_ventricular_points: 1,
            noisy: 0.03,
            noisy_extra_points: 2,
            run_points: 2,
        }
    }
}

/// What is known about a beat when it is decided.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Evidence {
    /// Distance to the normal (dominant) template.
    pub distance: f32,
    pub width_s: f32,
    pub normal_width_s: f32,
    /// The closest template is not the normal one, matches, and is mostly ventricular.
    pub known_ventricular: bool,
    /// The last beat was ventricular and this one has its shape.
    pub continues_run: bool,
    /// The last beat was ventricular.
    pub follows_v: bool,
    /// High-frequency activity around the QRS over its size (shape.rs).
    pub noise: f32,
    /// The rhythm is irregular: prematurity says nothing of an atrial origin.
    pub irregular: bool,
    /// RR before and after, as shares of the normal RR.
    pub prematurity: Option<f32>,
    pub pause: Option<f32>,
}

impl Evidence {
    pub(crate) fn decide(&self, levels: &RuleLevels) -> BeatClass {
        let premature = |limit: f32| self.prematurity.is_some_and(|p| p < limit);
        let extra = if self.noise >= levels.noisy {
            levels.noisy_extra_points
        } else {
            0
        };
        let points = self.ventricular_points(levels);
        let ventricular = |extra: u32| {
            let known = self.known_ventricular
                && self.distance > MATCH_DISTANCE
                && points >= levels.known_ventricular_points + extra;
            known
                || (self.distance >= NOT_VENTRICULAR_BELOW
                    && points >= levels.ventricular_points + extra)
        };
        if ventricular(extra) {
            return BeatClass::V;
        }
        if ventricular(0) {
            // Ventricular on a clean signal, not with this noise on it: unclassifiable.
            return BeatClass::Q;
        }
        if premature(SV_PREMATURE) && !self.irregular {
            return BeatClass::S;
        }
        BeatClass::N
    }

    /// A clean beat right after a ventricular beat, unlike the normal beat and at least as
    /// wide, continues the ventricular run although it has another shape: a run whose
    /// beats alternate between two ventricular shapes (223's bigeminal runs, bidirectional
    /// VT) never has two consecutive beats of one shape for `continues_run`, and its beats
    /// come on time. A conducted beat after a PVC has the normal shape; an aberrant or
    /// pre-excited one is narrower than a ventricular beat (ventricular activation
    /// outside the conduction system is the slowest: docs/clinical-performance.md,
    /// "Beat classification"). Noise changes shape and width, so a noisy beat does not
    /// qualify.
    fn after_ventricular_unlike_normal(&self, levels: &RuleLevels) -> bool {
        self.follows_v
            && self.distance >= DIFFERENT[0]
            && self.width_s >= self.normal_width_s
            && self.noise < levels.noisy
    }

    fn ventricular_points(&self, levels: &RuleLevels) -> u32 {
        let count = |levels: &[f32], passes: &dyn Fn(f32) -> bool| {
            levels.iter().filter(|&&l| passes(l)).count() as u32
        };
        let wider = self.width_s - self.normal_width_s;
        let premature_beat = self.prematurity.is_some_and(|p| p < PREMATURE[0]);
        count(&DIFFERENT, &|l| self.distance >= l)
            + count(&WIDER_S, &|l| wider >= l)
            + count(&PREMATURE, &|l| self.prematurity.is_some_and(|p| p < l))
            + u32::from(premature_beat && self.pause.is_none_or(|p| p > PAUSE))
            + levels.run_points
                * u32::from(self.continues_run || self.after_ventricular_unlike_normal(levels))
    }
}
