//! Crash safety of the notifier's outbox: the process is killed (abort, as kill -9)
//! right after Twilio accepted a message and before the notifier recorded it. On restart
//! the orphaned claim is sent again with the same idempotency key, so the doctor gets
//! exactly one SMS and one call — counted on the provider side — and the alert is still
//! fully delivered.

use cw_core::{Channel, DeliveryStatus, Priority};
use cw_e2e::env::required;
use cw_e2e::notifier::{NotifierHarness, Tuning, moto_mails_to, moto_ses_section};
use cw_e2e::system::Mode;
use std::time::Duration;

async fn no_duplicate_after_crash_between_provider_accept_and_record(mode: Mode) {
    let mut h = NotifierHarness::new(mode).await;
    let (patient, _) = h.chain(&["+15005550101"]).await;
    let alert = h.fire(&patient.id, Priority::High).await;
    let crash = Tuning {
        abort_after_provider_accept: true,
        extra: "[reliability]\nclaim_lease_ms = 2000\n".into(),
        ..Tuning::default()
    };
    h.spawn(&crash);

    h.died_in_the_crash_window().await;
    let at_crash = h.sandbox.messages().len() + h.sandbox.calls().len();
    assert!(
        at_crash >= 1,
        "the provider accepted something before the crash"
    );
    let rows = h.deliveries(&alert.id).await;
    let unrecorded = rows
        .iter()
        .filter(|d| matches!(d.channel, Channel::Sms | Channel::Voice))
        .filter(|d| d.status == DeliveryStatus::Queued)
        .count();
    assert!(
        unrecorded >= 1,
        "a provider-accepted send is still `queued` in the store: {rows:#?}"
    );

    h.spawn(&Tuning {
        extra: crash.extra.clone(),
        ..Tuning::default()
    });
    let rows = h
        .wait_deliveries(&alert.id, "sms and voice recorded as sent", |rows| {
            [Channel::Sms, Channel::Voice].iter().all(|ch| {
                rows.iter()
                    .any(|d| d.channel == *ch && d.status == DeliveryStatus::Sent)
            })
        })
        .await;
    // Give a wrongly-duplicating implementation time to show itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (messages, calls) = (h.sandbox.messages(), h.sandbox.calls());
    assert_eq!(
        messages.len(),
        1,
        "exactly one SMS reached the provider: {messages:#?}"
    );
    assert_eq!(
        calls.len(),
        1,
        "exactly one call reached the provider: {calls:#?}"
    );
    let sms = rows
        .iter()
        .find(|d| d.channel == Channel::Sms)
        .expect("sms row");
    let voice = rows
        .iter()
        .find(|d| d.channel == Channel::Voice)
        .expect("voice row");
    assert_eq!(sms.provider_id.as_deref(), Some(messages[0].sid.as_str()));
    assert_eq!(voice.provider_id.as_deref(), Some(calls[0].sid.as_str()));
    assert_eq!(
        messages[0].idempotency_token.as_deref(),
        Some(sms.idempotency_key().as_str())
    );
    assert!(
        rows.iter()
            .any(|d| d.channel == Channel::InApp && d.status == DeliveryStatus::Delivered),
        "in-app delivered too: {rows:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_duplicate_after_crash_embedded() {
    no_duplicate_after_crash_between_provider_accept_and_record(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_duplicate_after_crash_mongodb() {
    no_duplicate_after_crash_between_provider_accept_and_record(Mode::Servers).await;
}

/// An alert that fired while the notifier was down is delivered when it starts: the
/// reconcile reads open alerts from the store, no bus event needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_after_restart_delivers_an_alert_fired_while_down() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550102"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning::default());
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(messages.len(), 1, "log:\n{}", h.log());
    assert_eq!(messages[0].to, users[0].phone.clone().expect("phone"));
    assert!(messages[0].body.contains(alert.id.as_str()));
}

/// Email across a crash: SES has no idempotency key, so a notifier killed between SES's
/// yes and its own record of it sends the page again once the lease has passed — one
/// duplicate per kill in that window, counted at moto, never more. Both copies carry the
/// page's `Message-ID` (per alert, recipient and attempt group), so a mail client that
/// dedupes by it shows one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_across_a_crash_goes_at_least_once_under_one_message_id() {
    let ses_url = required("CW_TEST_SES_URL");
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550103"]).await;
    let email = format!("dr-{}@crash.test", users[0].id);
    let doctor = cw_core::User {
        email: Some(email.clone()),
        ..users[0].clone()
    };
    h.stores.records.put_user(&doctor).await.expect("email");
    let alert = h.fire(&patient.id, Priority::Medium).await;
    let ses = moto_ses_section(&ses_url, "alerts@crash.test").await;
    let extra = format!(
        "[routing]\nhigh = [\"email\"]\nmedium = [\"email\"]\nlow = [\"in_app\"]\n[reliability]\nclaim_lease_ms = 2000\n{ses}"
    );
    h.spawn(&Tuning {
        abort_after_provider_accept: true,
        extra: extra.clone(),
        ..Tuning::default()
    });
    h.died_in_the_crash_window().await;
    assert_eq!(
        moto_mails_to(&ses_url, &email).await.len(),
        1,
        "SES took the first"
    );

    h.spawn(&Tuning {
        extra,
        ..Tuning::default()
    });
    h.wait_deliveries(&alert.id, "email recorded as sent", |rows| {
        rows.iter()
            .any(|d| d.channel == Channel::Email && d.status == DeliveryStatus::Sent)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = moto_mails_to(&ses_url, &email).await;
    assert_eq!(
        mails.len(),
        2,
        "one duplicate for the one kill in the window: {mails:#?}"
    );
    let id = format!("Message-ID: <{}.{}.1@crash.test>", alert.id, doctor.id);
    for mail in &mails {
        assert!(mail.to_string().contains(&id), "{id} in {mail}");
    }
}
