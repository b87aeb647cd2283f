//! The decision for one beat, from what the templates and the rhythm say about it.
//!
//! A beat that does not match the normal template is ventricular when enough independent
//! signs agree: how different its shape is, how much wider its QRS is, how premature it
//! comes, and whether a pause follows. Each sign scores a point per level reached; no
//! single sign decides alone, because each has its mimics: aberrant or noisy beats differ
//! in shape, sinus arrhythmia and AF make normal beats premature, a fiducial misplaced by
//! noise widens a normal beat, and ventricular beats in AF need not be followed by a
//! pause. Levels were chosen on the MIT-BIH records in ../shared/data (tests/classification.rs).

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
/// RR after the beat as a share of the normal RR above which a pause follows.
const PAUSE: f32 = 1.1;
/// Points that make a beat ventricular.
const VENTRICULAR_POINTS: u32 = 4;
/// Premature supraventricular beats: a narrower band than ventricular prematurity, as
/// sinus arrhythmia moves normal beats by ±10 %.
const SV_PREMATURE: f32 = 0.85;

/// What is known about a beat when it is decided.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Evidence {
    /// Distance to the normal (dominant) template.
    pub distance: f32,
    pub width_s: f32,
    pub normal_width_s: f32,
    /// The closest template is not the normal one, matches, and is mostly ventricular.
    pub known_ventricular: bool,
    /// RR before and after, as shares of the normal RR.
    pub prematurity: Option<f32>,
    pub pause: Option<f32>,
}

impl Evidence {
    pub(crate) fn decide(&self) -> BeatClass {
        let premature = |limit: f32| self.prematurity.is_some_and(|p| p < limit);
        if self.distance > MATCH_DISTANCE && self.known_ventricular {
            return BeatClass::V;
        }
        if self.distance >= NOT_VENTRICULAR_BELOW && self.ventricular_points() >= VENTRICULAR_POINTS
        {
            return BeatClass::V;
        }
        if premature(SV_PREMATURE) {
            return BeatClass::S;
        }
        BeatClass::N
    }

    fn ventricular_points(&self) -> u32 {
        let count = |levels: &[f32], passes: &dyn Fn(f32) -> bool| {
            levels.iter().filter(|&&l| passes(l)).count() as u32
        };
        let wider = self.width_s - self.normal_width_s;
        count(&DIFFERENT, &|l| self.distance >= l)
            + count(&WIDER_S, &|l| wider >= l)
            + count(&PREMATURE, &|l| self.prematurity.is_some_and(|p| p < l))
            + u32::from(self.pause.is_none_or(|p| p > PAUSE))
    }
}
