//! Every change of an outbox row is a compare-and-set on its version, so notifiers that
//! read the same row and race to move it on (a due retry, an orphaned claim) cannot both
//! win: exactly one goes on to call the provider.

use crate::fixtures::{T0, delivery};
use cw_core::{AlertId, Channel, Delivery, DeliveryStatus, UserId};
use cw_storage::{StoreError, Stores};

/// A claimed row moved to `failed` with a retry due; returns it as the store has it.
async fn due_retry(s: &Stores) -> Delivery {
    let claim = delivery(&AlertId::random(), Channel::Sms, &UserId::random(), 1);
    s.records.claim_delivery(&claim).await.expect("claim");
    let failed = Delivery {
        status: DeliveryStatus::Failed,
        error: Some("provider unavailable".into()),
        tries: 1,
        next_try_ns: Some(T0 + 1),
        ..claim
    };
    s.records.update_delivery(&failed).await.expect("failed");
    let rows = s
        .records
        .deliveries_for_alert(&failed.alert)
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].version, 1, "one change since the claim");
    rows[0].clone()
}

fn requeued(snapshot: &Delivery, at: i64) -> Delivery {
    Delivery {
        status: DeliveryStatus::Queued,
        next_try_ns: None,
        updated_ns: at,
        ..snapshot.clone()
    }
}

pub async fn two_racing_claimers_of_one_retry_exactly_one_wins(s: &Stores) {
    for round in 0..10 {
        let snapshot = due_retry(s).await;
        let (a, b) = (requeued(&snapshot, T0 + 2), requeued(&snapshot, T0 + 3));
        let (ra, rb) = tokio::join!(s.records.update_delivery(&a), s.records.update_delivery(&b));
        let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {ra:?} {rb:?}");
        let lost = if ra.is_ok() { &rb } else { &ra };
        assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
        let rows = s
            .records
            .deliveries_for_alert(&snapshot.alert)
            .await
            .expect("list");
        let winner = if ra.is_ok() { &a } else { &b };
        assert_eq!(
            rows,
            vec![Delivery {
                version: 2,
                ..winner.clone()
            }]
        );
    }
}

pub async fn a_write_from_a_stale_snapshot_conflicts_and_changes_nothing(s: &Stores) {
    let snapshot = due_retry(s).await;
    let stale = Delivery {
        version: 0,
        ..requeued(&snapshot, T0 + 2)
    };
    assert!(matches!(
        s.records.update_delivery(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    let ahead = Delivery {
        version: 7,
        ..requeued(&snapshot, T0 + 2)
    };
    assert!(matches!(
        s.records.update_delivery(&ahead).await,
        Err(StoreError::Conflict(_))
    ));
    let rows = s
        .records
        .deliveries_for_alert(&snapshot.alert)
        .await
        .expect("list");
    assert_eq!(rows, vec![snapshot]);
}

pub async fn a_batch_reports_a_stale_row_and_stores_the_others(s: &Stores) {
    let fresh = due_retry(s).await;
    let moved = due_retry(s).await;
    // Someone else moves `moved` on first.
    s.records
        .update_delivery(&requeued(&moved, T0 + 2))
        .await
        .expect("first writer");
    let outcomes = s
        .records
        .update_deliveries(&[requeued(&moved, T0 + 3), requeued(&fresh, T0 + 3)])
        .await;
    assert!(
        matches!(outcomes[0], Err(StoreError::Conflict(_))),
        "{outcomes:?}"
    );
    assert!(outcomes[1].is_ok(), "{outcomes:?}");
    let rows = s
        .records
        .deliveries_for_alert(&fresh.alert)
        .await
        .expect("list");
    assert_eq!(rows[0].status, DeliveryStatus::Queued);
    assert_eq!(rows[0].version, 2);
    let rows = s
        .records
        .deliveries_for_alert(&moved.alert)
        .await
        .expect("list");
    assert_eq!(
        rows[0].updated_ns,
        T0 + 2,
        "the first writer's change stands"
    );
}
