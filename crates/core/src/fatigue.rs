//! The alarm-fatigue report: how many alarms each patient/rule raised per day, how many
//! were acknowledged, and how fast; and per rule, how many of the alarms clinicians
//! triaged were false (`crate::triage`). Pure over alerts, so the api and the CLI serve
//! the same figures.

use crate::time::NANOS_PER_SEC;
use crate::triage::Verdict;
use crate::{Alert, PatientId};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FatigueRow {
    pub patient: PatientId,
    pub rule: String,
    /// Days since the Unix epoch (UTC) the alarms fired on.
    pub day: i64,
    pub alarms: u32,
    pub acked: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FatigueReport {
    pub rows: Vec<FatigueRow>,
    pub alarms: u32,
    /// Acknowledged / all, 0..1 (0 when there were no alarms).
    pub ack_rate: f64,
    /// Median fired → acknowledged over acknowledged alarms, in seconds.
    pub median_time_to_ack_s: Option<f64>,
    /// Triage verdicts per rule, by rule name.
    pub rules: Vec<RuleTriage>,
}

/// One rule's alarms and what clinicians said of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleTriage {
    pub rule: String,
    pub alarms: u32,
    /// Alarms with a verdict (the rest were not triaged).
    pub triaged: u32,
    pub confirmed: u32,
    pub artifact: u32,
    /// Verdict `false`.
    pub false_alarms: u32,
    /// (artifact + false) / triaged, 0..1: over the triaged alarms only, since an
    /// untriaged alarm says nothing either way. Null when none was triaged.
    pub false_alarm_rate: Option<f64>,
}

pub fn summarize(alerts: &[Alert]) -> FatigueReport {
    let mut groups: BTreeMap<(PatientId, String, i64), (u32, u32)> = BTreeMap::new();
    let mut to_ack: Vec<f64> = Vec::new();
    let mut rules: BTreeMap<&'static str, RuleTriage> = BTreeMap::new();
    for a in alerts {
        let rule = rules.entry(a.rule.as_str()).or_insert_with(|| RuleTriage {
            rule: a.rule.as_str().to_owned(),
            alarms: 0,
            triaged: 0,
            confirmed: 0,
            artifact: 0,
            false_alarms: 0,
            false_alarm_rate: None,
        });
        rule.alarms += 1;
        if let Some(triage) = &a.triage {
            rule.triaged += 1;
            match triage.verdict {
                Verdict::Confirmed => rule.confirmed += 1,
                Verdict::Artifact => rule.artifact += 1,
                Verdict::False => rule.false_alarms += 1,
            }
        }
        let day = a.fired_ns.div_euclid(86_400 * NANOS_PER_SEC);
        let entry = groups
            .entry((a.patient.clone(), a.rule.as_str().to_owned(), day))
            .or_default();
        entry.0 += 1;
        if let Some(acked) = a.acked_ns {
            entry.1 += 1;
            to_ack.push((acked - a.fired_ns).max(0) as f64 / NANOS_PER_SEC as f64);
        }
    }
    to_ack.sort_by(f64::total_cmp);
    let median = match to_ack.len() {
        0 => None,
        n if n % 2 == 1 => Some(to_ack[n / 2]),
        n => Some((to_ack[n / 2 - 1] + to_ack[n / 2]) / 2.0),
    };
    let alarms = alerts.len() as u32;
    FatigueReport {
        rows: groups
            .into_iter()
            .map(|((patient, rule, day), (alarms, acked))| FatigueRow {
                patient,
                rule,
                day,
                alarms,
                acked,
            })
            .collect(),
        alarms,
        ack_rate: if alarms == 0 {
            0.0
        } else {
            to_ack.len() as f64 / f64::from(alarms)
        },
        median_time_to_ack_s: median,
        rules: rules
            .into_values()
            .map(|r| RuleTriage {
                false_alarm_rate: (r.triaged > 0)
                    .then(|| f64::from(r.artifact + r.false_alarms) / f64::from(r.triaged)),
                ..r
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AlertState, Priority, RuleKind};

    fn alert(patient: &PatientId, day: i64, ack_after_s: Option<i64>) -> Alert {
        let fired_ns = day * 86_400 * NANOS_PER_SEC + 3_600 * NANOS_PER_SEC;
        Alert {
            state: AlertState::Resolved,
            acked_ns: ack_after_s.map(|s| fired_ns + s * NANOS_PER_SEC),
            value: 150.0,
            limit: 120.0,
            policy_version: 1,
            ..Alert::firing(patient.clone(), RuleKind::HrHigh, Priority::High, fired_ns)
        }
    }

    #[test]
    fn counts_per_patient_rule_day_ack_rate_and_median() {
        let (p, q) = (PatientId::random(), PatientId::random());
        let alerts = [
            alert(&p, 20_000, Some(30)),
            alert(&p, 20_000, None),
            alert(&p, 20_001, Some(90)),
            alert(&q, 20_000, Some(60)),
        ];
        let r = summarize(&alerts);
        assert_eq!(r.alarms, 4);
        assert_eq!(r.rows.len(), 3);
        let p_day0 = r
            .rows
            .iter()
            .find(|row| row.patient == p && row.day == 20_000)
            .expect("row");
        assert_eq!((p_day0.alarms, p_day0.acked), (2, 1));
        assert!((r.ack_rate - 0.75).abs() < 1e-9);
        assert_eq!(r.median_time_to_ack_s, Some(60.0));
        assert_eq!(summarize(&[]).median_time_to_ack_s, None);
    }

    #[test]
    fn the_false_alarm_rate_per_rule_counts_triaged_alarms_only() {
        let p = PatientId::random();
        let judged = |rule, verdict: Option<Verdict>| Alert {
            rule,
            triage: verdict.map(|verdict| {
                Box::new(crate::triage::Triage {
                    verdict,
                    note: None,
                    by: "dr".into(),
                    at_ns: 0,
                })
            }),
            ..alert(&p, 20_000, None)
        };
        let alerts = [
            judged(RuleKind::HrHigh, Some(Verdict::Confirmed)),
            judged(RuleKind::HrHigh, Some(Verdict::Artifact)),
            judged(RuleKind::HrHigh, Some(Verdict::False)),
            judged(RuleKind::HrHigh, None),
            judged(RuleKind::Pause, None),
        ];
        let r = summarize(&alerts);
        assert_eq!(r.rules.len(), 2);
        let hr = r
            .rules
            .iter()
            .find(|x| x.rule == "hr_high")
            .expect("hr_high");
        assert_eq!(
            (
                hr.alarms,
                hr.triaged,
                hr.confirmed,
                hr.artifact,
                hr.false_alarms
            ),
            (4, 3, 1, 1, 1)
        );
        let rate = hr.false_alarm_rate.expect("triaged");
        assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
        let pause = r.rules.iter().find(|x| x.rule == "pause").expect("pause");
        assert_eq!((pause.alarms, pause.false_alarm_rate), (1, None));
    }
}
