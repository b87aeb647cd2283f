//! `claim_deliveries`: a batch of claims behaves like the same claims made one by one.

use crate::fixtures::delivery;
use cw_core::{AlertId, Channel, DeliveryStatus, UserId};
use cw_storage::{StoreError, Stores};

pub async fn a_claim_batch_claims_new_keys_and_conflicts_on_claimed_ones(s: &Stores) {
    let (alert, doctor) = (AlertId::random(), UserId::random());
    let sms = delivery(&alert, Channel::Sms, &doctor, 1);
    s.records.claim_delivery(&sms).await.expect("claim sms");
    let voice = delivery(&alert, Channel::Voice, &doctor, 1);
    let in_app = delivery(&alert, Channel::InApp, &doctor, 1);
    let outcomes = s
        .records
        .claim_deliveries(&[voice.clone(), sms.clone(), in_app.clone(), voice])
        .await;
    assert_eq!(outcomes.len(), 4);
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(StoreError::Conflict(_))),
        "already claimed"
    );
    assert!(outcomes[2].is_ok(), "{:?}", outcomes[2]);
    assert!(
        matches!(outcomes[3], Err(StoreError::Conflict(_))),
        "claimed earlier in the batch"
    );
    let rows = s.records.deliveries_for_alert(&alert).await.expect("list");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(s.records.claim_deliveries(&[]).await.is_empty());
}

pub async fn an_update_batch_changes_claimed_rows_and_misses_unclaimed_ones(s: &Stores) {
    let (alert, doctor) = (AlertId::random(), UserId::random());
    let sms = delivery(&alert, Channel::Sms, &doctor, 1);
    let in_app = delivery(&alert, Channel::InApp, &doctor, 1);
    for claim in s
        .records
        .claim_deliveries(&[sms.clone(), in_app.clone()])
        .await
    {
        claim.expect("claimed");
    }
    let sent = cw_core::Delivery {
        status: DeliveryStatus::Sent,
        provider_id: Some("SM0123456789abcdef".into()),
        tries: 1,
        ..sms
    };
    let delivered = cw_core::Delivery {
        status: DeliveryStatus::Delivered,
        tries: 1,
        ..in_app
    };
    let unclaimed = delivery(&alert, Channel::Voice, &doctor, 1);
    let outcomes = s
        .records
        .update_deliveries(&[sent.clone(), unclaimed, delivered.clone()])
        .await;
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(StoreError::NotFound)),
        "{:?}",
        outcomes[1]
    );
    assert!(outcomes[2].is_ok(), "{:?}", outcomes[2]);
    let mut rows = s.records.deliveries_for_alert(&alert).await.expect("list");
    rows.sort_by_key(|d| d.idempotency_key());
    let mut expected = vec![
        cw_core::Delivery { version: 1, ..sent },
        cw_core::Delivery {
            version: 1,
            ..delivered
        },
    ];
    expected.sort_by_key(|d| d.idempotency_key());
    assert_eq!(rows, expected, "the unclaimed key is not created");
}
