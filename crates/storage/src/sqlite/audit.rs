//! The audit chain in the embedded file. Appends run in an IMMEDIATE transaction, so
//! reading the last hash and inserting the next event cannot interleave with another
//! process doing the same. Triggers refuse UPDATE and DELETE. Events are sealed with the
//! store's `AuditSealer` (the audit key), and its checkpoints written after the commit.

use super::records::SqliteRecords;
use super::{from_json, map_err, to_json};
use crate::audit::AuditStore;
use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::audit::{AuditEntry, AuditEvent, AuditOutcome, GENESIS_HASH};
use cw_core::time::Nanos;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// Created by `schema::prepare` with the other tables.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS audit_events (
    seq     INTEGER PRIMARY KEY,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    patient TEXT    NOT NULL,
    outcome TEXT    NOT NULL,
    at_ns   INTEGER NOT NULL,
    doc     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit_events (actor, action, patient, at_ns);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- Events leave only once archived (`audit_archive.rs`): up to the seq recorded here.
CREATE TABLE IF NOT EXISTS audit_archived (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq INTEGER NOT NULL
);
-- Replaced at every start: files made before archiving had an unconditional one.
DROP TRIGGER IF EXISTS audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > coalesce((SELECT through_seq FROM audit_archived WHERE id = 1), 0)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
";

fn row_event(seq: i64, doc: &str) -> Result<AuditEvent> {
    let mut event: AuditEvent = from_json(doc)?;
    // The column is what orders the log; a tampered column must show, so it wins.
    event.seq = seq as u64;
    Ok(event)
}

#[async_trait]
impl AuditStore for SqliteRecords {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditEvent> {
        let entry = entry.clone();
        let sealer = self.sealer.clone();
        let event = self
            .db
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let last: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT seq, doc FROM audit_events ORDER BY seq DESC LIMIT 1",
                        [],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()
                    .map_err(map_err)?;
                let (seq, prev_hash) = match last {
                    Some((seq, doc)) => (seq as u64 + 1, row_event(seq, &doc)?.hash),
                    None => (1, GENESIS_HASH.to_owned()),
                };
                let event = sealer.seal(entry, seq, &prev_hash)?;
                tx.execute(
                    "INSERT INTO audit_events (seq, actor, action, patient, outcome, at_ns, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        seq as i64,
                        event.entry.actor,
                        event.entry.action,
                        event
                            .entry
                            .patient
                            .as_ref()
                            .map(|p| p.as_str())
                            .unwrap_or(""),
                        event.entry.outcome.as_str(),
                        event.entry.at_ns,
                        to_json(&event)?
                    ],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(event)
            })
            .await?;
        self.sealer.stored(&event).await;
        Ok(event)
    }

    async fn drop_archived_audit(&self, through_seq: u64, through_hash: &str) -> Result<u64> {
        let through_hash = through_hash.to_owned();
        self.db
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let through = i64::try_from(through_seq)
                    .map_err(|_| StoreError::Corrupt(format!("seq {through_seq} out of range")))?;
                let stored: Option<String> = tx
                    .query_row(
                        "SELECT doc FROM audit_events WHERE seq = ?1",
                        [through],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(map_err)?;
                let newer: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM audit_events WHERE seq > ?1)",
                        [through],
                        |row| row.get(0),
                    )
                    .map_err(map_err)?;
                match stored {
                    Some(doc) if row_event(through, &doc)?.hash == through_hash && newer => {}
                    _ => {
                        return Err(StoreError::Conflict(format!(
                            "audit event {through_seq} is not the stored one the archive ends                              with, or is the head: nothing dropped"
                        )));
                    }
                }
                tx.execute(
                    "INSERT INTO audit_archived (id, through_seq) VALUES (1, ?1)
                     ON CONFLICT (id) DO UPDATE
                     SET through_seq = max(through_seq, excluded.through_seq)",
                    [through],
                )
                .map_err(map_err)?;
                let dropped = tx
                    .execute("DELETE FROM audit_events WHERE seq <= ?1", [through])
                    .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(dropped as u64)
            })
            .await
    }

    async fn audit_events(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditEvent>> {
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT seq, doc FROM audit_events WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![from_seq as i64, limit as i64], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                    })
                    .map_err(map_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (seq, doc) = row.map_err(map_err)?;
                    out.push(row_event(seq, &doc)?);
                }
                Ok(out)
            })
            .await
    }

    async fn latest_audit(
        &self,
        actor: &str,
        action: &str,
        patient: &PatientId,
        since: Nanos,
    ) -> Result<Option<AuditEvent>> {
        let (actor, action, patient) = (actor.to_owned(), action.to_owned(), patient.clone());
        self.db
            .call(move |conn| {
                let row: Option<(i64, String)> = conn
                    .query_row(
                        "SELECT seq, doc FROM audit_events
                         WHERE actor = ?1 AND action = ?2 AND patient = ?3 AND at_ns >= ?4
                           AND outcome = ?5
                         ORDER BY at_ns DESC LIMIT 1",
                        params![
                            actor,
                            action,
                            patient.as_str(),
                            since,
                            AuditOutcome::Allowed.as_str()
                        ],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()
                    .map_err(map_err)?;
                row.map(|(seq, doc)| row_event(seq, &doc)).transpose()
            })
            .await
    }
}
