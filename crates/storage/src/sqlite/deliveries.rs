//! The notifier's outbox in the embedded file, keyed by idempotency key.

use super::records::SqliteRecords;
use super::{from_json, map_err, to_json};
use crate::ports::{DeliveryStore, Result, StoreError};
use async_trait::async_trait;
use cw_core::{AlertId, Delivery};
use rusqlite::{Connection, params};

#[async_trait]
impl DeliveryStore for SqliteRecords {
    async fn claim_delivery(&self, delivery: &Delivery) -> Result<()> {
        let delivery = delivery.clone();
        self.db.call(move |conn| claim_in(conn, &delivery)).await
    }

    async fn claim_deliveries(&self, deliveries: &[Delivery]) -> Vec<Result<()>> {
        // A conflict (already claimed) is that claim's outcome, not the batch's.
        self.db
            .batch(
                deliveries,
                |tx, d| claim_in(tx, d),
                |e| matches!(e, StoreError::Conflict(_)),
            )
            .await
    }

    async fn update_delivery(&self, delivery: &Delivery) -> Result<()> {
        let delivery = delivery.clone();
        self.db.call(move |conn| update_in(conn, &delivery)).await
    }

    async fn update_deliveries(&self, deliveries: &[Delivery]) -> Vec<Result<()>> {
        // An unclaimed key or a stale version is that update's outcome, not the batch's.
        self.db
            .batch(
                deliveries,
                |tx, d| update_in(tx, d),
                |e| matches!(e, StoreError::NotFound | StoreError::Conflict(_)),
            )
            .await
    }

    async fn deliveries_for_alert(&self, alert: &AlertId) -> Result<Vec<Delivery>> {
        let alert = alert.clone();
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT doc FROM deliveries WHERE alert_id = ?1 ORDER BY idempotency_key",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([alert.as_str()], |row| row.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }

    async fn deliveries_for_alerts(&self, alerts: &[AlertId]) -> Result<Vec<Delivery>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        // One bound parameter, a JSON array of the ids, whatever their number (SQLite
        // caps bound parameters; `json_each` has no such cap).
        let ids = to_json(&alerts.iter().map(AlertId::as_str).collect::<Vec<_>>())?;
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT doc FROM deliveries
                         WHERE alert_id IN (SELECT value FROM json_each(?1))
                         ORDER BY alert_id, idempotency_key",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([ids], |row| row.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }
}

/// Inserts a `queued` row unless its idempotency key exists (then `Conflict`).
fn claim_in(conn: &Connection, delivery: &Delivery) -> Result<()> {
    let key = delivery.idempotency_key();
    let inserted = conn
        .execute(
            "INSERT INTO deliveries (idempotency_key, alert_id, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (idempotency_key) DO NOTHING",
            params![key, delivery.alert.as_str(), to_json(delivery)?],
        )
        .map_err(map_err)?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "delivery {key} already claimed"
        )));
    }
    Ok(())
}

/// Replaces the row of an existing idempotency key as a compare-and-set on its version
/// (`DeliveryStore::update_delivery`): `Conflict` when it moved on, `NotFound` when absent.
/// The version lives in the JSON document (rows written before versions count as 0).
fn update_in(conn: &Connection, delivery: &Delivery) -> Result<()> {
    let key = delivery.idempotency_key();
    let next = Delivery {
        version: delivery.version.wrapping_add(1),
        ..delivery.clone()
    };
    let updated = conn
        .execute(
            "UPDATE deliveries SET doc = ?2
             WHERE idempotency_key = ?1 AND COALESCE(json_extract(doc, '$.version'), 0) = ?3",
            params![key, to_json(&next)?, delivery.version],
        )
        .map_err(map_err)?;
    if updated == 1 {
        return Ok(());
    }
    let exists = conn
        .prepare_cached("SELECT 1 FROM deliveries WHERE idempotency_key = ?1")
        .and_then(|mut stmt| stmt.exists([&key]))
        .map_err(map_err)?;
    if exists {
        Err(StoreError::Conflict(format!(
            "delivery {key} changed since version {}",
            delivery.version
        )))
    } else {
        Err(StoreError::NotFound)
    }
}
