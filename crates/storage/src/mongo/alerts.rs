//! Alerts on MongoDB. Opening claims the dedup key by inserting `open_alerts{_id: key}`
//! first (the unique `_id` makes the claim atomic), then stores the alert; resolving
//! updates the alert, then frees the key. Where the server has transactions both writes
//! commit together (`two_writes.rs`); without them this ordered sequence runs: the claim
//! embeds the alert, so a crash between the two writes is repaired by the next caller,
//! and a key still held by a resolved alert is freed by the next open.

use super::docs::{from_doc, to_doc};
use super::indexes::{ALERTS, OPEN_ALERTS};
use super::{MongoRecords, is_duplicate_key, map_err};
use crate::ports::{AlertStore, OpenAlertOutcome, Result, StoreError};
use async_trait::async_trait;
use cw_core::escalation::EscalationRequest;
use cw_core::snooze::AlertSnooze;
use cw_core::time::Nanos;
use cw_core::triage::Triage;
use cw_core::{Alert, AlertId, AlertState, Episode, PatientId};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;

/// Claims freed by a racing resolve are retried this often before giving up.
const CLAIM_ATTEMPTS: usize = 4;

impl MongoRecords {
    /// Applies `update` to alert `id` in one atomic step if its state matches `state` (a
    /// value or a query on it), so a racing ack, resolve or snooze cannot be overwritten;
    /// answers the alert as it is after, or as it stands when the state did not match.
    async fn update_alert_if(
        &self,
        id: &AlertId,
        state: impl Into<Bson>,
        update: Document,
    ) -> Result<Alert> {
        let updated = self
            .coll(ALERTS)
            .find_one_and_update(doc! { "_id": id.as_str(), "state": state.into() }, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?;
        match updated {
            Some(doc) => from_doc(doc),
            None => self.get_alert(id).await,
        }
    }
}

#[async_trait]
impl AlertStore for MongoRecords {
    async fn open_alert(&self, alert: &Alert) -> Result<OpenAlertOutcome> {
        if self.transactions {
            return self.open_alert_tx(alert).await;
        }
        let doc = to_doc(alert.id.as_str(), alert)?;
        if !alert.state.is_open() {
            self.insert_alert(doc).await?;
            return Ok(OpenAlertOutcome::Created);
        }
        let key = alert.dedup_key();
        let claim = doc! { "_id": &key, "alert_id": alert.id.as_str(), "alert": doc.clone() };
        for _ in 0..CLAIM_ATTEMPTS {
            match self.coll(OPEN_ALERTS).insert_one(claim.clone()).await {
                Ok(_) => {
                    self.interrupt.fire()?;
                    self.insert_alert(doc).await?;
                    return Ok(OpenAlertOutcome::Created);
                }
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(map_err(e)),
            }
            let Some(holder) = self
                .coll(OPEN_ALERTS)
                .find_one(doc! { "_id": &key })
                .await
                .map_err(map_err)?
            else {
                continue; // resolved meanwhile: claim again
            };
            let holder_id = holder
                .get_str("alert_id")
                .map_err(|e| StoreError::Corrupt(format!("open_alerts.{key}: {e}")))?
                .to_owned();
            if holder_id == alert.id.as_str() {
                // The same alert again (a retried call): make sure it is stored.
                self.insert_alert(doc).await?;
                return Ok(OpenAlertOutcome::Created);
            }
            let existing = self.holder_alert(&holder_id, holder).await?;
            if existing.state.is_open() {
                return Ok(OpenAlertOutcome::AlreadyOpen(existing));
            }
            // A resolve that stopped before freeing its key: free it, then claim again.
            self.coll(OPEN_ALERTS)
                .delete_one(doc! { "_id": &key, "alert_id": &holder_id })
                .await
                .map_err(map_err)?;
        }
        Err(StoreError::Unavailable(format!(
            "dedup key {key} kept changing hands"
        )))
    }

    async fn get_alert(&self, id: &AlertId) -> Result<Alert> {
        let found = self
            .coll(ALERTS)
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(map_err)?;
        from_doc(found.ok_or(StoreError::NotFound)?)
    }

    async fn acknowledge_alert(&self, id: &AlertId, by: &str, at: Nanos) -> Result<Alert> {
        // Conditional on `firing`: a second ack keeps the first, a resolved alert stays
        // resolved, and two racing acks cannot both win.
        self.update_alert_if(
            id,
            AlertState::Firing.as_str(),
            doc! { "$set": {
                "state": AlertState::Acknowledged.as_str(),
                "acked_ns": at,
                "acked_by": by,
            } },
        )
        .await
    }

    async fn resolve_alert(&self, id: &AlertId, at: Nanos) -> Result<Alert> {
        if self.transactions {
            return self.resolve_alert_tx(id, at).await;
        }
        let updated = self
            .coll(ALERTS)
            .find_one_and_update(
                doc! { "_id": id.as_str(), "state": { "$ne": AlertState::Resolved.as_str() } },
                doc! { "$set": { "state": AlertState::Resolved.as_str(), "resolved_ns": at } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?;
        let alert: Alert = match updated {
            Some(doc) => from_doc(doc)?,
            None => self.get_alert(id).await?,
        };
        // Frees the key only if this alert holds it (another may hold it by now). Runs
        // on every resolve, so calling resolve again finishes an interrupted one.
        self.interrupt.fire()?;
        self.coll(OPEN_ALERTS)
            .delete_one(doc! { "_id": alert.dedup_key(), "alert_id": alert.id.as_str() })
            .await
            .map_err(map_err)?;
        Ok(alert)
    }

    async fn snooze_alert(&self, id: &AlertId, snooze: &AlertSnooze) -> Result<Alert> {
        // Conditional on `firing`, like an ack: a snooze never lands on an alert that was
        // acknowledged or resolved meanwhile.
        let snooze = mongodb::bson::to_bson(snooze)
            .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
        self.update_alert_if(
            id,
            AlertState::Firing.as_str(),
            doc! { "$set": { "snooze": snooze } },
        )
        .await
    }

    async fn escalate_alert(&self, id: &AlertId, request: &EscalationRequest) -> Result<Alert> {
        // Conditional on `firing`, like a snooze: an acknowledged alert is not paged again.
        let request = mongodb::bson::to_bson(request)
            .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
        self.update_alert_if(
            id,
            AlertState::Firing.as_str(),
            doc! { "$set": { "escalation": request } },
        )
        .await
    }

    async fn triage_alert(&self, id: &AlertId, triage: &Triage) -> Result<Alert> {
        // One field of one document: whatever the state, a racing ack or resolve keeps
        // its own fields.
        let triage = mongodb::bson::to_bson(triage)
            .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
        let updated = self
            .coll(ALERTS)
            .find_one_and_update(
                doc! { "_id": id.as_str() },
                doc! { "$set": { "triage": triage } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?;
        from_doc(updated.ok_or(StoreError::NotFound)?)
    }

    async fn record_episode(&self, id: &AlertId, episode: &Episode) -> Result<Alert> {
        // Conditional on the alert being open: a resolved alert's episode is final.
        let episode = mongodb::bson::to_bson(episode)
            .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
        let open = [
            AlertState::Firing.as_str(),
            AlertState::Acknowledged.as_str(),
        ];
        self.update_alert_if(
            id,
            doc! { "$in": open.to_vec() },
            doc! { "$set": { "episode": episode } },
        )
        .await
    }

    async fn open_alerts(&self) -> Result<Vec<Alert>> {
        let open = [
            AlertState::Firing.as_str(),
            AlertState::Acknowledged.as_str(),
        ];
        self.find_alerts(
            doc! { "state": { "$in": open.to_vec() } },
            doc! { "fired_ns": 1, "_id": 1 },
            None,
        )
        .await
    }

    async fn alerts_resolved_since(&self, since: Nanos, limit: usize) -> Result<Vec<Alert>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.find_alerts(
            doc! {
                "state": AlertState::Resolved.as_str(),
                "resolved_ns": { "$gte": since },
            },
            doc! { "resolved_ns": 1, "_id": 1 },
            Some(i64::try_from(limit).unwrap_or(i64::MAX)),
        )
        .await
    }

    async fn alerts_for_patients(
        &self,
        patients: &[PatientId],
        state: Option<AlertState>,
        limit: usize,
    ) -> Result<Vec<Alert>> {
        if patients.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = patients.iter().map(PatientId::as_str).collect();
        let mut filter = doc! { "patient": { "$in": ids } };
        if let Some(state) = state {
            filter.insert("state", state.as_str());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.find_alerts(filter, doc! { "fired_ns": -1, "_id": -1 }, Some(limit))
            .await
    }
}

impl MongoRecords {
    /// Stores an alert document; one already there (a retry) is left as it is, so a
    /// retried open never undoes an ack.
    async fn insert_alert(&self, doc: Document) -> Result<()> {
        match self.coll(ALERTS).insert_one(doc).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    /// The alert holding a key: the stored one, or — when a crash came between claim and
    /// store — the copy in the claim, which is stored now.
    async fn holder_alert(&self, holder_id: &str, claim: Document) -> Result<Alert> {
        if let Some(doc) = self
            .coll(ALERTS)
            .find_one(doc! { "_id": holder_id })
            .await
            .map_err(map_err)?
        {
            return from_doc(doc);
        }
        let embedded = claim
            .get_document("alert")
            .map_err(|e| StoreError::Corrupt(format!("open_alerts claim of {holder_id}: {e}")))?
            .clone();
        self.insert_alert(embedded.clone()).await?;
        from_doc(embedded)
    }

    async fn find_alerts(
        &self,
        filter: Document,
        sort: Document,
        limit: Option<i64>,
    ) -> Result<Vec<Alert>> {
        let alerts = self.coll(ALERTS);
        let mut find = alerts.find(filter).sort(sort);
        if let Some(limit) = limit {
            find = find.limit(limit);
        }
        let docs: Vec<Document> = find
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }
}
