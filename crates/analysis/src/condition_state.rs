//! The per-(patient, rule) alarm lifecycle for any rule expressed as two booleans: the
//! condition is `active` (crossing the limit) or `clear` (back past the hysteresis band).
//! Pending for `for_s`, firing, resolved after `clear_s` of clear; a rule that keeps
//! flapping (fired `fires` times within the window) keeps its alert open until it has been
//! clear for the whole window, so one episode is one alert (not for the rules
//! `RuleInfo::held_open_when_flapping` exempts: ventricular tachycardia and fibrillation). While the alert is open every
//! new onset of the condition is counted in its [`Episode`] (with the first, last and
//! worst value), so events inside an open alert are never lost. Pure: the monitor feeds it
//! conditions and acts on the transitions it returns.

use cw_core::rules::{Flapping, Timing};
use cw_core::time::{Nanos, secs};
use cw_core::{Episode, RuleKind};

/// Fire times remembered for flapping detection (the policy allows at most 8 fires; kept
/// small because every patient has one of these per rule).
const FIRES_KEPT: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transition {
    /// The condition lasted the onset delay: raise the alert.
    Fire { started_ns: Nanos, value: f32 },
    /// The condition began again while the alert was open: the episode so far.
    Episode(Episode),
    /// Clear for the clear time: resolve the open alert.
    Resolve,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Clear,
    Pending { since: Nanos },
    Firing { clear_since: Option<Nanos> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConditionState {
    phase: Phase,
    /// Recent fire times (ring), for flapping.
    fires: [Nanos; FIRES_KEPT],
    next_fire: usize,
    /// The open alert is held open because the rule was flapping.
    collapsed: bool,
    /// The open alert's events; whether an event is in progress (it begins when the
    /// condition becomes active and ends only when it is clear, so a value wandering in
    /// the hysteresis band or a held observation is not a new event); and whether the
    /// worst value changed since the episode was last reported.
    episode: Episode,
    in_event: bool,
    unreported: bool,
}

impl Default for ConditionState {
    fn default() -> Self {
        Self {
            phase: Phase::Clear,
            fires: [Nanos::MIN; FIRES_KEPT],
            next_fire: 0,
            collapsed: false,
            episode: Episode::default(),
            in_event: false,
            unreported: false,
        }
    }
}

impl ConditionState {
    /// A state with an open alert (rebuilt from the store after a restart, or put back
    /// after its resolve could not be stored) whose episode so far is `episode`, so the
    /// next event adds to it rather than starting the count again. The condition is taken
    /// to be still in its event: one that is still active is not counted twice, and one
    /// that ended reads clear first, so the next onset counts.
    pub fn firing(episode: Episode) -> Self {
        Self {
            phase: Phase::Firing { clear_since: None },
            episode,
            in_event: true,
            ..Self::default()
        }
    }

    /// The open (or last) alert's episode so far.
    pub fn episode(&self) -> Episode {
        self.episode
    }

    /// An event of the condition is in progress: it became active and has not been clear
    /// since (so what ends it, e.g. the beat after a silence, is part of the same event).
    pub fn in_event(&self) -> bool {
        self.in_event
    }

    pub fn is_firing(&self) -> bool {
        matches!(self.phase, Phase::Firing { .. })
    }

    /// True while the open alert is held open because the rule flapped.
    pub fn is_collapsed(&self) -> bool {
        self.collapsed
    }

    pub fn reset(&mut self) {
        self.phase = Phase::Clear;
        self.collapsed = false;
        self.episode = Episode::default();
        self.in_event = false;
        self.unreported = false;
    }

    /// A value measured after the fact for the event in progress of the open alert (the
    /// RR interval that ended a silence): kept if worse, reported before the resolve.
    pub fn worsen(&mut self, rule: RuleKind, value: f32) {
        if self.is_firing() && self.in_event {
            let before = self.episode.worst;
            self.episode.worsen(rule, value);
            self.unreported |= self.episode.worst != before;
        }
    }

    /// The episode, when its worst value changed since it was last reported (the alert
    /// should record it before it resolves); marks it reported.
    pub fn take_unreported(&mut self) -> Option<Episode> {
        std::mem::take(&mut self.unreported).then_some(self.episode)
    }

    /// Feeds the condition of `rule` observed at `now`. `value` is what the alert reports.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        rule: RuleKind,
        timing: Timing,
        flapping: &Flapping,
        now: Nanos,
        active: bool,
        clear: bool,
        value: f32,
    ) -> Option<Transition> {
        let onset = active && !self.in_event;
        if active || clear {
            self.in_event = active;
        }
        match self.phase {
            Phase::Clear if active => {
                self.phase = Phase::Pending { since: now };
                self.fire_if_due(rule, timing, flapping, now, now, value)
            }
            Phase::Clear => None,
            Phase::Pending { since } if active => {
                self.fire_if_due(rule, timing, flapping, since, now, value)
            }
            Phase::Pending { .. } => {
                self.phase = Phase::Clear;
                None
            }
            Phase::Firing { clear_since } => {
                if !clear {
                    self.phase = Phase::Firing { clear_since: None };
                    return self.count(rule, now, active, onset, value);
                }
                let since = clear_since.unwrap_or(now);
                let needed = if self.collapsed {
                    timing.clear_s.max(flapping.window_s)
                } else {
                    timing.clear_s
                };
                if now - since >= secs(f64::from(needed)) {
                    self.phase = Phase::Clear;
                    self.collapsed = false;
                    Some(Transition::Resolve)
                } else {
                    self.phase = Phase::Firing {
                        clear_since: Some(since),
                    };
                    None
                }
            }
        }
    }

    /// An observation inside the open alert: a new onset is one more event (reported at
    /// once), a worse value during an event is kept (reported before the resolve).
    fn count(
        &mut self,
        rule: RuleKind,
        now: Nanos,
        active: bool,
        onset: bool,
        value: f32,
    ) -> Option<Transition> {
        if onset {
            self.episode.add(rule, now, value);
            self.unreported = false;
            return Some(Transition::Episode(self.episode));
        }
        if active {
            self.worsen(rule, value);
        }
        None
    }

    fn fire_if_due(
        &mut self,
        rule: RuleKind,
        timing: Timing,
        flapping: &Flapping,
        since: Nanos,
        now: Nanos,
        value: f32,
    ) -> Option<Transition> {
        if now - since < secs(f64::from(timing.for_s)) {
            return None;
        }
        self.phase = Phase::Firing { clear_since: None };
        self.fires[self.next_fire] = now;
        self.next_fire = (self.next_fire + 1) % FIRES_KEPT;
        let window_start = now - secs(f64::from(flapping.window_s));
        let recent = self.fires.iter().filter(|&&t| t >= window_start).count();
        self.collapsed =
            rule.info().held_open_when_flapping && recent >= usize::from(flapping.fires);
        self.episode = Episode::first(now, value);
        self.unreported = false;
        Some(Transition::Fire {
            started_ns: since,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;
    const T: Timing = Timing {
        for_s: 2.0,
        clear_s: 5.0,
    };
    const T0: Timing = Timing {
        for_s: 0.0,
        clear_s: 10.0,
    };

    fn flap() -> Flapping {
        Flapping {
            fires: 3,
            window_s: 120.0,
        }
    }

    fn feed(r: &mut ConditionState, at_s: i64, active: bool) -> Option<Transition> {
        r.observe(RuleKind::Noise, T, &flap(), at_s * S, active, !active, 1.0)
    }

    #[test]
    fn fires_after_the_onset_delay_and_resolves_after_clear_time() {
        let mut r = ConditionState::default();
        assert_eq!(feed(&mut r, 0, true), None);
        assert!(matches!(
            feed(&mut r, 2, true),
            Some(Transition::Fire { started_ns: 0, .. })
        ));
        assert_eq!(feed(&mut r, 3, false), None);
        assert_eq!(feed(&mut r, 7, false), None);
        assert_eq!(feed(&mut r, 8, false), Some(Transition::Resolve));
    }

    #[test]
    fn inside_the_hysteresis_band_the_alert_stays_open() {
        let mut r = ConditionState::firing(Episode::default());
        for t in 0..30 {
            // Neither active nor clear: in the band.
            assert_eq!(
                r.observe(RuleKind::Noise, T, &flap(), t * S, false, false, 1.0),
                None
            );
        }
    }

    #[test]
    fn a_flapping_rule_collapses_into_one_open_alert() {
        let mut r = ConditionState::default();
        let mut fires = 0;
        let mut resolves = 0;
        let mut episode = None;
        // On 3 s, off 7 s, for 100 s: without collapse that is 10 alerts.
        for t in 0..100 {
            match feed(&mut r, t, t % 10 < 3) {
                Some(Transition::Fire { .. }) => fires += 1,
                Some(Transition::Resolve) => resolves += 1,
                Some(Transition::Episode(e)) => episode = Some(e),
                None => {}
            }
        }
        assert_eq!(fires, 3, "the third fire is held open");
        assert_eq!(resolves, 2);
        // The collapsed alert counts the 7 onsets after its fire, not one stale alert.
        assert_eq!(episode.map(|e| e.count), Some(8));
        assert!(r.is_firing() && r.is_collapsed());
        // Quiet for the whole window: it resolves once.
        let mut resolved_at = None;
        for t in 100..400 {
            if feed(&mut r, t, false) == Some(Transition::Resolve) {
                resolved_at = Some(t);
                break;
            }
        }
        let at = resolved_at.expect("resolves after a quiet window");
        assert!(
            at >= 100 + 120 - 10,
            "held for the flapping window, resolved at {at}"
        );
    }

    #[test]
    fn every_event_inside_an_open_alert_is_counted_with_its_worst_value() {
        let pause = |r: &mut ConditionState, at_s: i64, rr: f32| {
            let long = rr > 3.0;
            r.observe(RuleKind::Pause, T0, &flap(), at_s * S, long, !long, rr)
        };
        let mut r = ConditionState::default();
        assert!(matches!(
            pause(&mut r, 0, 3.2),
            Some(Transition::Fire { .. })
        ));
        let mut last = None;
        // 16 more pauses, each between normal beats, none long enough apart to resolve.
        for k in 1..=16 {
            assert_eq!(pause(&mut r, 4 * k - 1, 0.8), None);
            let rr = if k == 9 { 5.7 } else { 3.4 };
            last = pause(&mut r, 4 * k, rr);
            assert!(
                matches!(last, Some(Transition::Episode(_))),
                "pause {k}: {last:?}"
            );
        }
        let Some(Transition::Episode(e)) = last else {
            panic!("episode")
        };
        assert_eq!(
            (e.count, e.first_ns, e.last_ns, e.worst),
            (17, 0, 64 * S, 5.7)
        );
        assert_eq!(r.take_unreported(), None, "every change was reported");
    }

    #[test]
    fn a_worse_value_during_one_event_is_kept_for_the_resolve() {
        let mut r = ConditionState::default();
        let low = |r: &mut ConditionState, at_s: i64, bpm: f32| {
            r.observe(
                RuleKind::HrLow,
                T0,
                &flap(),
                at_s * S,
                bpm < 40.0,
                bpm > 45.0,
                bpm,
            )
        };
        assert!(matches!(
            low(&mut r, 0, 38.0),
            Some(Transition::Fire { .. })
        ));
        assert_eq!(low(&mut r, 1, 39.0), None, "not worse");
        assert_eq!(low(&mut r, 2, 31.0), None, "worse, within the same event");
        let e = r.take_unreported().expect("changed");
        assert_eq!((e.count, e.worst), (1, 31.0));
        assert_eq!(r.take_unreported(), None);
    }
}
