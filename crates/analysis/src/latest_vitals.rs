//! The latest valid value of each vital sign, as NEWS2 and the vital-sign rules read
//! them: a reading older than the caller's age limit no longer counts (a score must not
//! rest on an hour-old respiration rate), and a sensor-off or unreliable status never
//! replaces a value — it is no reading (docs/vitals.md).

use crate::news2::{Consciousness, News2Inputs};
use cw_core::time::Nanos;
use cw_core::{Site, VitalKind, VitalReading, VitalStatus};
use std::collections::HashMap;

/// Per kind and site: the newest valid reading seen.
#[derive(Clone, Debug, Default)]
pub struct LatestVitals {
    valid: HashMap<(VitalKind, Site), (Nanos, f32)>,
}

/// What the patient's record adds to the numerics for NEWS2: neither is measured by a
/// wearable.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClinicalEntries {
    pub on_oxygen: Option<bool>,
    pub consciousness: Option<Consciousness>,
}

impl LatestVitals {
    /// Takes one reading; readings may come out of order (resends), so an older one never
    /// replaces a newer one.
    pub fn observe(&mut self, r: &VitalReading) {
        let (VitalStatus::Valid, Some(value)) = (r.status, r.value) else {
            return;
        };
        let slot = self
            .valid
            .entry((r.kind, r.site))
            .or_insert((r.time_ns, value));
        if r.time_ns >= slot.0 {
            *slot = (r.time_ns, value);
        }
    }

    /// The newest valid value of `kind` over all its sites, if it is no older than
    /// `max_age_ns` at `now`.
    pub fn latest(&self, kind: VitalKind, now: Nanos, max_age_ns: Nanos) -> Option<(Nanos, f32)> {
        Site::ALL
            .iter()
            .filter_map(|site| self.valid.get(&(kind, *site)))
            .filter(|(at, _)| now.saturating_sub(*at) <= max_age_ns)
            .max_by_key(|(at, _)| *at)
            .copied()
    }

    /// NEWS2's inputs from the latest valid values no older than `max_age_ns`. Pulse is
    /// the oximeter's pulse rate, else `heart_rate_bpm` (the ECG's, when the caller has
    /// it).
    pub fn news2_inputs(
        &self,
        now: Nanos,
        max_age_ns: Nanos,
        heart_rate_bpm: Option<f64>,
        entries: ClinicalEntries,
    ) -> News2Inputs {
        let value = |kind| {
            self.latest(kind, now, max_age_ns)
                .map(|(_, v)| f64::from(v))
        };
        News2Inputs {
            respiration_per_min: value(VitalKind::RespirationRate),
            spo2_pct: value(VitalKind::Spo2),
            on_oxygen: entries.on_oxygen,
            systolic_mmhg: value(VitalKind::Systolic),
            pulse_per_min: value(VitalKind::PulseRate).or(heart_rate_bpm),
            consciousness: entries.consciousness,
            temperature_c: value(VitalKind::Temperature),
        }
    }
}

/// A reading `t_s` seconds in: valid with `value`, sensor-off without one. Shared by the
/// vital-sign tests of this crate (here and `vital_rules.rs`).
#[cfg(test)]
pub(crate) fn reading_at(
    t_s: i64,
    kind: VitalKind,
    site: Site,
    value: Option<f32>,
) -> VitalReading {
    VitalReading {
        time_ns: t_s * cw_core::time::NANOS_PER_SEC,
        kind,
        site,
        status: if value.is_some() {
            VitalStatus::Valid
        } else {
            VitalStatus::SensorOff
        },
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::reading_at as r;
    use super::*;
    use crate::news2::{Response, Spo2Scale, score};

    const S: Nanos = 1_000_000_000;

    #[test]
    fn a_sensor_off_status_does_not_replace_the_last_reading_and_old_ones_expire() {
        let mut v = LatestVitals::default();
        v.observe(&r(10, VitalKind::Spo2, Site::Unspecified, Some(95.0)));
        v.observe(&r(11, VitalKind::Spo2, Site::Unspecified, None));
        assert_eq!(
            v.latest(VitalKind::Spo2, 12 * S, 5 * S),
            Some((10 * S, 95.0))
        );
        assert_eq!(v.latest(VitalKind::Spo2, 16 * S, 5 * S), None, "too old");
    }

    #[test]
    fn an_older_resend_does_not_replace_a_newer_reading_and_sites_compete_by_time() {
        let mut v = LatestVitals::default();
        v.observe(&r(20, VitalKind::Systolic, Site::Cuff, Some(140.0)));
        v.observe(&r(10, VitalKind::Systolic, Site::Cuff, Some(100.0)));
        assert_eq!(
            v.latest(VitalKind::Systolic, 20 * S, 60 * S),
            Some((20 * S, 140.0))
        );
        v.observe(&r(30, VitalKind::Systolic, Site::Arterial, Some(95.0)));
        assert_eq!(
            v.latest(VitalKind::Systolic, 30 * S, 60 * S),
            Some((30 * S, 95.0))
        );
    }

    #[test]
    fn news2_inputs_take_the_latest_values_and_fall_back_to_the_ecg_rate() {
        let mut v = LatestVitals::default();
        v.observe(&r(
            0,
            VitalKind::RespirationRate,
            Site::Unspecified,
            Some(26.0),
        ));
        v.observe(&r(0, VitalKind::Spo2, Site::Unspecified, Some(91.0)));
        v.observe(&r(0, VitalKind::Temperature, Site::Skin, Some(36.5)));
        let entries = ClinicalEntries {
            on_oxygen: Some(false),
            consciousness: Some(Consciousness::Alert),
        };
        let inputs = v.news2_inputs(S, 60 * S, Some(120.0), entries);
        assert_eq!(inputs.pulse_per_min, Some(120.0));
        assert_eq!(inputs.systolic_mmhg, None);
        let s = score(&inputs, Spo2Scale::Scale1);
        // RR 26 → 3, SpO2 91 → 3, air 0, pulse 120 → 2, alert 0, temp 36.5 → 0.
        assert_eq!(s.total, 8);
        assert_eq!(s.response, Response::Emergency);
        v.observe(&r(1, VitalKind::PulseRate, Site::Unspecified, Some(80.0)));
        assert_eq!(
            v.news2_inputs(S, 60 * S, Some(120.0), entries)
                .pulse_per_min,
            Some(80.0),
            "the oximeter's pulse first"
        );
    }
}
