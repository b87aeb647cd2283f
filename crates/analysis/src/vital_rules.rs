//! The vital-sign rules (docs/vitals.md, "Rules"): each numeric reading judged against the
//! patient's limits on that numeric, through the same lifecycle state machines as the ECG
//! rules (`RuleBank`: hold, hysteresis, clear, flapping, episodes), on the readings' own
//! time. A sensor-off or unreliable value is no reading: it holds the clinical rules of its
//! numeric (neither crossing nor clear, so a pending one restarts and an open alert stays
//! open), and a sensor-off one raises the technical `sensor_off` alarm instead.

use crate::latest_vitals::LatestVitals;
use crate::monitor::RuleEvent;
use crate::rule_bank::RuleBank;
use crate::vital_alarms::SensorClock;
use cw_core::rules::Timing;
use cw_core::vital_rules::VITAL_LIMITS;
use cw_core::{RuleKind, Site, ThresholdPolicy, VitalKind, VitalReading, VitalStatus};
use std::collections::HashMap;

/// What the analysis knows of a patient's numerics.
#[derive(Clone, Debug, Default)]
pub struct VitalState {
    latest: LatestVitals,
    /// Per sensor (numeric and site), whether it is off now. A sensor enters once it gave
    /// a valid reading: a channel that never did (a module with nothing plugged in) is not
    /// a probe that came off.
    sensors: HashMap<(VitalKind, Site), bool>,
    /// When each sensor was last heard, for the stale-numerics alarm (`vital_alarms.rs`).
    pub(crate) clock: SensorClock,
}

impl VitalState {
    /// The latest valid value of each numeric.
    pub fn latest(&self) -> &LatestVitals {
        &self.latest
    }

    /// Sensors off now (that gave a valid reading before).
    pub fn sensors_off(&self) -> usize {
        self.sensors.values().filter(|off| **off).count()
    }

    /// Takes one reading or status into the latest values and sensor states, judging
    /// nothing (the rules call it first; a warm-up alone, `PatientMonitor::remember_vitals`).
    pub(crate) fn note(&mut self, r: &VitalReading) {
        self.latest.observe(r);
        let key = (r.kind, r.site);
        match r.status {
            VitalStatus::Valid => {
                self.sensors.insert(key, false);
            }
            // Attached, but its value cannot be trusted: not off.
            VitalStatus::Unreliable => {
                if let Some(off) = self.sensors.get_mut(&key) {
                    *off = false;
                }
            }
            VitalStatus::SensorOff => {
                if let Some(off) = self.sensors.get_mut(&key) {
                    *off = true;
                }
            }
        }
    }
}

impl RuleBank {
    /// One numeric reading (or sensor status), at its own time.
    pub(crate) fn on_vital(
        &mut self,
        policy: &ThresholdPolicy,
        state: &mut VitalState,
        r: &VitalReading,
        events: &mut Vec<RuleEvent>,
    ) {
        state.note(r);
        self.on_fall(policy, r, events);
        for limit in VITAL_LIMITS.iter().filter(|l| l.kind == r.kind) {
            let Some(setting) = policy.vital_limit(limit.rule) else {
                continue;
            };
            let (VitalStatus::Valid, Some(value)) = (r.status, r.value) else {
                self.hold(policy, limit.rule, r.time_ns);
                continue;
            };
            let (active, clear) = limit.judge(setting, value);
            let timing = if r.site == Site::Cuff {
                // A cuff reading is one deliberate measurement, minutes from the next:
                // holding for a second one would delay the alarm by the cuff interval.
                Timing::immediate(0.0)
            } else {
                setting.row().timing
            };
            self.observe_timed(
                policy,
                limit.rule,
                Some(timing),
                r.time_ns,
                (active, clear),
                value,
                events,
            );
        }
        if policy.sensor_off.is_some() {
            let off = state.sensors_off();
            self.observe_timed(
                policy,
                RuleKind::SensorOff,
                None,
                r.time_ns,
                (off > 0, off == 0),
                off as f32,
                events,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::PatientMonitor;
    use crate::monitor::RuleEvent;
    use cw_core::{PatientId, RuleKind, Site, ThresholdPolicy, VitalKind, VitalReading};

    /// The shipped vital-sign rules without NEWS2 escalation (`news2_escalation.rs`).
    fn monitor() -> PatientMonitor {
        let p = PatientId::parse("p").expect("valid");
        PatientMonitor::new(ThresholdPolicy {
            news2: None,
            ..ThresholdPolicy::empty(p).with_recommended_vitals()
        })
    }

    use crate::latest_vitals::reading_at as at;

    fn spo2(t_s: i64, value: Option<f32>) -> VitalReading {
        at(t_s, VitalKind::Spo2, Site::Unspecified, value)
    }

    /// Feeds one reading per call; the rules and kinds of what fired and resolved.
    fn feed(m: &mut PatientMonitor, readings: &[VitalReading]) -> Vec<(char, RuleKind)> {
        readings
            .iter()
            .flat_map(|r| m.on_vitals(std::slice::from_ref(r)))
            .filter_map(|e| match e {
                RuleEvent::Fire { rule, .. } => Some(('F', rule)),
                RuleEvent::Resolve { rule, .. } => Some(('R', rule)),
                RuleEvent::Episode { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_dip_shorter_than_the_hold_is_no_alarm_a_lasting_one_is() {
        let mut m = monitor();
        let dip: Vec<_> = [(0, 97.0), (1, 86.0), (10, 85.0), (14, 96.0), (20, 97.0)]
            .into_iter()
            .map(|(t, v)| spo2(t, Some(v)))
            .collect();
        assert_eq!(feed(&mut m, &dip), vec![], "13 s under 90 % < 15 s hold");
        let lasting: Vec<_> = (30..50).map(|t| spo2(t, Some(87.0))).collect();
        assert_eq!(feed(&mut m, &lasting), vec![('F', RuleKind::Spo2Low)]);
        // Back above 90 + 2 % hysteresis for the 30 s clear time: resolved.
        let back: Vec<_> = (50..90).map(|t| spo2(t, Some(95.0))).collect();
        assert_eq!(feed(&mut m, &back), vec![('R', RuleKind::Spo2Low)]);
    }

    #[test]
    fn probe_off_is_a_technical_alarm_and_never_a_desaturation() {
        let mut m = monitor();
        assert_eq!(feed(&mut m, &[spo2(0, Some(97.0))]), vec![]);
        // Off for a minute: no reading, so SpO2 low cannot fire; sensor_off does after
        // its hold.
        let off: Vec<_> = (1..60).map(|t| spo2(t, None)).collect();
        assert_eq!(feed(&mut m, &off), vec![('F', RuleKind::SensorOff)]);
        assert!(!m.is_firing(RuleKind::Spo2Low));
        assert_eq!(m.vitals().sensors_off(), 1);
        let on: Vec<_> = (60..80).map(|t| spo2(t, Some(97.0))).collect();
        assert_eq!(feed(&mut m, &on), vec![('R', RuleKind::SensorOff)]);
    }

    #[test]
    fn a_channel_that_never_read_is_not_a_probe_off_and_an_open_alarm_waits_for_a_reading() {
        let mut m = monitor();
        let line = |t| at(t, VitalKind::Systolic, Site::Arterial, None);
        assert_eq!(feed(&mut m, &(0..60).map(line).collect::<Vec<_>>()), vec![]);
        // A desaturation alarm stays open while the probe is off: nobody knows it ended.
        let low: Vec<_> = (100..120).map(|t| spo2(t, Some(85.0))).collect();
        assert_eq!(feed(&mut m, &low), vec![('F', RuleKind::Spo2Low)]);
        let off: Vec<_> = (120..200).map(|t| spo2(t, None)).collect();
        assert_eq!(feed(&mut m, &off), vec![('F', RuleKind::SensorOff)]);
        assert!(m.is_firing(RuleKind::Spo2Low));
    }

    #[test]
    fn apnea_fires_at_its_limit_without_a_hold_and_a_low_battery_is_technical() {
        let mut m = monitor();
        let breath = |t, s| at(t, VitalKind::SinceLastBreath, Site::Unspecified, Some(s));
        let quiet: Vec<_> = (0..25).map(|t| breath(t, t as f32)).collect();
        assert_eq!(feed(&mut m, &quiet), vec![('F', RuleKind::Apnea)]);
        assert_eq!(
            m.policy().rule(RuleKind::Apnea).map(|r| r.priority),
            Some(cw_core::Priority::High)
        );
        // Breathing again (a breath within the last 5 s) for the 30 s clear time.
        let breathing: Vec<_> = (26..60).map(|t| breath(t, 2.0)).collect();
        assert_eq!(feed(&mut m, &breathing), vec![('R', RuleKind::Apnea)]);
        let battery = |t, v| at(t, VitalKind::Battery, Site::Unspecified, Some(v));
        assert_eq!(
            feed(&mut m, &[battery(100, 40.0), battery(160, 18.0)]),
            vec![('F', RuleKind::BatteryLow)]
        );
        assert!(RuleKind::BatteryLow.is_technical());
    }

    #[test]
    fn a_cuff_reading_fires_and_clears_on_its_own() {
        let mut m = monitor();
        let cuff = |t, v| at(t, VitalKind::Systolic, Site::Cuff, Some(v));
        assert_eq!(
            feed(&mut m, &[cuff(0, 85.0)]),
            vec![('F', RuleKind::SystolicLow)],
            "no second reading 15 min later needed"
        );
        assert_eq!(
            feed(&mut m, &[cuff(900, 118.0)]),
            vec![('R', RuleKind::SystolicLow)]
        );
    }
}
