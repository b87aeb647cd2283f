//! The patient's own beat shapes: a few running-average templates, each with how often it
//! has matched lately, what share of its beats the rules called ventricular, and how fast
//! its beats come. The normal template (most matched, not ventricular, and not a shape
//! that arrived with an abrupt tachycardia: `update_normal`) is the patient's normal beat.

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
/// A ventricular-judged template whose beats come faster than this (RR in seconds:
/// 100 bpm, the rate IEC 60601-2-27 defines ventricular tachycardia by) never takes over
/// as the normal beat, however long it lasts: a fast wide rhythm of a new shape is
/// ventricular tachycardia until it slows (the bedside rule "a wide-complex tachycardia
/// is VT until proven otherwise"). A slower one (a new bundle-branch block, an
/// idioventricular rhythm) is still relearned.
const TAKEOVER_MIN_RR_S: f32 = 0.6;
/// A new shape at a tachycardia rate replaces the normal beat only when it is not this
/// much faster than it (RR ratio; sinus rate changes by a few per cent from beat to beat,
/// a re-entrant or ectopic rhythm starts at once), or when the normal beat's weight has
/// decayed below `STALE_WEIGHT` (not matched for several minutes).
const FASTER_THAN_NORMAL: f32 = 0.8;
const STALE_WEIGHT: f32 = 1.0;
/// Running mean of the RR before a template's beats: adapts over about this many beats.
const RR_RATE: f32 = 0.125;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Template {
    pub shape: Shape,
    pub weight: f32,
    pub beats: u32,
    /// Share of its recent beats judged ventricular.
    pub ventricular: f32,
    pub width_s: f32,
    /// Running mean RR before its beats, seconds (0 until one is known).
    pub rr_s: f32,
}

impl Template {
    /// Judged ventricular and coming at a tachycardia rate: it must stay ventricular.
    fn is_tachycardia(&self) -> bool {
        self.ventricular >= 0.5 && self.rr_s > 0.0 && self.rr_s < TAKEOVER_MIN_RR_S
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Templates {
    slots: [Option<Template>; SLOTS],
    /// The patient's normal beat (`update_normal`).
    normal: Option<usize>,
}

impl Templates {
    pub(crate) fn new() -> Self {
        Templates {
            slots: [None; SLOTS],
            normal: None,
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

    /// The patient's normal beat (see `update_normal`).
    pub(crate) fn dominant(&self) -> Option<usize> {
        self.normal.filter(|&i| self.get(i).is_some())
    }

    /// The template that would be the normal beat on weight alone: the most matched one
    /// not judged ventricular (or the most matched one while every template is). A
    /// ventricular-judged template that outweighs it `TAKEOVER` times over (minutes of
    /// nothing else: a new conduction pattern such as a bundle-branch block) becomes the
    /// normal beat instead, as a bedside monitor relearns — unless its beats come at a
    /// tachycardia rate (`TAKEOVER_MIN_RR_S`).
    fn heaviest(&self) -> Option<usize> {
        let most = |pred: &dyn Fn(&Template) -> bool| {
            self.slots
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.as_ref().filter(|t| pred(t)).map(|t| (i, t.weight)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        };
        let normal = most(&|t| t.ventricular < 0.5);
        let any = most(&|t| normal.is_none() || !t.is_tachycardia());
        match (normal, any) {
            (Some(n), Some(a)) if a.1 < TAKEOVER * n.1 => Some(n.0),
            (_, a) => a.map(|a| a.0),
        }
    }

    /// After each beat: the heaviest template becomes the normal beat, unless it came
    /// with an abrupt tachycardia — it beats faster than `TAKEOVER_MIN_RR_S` and more
    /// than `FASTER_THAN_NORMAL` faster than the current normal beat. Sinus rhythm speeds
    /// up gradually and keeps its shape (its own template); a new shape that arrives with
    /// a much faster rate is an ectopic rhythm, and a few of its beats judged not
    /// ventricular (fused, noisy) must not make it the yardstick its own beats are then
    /// "normal" against. Once the old normal beat has not been seen for minutes
    /// (`STALE_WEIGHT`), the heaviest template is taken whatever its rate.
    fn update_normal(&mut self) {
        let Some(heaviest) = self.heaviest() else {
            self.normal = None;
            return;
        };
        let current = self.dominant().and_then(|i| Some((i, self.get(i)?)));
        let replace = match (current, self.get(heaviest)) {
            (Some((i, _)), _) if i == heaviest => false,
            (Some((_, now)), Some(new)) => {
                let abrupt = new.rr_s > 0.0
                    && new.rr_s < TAKEOVER_MIN_RR_S
                    && (now.rr_s <= 0.0 || new.rr_s < FASTER_THAN_NORMAL * now.rr_s);
                !abrupt || now.weight < STALE_WEIGHT
            }
            _ => true,
        };
        if replace {
            self.normal = Some(heaviest);
        }
    }

    /// Beats matching the template at `i` are normal from now on (it became the dominant
    /// one by taking over).
    pub(crate) fn relearn_as_normal(&mut self, i: usize) {
        if let Some(t) = self.slots.get_mut(i).and_then(Option::as_mut) {
            t.ventricular = 0.0;
        }
    }

    /// Learn a beat (its verdict, None when unclassifiable, and the RR before it, if
    /// known): it joins template `matched` (when
    /// close enough) or replaces the least used template other than the dominant one.
    /// Returns the template it went to.
    pub(crate) fn learn(
        &mut self,
        beat: &Shape,
        matched: Option<(usize, Match)>,
        ventricular: Option<bool>,
        rr_before_s: Option<f32>,
    ) -> Option<usize> {
        let went_to = self.join(beat, matched, ventricular, rr_before_s);
        self.update_normal();
        went_to
    }

    fn join(
        &mut self,
        beat: &Shape,
        matched: Option<(usize, Match)>,
        ventricular: Option<bool>,
        rr_before_s: Option<f32>,
    ) -> Option<usize> {
        let rr = rr_before_s.filter(|rr| rr.is_finite() && *rr > 0.0);
        let decay = 1.0 - 1.0 / WEIGHT_BEATS;
        for t in self.slots.iter_mut().flatten() {
            t.weight *= decay;
        }
        // An unclassifiable beat (noise) says nothing about its template's origin: a few
        // noisy beats inside a ventricular run must not turn its template "normal".
        let vote = ventricular.map(|v| if v { 1.0 } else { 0.0 });
        if let Some((i, m)) = matched.filter(|(_, m)| m.distance <= MATCH_DISTANCE)
            && let Some(t) = self.slots[i].as_mut()
        {
            t.beats += 1;
            t.weight += 1.0;
            let rate = (1.0 / t.beats as f32).max(BLEND_RATE);
            t.shape.blend(beat, m.shift, rate);
            t.width_s = t.shape.width_s();
            if let Some(vote) = vote {
                t.ventricular += VOTE_RATE.max(1.0 / t.beats as f32) * (vote - t.ventricular);
            }
            if let Some(rr) = rr {
                t.rr_s = if t.rr_s > 0.0 {
                    t.rr_s + RR_RATE * (rr - t.rr_s)
                } else {
                    rr
                };
            }
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
                ventricular: vote.unwrap_or(0.0),
                width_s: beat.width_s(),
                rr_s: rr.unwrap_or(0.0),
            });
        }
        slot
    }
}
