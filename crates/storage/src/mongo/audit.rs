//! The audit chain on MongoDB: `_id` is the sequence number, so two appenders racing
//! for the same place collide on `_id` and the loser re-reads the head and retries —
//! exactly one event per `seq`, across any number of api replicas, with no transaction.
//! Within one process appends are grouped (`audit_appender.rs`).

use super::audit_appender::from_audit_doc;
use super::indexes::AUDIT;
use super::{MongoRecords, map_err};
use crate::audit::AuditStore;
use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::audit::{AuditEntry, AuditEvent, AuditOutcome};
use cw_core::time::Nanos;
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

#[async_trait]
impl AuditStore for MongoRecords {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditEvent> {
        self.append_grouped(entry).await
    }

    async fn drop_archived_audit(&self, through_seq: u64, through_hash: &str) -> Result<u64> {
        let around = self.audit_events(through_seq, 2).await?;
        let holds =
            around.len() == 2 && around[0].seq == through_seq && around[0].hash == through_hash;
        if !holds {
            return Err(StoreError::Conflict(format!(
                "audit event {through_seq} is not the stored one the archive ends with, or is \
                 the head: nothing dropped"
            )));
        }
        let result = self
            .coll(AUDIT)
            .delete_many(doc! { "_id": { "$lte": through_seq as i64 } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }

    async fn audit_events(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditEvent>> {
        let docs: Vec<Document> = self
            .coll(AUDIT)
            .find(doc! { "_id": { "$gte": from_seq as i64 } })
            .sort(doc! { "_id": 1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_audit_doc).collect()
    }

    async fn latest_audit(
        &self,
        actor: &str,
        action: &str,
        patient: &PatientId,
        since: Nanos,
    ) -> Result<Option<AuditEvent>> {
        let found = self
            .coll(AUDIT)
            .find_one(doc! {
                "actor": actor,
                "action": action,
                "patient": patient.as_str(),
                "outcome": AuditOutcome::Allowed.as_str(),
                "at_ns": { "$gte": since },
            })
            .sort(doc! { "at_ns": -1 })
            .await
            .map_err(map_err)?;
        found.map(from_audit_doc).transpose()
    }
}
