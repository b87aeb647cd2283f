//! The fall alarm and the stale-numerics technical alarm (docs/vitals.md, "Falls and
//! stale numerics"), through the same lifecycle as every rule (`RuleBank`).
//!
//! * **Fall**: a fall event is an instant. It fires at once (the device already decided
//!   it was a fall) and is clear from that instant on, so the alert resolves `clear_s`
//!   after the last fall, judged on the patient's later numerics, and a second fall while
//!   it is open is one more event of it ("2 falls"), not a second page.
//! * **Stale numerics**: a sensor that gave a valid reading and then sends nothing at all
//!   (no reading, no status) for its kind's limit. Silence is measured on the clock the
//!   numerics are *received* on (the engine's wall clock live; the readings' own time in
//!   a replay), since a sensor that stopped sends no time of its own. A sensor that
//!   reports itself off is still reporting: that is `sensor_off`'s alarm, not this one.

use crate::monitor::RuleEvent;
use crate::rule_bank::RuleBank;
use cw_core::time::{Nanos, secs};
use cw_core::vital_alarms::StaleNumericsRule;
use cw_core::{RuleKind, Site, ThresholdPolicy, VitalKind, VitalReading, VitalStatus};
use std::collections::HashMap;

/// When each watched sensor was last heard, on the receipt clock.
#[derive(Clone, Debug, Default)]
pub struct SensorClock {
    heard: HashMap<(VitalKind, Site), Nanos>,
}

impl SensorClock {
    /// Whether a sensor can go stale: a fall is an event, not a stream, and a cuff
    /// measures when the bedside interval says (minutes to hours apart), so neither's
    /// silence means a sensor stopped.
    fn watched(kind: VitalKind, site: Site) -> bool {
        StaleNumericsRule::watches(kind) && site != Site::Cuff
    }

    /// `r` was received at `at`. A sensor is watched from its first valid reading on;
    /// after that any status counts as hearing from it.
    pub(crate) fn heard(&mut self, r: &VitalReading, at: Nanos) {
        let key = (r.kind, r.site);
        if !Self::watched(r.kind, r.site) {
            return;
        }
        match self.heard.get_mut(&key) {
            Some(last) => *last = (*last).max(at),
            None if r.status == VitalStatus::Valid => {
                self.heard.insert(key, at);
            }
            None => {}
        }
    }

    /// The longest silence (s) of a sensor past its limit at `now`, if any is.
    fn stale_s(&self, rule: &StaleNumericsRule, now: Nanos) -> Option<f32> {
        self.heard
            .iter()
            .filter_map(|((kind, _), last)| {
                let silent = now.saturating_sub(*last);
                (silent >= secs(f64::from(rule.after_s(*kind)))).then_some(silent)
            })
            .max()
            .map(|ns| ns as f32 / 1e9)
    }

    /// Sensors stale now.
    pub fn stale(&self, rule: &StaleNumericsRule, now: Nanos) -> usize {
        self.heard
            .iter()
            .filter(|((kind, _), last)| {
                now.saturating_sub(**last) >= secs(f64::from(rule.after_s(*kind)))
            })
            .count()
    }
}

impl RuleBank {
    /// The fall rule on one reading (any kind): a fall fires and is clear from its
    /// instant; every later reading is clear time.
    pub(crate) fn on_fall(
        &mut self,
        policy: &ThresholdPolicy,
        r: &VitalReading,
        events: &mut Vec<RuleEvent>,
    ) {
        if policy.fall.is_none() {
            return;
        }
        let rule = RuleKind::Fall;
        let fell = r.kind == VitalKind::Fall && r.status == VitalStatus::Valid;
        if fell {
            self.observe_timed(policy, rule, None, r.time_ns, (true, false), 1.0, events);
        }
        self.observe_timed(policy, rule, None, r.time_ns, (false, true), 1.0, events);
    }

    /// The stale-numerics rule at `now` on the receipt clock.
    pub(crate) fn on_stale_check(
        &mut self,
        policy: &ThresholdPolicy,
        clock: &SensorClock,
        now: Nanos,
        events: &mut Vec<RuleEvent>,
    ) {
        let Some(rule) = &policy.stale_numerics else {
            return;
        };
        let stale = clock.stale_s(rule, now);
        let condition = (stale.is_some(), stale.is_none());
        let value = stale.unwrap_or(0.0);
        let kind = RuleKind::StaleNumerics;
        self.observe_timed(policy, kind, None, now, condition, value, events);
    }
}

#[cfg(test)]
mod tests {
    use crate::PatientMonitor;
    use crate::latest_vitals::reading_at as at;
    use crate::monitor::RuleEvent;
    use cw_core::time::NANOS_PER_SEC;
    use cw_core::vital_alarms::{FallRule, StaleNumericsRule};
    use cw_core::{PatientId, Priority, RuleKind, Site, ThresholdPolicy, VitalKind};

    const S: i64 = NANOS_PER_SEC;

    fn monitor() -> PatientMonitor {
        let p = PatientId::parse("p").expect("valid");
        PatientMonitor::new(ThresholdPolicy {
            news2: None,
            ..ThresholdPolicy::empty(p).with_recommended_vitals()
        })
    }

    fn kinds(events: Vec<RuleEvent>) -> Vec<(char, RuleKind)> {
        events
            .into_iter()
            .map(|e| match e {
                RuleEvent::Fire { rule, .. } => ('F', rule),
                RuleEvent::Resolve { rule, .. } => ('R', rule),
                RuleEvent::Episode { rule, .. } => ('E', rule),
            })
            .collect()
    }

    fn spo2(t_s: i64) -> cw_core::VitalReading {
        at(t_s, VitalKind::Spo2, Site::Unspecified, Some(97.0))
    }

    fn fall(t_s: i64) -> cw_core::VitalReading {
        at(t_s, VitalKind::Fall, Site::Unspecified, Some(1.0))
    }

    #[test]
    fn a_fall_fires_at_once_counts_a_second_fall_and_resolves_its_clear_time_after_the_last() {
        let mut m = monitor();
        assert_eq!(
            m.policy().rule(RuleKind::Fall).map(|r| r.priority),
            Some(Priority::High)
        );
        assert_eq!(kinds(m.on_vitals(&[spo2(0)])), vec![]);
        assert_eq!(
            kinds(m.on_vitals(&[fall(1)])),
            vec![('F', RuleKind::Fall)],
            "no hold"
        );
        assert_eq!(kinds(m.on_vitals(&[spo2(100)])), vec![]);
        assert_eq!(
            kinds(m.on_vitals(&[fall(200)])),
            vec![('E', RuleKind::Fall)],
            "the second fall is an event of the open alert"
        );
        let clear_s = FallRule::default().clear_s as i64;
        assert_eq!(kinds(m.on_vitals(&[spo2(200 + clear_s - 1)])), vec![]);
        assert_eq!(
            kinds(m.on_vitals(&[spo2(200 + clear_s)])),
            vec![('R', RuleKind::Fall)]
        );
    }

    #[test]
    fn a_sensor_that_stops_reporting_is_stale_until_it_reports_again() {
        let mut m = monitor();
        let after_s = StaleNumericsRule::default().after_s as i64;
        let rr = |t| at(t, VitalKind::RespirationRate, Site::Unspecified, Some(16.0));
        assert_eq!(kinds(m.on_vitals(&[spo2(0), rr(0)])), vec![]);
        // Respiration goes on, SpO2 stops: stale at its limit, on the receipt clock.
        assert_eq!(kinds(m.on_vitals_received(&[rr(60)], 60 * S)), vec![]);
        assert_eq!(kinds(m.on_vitals_clock((after_s - 1) * S)), vec![]);
        assert_eq!(
            kinds(m.on_vitals_clock(after_s * S)),
            vec![('F', RuleKind::StaleNumerics)]
        );
        assert_eq!(m.stale_sensors(after_s * S), 1);
        // A sensor-off status is hearing from the sensor: the stale alarm clears (and
        // sensor_off takes over after its hold).
        let off = at(after_s + 1, VitalKind::Spo2, Site::Unspecified, None);
        assert_eq!(
            kinds(m.on_vitals_received(&[off], (after_s + 1) * S)),
            vec![('R', RuleKind::StaleNumerics)]
        );
    }

    #[test]
    fn a_kind_s_own_limit_applies_and_a_channel_that_never_read_or_a_cuff_is_not_watched() {
        let p = PatientId::parse("p").expect("valid");
        let mut stale = StaleNumericsRule::default();
        stale.kinds.insert(VitalKind::Spo2, 10.0);
        let mut m = PatientMonitor::new(ThresholdPolicy {
            stale_numerics: Some(stale),
            ..ThresholdPolicy::empty(p)
        });
        let line = at(0, VitalKind::Systolic, Site::Arterial, None);
        let cuff = at(0, VitalKind::Systolic, Site::Cuff, Some(120.0));
        assert_eq!(kinds(m.on_vitals(&[line, cuff, fall(0)])), vec![]);
        assert_eq!(kinds(m.on_vitals_clock(3_000 * S)), vec![], "none watched");
        assert_eq!(
            kinds(m.on_vitals_received(&[spo2(3_000)], 3_000 * S)),
            vec![]
        );
        assert_eq!(
            kinds(m.on_vitals_clock(3_010 * S)),
            vec![('F', RuleKind::StaleNumerics)],
            "SpO2's own 10 s"
        );
    }

    #[test]
    fn remembered_sensors_get_a_fresh_window_from_the_takeover() {
        let mut m = monitor();
        let after_s = StaleNumericsRule::default().after_s as i64;
        m.remember_vitals(&[spo2(0)], 1_000 * S);
        assert_eq!(kinds(m.on_vitals_clock((1_000 + after_s - 1) * S)), vec![]);
        assert_eq!(
            kinds(m.on_vitals_clock((1_000 + after_s) * S)),
            vec![('F', RuleKind::StaleNumerics)]
        );
    }
}
