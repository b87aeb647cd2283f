//! `claim_deliveries`: a batch of claims behaves like the same claims made one by one.

use crate::fixtures::delivery;
use cw_core::{AlertId, Channel, UserId};
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
