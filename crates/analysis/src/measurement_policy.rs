//! The policy every clinical measurement replays records through (`cardiowatch ec57`,
//! the start-up test), so figures measured in different places are of one policy
//! (docs/clinical-performance.md).

use cw_core::rules::{
    AfRule, AsystoleRule, ConditionRule, CoupletRule, NsvtRule, PatternRule, PauseRule,
    PvcRateRule, RunRule, VtRule,
};
use cw_core::{HrLimit, PatientId, Priority, ThresholdPolicy};

/// The policy of issue 12's measurements: HR 40–120 bpm, pause 3 s, asystole 4 s, AF at
/// its defaults (24 beats, 15 s, so a 30-s paroxysm is alarmed inside it) and VF on, tachycardia run 100 bpm × 3 beats, VT with its defaults (≥ 3 V beats at
/// ≥ 100 bpm, sustained after 30 s), and the technical alarms on; and the ventricular
/// ectopy rules (off in a patient's policy unless set) at their defaults, so they are
/// scored too: non-sustained runs of ≥ 3 V beats, couplets, bigeminy and trigeminy of
/// 4 cycles, 10 PVCs a minute.
pub fn measurement_policy(patient: PatientId) -> ThresholdPolicy {
    let hr = |bpm| HrLimit {
        bpm,
        priority: Priority::High,
        for_s: 0.0,
        hysteresis_bpm: 5.0,
        clear_s: 10.0,
    };
    let condition = |priority| {
        Some(ConditionRule {
            priority,
            for_s: 2.0,
            clear_s: 10.0,
        })
    };
    ThresholdPolicy {
        hr_high: Some(hr(120.0)),
        hr_low: Some(hr(40.0)),
        pause: Some(PauseRule {
            rr_s: 3.0,
            priority: Priority::Medium,
            clear_s: 10.0,
        }),
        asystole: Some(AsystoleRule {
            after_s: 4.0,
            priority: Priority::High,
            clear_s: 10.0,
        }),
        tachy_run: Some(RunRule {
            bpm: 100.0,
            beats: 3,
            priority: Priority::Medium,
            clear_s: 10.0,
        }),
        af: Some(AfRule {
            window_beats: 24,
            irregularity: 0.06,
            priority: Priority::Medium,
            for_s: 15.0,
            clear_s: 10.0,
        }),
        vf: condition(Priority::High),
        vt: Some(VtRule::default()),
        nsvt: Some(NsvtRule::default()),
        couplet: Some(CoupletRule::default()),
        bigeminy: Some(PatternRule::default()),
        trigeminy: Some(PatternRule::default()),
        pvc_per_minute: Some(PvcRateRule::default()),
        lead_off: condition(Priority::Low),
        flat_line: condition(Priority::Low),
        saturation: condition(Priority::Low),
        noise: condition(Priority::Low),
        ..ThresholdPolicy::empty(patient)
    }
}
