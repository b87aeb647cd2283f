//! DeliveryStore behaviours: the notifier's outbox.

use crate::fixtures::{T0, delivery};
use cw_core::{AlertId, Channel, DeliveryStatus, UserId};
use cw_storage::{StoreError, Stores};

pub async fn claim_delivery_twice_with_the_same_key_conflicts(s: &Stores) {
    let (alert, doctor) = (AlertId::random(), UserId::random());
    let d = delivery(&alert, Channel::Sms, &doctor, 1);
    s.records.claim_delivery(&d).await.expect("claim");
    assert!(matches!(
        s.records.claim_delivery(&d).await,
        Err(StoreError::Conflict(_))
    ));
    // A different key (another channel, another attempt group) is a separate claim.
    s.records
        .claim_delivery(&delivery(&alert, Channel::Voice, &doctor, 1))
        .await
        .expect("claim voice");
    s.records
        .claim_delivery(&delivery(&alert, Channel::Sms, &doctor, 2))
        .await
        .expect("claim attempt 2");
    assert_eq!(
        s.records
            .deliveries_for_alert(&alert)
            .await
            .expect("list")
            .len(),
        3
    );
}

pub async fn update_delivery_changes_status_and_provider_id(s: &Stores) {
    let (alert, doctor) = (AlertId::random(), UserId::random());
    let queued = delivery(&alert, Channel::Email, &doctor, 1);
    s.records.claim_delivery(&queued).await.expect("claim");
    let sent = cw_core::Delivery {
        status: DeliveryStatus::Sent,
        provider_id: Some("SM0123456789abcdef".into()),
        sent_ns: Some(T0 + 1),
        updated_ns: T0 + 1,
        ..queued.clone()
    };
    s.records.update_delivery(&sent).await.expect("update");
    let sent = cw_core::Delivery { version: 1, ..sent };
    assert_eq!(
        s.records.deliveries_for_alert(&alert).await.expect("list"),
        vec![sent.clone()]
    );

    let failed = cw_core::Delivery {
        status: DeliveryStatus::Failed,
        error: Some("undeliverable".into()),
        updated_ns: T0 + 2,
        ..sent
    };
    s.records.update_delivery(&failed).await.expect("update");
    assert_eq!(
        s.records.deliveries_for_alert(&alert).await.expect("list"),
        vec![cw_core::Delivery {
            version: 2,
            ..failed
        }]
    );
    assert!(
        s.records
            .deliveries_for_alert(&AlertId::random())
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn update_of_an_unclaimed_delivery_is_not_found(s: &Stores) {
    let d = delivery(&AlertId::random(), Channel::Sms, &UserId::random(), 1);
    assert!(matches!(
        s.records.update_delivery(&d).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        s.records
            .deliveries_for_alert(&d.alert)
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn deliveries_of_several_alerts_come_in_one_read_by_alert(s: &Stores) {
    let (a, b, other, doctor) = (
        AlertId::random(),
        AlertId::random(),
        AlertId::random(),
        UserId::random(),
    );
    let rows = [
        delivery(&b, Channel::Sms, &doctor, 1),
        delivery(&a, Channel::Voice, &doctor, 2),
        delivery(&a, Channel::Sms, &doctor, 1),
        delivery(&other, Channel::Sms, &doctor, 1),
    ];
    for row in &rows {
        s.records.claim_delivery(row).await.expect("claim");
    }
    let mut wanted = [a.clone(), b.clone()];
    wanted.sort();
    let got = s
        .records
        .deliveries_for_alerts(&wanted)
        .await
        .expect("list");
    let mut expected: Vec<cw_core::Delivery> = rows[..3].to_vec();
    expected.sort_by_key(|d| (d.alert.clone(), d.idempotency_key()));
    assert_eq!(
        got, expected,
        "the named alerts' rows only, by alert then key"
    );
    assert!(
        s.records
            .deliveries_for_alerts(&[])
            .await
            .expect("none asked")
            .is_empty()
    );
}
