//! Alerts in the embedded file. `open_alerts(dedup_key PRIMARY KEY)` is the unique index
//! that allows one open alert per (patient, rule); every change runs in an IMMEDIATE
//! transaction so two processes sharing the file cannot interleave a check and a write.

use super::records::SqliteRecords;
use super::{from_json, map_err, to_json};
use crate::ports::{AlertStore, OpenAlertOutcome, Result, StoreError};
use async_trait::async_trait;
use cw_core::escalation::EscalationRequest;
use cw_core::snooze::AlertSnooze;
use cw_core::time::Nanos;
use cw_core::triage::Triage;
use cw_core::{Alert, AlertId, AlertState, Episode, PatientId};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

#[async_trait]
impl AlertStore for SqliteRecords {
    async fn open_alert(&self, alert: &Alert) -> Result<OpenAlertOutcome> {
        let alert = alert.clone();
        self.db
            .call(move |conn| {
                let tx = write_tx(conn)?;
                let outcome = open_in(&tx, &alert)?;
                tx.commit().map_err(map_err)?;
                Ok(outcome)
            })
            .await
    }

    async fn open_alert_batch(&self, alerts: &[Alert]) -> Vec<Result<OpenAlertOutcome>> {
        // Any error rolls the batch back: an alert is either stored or retried.
        self.db.batch(alerts, open_in, |_| false).await
    }

    async fn get_alert(&self, id: &AlertId) -> Result<Alert> {
        let id = id.clone();
        self.db.call(move |conn| load(conn, id.as_str())).await
    }

    async fn acknowledge_alert(&self, id: &AlertId, by: &str, at: Nanos) -> Result<Alert> {
        let (id, by) = (id.clone(), by.to_owned());
        self.db
            .call(move |conn| {
                let tx = write_tx(conn)?;
                let mut alert = load(&tx, id.as_str())?;
                // Only a firing alert takes an ack: a second ack keeps the first, and a
                // resolved alert stays resolved.
                if alert.state == AlertState::Firing {
                    alert.state = AlertState::Acknowledged;
                    alert.acked_ns = Some(at);
                    alert.acked_by = Some(by);
                    save(&tx, &alert)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(alert)
            })
            .await
    }

    async fn resolve_alert(&self, id: &AlertId, at: Nanos) -> Result<Alert> {
        let id = id.clone();
        self.db
            .call(move |conn| {
                let tx = write_tx(conn)?;
                let mut alert = load(&tx, id.as_str())?;
                if alert.state != AlertState::Resolved {
                    alert.state = AlertState::Resolved;
                    alert.resolved_ns = Some(at);
                    save(&tx, &alert)?;
                }
                // Frees the key only if this alert holds it (another may hold it by now).
                tx.execute(
                    "DELETE FROM open_alerts WHERE dedup_key = ?1 AND alert_id = ?2",
                    params![alert.dedup_key(), alert.id.as_str()],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(alert)
            })
            .await
    }

    async fn snooze_alert(&self, id: &AlertId, snooze: &AlertSnooze) -> Result<Alert> {
        let (id, snooze) = (id.clone(), snooze.clone());
        self.db
            .call(move |conn| {
                let tx = write_tx(conn)?;
                let mut alert = load(&tx, id.as_str())?;
                if alert.state == AlertState::Firing {
                    alert.snooze = Some(Box::new(snooze));
                    save(&tx, &alert)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(alert)
            })
            .await
    }

    async fn escalate_alert(&self, id: &AlertId, request: &EscalationRequest) -> Result<Alert> {
        let (id, request) = (id.clone(), request.clone());
        self.db
            .call(move |conn| {
                let tx = write_tx(conn)?;
                let mut alert = load(&tx, id.as_str())?;
                if alert.state == AlertState::Firing {
                    alert.escalation = Some(Box::new(request));
                    save(&tx, &alert)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(alert)
            })
            .await
    }

    async fn triage_alert(&self, id: &AlertId, triage: &Triage) -> Result<Alert> {
        let (id, triage) = (id.clone(), triage.clone());
        self.db
            .call(move |conn| {
                let tx = write_tx(conn)?;
                let mut alert = load(&tx, id.as_str())?;
                alert.triage = Some(Box::new(triage));
                save(&tx, &alert)?;
                tx.commit().map_err(map_err)?;
                Ok(alert)
            })
            .await
    }

    async fn record_episode(&self, id: &AlertId, episode: &Episode) -> Result<Alert> {
        let (id, episode) = (id.clone(), *episode);
        self.db
            .call(move |conn| {
                let tx = write_tx(conn)?;
                let mut alert = load(&tx, id.as_str())?;
                if alert.state.is_open() && alert.episode != episode {
                    alert.episode = episode;
                    save(&tx, &alert)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(alert)
            })
            .await
    }

    async fn open_alerts(&self) -> Result<Vec<Alert>> {
        self.db
            .call(|conn| {
                select(
                    conn,
                    "SELECT doc FROM alerts WHERE state IN ('firing', 'acknowledged')
                     ORDER BY fired_ns, id",
                    [],
                )
            })
            .await
    }

    async fn alerts_resolved_since(&self, since: Nanos, limit: usize) -> Result<Vec<Alert>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .call(move |conn| {
                select(
                    conn,
                    "SELECT doc FROM alerts
                     WHERE state = 'resolved' AND json_extract(doc, '$.resolved_ns') >= ?1
                     ORDER BY json_extract(doc, '$.resolved_ns'), id
                     LIMIT ?2",
                    params![since, limit],
                )
            })
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
        // The id list travels as one JSON parameter: no limit on how many, no SQL built
        // from input.
        let ids = serde_json::to_string(&patients)
            .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
        let state = state.map(AlertState::as_str);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .call(move |conn| {
                select(
                    conn,
                    "SELECT doc FROM alerts
                     WHERE patient IN (SELECT value FROM json_each(?1))
                       AND (?2 IS NULL OR state = ?2)
                     ORDER BY fired_ns DESC, id DESC
                     LIMIT ?3",
                    params![ids, state, limit],
                )
            })
            .await
    }
}

/// Opens one alert inside the caller's transaction (see `AlertStore::open_alert`).
fn open_in(tx: &Transaction<'_>, alert: &Alert) -> Result<OpenAlertOutcome> {
    let key = alert.dedup_key();
    let holder: Option<String> = tx
        .query_row(
            "SELECT alert_id FROM open_alerts WHERE dedup_key = ?1",
            [&key],
            |row| row.get(0),
        )
        .optional()
        .map_err(map_err)?;
    if let Some(holder) = holder {
        if holder == alert.id.as_str() {
            // The same alert again (a retried call): already stored.
            return Ok(OpenAlertOutcome::Created);
        }
        let existing = load(tx, &holder)?;
        if existing.state.is_open() {
            return Ok(OpenAlertOutcome::AlreadyOpen(existing));
        }
        // A key still held by a resolved alert would block the rule forever.
        tx.execute("DELETE FROM open_alerts WHERE dedup_key = ?1", [&key])
            .map_err(map_err)?;
    }
    tx.execute(
        "INSERT INTO alerts (id, patient, state, fired_ns, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            alert.id.as_str(),
            alert.patient.as_str(),
            alert.state.as_str(),
            alert.fired_ns,
            to_json(alert)?
        ],
    )
    .map_err(map_err)?;
    if alert.state.is_open() {
        tx.execute(
            "INSERT INTO open_alerts (dedup_key, alert_id) VALUES (?1, ?2)",
            params![key, alert.id.as_str()],
        )
        .map_err(map_err)?;
    }
    Ok(OpenAlertOutcome::Created)
}

/// IMMEDIATE takes the write lock up front, so a read-then-write cannot be raced by
/// another process (a DEFERRED one would fail with BUSY on upgrade instead of waiting).
fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)
}

fn load(conn: &Connection, id: &str) -> Result<Alert> {
    let doc: String = conn
        .query_row("SELECT doc FROM alerts WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .map_err(map_err)?;
    from_json(&doc)
}

fn save(conn: &Connection, alert: &Alert) -> Result<()> {
    conn.execute(
        "UPDATE alerts SET state = ?2, doc = ?3 WHERE id = ?1",
        params![alert.id.as_str(), alert.state.as_str(), to_json(alert)?],
    )
    .map_err(map_err)?;
    Ok(())
}

/// The alerts a `SELECT doc FROM alerts …` finds, in its order.
fn select(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Alert>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(map_err)?;
    rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
}
