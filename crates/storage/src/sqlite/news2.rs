//! The NEWS2 trend in the embedded file: one row per (patient, time), the whole
//! assessment as JSON beside its total, so a rewritten score replaces itself as a point
//! does in InfluxDB.

use super::map_err;
use super::samples::SqliteSamples;
use crate::ports::{News2Store, Result, StoreError};
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::news2::News2Assessment;
use cw_core::time::Nanos;
use rusqlite::{Connection, params};

#[async_trait]
impl News2Store for SqliteSamples {
    async fn write_news2(&self, patient: &PatientId, scores: &[News2Assessment]) -> Result<()> {
        if scores.is_empty() {
            return Ok(());
        }
        let rows = scores
            .iter()
            .map(|s| {
                serde_json::to_string(s)
                    .map(|doc| (s.at_ns, s.score.total, doc))
                    .map_err(|e| StoreError::Corrupt(format!("news2 score not serialisable: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let patient = patient.clone();
        self.db()
            .call(move |conn| write(conn, &patient, &rows))
            .await
    }

    async fn news2(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<News2Assessment>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let patient = patient.clone();
        self.db()
            .call(move |conn| read(conn, &patient, from, to))
            .await
    }
}

fn write(conn: &mut Connection, patient: &PatientId, rows: &[(Nanos, u8, String)]) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map_err)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO news2 (patient, time_ns, total, doc) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(map_err)?;
        for (at, total, doc) in rows {
            insert
                .execute(params![patient.as_str(), at, total, doc])
                .map_err(map_err)?;
        }
    }
    tx.commit().map_err(map_err)
}

fn read(
    conn: &mut Connection,
    patient: &PatientId,
    from: Nanos,
    to: Nanos,
) -> Result<Vec<News2Assessment>> {
    let mut query = conn
        .prepare_cached(
            "SELECT doc FROM news2 WHERE patient = ?1 AND time_ns >= ?2 AND time_ns < ?3
             ORDER BY time_ns",
        )
        .map_err(map_err)?;
    let rows = query
        .query_map(params![patient.as_str(), from, to], |row| {
            row.get::<_, String>(0)
        })
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let doc = row.map_err(map_err)?;
        out.push(
            serde_json::from_str(&doc)
                .map_err(|e| StoreError::Corrupt(format!("news2 score: {e}")))?,
        );
    }
    Ok(out)
}
