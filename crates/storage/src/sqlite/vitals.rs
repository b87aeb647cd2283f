//! Vital-sign numerics in the embedded file: one row per reading, keyed by (patient,
//! time, kind, site) so a resent reading replaces itself, as a point does in InfluxDB.

use super::map_err;
use super::samples::SqliteSamples;
use crate::ports::{Result, VitalStore};
use crate::vital_rows::reading;
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{PatientId, VitalBatch, VitalReading};
use rusqlite::{Connection, params};

#[async_trait]
impl VitalStore for SqliteSamples {
    async fn write_vitals(&self, batches: &[VitalBatch]) -> Result<()> {
        let batches: Vec<VitalBatch> = batches
            .iter()
            .filter(|b| !b.readings.is_empty())
            .cloned()
            .collect();
        if batches.is_empty() {
            return Ok(());
        }
        self.db().call(move |conn| write(conn, &batches)).await
    }

    async fn vitals(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<VitalReading>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let patient = patient.clone();
        self.db()
            .call(move |conn| read(conn, &patient, from, to))
            .await
    }
}

fn write(conn: &mut Connection, batches: &[VitalBatch]) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map_err)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO vitals (patient, time_ns, kind, site, status, value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(map_err)?;
        for batch in batches {
            for r in &batch.readings {
                insert
                    .execute(params![
                        batch.patient.as_str(),
                        r.time_ns,
                        r.kind.as_str(),
                        r.site.as_str(),
                        r.status.as_str(),
                        r.value.map(f64::from),
                    ])
                    .map_err(map_err)?;
            }
        }
    }
    tx.commit().map_err(map_err)
}

fn read(
    conn: &mut Connection,
    patient: &PatientId,
    from: Nanos,
    to: Nanos,
) -> Result<Vec<VitalReading>> {
    let mut query = conn
        .prepare_cached(
            "SELECT time_ns, kind, site, status, value FROM vitals
             WHERE patient = ?1 AND time_ns >= ?2 AND time_ns < ?3
             ORDER BY time_ns, kind, site",
        )
        .map_err(map_err)?;
    let rows = query
        .query_map(params![patient.as_str(), from, to], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<f64>>(4)?,
            ))
        })
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (time_ns, kind, site, status, value) = row.map_err(map_err)?;
        out.push(reading(time_ns, &kind, &site, &status, value)?);
    }
    // Rows sort by the kind's name; readings sort by the kind's order, as InfluxDB's do.
    out.sort_by_key(|r| (r.time_ns, r.kind, r.site));
    Ok(out)
}
