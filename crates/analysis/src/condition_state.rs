//! The per-(patient, rule) alarm lifecycle for any rule expressed as two booleans: the
//! condition is `active` (crossing the limit) or `clear` (back past the hysteresis band).
//! Pending for `for_s`, firing, resolved after `clear_s` of clear; a rule that keeps
//! flapping (fired `fires` times within the window) keeps its alert open until it has been
//! clear for the whole window, so one episode is one alert. Pure: the monitor feeds it
//! conditions and acts on the transitions it returns.

use cw_core::rules::{Flapping, Timing};
use cw_core::time::{Nanos, secs};

/// Fire times remembered for flapping detection (the policy allows at most 8 fires; kept
/// small because every patient has one of these per rule).
const FIRES_KEPT: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transition {
    /// The condition lasted the onset delay: raise the alert.
    Fire { started_ns: Nanos, value: f32 },
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
}

impl Default for ConditionState {
    fn default() -> Self {
        Self {
            phase: Phase::Clear,
            fires: [Nanos::MIN; FIRES_KEPT],
            next_fire: 0,
            collapsed: false,
        }
    }
}

impl ConditionState {
    /// A state with an open alert (rebuilt from the store after a restart).
    pub fn firing() -> Self {
        Self {
            phase: Phase::Firing { clear_since: None },
            ..Self::default()
        }
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
    }

    /// Feeds the condition observed at `now`. `value` is what the alert reports.
    pub fn observe(
        &mut self,
        timing: Timing,
        flapping: &Flapping,
        now: Nanos,
        active: bool,
        clear: bool,
        value: f32,
    ) -> Option<Transition> {
        match self.phase {
            Phase::Clear if active => {
                self.phase = Phase::Pending { since: now };
                self.fire_if_due(timing, flapping, now, now, value)
            }
            Phase::Clear => None,
            Phase::Pending { since } if active => {
                self.fire_if_due(timing, flapping, since, now, value)
            }
            Phase::Pending { .. } => {
                self.phase = Phase::Clear;
                None
            }
            Phase::Firing { clear_since } => {
                if !clear {
                    self.phase = Phase::Firing { clear_since: None };
                    return None;
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

    fn fire_if_due(
        &mut self,
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
        self.collapsed = recent >= usize::from(flapping.fires);
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

    fn flap() -> Flapping {
        Flapping {
            fires: 3,
            window_s: 120.0,
        }
    }

    fn feed(r: &mut ConditionState, at_s: i64, active: bool) -> Option<Transition> {
        r.observe(T, &flap(), at_s * S, active, !active, 1.0)
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
        let mut r = ConditionState::firing();
        for t in 0..30 {
            // Neither active nor clear: in the band.
            assert_eq!(r.observe(T, &flap(), t * S, false, false, 1.0), None);
        }
    }

    #[test]
    fn a_flapping_rule_collapses_into_one_open_alert() {
        let mut r = ConditionState::default();
        let mut fires = 0;
        let mut resolves = 0;
        // On 3 s, off 7 s, for 100 s: without collapse that is 10 alerts.
        for t in 0..100 {
            match feed(&mut r, t, t % 10 < 3) {
                Some(Transition::Fire { .. }) => fires += 1,
                Some(Transition::Resolve) => resolves += 1,
                None => {}
            }
        }
        assert_eq!(fires, 3, "the third fire is held open");
        assert_eq!(resolves, 2);
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
}
