//! Escalation and acknowledgement: the chain moves to the next doctor (and to voice)
//! when nobody acknowledges in time; an ack by SMS reply, by key press on the call, or
//! through the store (as the api's REST ack writes it) stops it. Twilio's requests come
//! from the sandbox, signed; forged ones are refused.

use cw_core::time::now_ns;
use cw_core::{AlertState, Channel, DeliveryStatus, Priority};
use cw_e2e::notifier::{AUTH_TOKEN, NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use cw_sandbox::callbacks::{post_with_signature, twilio_signature};
use std::time::Duration;

/// Medium alerts by SMS; unacknowledged after 2 s they escalate.
const FAST_ESCALATION: &str = r#"[routing]
high = ["sms", "voice", "in_app"]
medium = ["sms"]
low = ["in_app"]
[reliability.ack_deadline_s]
high = 2
medium = 2
low = 0
"#;

fn tuning() -> Tuning {
    Tuning {
        extra: FAST_ESCALATION.into(),
        ..Tuning::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_to_next_doctor_by_sms_and_voice_when_not_acknowledged() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550301", "+15005550302"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&tuning());
    let first = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].to, "+15005550301");
    assert!(
        h.sandbox.calls().is_empty(),
        "medium goes by SMS only at first"
    );

    let calls = h.sandbox.wait_for_calls(1, Duration::from_secs(20)).await;
    let messages = h
        .sandbox
        .wait_for_messages(2, Duration::from_secs(20))
        .await;
    assert_eq!(calls.len(), 1, "log:\n{}", h.log());
    assert_eq!(
        calls[0].to, "+15005550302",
        "the louder channel goes to the next doctor"
    );
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].to, "+15005550302");
    let rows = h.deliveries(&alert.id).await;
    assert!(
        rows.iter()
            .any(|d| d.recipient == users[1].id && d.attempt == 2)
    );
    // The chain has two doctors.
    h.assert_no_further_pages(2, 1, "no third page, no second page to the first")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_through_the_store_stops_escalation() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550311", "+15005550312"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&tuning());
    assert_eq!(
        h.sandbox
            .wait_for_messages(1, Duration::from_secs(20))
            .await
            .len(),
        1
    );
    h.stores
        .records
        .acknowledge_alert(&alert.id, users[0].id.as_str(), now_ns())
        .await
        .expect("ack as the api does");
    h.assert_no_further_pages(1, 0, "nobody else paged after the ack")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_by_sms_reply_stops_escalation() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550321", "+15005550322"]).await;
    // Two patients of the same doctors: one open alert per (patient, rule).
    let second = h.another_patient_like(&patient).await;
    let older = h.fire(&patient.id, Priority::Medium).await;
    let alert = h.fire(&second.id, Priority::Medium).await;
    h.spawn(&tuning());
    assert_eq!(
        h.sandbox
            .wait_for_messages(2, Duration::from_secs(20))
            .await
            .len(),
        2
    );
    let rows = h
        .wait_deliveries(&older.id, "sms recorded", |rows| {
            rows.iter().any(|d| d.status == DeliveryStatus::Sent)
        })
        .await;
    h.wait_deliveries(&alert.id, "sms recorded", |rows| {
        rows.iter().any(|d| d.status == DeliveryStatus::Sent)
    })
    .await;
    // "ACK <code>" names one page: the older alert's, although it is not the newest.
    let code = rows[0].page_code();
    let (status, body) = h.reply_sms("+15005550321", &format!("ack {code}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("acknowledged"), "{body}");
    // "1" acks the only alert still open that was paged to this phone.
    let (status, body) = h.reply_sms("+15005550321", "1").await;
    assert_eq!(status, 200, "{body}");
    for id in [&older.id, &alert.id] {
        let stored = h.stores.records.get_alert(id).await.expect("alert");
        assert_eq!(stored.state, AlertState::Acknowledged, "log:\n{}", h.log());
        assert_eq!(stored.acked_by.as_deref(), Some(users[0].id.as_str()));
    }
    let audit = h.stores.records.audit_events(0, 1000).await.expect("audit");
    let acks: Vec<_> = audit
        .iter()
        .filter(|e| e.entry.action == "ack_by_sms")
        .filter(|e| e.entry.outcome == cw_core::audit::AuditOutcome::Allowed)
        .collect();
    assert_eq!(acks.len(), 2, "each SMS ack audited: {audit:#?}");
    assert!(acks.iter().all(|e| e.entry.actor == users[0].id.as_str()));
    h.assert_no_further_pages(2, 0, "no escalation after the acks")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_by_key_press_on_the_call() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550331", "+15005550332"]).await;
    let alert = h.fire(&patient.id, Priority::High).await;
    h.spawn(&tuning());
    let calls = h.sandbox.wait_for_calls(1, Duration::from_secs(20)).await;
    assert_eq!(calls.len(), 1, "log:\n{}", h.log());
    h.wait_deliveries(&alert.id, "call recorded", |rows| {
        rows.iter()
            .any(|d| d.channel == Channel::Voice && d.status == DeliveryStatus::Sent)
    })
    .await;
    let (status, twiml) = h.press_key(&calls[0].sid, "1").await;
    assert_eq!(status, 200, "{twiml}");
    assert!(twiml.contains("acknowledged"), "{twiml}");
    let stored = h.stores.records.get_alert(&alert.id).await.expect("alert");
    assert_eq!(stored.state, AlertState::Acknowledged);
    assert_eq!(stored.acked_by.as_deref(), Some(users[0].id.as_str()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.sandbox.calls().len(),
        1,
        "the second doctor is not called"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_callback_marks_delivered_and_signature_rejected_when_forged() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, _) = h.chain(&["+15005550341"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&tuning());
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(messages.len(), 1);
    h.wait_deliveries(&alert.id, "sms recorded", |rows| {
        rows.iter().any(|d| d.status == DeliveryStatus::Sent)
    })
    .await;
    let client = h.https();
    let callback = messages[0]
        .status_callback
        .clone()
        .expect("per-delivery callback URL");

    // Forged: signed with another token, unsigned, and a valid signature replayed
    // with other parameters. None may change anything.
    let params = [
        ("MessageSid", messages[0].sid.as_str()),
        ("MessageStatus", "failed"),
    ];
    let wrong = twilio_signature("not-the-token", &callback, &params);
    let good_for_delivered = twilio_signature(
        AUTH_TOKEN,
        &callback,
        &[
            ("MessageSid", messages[0].sid.as_str()),
            ("MessageStatus", "delivered"),
        ],
    );
    for sig in [
        Some(wrong.as_str()),
        None,
        Some(good_for_delivered.as_str()),
    ] {
        let (status, _) = post_with_signature(&client, &callback, &params, sig)
            .await
            .expect("posted");
        assert_eq!(status, 403, "forged status callback refused");
    }
    let sms_forged = [("From", "+15005550341"), ("Body", "1")];
    let (status, _) = post_with_signature(
        &client,
        &h.webhook_url(cw_notifier::webhooks::SMS_PATH),
        &sms_forged,
        Some(&wrong),
    )
    .await
    .expect("posted");
    assert_eq!(status, 403, "forged SMS ack refused");
    let stored = h.stores.records.get_alert(&alert.id).await.expect("alert");
    assert_eq!(
        stored.state,
        AlertState::Firing,
        "forged ack changed nothing"
    );
    let audit = h.stores.records.audit_events(0, 1000).await.expect("audit");
    let denied = audit
        .iter()
        .filter(|e| e.entry.outcome == cw_core::audit::AuditOutcome::Denied)
        .count();
    assert_eq!(
        denied, 4,
        "every forged request audited as denied: {audit:#?}"
    );
    assert!(
        h.deliveries(&alert.id)
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Sent)
    );

    let (status, body) = h
        .sandbox
        .send_status(&client, AUTH_TOKEN, &messages[0].sid, "delivered")
        .await
        .expect("callback posted");
    assert!(status < 300, "{status} {body}");
    let rows = h.deliveries(&alert.id).await;
    assert_eq!(rows[0].status, DeliveryStatus::Delivered, "{rows:#?}");
}

async fn disable(h: &NotifierHarness, user: &cw_core::User) {
    let disabled = cw_core::User {
        disabled: Some(cw_core::patient::Disabled {
            since_ns: now_ns(),
            by: "admin-test".into(),
        }),
        ..user.clone()
    };
    h.stores
        .records
        .put_user(&disabled)
        .await
        .expect("user disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_doctor_is_skipped_and_the_next_one_is_paged_at_once() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550361", "+15005550362"]).await;
    disable(&h, &users[0]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&tuning());
    let first = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(
        first[0].to, "+15005550362",
        "the first page goes to the first active doctor, without waiting a deadline"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        h.deliveries(&alert.id)
            .await
            .iter()
            .all(|d| d.recipient == users[1].id),
        "nothing is addressed to the disabled doctor"
    );
    assert!(
        h.sandbox.messages().iter().all(|m| m.to != "+15005550361"),
        "the disabled doctor's phone is never paged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_ack_from_a_disabled_doctors_phone_is_refused_and_escalation_goes_on() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550371", "+15005550372"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&tuning());
    h.wait_deliveries(&alert.id, "sms to the first doctor", |rows| {
        rows.iter()
            .any(|d| d.recipient == users[0].id && d.status == DeliveryStatus::Sent)
    })
    .await;
    // The doctor leaves (or the phone is stolen) while the alert is open.
    disable(&h, &users[0]).await;
    let (status, body) = h.reply_sms("+15005550371", "1").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("disabled"), "{body}");
    let stored = h.stores.records.get_alert(&alert.id).await.expect("alert");
    assert_eq!(
        stored.state,
        AlertState::Firing,
        "the alarm is not silenced"
    );
    let audit = h.stores.records.audit_events(0, 1000).await.expect("audit");
    assert!(
        audit.iter().any(|e| e.entry.action == "ack_by_sms"
            && e.entry.actor == users[0].id.as_str()
            && e.entry.outcome == cw_core::audit::AuditOutcome::Denied),
        "the refused ack is audited: {audit:#?}"
    );
    // The chain moves on to the next active doctor.
    let messages = h
        .sandbox
        .wait_for_messages(2, Duration::from_secs(20))
        .await;
    assert_eq!(messages[1].to, "+15005550372", "log:\n{}", h.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_whose_doctors_are_all_disabled_pages_the_configured_fallback() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550381"]).await;
    let (_, on_call) = h.chain(&["+15005550389"]).await;
    disable(&h, &users[0]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning {
        extra: FAST_ESCALATION.replace(
            "[routing]\n",
            &format!("[routing]\nfallback = [\"{}\"]\n", on_call[0].id),
        ),
        ..Tuning::default()
    });
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(messages[0].to, "+15005550389", "log:\n{}", h.log());
    assert!(
        h.deliveries(&alert.id)
            .await
            .iter()
            .all(|d| d.recipient == on_call[0].id)
    );
}
