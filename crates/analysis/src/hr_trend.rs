//! The heart-rate trend of a stored range (the console's HR trend around an alarm and on
//! the patient view, docs/console.md): the stored frames replayed through the engine's
//! own [`PatientMonitor`] under the patient's policy, so each point is the rate its HR
//! rules saw at that beat (the policy's `hr_average_beats` window) — the console never
//! computes a rate of its own. Pure: the caller reads the frames.

use crate::backtest::stored_blocks;
use crate::monitor::PatientMonitor;
use cw_core::ThresholdPolicy;
use cw_core::time::Nanos;
use serde::Serialize;

/// The rate at one beat.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HrPoint {
    /// The beat's sample time.
    pub at_ns: Nanos,
    /// The rate the HR rules evaluate (trimmed mean of the policy's window).
    pub bpm: f32,
    /// This RR interval alone.
    pub instant_bpm: f32,
}

/// One point per beat at or after `from_ns`. Frames before `from_ns` are a pre-roll: the
/// detector learns its levels and the averaging window fills on them.
pub fn hr_trend(
    policy: &ThresholdPolicy,
    frames: &[(Nanos, Vec<i16>)],
    from_ns: Nanos,
) -> Vec<HrPoint> {
    let mut monitor = PatientMonitor::new(policy.clone());
    let mut points = Vec::new();
    for block in stored_blocks(&policy.patient, frames) {
        monitor.process(&block);
        points.extend(monitor.beats().iter().filter(|(at, _)| *at >= from_ns).map(
            |(at, reading)| HrPoint {
                at_ns: *at,
                bpm: reading.average_bpm,
                instant_bpm: reading.instant_bpm,
            },
        ));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strip_beats::tests::spikes;
    use cw_core::PatientId;
    use cw_core::time::NANOS_PER_SEC;

    #[test]
    fn a_step_in_rate_shows_in_the_trend_and_the_pre_roll_is_left_out() {
        let mut frames = spikes(30.0, 1.0, 0); // 60 bpm
        frames.extend(spikes(30.0, 0.5, 30 * NANOS_PER_SEC)); // then 120 bpm
        let policy = ThresholdPolicy::empty(PatientId::parse("p-trend").expect("id"));
        let from = 10 * NANOS_PER_SEC;
        let trend = hr_trend(&policy, &frames, from);
        assert!(trend.iter().all(|p| p.at_ns >= from), "pre-roll left out");
        let at = |s: f64| {
            trend
                .iter()
                .find(|p| p.at_ns as f64 >= s * 1e9)
                .map(|p| p.bpm)
                .expect("a point")
        };
        assert!((at(20.0) - 60.0).abs() < 1.0, "{}", at(20.0));
        assert!((at(50.0) - 120.0).abs() < 1.0, "{}", at(50.0));
        assert!(
            trend.windows(2).all(|w| w[0].at_ns < w[1].at_ns),
            "in time order"
        );
    }

    #[test]
    fn no_frames_no_trend() {
        let policy = ThresholdPolicy::empty(PatientId::parse("p-trend").expect("id"));
        assert!(hr_trend(&policy, &[], 0).is_empty());
    }
}
