//! When a VF/VFL episode needs an alarm of its own, and when the alarm already sounding
//! for it is the right one (docs/clinical-performance.md, "When VF is a new alarm").
//!
//! Annotators split one cardiac arrest into many episodes: VF, a few seconds of
//! asystole, VF again; VT that degenerates into VF. A monitor that re-paged on each
//! would page every few seconds through a resuscitation. The analysis keeps its VF alert
//! open until organised rhythm has lasted the rule's clear time, so the scorer counts a
//! VF episode as alarmed when an alarm fires for it (the README's rule), or when it
//! continues an arrest — no other rhythm for [`ORGANISED_S`] since the arrest began —
//! for which a VF alarm fired and is still open at the episode's onset.

use crate::alarms::{AFTER_S, BEFORE_S};
use crate::episodes::{Interval, merge};
use crate::reference::{Reference, Rhythm};

/// Organised rhythm for this long ends an arrest: a VF after it is a new alarm (the
/// default clear time of the VF rule).
pub const ORGANISED_S: f64 = 10.0;

/// The record's ventricular arrests: annotated VT (episodes and runs), VF/VFL and
/// asystole, joined where less than [`ORGANISED_S`] of any other rhythm separates them.
pub fn arrests(reference: &Reference) -> Vec<Interval> {
    let mut all = reference.vt_episodes();
    for r in [Rhythm::Vf, Rhythm::Asystole] {
        all.extend(reference.episodes(r));
    }
    merge(
        all.iter()
            .map(|i| Interval::new(i.start, i.end + ORGANISED_S))
            .collect(),
    )
    .into_iter()
    .map(|i| Interval::new(i.start, i.end - ORGANISED_S))
    .collect()
}

/// How many of `episodes` were alarmed: an alarm of `detecting` (their open intervals)
/// fires within [onset − 2 s, end + 1 s], or the episode continues one of `arrests`
/// for which an alarm of `vf_alarms` fired (from 2 s before the arrest to the onset)
/// and is still open at the onset.
pub fn alarmed(
    episodes: &[Interval],
    arrests: &[Interval],
    detecting: &[Interval],
    vf_alarms: &[Interval],
) -> u64 {
    let fired_for = |e: &Interval| {
        let window = e.widened(BEFORE_S, AFTER_S);
        detecting.iter().any(|a| window.contains(a.start))
    };
    let sounding_for = |e: &Interval| {
        arrests
            .iter()
            .find(|x| x.start <= e.start && e.start <= x.end)
            .is_some_and(|x| {
                vf_alarms.iter().any(|a| {
                    x.start - BEFORE_S <= a.start && a.start <= e.start && e.start <= a.end
                })
            })
    };
    episodes
        .iter()
        .filter(|e| fired_for(e) || sounding_for(e))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: f64, b: f64) -> Interval {
        Interval::new(a, b)
    }

    #[test]
    fn vf_after_a_short_asystole_is_alarmed_by_the_vf_alarm_still_sounding() {
        // VF 100–175, asystole 175–184, VF 184–400: one arrest; the VF alarm fired at 104.
        let arrests = [iv(100.0, 400.0)];
        let vf = [iv(104.0, 420.0)];
        let episodes = [iv(100.0, 175.0), iv(184.0, 400.0)];
        assert_eq!(alarmed(&episodes, &arrests, &vf, &vf), 2);
    }

    #[test]
    fn vf_after_organised_rhythm_needs_an_alarm_of_its_own() {
        // Two arrests: VF 100–175, sinus rhythm, VF 300–400; the first alarm never
        // closed (as a flapping-held alert would not).
        let arrests = [iv(100.0, 175.0), iv(300.0, 400.0)];
        let vf = [iv(104.0, 420.0)];
        let episodes = [iv(100.0, 175.0), iv(300.0, 400.0)];
        assert_eq!(alarmed(&episodes, &arrests, &vf, &vf), 1);
        let again = [iv(104.0, 180.0), iv(302.0, 410.0)];
        assert_eq!(alarmed(&episodes, &arrests, &again, &again), 2);
    }

    #[test]
    fn an_alarm_that_resolved_before_the_onset_does_not_count() {
        let arrests = [iv(100.0, 400.0)];
        let vf = [iv(104.0, 150.0)];
        let episodes = [iv(100.0, 175.0), iv(184.0, 400.0)];
        assert_eq!(alarmed(&episodes, &arrests, &vf, &vf), 1);
    }
}
