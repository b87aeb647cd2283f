//! Routing from the recipient's stored preferences: their channels per priority, a
//! snooze that quietens medium alerts to in-app, and high priority that ignores both.

use cw_core::delivery::NotifyPreferences;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Channel, DeliveryStatus, Priority};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_route_medium_by_voice_and_snooze_keeps_it_in_app_but_not_high() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (voice_patient, voice_users) = h.chain(&["+15005550501"]).await;
    let (snoozed_patient, snoozed_users) = h.chain(&["+15005550502"]).await;
    let mut prefers_voice = voice_users[0].clone();
    prefers_voice.notify = NotifyPreferences {
        medium: Some(vec![Channel::Voice]),
        ..NotifyPreferences::default()
    };
    h.stores
        .records
        .put_user(&prefers_voice)
        .await
        .expect("user");
    let mut snoozed = snoozed_users[0].clone();
    snoozed.notify.snooze_until_ns = Some(now_ns() + 600 * NANOS_PER_SEC);
    h.stores.records.put_user(&snoozed).await.expect("user");

    let by_voice = h.fire(&voice_patient.id, Priority::Medium).await;
    let quiet = h.fire(&snoozed_patient.id, Priority::Medium).await;
    h.spawn(&Tuning::default());

    let calls = h.sandbox.wait_for_calls(1, Duration::from_secs(20)).await;
    assert_eq!(calls.len(), 1, "log:\n{}", h.log());
    assert_eq!(calls[0].to, "+15005550501");
    h.wait_deliveries(&quiet.id, "snoozed: in-app", |rows| {
        rows.iter()
            .any(|d| d.channel == Channel::InApp && d.status == DeliveryStatus::Delivered)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        h.sandbox.messages().is_empty(),
        "no SMS: voice preferred, other snoozed"
    );
    let voice_rows = h.deliveries(&by_voice.id).await;
    assert!(
        voice_rows.iter().all(|d| d.channel == Channel::Voice),
        "{voice_rows:#?}"
    );

    // High priority pages the snoozed doctor on every channel anyway.
    let high_patient = cw_core::Patient {
        id: cw_core::PatientId::random(),
        ..snoozed_patient.clone()
    };
    h.stores
        .records
        .put_patient(&high_patient)
        .await
        .expect("patient");
    h.fire(&high_patient.id, Priority::High).await;
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].to, "+15005550502",
        "snooze never applies to high"
    );
}
