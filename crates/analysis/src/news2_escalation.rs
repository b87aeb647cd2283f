//! NEWS2 escalation (docs/vitals.md, "NEWS2 escalation"): the score of the patient's
//! latest valid numerics, judged after every batch of them, raises `news2_urgent` at the
//! RCP's urgent response (aggregate 5–6, or a 3 in any one parameter) and
//! `news2_emergency` at 7 or more, through the same lifecycle as every rule.
//!
//! Oxygen and consciousness are not measured by a wearable: they come from the patient's
//! policy (`News2Rule::on_oxygen`, `consciousness`, recorded by a clinician through the
//! api). When not recorded they are scored as room air and alert — 0 points, so the score
//! is a lower bound and never an invented escalation — and listed in
//! [`News2Assessment::assumed`] so whoever reads the score sees it.

use crate::latest_vitals::{ClinicalEntries, LatestVitals};
use crate::monitor::RuleEvent;
use crate::news2::{Consciousness, Parameter, Response, score};
use crate::rule_bank::RuleBank;
pub use cw_core::news2::News2Assessment;
use cw_core::time::{Nanos, secs};
use cw_core::vital_rules::News2Rule;
use cw_core::{RuleKind, ThresholdPolicy};

/// NEWS2 of the latest valid numerics at `now` under `rule`'s settings; `heart_rate_bpm`
/// (the ECG's, when current) stands in for a missing oximeter pulse.
pub fn assess(
    latest: &LatestVitals,
    now: Nanos,
    rule: &News2Rule,
    heart_rate_bpm: Option<f64>,
) -> News2Assessment {
    let mut assumed = Vec::new();
    let on_oxygen = rule.on_oxygen.unwrap_or_else(|| {
        assumed.push(Parameter::AirOrOxygen);
        false
    });
    let consciousness = rule.consciousness.unwrap_or_else(|| {
        assumed.push(Parameter::Consciousness);
        Consciousness::Alert
    });
    let entries = ClinicalEntries {
        on_oxygen: Some(on_oxygen),
        consciousness: Some(consciousness),
    };
    let max_age = secs(f64::from(rule.max_age_s));
    let inputs = latest.news2_inputs(now, max_age, heart_rate_bpm, entries);
    News2Assessment {
        at_ns: now,
        score: score(&inputs, rule.spo2_scale),
        assumed,
    }
}

impl RuleBank {
    /// Judges the two escalation rules on an assessment.
    pub(crate) fn on_news2(
        &mut self,
        policy: &ThresholdPolicy,
        assessment: &News2Assessment,
        events: &mut Vec<RuleEvent>,
    ) {
        let (at, response) = (assessment.at_ns, assessment.score.response);
        let total = f32::from(assessment.score.total);
        let urgent = (response >= Response::Urgent, response == Response::Routine);
        self.observe_timed(
            policy,
            RuleKind::News2Urgent,
            None,
            at,
            urgent,
            total,
            events,
        );
        let emergency = (
            response == Response::Emergency,
            response < Response::Emergency,
        );
        self.observe_timed(
            policy,
            RuleKind::News2Emergency,
            None,
            at,
            emergency,
            total,
            events,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PatientMonitor;
    use cw_core::{PatientId, Site, VitalKind, VitalReading, VitalStatus};

    const S: Nanos = 1_000_000_000;

    fn reading(t_s: i64, kind: VitalKind, value: f32) -> VitalReading {
        VitalReading {
            time_ns: t_s * S,
            kind,
            site: Site::Unspecified,
            status: VitalStatus::Valid,
            value: Some(value),
        }
    }

    /// RR, SpO2, pulse, temperature at `t_s` (no BP): one batch.
    fn batch(t_s: i64, rr: f32, spo2: f32, pulse: f32) -> Vec<VitalReading> {
        vec![
            reading(t_s, VitalKind::RespirationRate, rr),
            reading(t_s, VitalKind::Spo2, spo2),
            reading(t_s, VitalKind::PulseRate, pulse),
            reading(t_s, VitalKind::Temperature, 37.0),
        ]
    }

    fn policy(rule: News2Rule) -> ThresholdPolicy {
        ThresholdPolicy {
            news2: Some(rule),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        }
    }

    fn fired(m: &mut PatientMonitor, batches: &[Vec<VitalReading>]) -> Vec<RuleKind> {
        batches
            .iter()
            .flat_map(|b| m.on_vitals(b))
            .filter_map(|e| match e {
                RuleEvent::Fire { rule, .. } => Some(rule),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn unrecorded_oxygen_and_consciousness_score_nothing_and_are_listed_as_assumed() {
        let mut latest = LatestVitals::default();
        for r in batch(0, 16.0, 97.0, 70.0) {
            latest.observe(&r);
        }
        let a = assess(&latest, S, &News2Rule::default(), None);
        assert_eq!(a.score.total, 0);
        assert_eq!(
            a.assumed,
            vec![Parameter::AirOrOxygen, Parameter::Consciousness]
        );
        assert_eq!(a.score.missing, vec![Parameter::SystolicBp]);
        let recorded = News2Rule {
            on_oxygen: Some(true),
            consciousness: Some(Consciousness::Cvpu),
            ..News2Rule::default()
        };
        let a = assess(&latest, S, &recorded, None);
        assert_eq!(
            (a.score.total, a.assumed.len()),
            (5, 0),
            "oxygen 2 + CVPU 3"
        );
        assert_eq!(a.score.response, Response::Urgent);
    }

    #[test]
    fn a_single_three_is_urgent_seven_is_an_emergency_after_the_hold() {
        let mut m = PatientMonitor::new(policy(News2Rule::default()));
        // RR 26 scores 3 alone: urgent once it held 15 s.
        let urgent: Vec<_> = (0..20).map(|t| batch(t, 26.0, 97.0, 70.0)).collect();
        assert_eq!(fired(&mut m, &urgent), vec![RuleKind::News2Urgent]);
        // RR 26 (3) + SpO2 91 (3) + pulse 115 (2) = 8: emergency as well.
        let worse: Vec<_> = (20..40).map(|t| batch(t, 26.0, 91.0, 115.0)).collect();
        assert_eq!(fired(&mut m, &worse), vec![RuleKind::News2Emergency]);
        assert_eq!(m.news2().map(|a| a.score.total), Some(8));
    }

    #[test]
    fn remembered_numerics_judge_nothing_but_count_in_the_next_score() {
        let mut m = PatientMonitor::new(policy(News2Rule {
            hold_s: 0.0,
            ..News2Rule::default()
        }));
        let mut stored = vec![VitalReading {
            site: Site::Cuff,
            ..reading(0, VitalKind::Systolic, 85.0)
        }];
        stored.extend(batch(0, 26.0, 97.0, 70.0));
        m.remember_vitals(&stored, 0);
        assert_eq!(m.news2(), None, "nothing judged");
        // Ten minutes on, a live SpO2: the remembered cuff reading (3) and RR (3) count.
        assert_eq!(
            fired(&mut m, &[vec![reading(600, VitalKind::Spo2, 97.0)]]),
            vec![RuleKind::News2Urgent]
        );
        let a = m.news2().expect("assessed");
        assert_eq!(a.score.component(Parameter::SystolicBp), Some(3));
        assert_eq!(a.score.component(Parameter::RespirationRate), Some(3));
    }

    #[test]
    fn a_reading_older_than_the_age_limit_no_longer_counts() {
        let mut m = PatientMonitor::new(policy(News2Rule {
            max_age_s: 60.0,
            hold_s: 0.0,
            ..News2Rule::default()
        }));
        assert_eq!(
            fired(&mut m, &[batch(0, 26.0, 97.0, 70.0)]),
            vec![RuleKind::News2Urgent]
        );
        // Two minutes on, only SpO2 is new: the RR of 26 is too old to score.
        m.on_vitals(&[reading(120, VitalKind::Spo2, 97.0)]);
        let a = m.news2().expect("assessed");
        assert_eq!(a.score.component(Parameter::RespirationRate), None);
        assert_eq!(a.score.response, Response::Routine);
    }
}
