//! The alarm-fatigue report: how many alarms each patient/rule raised per day, how many
//! were acknowledged, and how fast. Pure over alerts, so the api and the CLI serve the
//! same figures.

use crate::time::NANOS_PER_SEC;
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
}

pub fn summarize(alerts: &[Alert]) -> FatigueReport {
    let mut groups: BTreeMap<(PatientId, String, i64), (u32, u32)> = BTreeMap::new();
    let mut to_ack: Vec<f64> = Vec::new();
    for a in alerts {
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
}
