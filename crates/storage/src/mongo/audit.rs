//! The audit chain on MongoDB: `_id` is the sequence number, so two appenders racing
//! for the same place collide on `_id` and the loser re-reads the head and retries —
//! exactly one event per `seq`, across any number of api replicas, with no transaction.

use super::indexes::AUDIT;
use super::{MongoRecords, is_duplicate_key, map_err};
use crate::audit::AuditStore;
use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::audit::{AuditEntry, AuditEvent, AuditOutcome, GENESIS_HASH};
use cw_core::time::Nanos;
use futures::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use std::time::Duration;

/// Racing appenders retry this often before the request fails (and with it the request
/// it audits).
const APPEND_ATTEMPTS: u32 = 50;

fn to_audit_doc(event: &AuditEvent) -> Result<Document> {
    let mut doc =
        bson::to_document(event).map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
    doc.remove("seq");
    doc.insert("_id", event.seq as i64);
    Ok(doc)
}

fn from_audit_doc(mut doc: Document) -> Result<AuditEvent> {
    let seq = doc
        .get_i64("_id")
        .or_else(|_| doc.get_i32("_id").map(i64::from))
        .map_err(|e| StoreError::Corrupt(format!("audit _id: {e}")))?;
    doc.remove("_id");
    // `_id` is what orders the log; a tampered `_id` must show, so it wins.
    doc.insert("seq", Bson::Int64(seq));
    bson::from_document(doc).map_err(|e| StoreError::Corrupt(format!("decode: {e}")))
}

#[async_trait]
impl AuditStore for MongoRecords {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditEvent> {
        let coll = self.coll(AUDIT);
        for attempt in 0..APPEND_ATTEMPTS {
            let last = coll
                .find_one(doc! {})
                .sort(doc! { "_id": -1 })
                .await
                .map_err(map_err)?;
            let (seq, prev_hash) = match last {
                Some(doc) => {
                    let event = from_audit_doc(doc)?;
                    (event.seq + 1, event.hash)
                }
                None => (1, GENESIS_HASH.to_owned()),
            };
            let event = AuditEvent::seal(entry.clone(), seq, &prev_hash);
            match coll.insert_one(to_audit_doc(&event)?).await {
                Ok(_) => return Ok(event),
                Err(e) if is_duplicate_key(&e) => {
                    // Another appender took this seq; back off a little, spread out.
                    let jitter = u64::from(rand_u8()) % (attempt as u64 + 2);
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
                Err(e) => return Err(map_err(e)),
            }
        }
        Err(StoreError::Unavailable(
            "audit append kept colliding with other appenders".into(),
        ))
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

/// A little randomness for backoff without a dependency: the clock's low bits.
fn rand_u8() -> u8 {
    (cw_core::time::now_ns() & 0xff) as u8
}
