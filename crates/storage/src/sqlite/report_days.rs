//! Per-day report summaries in the embedded file, keyed by (patient, day).

use super::records::SqliteRecords;
use super::{from_json, map_err, to_json};
use crate::ports::Result;
use crate::report_days::{ReportDay, ReportDays};
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::time::Nanos;
use rusqlite::params;

/// Created by `schema::prepare` with the other tables.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS report_days (
    patient TEXT    NOT NULL,
    day_ns  INTEGER NOT NULL,
    doc     TEXT    NOT NULL,
    PRIMARY KEY (patient, day_ns)
) WITHOUT ROWID;
";

#[async_trait]
impl ReportDays for SqliteRecords {
    async fn put_report_day(&self, day: &ReportDay) -> Result<()> {
        let doc = to_json(day)?;
        let (patient, day_ns) = (day.patient.to_string(), day.day_ns);
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO report_days (patient, day_ns, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (patient, day_ns) DO UPDATE SET doc = excluded.doc",
                    params![patient, day_ns, doc],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn report_days(
        &self,
        patient: &PatientId,
        from_ns: Nanos,
        to_ns: Nanos,
    ) -> Result<Vec<ReportDay>> {
        let patient = patient.to_string();
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT doc FROM report_days
                         WHERE patient = ?1 AND day_ns >= ?2 AND day_ns < ?3 ORDER BY day_ns",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![patient, from_ns, to_ns], |row| {
                        row.get::<_, String>(0)
                    })
                    .map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }
}
