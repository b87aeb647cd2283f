//! Generated numerics for the gateway simulator (issue 18 item 5): a named clinical course
//! (`--vitals-profile`), one reading of each kind per second of the stream, with seeded
//! jitter so a run is reproducible (docs/vitals.md, "Generated profiles").
//!
//! Each profile starts from the same adult at rest (SpO2 ~97.5 %, pulse ~74 /min,
//! respiration ~16 /min, skin temperature ~36.7 °C, cuff pressure ~122/79 mmHg every
//! 5 min) and changes what its name says, at times chosen so the shipped rules and
//! NEWS2 (docs/vitals.md, "Rules") have something to judge within a few minutes.

use cw_core::{Site, VitalKind, VitalStatus};
use cw_protocol::numerics::Item;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A generated clinical course.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VitalsProfile {
    /// An adult at rest: every numeric within normal limits, NEWS2 0.
    Stable,
    /// SpO2 falls from 60 s, 1 % every 5 s, to 86 % at ~115 s, stays there until 240 s
    /// and recovers as fast: `spo2_low` (under 90 %) and NEWS2 urgent (SpO2 ≤ 91 scores 3).
    Desaturation,
    /// The SpO2 probe comes off from 60 s to 120 s (sensor-off statuses, no readings): the
    /// technical `sensor_off` alarm and no clinical one.
    ProbeOff,
    /// Over ten minutes from 60 s: respiration 16 → 28 /min, SpO2 97 → 90 %, pulse 74 →
    /// 125 /min, temperature 36.7 → 39.3 °C, cuff systolic (each minute) 122 → 95 mmHg:
    /// NEWS2 climbs through urgent to emergency (≥ 7).
    Deterioration,
    /// A fall at 60 s: the device reports the fall event and the posture goes from
    /// upright to supine.
    Fall,
}

/// Seconds between cuff measurements (each minute in `Deterioration`).
const CUFF_EVERY_S: u64 = 300;

/// Generates one profile's readings second by second.
pub struct ProfileGenerator {
    profile: VitalsProfile,
    rng: StdRng,
}

impl ProfileGenerator {
    pub fn new(profile: VitalsProfile, seed: u64) -> Self {
        Self {
            profile,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The items of second `t` of the stream (call for t = 0, 1, 2, … in order: the
    /// jitter is drawn in sequence).
    pub fn items_at(&mut self, t: u64) -> Vec<Item> {
        let ts = t as f32;
        let worse = match self.profile {
            VitalsProfile::Deterioration => ((ts - 60.0) / 600.0).clamp(0.0, 1.0),
            _ => 0.0,
        };
        let mut out = Vec::with_capacity(8);
        let spo2 = match self.profile {
            VitalsProfile::Desaturation => desaturation(ts),
            _ => 97.5 - 7.5 * worse,
        };
        let spo2_off = self.profile == VitalsProfile::ProbeOff && (60..120).contains(&t);
        if spo2_off {
            out.push(off(VitalKind::Spo2));
            out.push(off(VitalKind::PulseRate));
        } else {
            let spo2 = (spo2 + self.jitter(0.5)).min(100.0);
            out.push(reading(VitalKind::Spo2, Site::Unspecified, round1(spo2)));
            let pulse = 74.0 + 51.0 * worse + self.jitter(2.0);
            out.push(reading(
                VitalKind::PulseRate,
                Site::Unspecified,
                pulse.round(),
            ));
        }
        let respiration = 16.0 + 12.0 * worse + self.jitter(1.0);
        out.push(reading(
            VitalKind::RespirationRate,
            Site::Unspecified,
            respiration.round(),
        ));
        let temperature = 36.7 + 2.6 * worse + self.jitter(0.05);
        out.push(reading(
            VitalKind::Temperature,
            Site::Skin,
            round1(temperature),
        ));
        let cuff_every = match self.profile {
            VitalsProfile::Deterioration => 60,
            _ => CUFF_EVERY_S,
        };
        if t.is_multiple_of(cuff_every) {
            let systolic = (122.0 - 27.0 * worse + self.jitter(3.0)).round();
            let diastolic = (79.0 - 17.0 * worse + self.jitter(2.0)).round();
            out.push(reading(VitalKind::Systolic, Site::Cuff, systolic));
            out.push(reading(VitalKind::Diastolic, Site::Cuff, diastolic));
            let mean = ((systolic + 2.0 * diastolic) / 3.0).round();
            out.push(reading(VitalKind::MeanBp, Site::Cuff, mean));
        }
        if self.profile == VitalsProfile::Fall {
            if t == 60 {
                out.push(reading(VitalKind::Fall, Site::Unspecified, 1.0));
            }
            let posture = if t < 60 { 1.0 } else { 2.0 }; // upright, then supine
            out.push(reading(VitalKind::Posture, Site::Unspecified, posture));
        }
        if t.is_multiple_of(60) {
            // The patch's battery drains a little each minute of the stream.
            let battery = (90.0 - ts / 600.0).max(21.0);
            out.push(reading(
                VitalKind::Battery,
                Site::Unspecified,
                round1(battery),
            ));
        }
        out
    }

    /// Uniform noise in ±`half_width` (f32 precision is all a reading has).
    fn jitter(&mut self, half_width: f32) -> f32 {
        self.rng.random_range(-half_width..=half_width)
    }
}

/// SpO2 of the `Desaturation` course at `t` s (before jitter).
fn desaturation(t: f32) -> f32 {
    let fall = ((t - 60.0) / 5.0).clamp(0.0, 11.5);
    let recover = ((t - 240.0) / 5.0).clamp(0.0, 11.5);
    97.5 - fall + recover
}

fn round1(v: f32) -> f32 {
    (v * 10.0).round() / 10.0
}

fn reading(kind: VitalKind, site: Site, value: f32) -> Item {
    Item {
        kind,
        site,
        status: VitalStatus::Valid,
        offset_ms: 0,
        value: Some(value),
    }
}

fn off(kind: VitalKind) -> Item {
    Item {
        kind,
        site: Site::Unspecified,
        status: VitalStatus::SensorOff,
        offset_ms: 0,
        value: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(profile: VitalsProfile, seed: u64, seconds: u64) -> Vec<Vec<Item>> {
        let mut g = ProfileGenerator::new(profile, seed);
        (0..seconds).map(|t| g.items_at(t)).collect()
    }

    fn values(course: &[Vec<Item>], kind: VitalKind) -> Vec<Option<f32>> {
        course
            .iter()
            .flat_map(|items| items.iter().filter(|it| it.kind == kind).map(|it| it.value))
            .collect()
    }

    #[test]
    fn a_seed_gives_the_same_course_and_another_seed_another() {
        let a = course(VitalsProfile::Stable, 7, 120);
        assert_eq!(a, course(VitalsProfile::Stable, 7, 120));
        assert_ne!(a, course(VitalsProfile::Stable, 8, 120));
    }

    #[test]
    fn every_generated_reading_is_plausible_and_whole_where_it_must_be() {
        for profile in [
            VitalsProfile::Stable,
            VitalsProfile::Desaturation,
            VitalsProfile::ProbeOff,
            VitalsProfile::Deterioration,
            VitalsProfile::Fall,
        ] {
            for it in course(profile, 1, 900).iter().flatten() {
                let Some(v) = it.value else {
                    assert_eq!(it.status, VitalStatus::SensorOff, "{it:?}");
                    continue;
                };
                let p = it.kind.plausible();
                assert!((p.min..=p.max).contains(&v), "{profile:?} {it:?}");
                assert!(!p.whole || v.fract() == 0.0, "{profile:?} {it:?}");
                assert!(it.kind.allows_site(it.site), "{profile:?} {it:?}");
            }
        }
    }

    #[test]
    fn the_stable_course_stays_normal() {
        let c = course(VitalsProfile::Stable, 3, 600);
        for v in values(&c, VitalKind::Spo2).into_iter().flatten() {
            assert!((96.0..=100.0).contains(&v), "{v}");
        }
        for v in values(&c, VitalKind::RespirationRate).into_iter().flatten() {
            assert!((12.0..=20.0).contains(&v), "{v}");
        }
        // A cuff reading every 5 min.
        assert_eq!(values(&c, VitalKind::Systolic).len(), 2);
    }

    #[test]
    fn the_desaturation_goes_under_90_for_minutes_and_recovers() {
        let c = course(VitalsProfile::Desaturation, 3, 400);
        let spo2: Vec<f32> = values(&c, VitalKind::Spo2).into_iter().flatten().collect();
        let under = spo2.iter().filter(|v| **v < 90.0).count();
        assert!((150..200).contains(&under), "{under} s under 90 %");
        assert!(spo2[..60].iter().all(|v| *v >= 96.0));
        assert!(spo2[330..].iter().all(|v| *v >= 96.0));
    }

    #[test]
    fn the_probe_comes_off_for_a_minute_and_sends_no_number_then() {
        let c = course(VitalsProfile::ProbeOff, 3, 180);
        let spo2 = values(&c, VitalKind::Spo2);
        assert_eq!(spo2.iter().filter(|v| v.is_none()).count(), 60);
        assert!(spo2[59].is_some() && spo2[60].is_none() && spo2[120].is_some());
    }

    #[test]
    fn the_deterioration_ends_in_the_emergency_ranges() {
        let c = course(VitalsProfile::Deterioration, 3, 720);
        let last = |kind| values(&c, kind).into_iter().flatten().last().expect("read");
        assert!(last(VitalKind::RespirationRate) >= 25.0);
        assert!(last(VitalKind::Spo2) <= 91.0);
        assert!(last(VitalKind::Temperature) >= 39.1);
        assert!(last(VitalKind::PulseRate) >= 111.0);
    }

    #[test]
    fn the_fall_is_one_event_and_the_posture_changes() {
        let c = course(VitalsProfile::Fall, 3, 120);
        assert_eq!(values(&c, VitalKind::Fall), vec![Some(1.0)]);
        let posture = values(&c, VitalKind::Posture);
        assert_eq!((posture[59], posture[60]), (Some(1.0), Some(2.0)));
    }
}
