//! Backtest: replay stored frames of one patient, and the numerics beside them, through a
//! candidate policy with the same [`PatientMonitor`] the live engine runs, and list the
//! alerts it would have raised. Pure: the caller (api, CLI) reads the frames and numerics
//! from the `SampleStore`.

use crate::monitor::{PatientMonitor, RuleEvent};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{
    DeviceId, Episode, PatientId, Priority, RuleKind, SampleBlock, ThresholdPolicy, VitalReading,
};
use serde::{Deserialize, Serialize};

/// Blocks of this length are fed to the monitor, as a gateway would send them.
const BLOCK_S: f64 = 0.25;

/// One alert the candidate policy would have raised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WouldAlert {
    pub rule: RuleKind,
    pub priority: Priority,
    pub technical: bool,
    pub started_ns: Nanos,
    pub fired_ns: Nanos,
    /// None: still open at the end of the range.
    pub resolved_ns: Option<Nanos>,
    /// JSON `null` when NaN.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f32>))]
    pub value: f32,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f32>))]
    pub limit: f32,
    /// Every event while it was open: count, first, last, worst.
    pub episode: Episode,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestReport {
    pub frames: usize,
    /// Numerics replayed beside the frames (readings and sensor statuses).
    #[serde(default)]
    pub vitals: usize,
    /// Sampling rate inferred from the stored timestamps (0 when there were no frames).
    pub rate_hz: u32,
    pub alerts: Vec<WouldAlert>,
}

/// Replays `frames` (time order; one value per lead) and the `vitals` numerics beside
/// them through `policy`: each numeric reaches the monitor before the first block that
/// ends after it, readings of one time together as one batch (as one gateway frame
/// brings them), so the vital-sign rules and NEWS2 judge them as the engine does live.
pub fn replay(
    policy: &ThresholdPolicy,
    frames: &[(Nanos, Vec<i16>)],
    vitals: &[VitalReading],
) -> BacktestReport {
    replay_all(policy, frames, vitals, |_| {}).report
}

/// A replay as a scorer sees it: the alerts, and what the analysis did besides.
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed {
    pub report: BacktestReport,
    /// Seconds the noise gate held the physiological rules (`PatientMonitor::noise_held_s`).
    pub noise_held_s: f64,
}

/// As [`replay`], and shows `observe` every rule event as it happens (a scorer wanting
/// when each event inside an open alert was counted: `RuleEvent::Episode`).
pub fn replay_observed(
    policy: &ThresholdPolicy,
    frames: &[(Nanos, Vec<i16>)],
    observe: impl FnMut(&RuleEvent),
) -> Replayed {
    replay_all(policy, frames, &[], observe)
}

fn replay_all(
    policy: &ThresholdPolicy,
    frames: &[(Nanos, Vec<i16>)],
    vitals: &[VitalReading],
    mut observe: impl FnMut(&RuleEvent),
) -> Replayed {
    let rate_hz = infer_rate(frames);
    let mut replayed = Replayed {
        report: BacktestReport {
            frames: frames.len(),
            vitals: vitals.len(),
            rate_hz,
            alerts: Vec::new(),
        },
        noise_held_s: 0.0,
    };
    let mut vitals: Vec<&VitalReading> = vitals.iter().collect();
    vitals.sort_by_key(|r| r.time_ns);
    let mut vitals = vitals.as_slice();
    let mut monitor = PatientMonitor::new(policy.clone());
    let mut on = |events: Vec<RuleEvent>, alerts: &mut Vec<WouldAlert>| {
        for event in events {
            observe(&event);
            record(policy, event, alerts);
        }
    };
    let blocks = match rate_hz {
        0 => Vec::new(),
        rate_hz => blocks(&policy.patient, frames, rate_hz),
    };
    for block in blocks {
        let end = block.end_ns();
        while let Some(batch) = next_batch(&mut vitals, end) {
            on(monitor.on_vitals(&batch), &mut replayed.report.alerts);
        }
        on(monitor.process(&block), &mut replayed.report.alerts);
    }
    while let Some(batch) = next_batch(&mut vitals, Nanos::MAX) {
        on(monitor.on_vitals(&batch), &mut replayed.report.alerts);
    }
    replayed.noise_held_s = monitor.noise_held_s();
    replayed
}

/// The readings at the first time in `vitals` (time order) if it is before `before`, taken
/// off the front.
fn next_batch(vitals: &mut &[&VitalReading], before: Nanos) -> Option<Vec<VitalReading>> {
    let at = vitals.first().map(|r| r.time_ns).filter(|t| *t < before)?;
    let n = vitals.iter().take_while(|r| r.time_ns == at).count();
    let (batch, rest) = vitals.split_at(n);
    *vitals = rest;
    Some(batch.iter().map(|r| **r).collect())
}

/// Stored frames (time order) as the quarter-second blocks a gateway would send, at the
/// rate the timestamps show; empty when they show none. The engine replays these to warm
/// up a patient it took over (docs/architecture.md, "Shards").
pub fn stored_blocks(patient: &PatientId, frames: &[(Nanos, Vec<i16>)]) -> Vec<SampleBlock> {
    match infer_rate(frames) {
        0 => Vec::new(),
        rate_hz => blocks(patient, frames, rate_hz),
    }
}

fn record(policy: &ThresholdPolicy, event: RuleEvent, alerts: &mut Vec<WouldAlert>) {
    match event {
        RuleEvent::Fire {
            rule,
            started_ns,
            at,
            value,
        } => alerts.push(WouldAlert {
            rule,
            priority: policy.priority_of(rule),
            technical: rule.is_technical(),
            started_ns,
            fired_ns: at,
            resolved_ns: None,
            value,
            limit: policy.limit_of(rule),
            episode: Episode::first(at, value),
        }),
        RuleEvent::Episode { rule, episode, .. } => {
            if let Some(open) = open_alert(alerts, rule) {
                open.episode = episode;
            }
        }
        RuleEvent::Resolve { rule, at } => {
            if let Some(open) = open_alert(alerts, rule) {
                open.resolved_ns = Some(at);
            }
        }
    }
}

fn open_alert(alerts: &mut [WouldAlert], rule: RuleKind) -> Option<&mut WouldAlert> {
    alerts
        .iter_mut()
        .rev()
        .find(|a| a.rule == rule && a.resolved_ns.is_none())
}

/// The rate from the median spacing of the stored timestamps (0 with fewer than two
/// frames). Stored frames carry times, not the block's rate: the backtest and the ECG
/// export both recover it here.
pub fn infer_rate(frames: &[(Nanos, Vec<i16>)]) -> u32 {
    let mut deltas: Vec<Nanos> = frames
        .windows(2)
        // Checked: the times come from the store, and a wrapped difference would read as a
        // plausible spacing.
        .filter_map(|w| w[1].0.checked_sub(w[0].0))
        .filter(|d| *d > 0)
        .collect();
    if deltas.is_empty() {
        return 0;
    }
    let mid = deltas.len() / 2;
    let (_, median, _) = deltas.select_nth_unstable(mid);
    (NANOS_PER_SEC as f64 / *median as f64).round() as u32
}

/// Cuts the frames into quarter-second blocks; a gap in the timestamps starts a new block
/// (the monitor restarts its stream there, as it does live).
fn blocks(patient: &PatientId, frames: &[(Nanos, Vec<i16>)], rate_hz: u32) -> Vec<SampleBlock> {
    let period = NANOS_PER_SEC / i64::from(rate_hz);
    let per_block = ((f64::from(rate_hz) * BLOCK_S) as usize).max(1);
    let leads = frames.first().map_or(1, |f| f.1.len().max(1));
    // A fixed, valid id: replayed blocks come from no real device.
    let Ok(device) = DeviceId::parse("backtest") else {
        return Vec::new();
    };
    let mut out: Vec<SampleBlock> = Vec::new();
    let mut current: Option<SampleBlock> = None;
    let mut last: Option<Nanos> = None;
    for (t, values) in frames {
        let gap = last.is_some_and(|l| t - l > period + period / 2);
        let full = current.as_ref().is_some_and(|b| b.frames() >= per_block);
        if gap || full || values.len() != leads {
            out.extend(current.take());
        }
        last = Some(*t);
        if values.len() != leads {
            continue;
        }
        let block = current.get_or_insert_with(|| SampleBlock {
            patient: patient.clone(),
            device: device.clone(),
            seq: out.len() as u64,
            start_ns: *t,
            rate_hz,
            leads: leads as u8,
            samples_uv: Vec::with_capacity(per_block * leads),
            lead_off: false,
        });
        block.samples_uv.extend_from_slice(values);
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::HrLimit;

    fn frames(bpm: f64, seconds: f64, fs: f64) -> Vec<(Nanos, Vec<i16>)> {
        let period = fs * 60.0 / bpm;
        (0..(seconds * fs) as usize)
            .map(|i| {
                let phase = (i as f64) % period;
                let v = if phase < 3.0 {
                    1500 - (phase as i16) * 400
                } else {
                    0
                };
                let v = v + (50.0 * (i as f64 / fs * 3.0).sin()) as i16;
                (
                    (i as f64 * 1e9 / fs) as Nanos + 1_000 * NANOS_PER_SEC,
                    vec![v],
                )
            })
            .collect()
    }

    #[test]
    fn a_candidate_limit_under_the_rate_would_have_fired_once() {
        let policy = ThresholdPolicy {
            hr_high: Some(HrLimit {
                bpm: 100.0,
                priority: Priority::High,
                for_s: 2.0,
                hysteresis_bpm: 5.0,
                clear_s: 5.0,
            }),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("id"))
        };
        let report = replay(&policy, &frames(130.0, 30.0, 250.0), &[]);
        assert_eq!(report.rate_hz, 250);
        assert_eq!(report.alerts.len(), 1, "{report:?}");
        assert_eq!(report.alerts[0].rule, RuleKind::HrHigh);
        assert_eq!(report.alerts[0].resolved_ns, None);
        let calm = replay(&policy, &frames(70.0, 30.0, 250.0), &[]);
        assert!(calm.alerts.is_empty(), "{calm:?}");
    }

    #[test]
    fn no_frames_no_alerts() {
        let policy = ThresholdPolicy::empty(PatientId::parse("p").expect("id"));
        assert_eq!(replay(&policy, &[], &[]).alerts, vec![]);
    }

    fn spo2(t_s: i64, value: f32) -> VitalReading {
        VitalReading {
            time_ns: 1_000 * NANOS_PER_SEC + t_s * NANOS_PER_SEC,
            kind: cw_core::VitalKind::Spo2,
            site: cw_core::Site::Unspecified,
            status: cw_core::VitalStatus::Valid,
            value: Some(value),
        }
    }

    #[test]
    fn a_desaturation_in_the_numerics_beside_the_ecg_would_have_fired_spo2_low() {
        let policy =
            ThresholdPolicy::empty(PatientId::parse("p").expect("id")).with_recommended_vitals();
        // 10 s normal, 18 s at 86 % (past the 15 s hold of the shipped 90 % limit), normal.
        let vitals: Vec<VitalReading> = (0..30)
            .map(|t| spo2(t, if (10..28).contains(&t) { 86.0 } else { 97.0 }))
            .collect();
        let report = replay(&policy, &frames(70.0, 30.0, 250.0), &vitals);
        assert_eq!(report.vitals, 30);
        let desats: Vec<&WouldAlert> = report
            .alerts
            .iter()
            .filter(|a| a.rule == RuleKind::Spo2Low)
            .collect();
        assert_eq!(desats.len(), 1, "{report:?}");
        assert_eq!(desats[0].started_ns, spo2(10, 0.0).time_ns);
        assert_eq!(desats[0].value, 86.0);
        assert_eq!(desats[0].limit, 90.0);
        // The same numerics without the desaturation: no alarm.
        let calm: Vec<VitalReading> = (0..30).map(|t| spo2(t, 97.0)).collect();
        let report = replay(&policy, &frames(70.0, 30.0, 250.0), &calm);
        assert!(
            report.alerts.iter().all(|a| a.rule != RuleKind::Spo2Low),
            "{report:?}"
        );
    }

    #[test]
    fn numerics_alone_replay_without_ecg() {
        let policy =
            ThresholdPolicy::empty(PatientId::parse("p").expect("id")).with_recommended_vitals();
        let vitals: Vec<VitalReading> = (0..40).map(|t| spo2(t, 85.0)).collect();
        let report = replay(&policy, &[], &vitals);
        assert_eq!((report.frames, report.rate_hz), (0, 0));
        assert!(
            report.alerts.iter().any(|a| a.rule == RuleKind::Spo2Low),
            "{report:?}"
        );
    }
}
