//! The patient's own beat shapes: a few running-average templates, each with how often it
//! has matched lately and what share of its beats the rules called ventricular. The
//! dominant template (most matched, not ventricular) is the patient's normal beat.

use super::shape::{Match, Shape};

/// Templates kept: the normal beat, a couple of ectopic shapes, and room for noise or a
/// changing morphology to come and go without evicting them.
pub(crate) const SLOTS: usize = 5;
/// A beat belongs to a template when its distance (shape.rs) is at most this.
pub(crate) const MATCH_DISTANCE: f32 = 0.25;
/// Matches are weighed over about this many beats, so a template unused for a few minutes
/// gives its slot to a new shape.
const WEIGHT_BEATS: f32 = 256.0;
/// Weight ratio at which a ventricular-judged template takes over as the normal beat.
const TAKEOVER: f32 = 3.0;
/// Averaging: 1/n while a template is young, then this rate.
const BLEND_RATE: f32 = 0.125;
/// Running share of ventricular verdicts: adapts over about this many beats.
const VOTE_RATE: f32 = 0.25;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Template {
    pub shape: Shape,
    pub weight: f32,
    pub beats: u32,
    /// Share of its recent beats judged ventricular.
    pub ventricular: f32,
    pub width_s: f32,
}

#[derive(Clone, Debug)]
pub(crate) struct Templates {
    slots: [Option<Template>; SLOTS],
}

impl Templates {
    pub(crate) fn new() -> Self {
        Templates {
            slots: [None; SLOTS],
        }
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Template> {
        self.slots.get(i)?.as_ref()
    }

    /// The closest template and how close it is.
    pub(crate) fn closest(&self, beat: &Shape) -> Option<(usize, Match)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i, beat.compare(&t.as_ref()?.shape))))
            .min_by(|a, b| a.1.distance.total_cmp(&b.1.distance))
    }

    /// The patient's normal beat: the most matched template not judged ventricular (or the
    /// most matched one while every template is). A ventricular-judged template that
    /// outweighs it `TAKEOVER` times over (minutes of nothing else: a new conduction pattern
    /// such as a bundle-branch block) becomes the normal beat instead, as a bedside monitor
    /// relearns.
    pub(crate) fn dominant(&self) -> Option<usize> {
        let most = |pred: &dyn Fn(&Template) -> bool| {
            self.slots
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.as_ref().filter(|t| pred(t)).map(|t| (i, t.weight)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        };
        let normal = most(&|t| t.ventricular < 0.5);
        let any = most(&|_| true);
        match (normal, any) {
            (Some(n), Some(a)) if a.1 < TAKEOVER * n.1 => Some(n.0),
            (_, a) => a.map(|a| a.0),
        }
    }

    /// Beats matching the template at `i` are normal from now on (it became the dominant
    /// one by taking over).
    pub(crate) fn relearn_as_normal(&mut self, i: usize) {
        if let Some(t) = self.slots.get_mut(i).and_then(Option::as_mut) {
            t.ventricular = 0.0;
        }
    }

    /// Learn a beat: it joins template `matched` (when close enough) or replaces the least
    /// used template other than the dominant one. Returns the template it went to.
    pub(crate) fn learn(
        &mut self,
        beat: &Shape,
        matched: Option<(usize, Match)>,
        ventricular: bool,
    ) -> Option<usize> {
        let decay = 1.0 - 1.0 / WEIGHT_BEATS;
        for t in self.slots.iter_mut().flatten() {
            t.weight *= decay;
        }
        let vote = if ventricular { 1.0 } else { 0.0 };
        if let Some((i, m)) = matched.filter(|(_, m)| m.distance <= MATCH_DISTANCE)
            && let Some(t) = self.slots[i].as_mut()
        {
            t.beats += 1;
            t.weight += 1.0;
            let rate = (1.0 / t.beats as f32).max(BLEND_RATE);
            t.shape.blend(beat, m.shift, rate);
            t.width_s = t.shape.width_s();
            t.ventricular += VOTE_RATE.max(1.0 / t.beats as f32) * (vote - t.ventricular);
            return Some(i);
        }
        let dominant = self.dominant();
        let slot = self.slots.iter().position(Option::is_none).or_else(|| {
            self.slots
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != dominant)
                .filter_map(|(i, t)| t.as_ref().map(|t| (i, t.weight)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i)
        });
        if let Some(slot) = slot {
            self.slots[slot] = Some(Template {
                shape: *beat,
                weight: 1.0,
                beats: 1,
                ventricular: vote,
                width_s: beat.width_s(),
            });
        }
        slot
    }
}
