//! Changes that write two collections — opening an alert (`open_alerts` claim +
//! `alerts` document), resolving one (`alerts` + freeing the claim) and registering a
//! device (`patients.devices` + `devices`) — run in one
//! multi-document transaction when the server supports them (a replica set or mongos:
//! production MongoDB, and SecantusDB, which reports itself as a one-node replica set).
//! On a standalone server they fall back to the ordered sequences in `alerts.rs` and
//! `people.rs`, which are idempotent and leave an interrupted change safe (see there).
//!
//! [`Interrupt`] stops a change after its first write, as a crash would, so the
//! conformance suite can show both properties: with a transaction nothing of the
//! change is visible; without one, the next call completes it.

use super::docs::{from_doc, to_doc};
use super::indexes::{ALERTS, DEVICES, OPEN_ALERTS, PATIENTS};
use super::{MongoRecords, is_duplicate_key, map_err};
use crate::ports::{OpenAlertOutcome, Result, StoreError};
use cw_core::time::Nanos;
use cw_core::{Alert, AlertId, AlertState, Device};
use mongodb::bson::{Document, doc};
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Database};
use std::sync::atomic::{AtomicBool, Ordering};

/// A transaction that lost a write conflict (or a duplicate-key race) is run again this
/// often before the call fails.
const TX_ATTEMPTS: u32 = 8;

/// Waits a random time that grows with `attempt` (0-based) before a transaction that lost
/// a race runs again, so writers that collided spread out instead of colliding again in
/// lockstep: up to 2 ms before the first retry, doubling each time (at most a quarter
/// second over all attempts). Without a pause, two notifiers' watchdogs opening their synthetic
/// alerts in the same instant could use up every attempt and page ops falsely.
async fn spread_out(attempt: u32) {
    let ceiling_ms = 2u64 << attempt.min(7);
    let jitter = cw_core::time::now_ns().unsigned_abs() % ceiling_ms;
    tokio::time::sleep(std::time::Duration::from_millis(jitter + 1)).await;
}

/// Test-only crash simulation: when armed, the next two-collection change stops after
/// its first write and fails (its session, if any, is dropped uncommitted).
#[derive(Debug, Default)]
pub struct Interrupt(AtomicBool);

impl Interrupt {
    pub fn arm(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub(super) fn fire(&self) -> Result<()> {
        if self.0.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "interrupted after the first write (test fault)".into(),
            ));
        }
        Ok(())
    }
}

/// Whether the server runs multi-document transactions: replica-set members and mongos
/// do, a standalone `mongod` does not.
pub(super) async fn supported(db: &Database) -> bool {
    match db.run_command(doc! { "hello": 1 }).await {
        Ok(hello) => {
            let sessions = hello.contains_key("logicalSessionTimeoutMinutes");
            let replicated =
                hello.contains_key("setName") || hello.get_str("msg") == Ok("isdbgrid");
            sessions && replicated
        }
        Err(e) => {
            tracing::warn!(error = %e, "MongoDB hello failed; not using transactions");
            false
        }
    }
}

/// The two-collection changes.
enum Change<'a> {
    Open(&'a Alert, &'a Document),
    Resolve(&'a AlertId, Nanos),
    Register(&'a Device),
}

enum Changed {
    Opened(OpenAlertOutcome),
    Resolved(Alert),
    Registered,
}

impl MongoRecords {
    /// Runs a change in a transaction, again on transient errors and lost races.
    async fn in_transaction(&self, change: Change<'_>) -> Result<Changed> {
        for attempt in 0..TX_ATTEMPTS {
            if attempt > 0 {
                spread_out(attempt - 1).await;
            }
            let mut session = self.client.start_session().await.map_err(map_err)?;
            session.start_transaction().await.map_err(map_err)?;
            let run = match &change {
                Change::Open(alert, doc) => open_in(self, &mut session, alert, doc)
                    .await
                    .map(Changed::Opened),
                Change::Resolve(id, at) => resolve_in(self, &mut session, id, *at)
                    .await
                    .map(Changed::Resolved),
                Change::Register(device) => register_in(self, &mut session, device)
                    .await
                    .map(|()| Changed::Registered),
            };
            match run {
                Ok(changed) => {
                    if commit(&mut session).await? {
                        return Ok(changed);
                    }
                }
                Err(TxError::Retry) => {
                    let _ = session.abort_transaction().await;
                }
                // Dropping the session aborts the transaction.
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "two-collection change kept conflicting".into(),
        ))
    }

    pub(super) async fn open_alert_tx(&self, alert: &Alert) -> Result<OpenAlertOutcome> {
        let doc = to_doc(alert.id.as_str(), alert)?;
        match self.in_transaction(Change::Open(alert, &doc)).await? {
            Changed::Opened(outcome) => Ok(outcome),
            _ => Err(StoreError::Corrupt("open answered another change".into())),
        }
    }

    pub(super) async fn resolve_alert_tx(&self, id: &AlertId, at: Nanos) -> Result<Alert> {
        match self.in_transaction(Change::Resolve(id, at)).await? {
            Changed::Resolved(alert) => Ok(alert),
            _ => Err(StoreError::Corrupt(
                "resolve answered another change".into(),
            )),
        }
    }

    pub(super) async fn register_device_tx(&self, device: &Device) -> Result<()> {
        self.in_transaction(Change::Register(device)).await?;
        Ok(())
    }
}

/// Commits; `false` when the whole transaction must run again.
async fn commit(session: &mut ClientSession) -> Result<bool> {
    for _ in 0..TX_ATTEMPTS {
        match session.commit_transaction().await {
            Ok(()) => return Ok(true),
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => continue,
            Err(e) if e.contains_label(TRANSIENT_TRANSACTION_ERROR) => return Ok(false),
            Err(e) => return Err(map_err(e)),
        }
    }
    Err(StoreError::Unavailable(
        "transaction commit result stayed unknown".into(),
    ))
}

enum TxError {
    Retry,
    Store(StoreError),
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A driver error inside a transaction: conflicts and duplicate keys (a racing writer
/// got there first) run the transaction again; anything else fails the call.
fn tx_err(e: mongodb::error::Error) -> TxError {
    if e.contains_label(TRANSIENT_TRANSACTION_ERROR) || is_duplicate_key(&e) {
        TxError::Retry
    } else {
        TxError::Store(map_err(e))
    }
}

async fn open_in(
    store: &MongoRecords,
    session: &mut ClientSession,
    alert: &Alert,
    doc: &Document,
) -> std::result::Result<OpenAlertOutcome, TxError> {
    if !alert.state.is_open() {
        insert_alert(store, session, doc.clone()).await?;
        return Ok(OpenAlertOutcome::Created);
    }
    let key = alert.dedup_key();
    let holder = store
        .coll(OPEN_ALERTS)
        .find_one(doc! { "_id": &key })
        .session(&mut *session)
        .await
        .map_err(tx_err)?;
    if let Some(holder) = holder {
        let holder_id = holder
            .get_str("alert_id")
            .map_err(|e| StoreError::Corrupt(format!("open_alerts.{key}: {e}")))?
            .to_owned();
        if holder_id == alert.id.as_str() {
            // The same alert again (a retried call).
            insert_alert(store, session, doc.clone()).await?;
            return Ok(OpenAlertOutcome::Created);
        }
        let stored = store
            .coll(ALERTS)
            .find_one(doc! { "_id": &holder_id })
            .session(&mut *session)
            .await
            .map_err(tx_err)?;
        let existing: Alert = match stored {
            Some(d) => from_doc(d)?,
            // Left by a crash of the fallback sequence: store its copy now.
            None => {
                let embedded = holder.get_document("alert").map_err(|e| {
                    StoreError::Corrupt(format!("open_alerts claim of {holder_id}: {e}"))
                })?;
                insert_alert(store, session, embedded.clone()).await?;
                from_doc(embedded.clone())?
            }
        };
        if existing.state.is_open() {
            return Ok(OpenAlertOutcome::AlreadyOpen(existing));
        }
        // Held by a resolved alert (an interrupted fallback resolve): free it.
        store
            .coll(OPEN_ALERTS)
            .delete_one(doc! { "_id": &key, "alert_id": &holder_id })
            .session(&mut *session)
            .await
            .map_err(tx_err)?;
    }
    let claim = doc! { "_id": &key, "alert_id": alert.id.as_str(), "alert": doc.clone() };
    store
        .coll(OPEN_ALERTS)
        .insert_one(claim)
        .session(&mut *session)
        .await
        .map_err(tx_err)?;
    store.interrupt.fire()?;
    insert_alert(store, session, doc.clone()).await?;
    Ok(OpenAlertOutcome::Created)
}

/// Inserts the alert document; one already there (a retried call) is left as it is.
/// Looked up first: inside a transaction a duplicate key would abort it.
async fn insert_alert(
    store: &MongoRecords,
    session: &mut ClientSession,
    doc: Document,
) -> std::result::Result<(), TxError> {
    let id = doc
        .get_str("_id")
        .map_err(|e| StoreError::Corrupt(format!("alert without _id: {e}")))?
        .to_owned();
    let there = store
        .coll(ALERTS)
        .find_one(doc! { "_id": &id })
        .session(&mut *session)
        .await
        .map_err(tx_err)?;
    if there.is_none() {
        store
            .coll(ALERTS)
            .insert_one(doc)
            .session(&mut *session)
            .await
            .map_err(tx_err)?;
    }
    Ok(())
}

async fn resolve_in(
    store: &MongoRecords,
    session: &mut ClientSession,
    id: &AlertId,
    at: Nanos,
) -> std::result::Result<Alert, TxError> {
    let updated = store
        .coll(ALERTS)
        .find_one_and_update(
            doc! { "_id": id.as_str(), "state": { "$ne": AlertState::Resolved.as_str() } },
            doc! { "$set": { "state": AlertState::Resolved.as_str(), "resolved_ns": at } },
        )
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await
        .map_err(tx_err)?;
    let alert: Alert = match updated {
        Some(d) => from_doc(d)?,
        None => {
            let found = store
                .coll(ALERTS)
                .find_one(doc! { "_id": id.as_str() })
                .session(&mut *session)
                .await
                .map_err(tx_err)?;
            from_doc(found.ok_or(StoreError::NotFound)?)?
        }
    };
    store.interrupt.fire()?;
    store
        .coll(OPEN_ALERTS)
        .delete_one(doc! { "_id": alert.dedup_key(), "alert_id": alert.id.as_str() })
        .session(&mut *session)
        .await
        .map_err(tx_err)?;
    Ok(alert)
}

/// Lists the device on its patient, then stores it (the order of the fallback too).
async fn register_in(
    store: &MongoRecords,
    session: &mut ClientSession,
    device: &Device,
) -> std::result::Result<(), TxError> {
    let listed = store
        .coll(PATIENTS)
        .update_one(
            doc! { "_id": device.patient.as_str() },
            doc! { "$addToSet": { "devices": device.id.as_str() } },
        )
        .session(&mut *session)
        .await
        .map_err(tx_err)?;
    if listed.matched_count == 0 {
        return Err(TxError::Store(StoreError::NotFound));
    }
    store.interrupt.fire()?;
    store
        .coll(DEVICES)
        .replace_one(
            doc! { "_id": device.id.as_str() },
            to_doc(device.id.as_str(), device)?,
        )
        .upsert(true)
        .session(&mut *session)
        .await
        .map_err(tx_err)?;
    Ok(())
}
