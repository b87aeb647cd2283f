//! Reports over more than a day (docs/reports.md, "Reports over many days"): the range is
//! whole UTC days, each summarised on its own ([`SummaryPart`]) and merged. A closed day's
//! summary is kept in the record store ([`ReportDays`]) the first time a report covers it,
//! so a later report over weeks reads a row per day instead of every sample again.

use super::{ReportError, fold};
use cw_analysis::monitoring_summary::{
    MonitoringSummary, PART_VERSION, STRIP_BEFORE_S, STRIP_S, Strip, SummaryPart, strip_alerts,
};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{Alert, PatientId};
use cw_storage::{ReportDay, ReportDays, SampleStore};
use std::collections::HashMap;

pub const DAY_NS: Nanos = 24 * 3600 * NANOS_PER_SEC;
/// The longest report: a month of days.
pub const MAX_DAYS: i64 = 31;
/// A day's stored ECG is final this long after it ends: ingest refuses a block more than
/// 5 min from its clock (`clock_skew`, docs/ingest-protocol.md), and nothing else writes
/// samples. Only then is its summary kept.
pub const CLOSED_AFTER_NS: Nanos = 10 * 60 * NANOS_PER_SEC;
/// ECG analysed before an event strip of a many-day report, so the beats marked on it are
/// those of a settled detector (its day's analysis is not kept, only its figures).
const STRIP_LEAD_IN_NS: Nanos = 60 * NANOS_PER_SEC;

/// Why a range cannot be reported: the query field to blame and what to do.
#[derive(Debug, PartialEq, Eq)]
pub struct RangeError {
    pub field: &'static str,
    pub message: String,
}

/// Whether `[from_ns, to_ns)` is reported day by day: `Ok(false)` for a range of at most a
/// day (any bounds; analysed at once), `Ok(true)` for whole UTC days up to
/// [`MAX_DAYS`], else why not.
pub fn by_days(from_ns: Nanos, to_ns: Nanos) -> Result<bool, RangeError> {
    let width = to_ns.checked_sub(from_ns).filter(|w| *w > 0);
    match width {
        Some(w) if w <= DAY_NS => Ok(false),
        Some(w) if w <= MAX_DAYS * DAY_NS => {
            if from_ns.rem_euclid(DAY_NS) != 0 || to_ns.rem_euclid(DAY_NS) != 0 {
                Err(RangeError {
                    field: "from_ns",
                    message: "a range over a day is whole UTC days: from_ns and to_ns at 00:00 UTC"
                        .into(),
                })
            } else {
                Ok(true)
            }
        }
        _ => Err(RangeError {
            field: "to_ns",
            message: format!(
                "to_ns is after from_ns and at most {MAX_DAYS} days ({} s) later",
                MAX_DAYS * DAY_NS / NANOS_PER_SEC
            ),
        }),
    }
}

/// The figures and event strips of whole days `[from_ns, to_ns)`: each day's stored
/// summary, or its analysis (kept when the day is closed at `now_ns`), merged.
pub async fn gather_days(
    samples: &dyn SampleStore,
    days: &dyn ReportDays,
    patient: &PatientId,
    from_ns: Nanos,
    to_ns: Nanos,
    alerts: &[Alert],
    now_ns: Nanos,
) -> Result<(MonitoringSummary, Vec<Strip>), ReportError> {
    let stored: HashMap<Nanos, SummaryPart> = days
        .report_days(patient, from_ns, to_ns)
        .await?
        .into_iter()
        .filter(|d| d.version == PART_VERSION)
        // A row that no longer parses is computed again, like one of another version.
        .filter_map(|d| Some((d.day_ns, serde_json::from_str(&d.part).ok()?)))
        .collect();
    let mut total = SummaryPart::new();
    let mut day_ns = from_ns;
    while day_ns < to_ns {
        let end = day_ns + DAY_NS;
        match stored.get(&day_ns) {
            Some(part) => total.merge(part),
            None => {
                let builder = fold(samples, patient, day_ns, end, &[]).await?;
                let (part, _) = super::blocking(move || builder.finish_part()).await?;
                if end + CLOSED_AFTER_NS <= now_ns {
                    let row = ReportDay {
                        patient: patient.clone(),
                        day_ns,
                        version: PART_VERSION,
                        part: serde_json::to_string(&part).map_err(|e| {
                            ReportError::Worker(format!("day summary not serialisable: {e}"))
                        })?,
                        made_ns: now_ns,
                    };
                    days.put_report_day(&row).await?;
                }
                total.merge(&part);
            }
        }
        day_ns = end;
    }
    let mut strips = Vec::new();
    for alert in strip_alerts(alerts, from_ns, to_ns) {
        let start = alert.fired_ns - STRIP_BEFORE_S * NANOS_PER_SEC;
        let lead_in = (start - STRIP_LEAD_IN_NS).max(from_ns);
        let end = (start + STRIP_S * NANOS_PER_SEC).min(to_ns);
        let one = std::slice::from_ref(alert);
        let builder = fold(samples, patient, lead_in, end, one).await?;
        let (_, mut made) = super::blocking(move || builder.finish_part()).await?;
        strips.append(&mut made);
    }
    Ok((total.summary(from_ns, to_ns, alerts), strips))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_has_any_bounds_longer_ranges_whole_days_up_to_31() {
        let d = 20_000 * DAY_NS;
        assert_eq!(by_days(d + 7, d + 7 + DAY_NS), Ok(false));
        assert_eq!(by_days(d, d + 2 * DAY_NS), Ok(true));
        assert_eq!(by_days(d, d + MAX_DAYS * DAY_NS), Ok(true));
        for (from, to, field) in [
            (d, d + MAX_DAYS * DAY_NS + DAY_NS, "to_ns"),
            (d + 1, d + 2 * DAY_NS + 1, "from_ns"),
            (d, d + DAY_NS + 1, "from_ns"),
            (d, d, "to_ns"),
            (d + 1, d, "to_ns"),
            (Nanos::MIN, Nanos::MAX, "to_ns"),
        ] {
            assert_eq!(
                by_days(from, to).map_err(|e| e.field),
                Err(field),
                "{from}..{to}"
            );
        }
    }
}
