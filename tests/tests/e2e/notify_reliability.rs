//! Retries, timeouts and failover of the notifier against the Twilio sandbox in fault
//! modes; every count is taken on the sandbox (what reached the provider).

use cw_core::{Channel, DeliveryStatus, Priority};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use std::time::Duration;

/// Medium alerts go by SMS only, retries come fast.
const SMS_ONLY_FAST_RETRY: &str = r#"[routing]
high = ["sms", "voice", "in_app"]
medium = ["sms"]
low = ["in_app"]
[reliability]
retry_base_ms = 100
retry_max_ms = 400
claim_lease_ms = 5000
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_with_backoff_after_provider_5xx_sends_one_sms() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    h.sandbox.fail_next(2, 503);
    let (patient, _) = h.chain(&["+15005550201"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning {
        extra: SMS_ONLY_FAST_RETRY.into(),
        ..Tuning::default()
    });
    let rows = h
        .wait_deliveries(&alert.id, "sms sent after retries", |rows| {
            rows.iter()
                .any(|d| d.channel == Channel::Sms && d.status == DeliveryStatus::Sent)
        })
        .await;
    assert_eq!(h.sandbox.refused(), 2, "two tries refused by the provider");
    let messages = h.sandbox.messages();
    assert_eq!(messages.len(), 1, "one SMS reached the provider");
    assert_eq!(
        rows.len(),
        1,
        "retries reuse the row, no failover: {rows:#?}"
    );
    assert_eq!(rows[0].tries, 3);
    assert_eq!(
        rows[0].provider_id.as_deref(),
        Some(messages[0].sid.as_str())
    );
    // The acceptance time is the third try's, after the alarm fired and not after the
    // row's latest change.
    let sent = rows[0]
        .sent_ns
        .expect("the provider's acceptance is recorded");
    assert!(
        alert.fired_ns < sent && sent <= rows[0].updated_ns,
        "{rows:#?}"
    );
}

/// The provider took the message but its answer came after our timeout: the retry
/// carries the same idempotency token, so the doctor still gets one SMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_timeout_does_not_send_twice() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    h.sandbox.delay_answers(Some(Duration::from_millis(2500)));
    let (patient, _) = h.chain(&["+15005550202"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning {
        extra: SMS_ONLY_FAST_RETRY.into(),
        ..Tuning::default()
    });
    let first = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(first.len(), 1, "log:\n{}", h.log());
    let failed = h
        .wait_deliveries(&alert.id, "the timed-out try recorded as failed", |rows| {
            rows.iter().any(|d| d.status == DeliveryStatus::Failed)
        })
        .await;
    // No answer, no acceptance time.
    assert!(failed.iter().all(|d| d.sent_ns.is_none()), "{failed:#?}");
    h.sandbox.delay_answers(None);
    let rows = h
        .wait_deliveries(&alert.id, "sms sent by the retry", |rows| {
            rows.iter()
                .any(|d| d.channel == Channel::Sms && d.status == DeliveryStatus::Sent)
        })
        .await;
    assert_eq!(
        h.sandbox.messages().len(),
        1,
        "the retry did not send a second SMS"
    );
    assert!(rows[0].tries >= 2, "{rows:#?}");
    assert_eq!(rows[0].provider_id.as_deref(), Some(first[0].sid.as_str()));
    assert!(rows[0].sent_ns.is_some(), "{rows:#?}");
}

/// Twilio is down: the SMS fails, the doctor is reached in-app at once, the circuit
/// opens so the outage is not hammered, and the SMS goes out once Twilio is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failover_to_other_channels_while_twilio_is_down() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    h.sandbox.fail_all(Some(503));
    let (patient, _) = h.chain(&["+15005550203"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning {
        extra: format!(
            "{SMS_ONLY_FAST_RETRY}max_tries = 50\nbreaker_failures = 2\nbreaker_open_ms = 1500\n"
        ),
        ..Tuning::default()
    });
    let rows = h
        .wait_deliveries(&alert.id, "failover to in-app", |rows| {
            rows.iter()
                .any(|d| d.channel == Channel::InApp && d.status == DeliveryStatus::Delivered)
        })
        .await;
    assert!(
        rows.iter()
            .any(|d| d.channel == Channel::Sms && d.status == DeliveryStatus::Failed),
        "{rows:#?}"
    );
    // With 100-400 ms backoff, ~10 tries per second would reach a provider without a
    // breaker; with it, Twilio sees about two per open period.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused = h.sandbox.refused();
    assert!(
        refused <= 10,
        "circuit breaker limits calls to a down provider: {refused}"
    );
    h.sandbox.fail_all(None);
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(
        messages.len(),
        1,
        "sms sent after recovery; log:\n{}",
        h.log()
    );
    h.wait_deliveries(&alert.id, "sms recorded as sent", |rows| {
        rows.iter()
            .any(|d| d.channel == Channel::Sms && d.status == DeliveryStatus::Sent)
    })
    .await;
}
