//! Group commit for the outbox rows' outcomes (`sent`, `failed`, `queued` again).
//!
//! Every page ends with an `update_delivery`; a high-priority alert pages three or four
//! channels, so at 100 alerts/s the embedded store took hundreds of single-row commits
//! (each an fsync) per second, and the next alert's reads and claims queued behind them.
//! Callers that arrive while a commit is running wait for the next one, which stores all
//! of them together (`DeliveryStore::update_deliveries`). Each caller still returns only
//! once its own row is durable, so the outbox order (row written, then provider call;
//! outcome recorded, then the row's flight released) is unchanged.

use cw_core::Delivery;
use cw_storage::{NotifierRecords, StoreError};
use std::sync::{Mutex, PoisonError};
use tokio::sync::oneshot;

type Waiter = (Delivery, oneshot::Sender<Result<(), StoreError>>);

#[derive(Default)]
pub struct OutboxCommit {
    /// Rows waiting for the next commit, with whom to tell the outcome.
    pending: Mutex<Vec<Waiter>>,
    /// Held by the caller that is committing; the others wait here.
    turn: tokio::sync::Mutex<()>,
}

impl OutboxCommit {
    /// Updates one row, batched with the rows other tasks are updating meanwhile.
    pub async fn update(
        &self,
        records: &dyn NotifierRecords,
        delivery: Delivery,
    ) -> Result<(), StoreError> {
        let (tx, mut rx) = oneshot::channel();
        self.lock_pending().push((delivery, tx));
        let abandoned = |_| Err(StoreError::Unavailable("outbox commit abandoned".into()));
        let _turn = tokio::select! {
            biased;
            // The commit running now took this row with its batch.
            outcome = &mut rx => return outcome.unwrap_or_else(abandoned),
            turn = self.turn.lock() => turn,
        };
        match rx.try_recv() {
            // An earlier holder of the turn committed this row with its batch.
            Ok(outcome) => return outcome,
            // That holder was cancelled mid-commit: the row's fate is unknown, like a
            // crash; it stays `queued` at worst and is re-sent with the same key.
            Err(oneshot::error::TryRecvError::Closed) => {
                return Err(StoreError::Unavailable("outbox commit abandoned".into()));
            }
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let (rows, waiters): (Vec<Delivery>, Vec<_>) = std::mem::take(&mut *self.lock_pending())
            .into_iter()
            .unzip();
        let outcomes = records.update_deliveries(&rows).await;
        let mut outcomes = outcomes.into_iter();
        for waiter in waiters {
            let outcome = outcomes
                .next()
                .unwrap_or_else(|| Err(StoreError::Unavailable("update without outcome".into())));
            // A waiter that is gone no longer needs its outcome.
            let _ = waiter.send(outcome);
        }
        rx.await.unwrap_or_else(abandoned)
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<Waiter>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{AlertId, Channel, DeliveryStatus, UserId};
    use cw_storage::{Backend, StorageConfig};
    use std::sync::Arc;

    fn queued(alert: &AlertId, recipient: &UserId, channel: Channel) -> Delivery {
        Delivery {
            alert: alert.clone(),
            channel,
            recipient: recipient.clone(),
            attempt: 1,
            status: DeliveryStatus::Queued,
            provider_id: None,
            sent_ns: None,
            error: None,
            // Now: rows unchanged for `storage.retention.delivery_days` are swept.
            updated_ns: cw_core::time::now_ns(),
            tries: 0,
            next_try_ns: None,
            version: 0,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_updates_each_get_their_own_outcome_and_are_stored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = cw_storage::open(&StorageConfig {
            backend: Backend::Embedded,
            path: dir.path().join("outbox.sqlite"),
            key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
            ..StorageConfig::default()
        })
        .await
        .expect("embedded store");
        let alert = AlertId::random();
        let doctors: Vec<UserId> = (0..30).map(|_| UserId::random()).collect();
        let claims: Vec<Delivery> = doctors
            .iter()
            .map(|d| queued(&alert, d, Channel::Sms))
            .collect();
        for claim in stores.records.claim_deliveries(&claims).await {
            claim.expect("claimed");
        }
        let commit = Arc::new(OutboxCommit::default());
        let unclaimed = queued(&alert, &UserId::random(), Channel::Voice);
        let updates = claims
            .iter()
            .map(|c| Delivery {
                status: DeliveryStatus::Sent,
                provider_id: Some(format!("SM-{}", c.recipient)),
                tries: 1,
                ..c.clone()
            })
            .chain([unclaimed.clone()]);
        let tasks: Vec<_> = updates
            .map(|row| {
                let (commit, records) = (commit.clone(), stores.records.clone());
                tokio::spawn(async move {
                    let key = row.idempotency_key();
                    (key, commit.update(records.as_ref(), row).await)
                })
            })
            .collect();
        for task in tasks {
            let (key, outcome) = task.await.expect("update task");
            if key == unclaimed.idempotency_key() {
                assert!(matches!(outcome, Err(StoreError::NotFound)), "{outcome:?}");
            } else {
                outcome.expect("claimed row updated");
            }
        }
        let rows = stores
            .records
            .deliveries_for_alert(&alert)
            .await
            .expect("rows");
        assert_eq!(rows.len(), claims.len(), "the unclaimed row is not created");
        assert!(
            rows.iter().all(|r| r.status == DeliveryStatus::Sent),
            "{rows:?}"
        );
    }
}
