//! Threshold policies in the embedded file: every version is kept (the audit trail of
//! limits); the current one is the highest version.

use super::records::SqliteRecords;
use super::{from_json, map_err, to_json};
use crate::ports::{PolicyStore, Result};
use async_trait::async_trait;
use cw_core::{PatientId, ThresholdPolicy};
use rusqlite::{TransactionBehavior, params};

#[async_trait]
impl PolicyStore for SqliteRecords {
    async fn put_policy(&self, policy: &ThresholdPolicy) -> Result<ThresholdPolicy> {
        let mut policy = policy.clone();
        self.db
            .call(move |conn| {
                // IMMEDIATE: reading the current version and inserting the next must not
                // interleave with another writer, or two saves would claim one version.
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let current: u32 = tx
                    .query_row(
                        "SELECT COALESCE(MAX(version), 0) FROM policies WHERE patient = ?1",
                        [policy.patient.as_str()],
                        |row| row.get(0),
                    )
                    .map_err(map_err)?;
                policy.version = current + 1;
                tx.execute(
                    "INSERT INTO policies (patient, version, doc) VALUES (?1, ?2, ?3)",
                    params![policy.patient.as_str(), policy.version, to_json(&policy)?],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(policy)
            })
            .await
    }

    async fn policy(&self, patient: &PatientId) -> Result<ThresholdPolicy> {
        let patient = patient.clone();
        self.db
            .call(move |conn| {
                let doc: String = conn
                    .query_row(
                        "SELECT doc FROM policies WHERE patient = ?1 ORDER BY version DESC LIMIT 1",
                        [patient.as_str()],
                        |row| row.get(0),
                    )
                    .map_err(map_err)?;
                from_json(&doc)
            })
            .await
    }

    async fn policy_history(
        &self,
        patient: &PatientId,
        limit: usize,
    ) -> Result<Vec<ThresholdPolicy>> {
        let patient = patient.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT doc FROM policies WHERE patient = ?1 ORDER BY version DESC LIMIT ?2",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![patient.as_str(), limit], |row| row.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }

    async fn all_policies(&self) -> Result<Vec<ThresholdPolicy>> {
        self.db
            .call(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT doc FROM policies AS p
                         WHERE version = (SELECT MAX(version) FROM policies WHERE patient = p.patient)
                         ORDER BY patient",
                    )
                    .map_err(map_err)?;
                let rows = stmt.query_map([], |row| row.get::<_, String>(0)).map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }
}
