//! ReportDays behaviours: per-day report summaries round-trip, a day stored again
//! replaces the first, and a read returns only the patient's days of the range, oldest
//! first.

use crate::fixtures::patient_id;
use cw_core::time::NANOS_PER_SEC;
use cw_storage::{ReportDay, Stores};

const DAY: i64 = 86_400 * NANOS_PER_SEC;
const D0: i64 = 20_000 * DAY;

fn day(patient: &cw_core::PatientId, k: i64, part: &str) -> ReportDay {
    ReportDay {
        patient: patient.clone(),
        day_ns: D0 + k * DAY,
        version: 1,
        part: part.to_owned(),
        made_ns: D0 + (k + 1) * DAY + 600 * NANOS_PER_SEC,
    }
}

pub async fn days_round_trip_replace_and_read_by_patient_and_range(s: &Stores) {
    let (p, other) = (patient_id(), patient_id());
    // Stored out of order; one of another patient on the same day.
    for k in [2, 0, 1, 5] {
        s.records
            .put_report_day(&day(&p, k, &format!("{{\"k\":{k}}}")))
            .await
            .expect("put");
    }
    s.records
        .put_report_day(&day(&other, 1, "{}"))
        .await
        .expect("put other");
    let replaced = ReportDay {
        version: 2,
        ..day(&p, 1, "{\"k\":\"again\"}")
    };
    s.records.put_report_day(&replaced).await.expect("replace");

    let read = s
        .records
        .report_days(&p, D0, D0 + 5 * DAY)
        .await
        .expect("read");
    assert_eq!(
        read,
        vec![day(&p, 0, "{\"k\":0}"), replaced, day(&p, 2, "{\"k\":2}")],
        "half-open by day start, oldest first, the replacement once"
    );
    let all = s
        .records
        .report_days(&p, D0 - DAY, D0 + 6 * DAY)
        .await
        .expect("read");
    assert_eq!(all.len(), 4);
    assert_eq!(
        s.records
            .report_days(&other, D0, D0 + 6 * DAY)
            .await
            .expect("read other"),
        vec![day(&other, 1, "{}")]
    );
    assert!(
        s.records
            .report_days(&patient_id(), D0, D0 + 6 * DAY)
            .await
            .expect("read none")
            .is_empty()
    );
}
