//! The notifier's outbox on MongoDB: `_id` is the idempotency key, so a second claim of
//! one key fails in the database whichever replica makes it.

use super::docs::{expire_at, from_doc, to_doc};
use super::indexes::DELIVERIES;
use super::{MongoRecords, is_duplicate_key, map_err};
use crate::ports::{DeliveryStore, Result, StoreError};
use async_trait::async_trait;
use cw_core::{AlertId, Delivery};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

#[async_trait]
impl DeliveryStore for MongoRecords {
    async fn claim_delivery(&self, delivery: &Delivery) -> Result<()> {
        let key = delivery.idempotency_key();
        match self
            .coll(DELIVERIES)
            .insert_one(self.delivery_doc(&key, delivery)?)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Conflict(format!(
                "delivery {key} already claimed"
            ))),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn update_delivery(&self, delivery: &Delivery) -> Result<()> {
        let key = delivery.idempotency_key();
        let next = Delivery {
            version: delivery.version.wrapping_add(1),
            ..delivery.clone()
        };
        // Compare-and-set: the filter names the version read, so of two replicas
        // replacing the same snapshot only the first matches. Rows written before
        // versions existed have no field and count as version 0.
        let read = i64::from(delivery.version);
        let filter = if read == 0 {
            doc! { "_id": &key, "$or": [ { "version": 0_i64 }, { "version": { "$exists": false } } ] }
        } else {
            doc! { "_id": &key, "version": read }
        };
        let result = self
            .coll(DELIVERIES)
            .replace_one(filter, self.delivery_doc(&key, &next)?)
            .await
            .map_err(map_err)?;
        if result.matched_count == 1 {
            return Ok(());
        }
        let exists = self
            .coll(DELIVERIES)
            .find_one(doc! { "_id": &key })
            .await
            .map_err(map_err)?
            .is_some();
        if exists {
            Err(StoreError::Conflict(format!(
                "delivery {key} changed since version {read}"
            )))
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn claim_deliveries(&self, deliveries: &[Delivery]) -> Vec<Result<()>> {
        // No fsync to share here, but one round trip each: distinct keys go at once
        // (a key twice in the batch goes in order, so the first claim is the one kept).
        if !distinct_keys(deliveries) {
            let mut outcomes = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                outcomes.push(self.claim_delivery(delivery).await);
            }
            return outcomes;
        }
        futures::future::join_all(deliveries.iter().map(|d| self.claim_delivery(d))).await
    }

    async fn update_deliveries(&self, deliveries: &[Delivery]) -> Vec<Result<()>> {
        if !distinct_keys(deliveries) {
            let mut outcomes = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                outcomes.push(self.update_delivery(delivery).await);
            }
            return outcomes;
        }
        futures::future::join_all(deliveries.iter().map(|d| self.update_delivery(d))).await
    }

    async fn deliveries_for_alert(&self, alert: &AlertId) -> Result<Vec<Delivery>> {
        let docs: Vec<Document> = self
            .coll(DELIVERIES)
            .find(doc! { "alert": alert.as_str() })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }

    async fn deliveries_for_alerts(&self, alerts: &[AlertId]) -> Result<Vec<Delivery>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = alerts.iter().map(AlertId::as_str).collect();
        // `_id` begins with the alert id (the idempotency key), so this order is by alert,
        // then key, as the embedded store answers.
        let docs: Vec<Document> = self
            .coll(DELIVERIES)
            .find(doc! { "alert": { "$in": ids } })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }
}

impl MongoRecords {
    /// The row, expiring `delivery_days` after its last change (none when kept forever).
    fn delivery_doc(&self, key: &str, delivery: &Delivery) -> Result<Document> {
        let mut doc = to_doc(key, delivery)?;
        if let Some(ttl) = self.delivery_ttl_ns {
            expire_at(&mut doc, delivery.updated_ns.saturating_add(ttl));
        }
        Ok(doc)
    }
}

fn distinct_keys(deliveries: &[Delivery]) -> bool {
    let keys: std::collections::HashSet<String> =
        deliveries.iter().map(Delivery::idempotency_key).collect();
    keys.len() == deliveries.len()
}
