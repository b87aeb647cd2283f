//! The per-(patient, rule) alarm state machine: pending for the onset delay, firing,
//! then resolved once the value has been back inside the hysteresis band long enough.
//! Pure: the engine feeds it values and acts on the transitions it returns.

use crate::HrLimit;
use crate::time::{Nanos, secs};

/// Which side of the limit is the alarm side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Above,
    Below,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Clear,
    /// Crossing since `since`; fires once it lasted `for_s`.
    Pending {
        since: Nanos,
    },
    /// Fired; `clear_since` is set while the value is back inside the hysteresis band.
    Firing {
        clear_since: Option<Nanos>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transition {
    /// The crossing lasted the onset delay: raise the alert.
    Fire { started_ns: Nanos, value: f32 },
    /// Clear for the hysteresis time: resolve the open alert.
    Resolve,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleState {
    direction: Direction,
    phase: Phase,
}

impl RuleState {
    pub fn new(direction: Direction) -> Self {
        Self {
            direction,
            phase: Phase::Clear,
        }
    }

    /// A state that already has an open alert (rebuilt from the store after a restart,
    /// so the engine resolves it instead of raising a duplicate).
    pub fn firing(direction: Direction) -> Self {
        Self {
            direction,
            phase: Phase::Firing { clear_since: None },
        }
    }

    pub fn is_firing(&self) -> bool {
        matches!(self.phase, Phase::Firing { .. })
    }

    /// Feeds one value observed at `now`.
    pub fn observe(&mut self, limit: &HrLimit, now: Nanos, value: f32) -> Option<Transition> {
        let (crossing, clear) = match self.direction {
            Direction::Above => (value > limit.bpm, value < limit.bpm - limit.hysteresis_bpm),
            Direction::Below => (value < limit.bpm, value > limit.bpm + limit.hysteresis_bpm),
        };
        match self.phase {
            Phase::Clear if crossing => {
                self.phase = Phase::Pending { since: now };
                self.fire_if_due(limit, now, now, value)
            }
            Phase::Clear => None,
            Phase::Pending { since } if crossing => self.fire_if_due(limit, since, now, value),
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
                if now - since >= secs(f64::from(limit.clear_s)) {
                    self.phase = Phase::Clear;
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

    /// The rule was removed or the alert resolved elsewhere: start over.
    pub fn reset(&mut self) {
        self.phase = Phase::Clear;
    }

    fn fire_if_due(
        &mut self,
        limit: &HrLimit,
        since: Nanos,
        now: Nanos,
        value: f32,
    ) -> Option<Transition> {
        if now - since >= secs(f64::from(limit.for_s)) {
            self.phase = Phase::Firing { clear_since: None };
            Some(Transition::Fire {
                started_ns: since,
                value,
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Priority;

    const S: Nanos = 1_000_000_000;

    fn limit() -> HrLimit {
        HrLimit {
            bpm: 100.0,
            priority: Priority::High,
            for_s: 5.0,
            hysteresis_bpm: 5.0,
            clear_s: 10.0,
        }
    }

    #[test]
    fn fires_only_after_the_onset_delay() {
        let mut r = RuleState::new(Direction::Above);
        assert_eq!(r.observe(&limit(), 0, 110.0), None);
        assert_eq!(r.observe(&limit(), 4 * S, 110.0), None);
        assert_eq!(
            r.observe(&limit(), 5 * S, 112.0),
            Some(Transition::Fire {
                started_ns: 0,
                value: 112.0
            })
        );
    }

    #[test]
    fn a_short_crossing_never_fires() {
        let mut r = RuleState::new(Direction::Above);
        r.observe(&limit(), 0, 110.0);
        assert_eq!(r.observe(&limit(), 2 * S, 90.0), None);
        assert_eq!(r.observe(&limit(), 6 * S, 110.0), None);
    }

    #[test]
    fn zero_onset_delay_fires_at_once() {
        let mut r = RuleState::new(Direction::Below);
        let l = HrLimit {
            for_s: 0.0,
            ..limit()
        };
        assert!(matches!(
            r.observe(&l, 0, 40.0),
            Some(Transition::Fire { .. })
        ));
    }

    #[test]
    fn resolves_only_when_clear_of_the_hysteresis_band_for_clear_s() {
        let mut r = RuleState::firing(Direction::Above);
        // Inside the band (97 is not < 95): stays firing however long.
        assert_eq!(r.observe(&limit(), 0, 97.0), None);
        assert_eq!(r.observe(&limit(), 20 * S, 97.0), None);
        assert_eq!(r.observe(&limit(), 21 * S, 90.0), None);
        assert_eq!(r.observe(&limit(), 30 * S, 90.0), None);
        assert_eq!(r.observe(&limit(), 31 * S, 90.0), Some(Transition::Resolve));
        assert!(!r.is_firing());
    }

    #[test]
    fn a_relapse_restarts_the_clear_timer() {
        let mut r = RuleState::firing(Direction::Above);
        r.observe(&limit(), 0, 90.0);
        r.observe(&limit(), 9 * S, 120.0);
        assert_eq!(r.observe(&limit(), 12 * S, 90.0), None);
        assert_eq!(r.observe(&limit(), 21 * S, 90.0), None);
        assert_eq!(r.observe(&limit(), 22 * S, 90.0), Some(Transition::Resolve));
    }
}
