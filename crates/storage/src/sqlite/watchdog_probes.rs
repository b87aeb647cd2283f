//! Watchdog probes in the embedded file: one row per synthetic patient, replaced each
//! round; an answer is a conditional update on the round, so a late engine cannot answer
//! a newer round with an older round's alert.

use super::map_err;
use super::records::SqliteRecords;
use crate::ports::{Result, StoreError};
use crate::watchdog_probes::{ProbeAnswers, ProbeRequests, WatchdogProbe};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{AlertId, PatientId};
use rusqlite::{OptionalExtension, Row, params};

/// Created by `schema::prepare` with the other tables.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS watchdog_probes (
    patient      TEXT PRIMARY KEY,
    requested_ns INTEGER NOT NULL,
    until_ns     INTEGER NOT NULL,
    alert_id     TEXT
) WITHOUT ROWID;
";

const COLUMNS: &str = "patient, requested_ns, until_ns, alert_id";

type Raw = (String, Nanos, Nanos, Option<String>);

fn raw(row: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn probe((patient, requested_ns, until_ns, alert): Raw) -> Result<WatchdogProbe> {
    let bad = |what: &str| StoreError::Corrupt(format!("watchdog probe: {what}"));
    Ok(WatchdogProbe {
        patient: PatientId::parse(&patient).map_err(|_| bad("patient id"))?,
        requested_ns,
        until_ns,
        alert: alert
            .map(|a| AlertId::parse(&a).map_err(|_| bad("alert id")))
            .transpose()?,
    })
}

#[async_trait]
impl ProbeRequests for SqliteRecords {
    async fn request_probe(
        &self,
        patient: &PatientId,
        requested_ns: Nanos,
        until_ns: Nanos,
    ) -> Result<()> {
        let patient = patient.to_string();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO watchdog_probes (patient, requested_ns, until_ns, alert_id)
                     VALUES (?1, ?2, ?3, NULL)
                     ON CONFLICT (patient) DO UPDATE SET requested_ns = excluded.requested_ns,
                         until_ns = excluded.until_ns, alert_id = NULL",
                    params![patient, requested_ns, until_ns],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn probe(&self, patient: &PatientId) -> Result<Option<WatchdogProbe>> {
        let patient = patient.to_string();
        let row = self
            .db
            .call(move |conn| {
                conn.query_row(
                    &format!("SELECT {COLUMNS} FROM watchdog_probes WHERE patient = ?1"),
                    params![patient],
                    raw,
                )
                .optional()
                .map_err(map_err)
            })
            .await?;
        row.map(probe).transpose()
    }
}

#[async_trait]
impl ProbeAnswers for SqliteRecords {
    async fn pending_probes(&self, now: Nanos) -> Result<Vec<WatchdogProbe>> {
        let rows = self
            .db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT {COLUMNS} FROM watchdog_probes
                         WHERE alert_id IS NULL AND until_ns > ?1 ORDER BY patient"
                    ))
                    .map_err(map_err)?;
                let rows = stmt.query_map(params![now], raw).map_err(map_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
            })
            .await?;
        rows.into_iter().map(probe).collect()
    }

    async fn answer_probe(
        &self,
        patient: &PatientId,
        requested_ns: Nanos,
        alert: &AlertId,
    ) -> Result<bool> {
        let (patient, alert) = (patient.to_string(), alert.to_string());
        self.db
            .call(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE watchdog_probes SET alert_id = ?3
                         WHERE patient = ?1 AND requested_ns = ?2 AND alert_id IS NULL",
                        params![patient, requested_ns, alert],
                    )
                    .map_err(map_err)?;
                Ok(changed == 1)
            })
            .await
    }
}
