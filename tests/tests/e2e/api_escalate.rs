//! "Escalate now" end to end: the api (in-process) and the notifier (its own process) on
//! one store. A doctor escalates a paged medium alert whose ack deadline is ten minutes
//! away; the notifier pages the next doctor (SMS and voice, at the Twilio sandbox) within
//! seconds — the api itself pages nobody. The request is on the alert and in the audit
//! chain; an acknowledged alert and an exhausted chain answer 409.

use crate::api_snooze::api_on;
use cw_core::time::now_ns;
use cw_core::{Channel, Priority, Role};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use serde_json::Value;
use std::time::{Duration, Instant};

async fn escalate(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    alert: &cw_core::AlertId,
) -> (u16, Value) {
    let response = http
        .post(format!("{base}/v1/alerts/{alert}/escalate"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn escalate_now_pages_the_next_doctor_at_once(mode: Mode) {
    let mut h = NotifierHarness::new(mode).await;
    let (base, http, secret) = api_on(&h).await;
    let (second_phone, third_phone) = ("+15005550712", "+15005550713");
    let (patient, users) = h.chain(&["+15005550711", second_phone, third_phone]).await;
    let doctor = &users[0];
    let token = cw_api::token::issue(
        secret.as_bytes(),
        "cardiowatch",
        &doctor.id,
        Role::Doctor,
        600,
    )
    .expect("token");

    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning {
        extra: "[reliability]\nack_deadline_s = { high = 120, medium = 600, low = 0 }\n".into(),
        ..Tuning::default()
    });
    h.wait_deliveries(&alert.id, "the first page", |rows| {
        rows.iter()
            .any(|d| d.attempt == 1 && d.channel == Channel::Sms)
    })
    .await;
    assert!(
        !h.sandbox.messages().iter().any(|m| m.to == second_phone),
        "the second doctor is paged only after the escalation"
    );

    let asked = Instant::now();
    let (got, escalated) = escalate(&http, &base, &token, &alert.id).await;
    assert_eq!(got, 200, "{escalated}");
    assert_eq!(escalated["escalation"]["level"], 2);
    assert_eq!(escalated["escalation"]["by"], doctor.id.as_str());
    // Counted where the phone is: the sandbox receives the second doctor's SMS and call.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sms = h.sandbox.messages().iter().any(|m| m.to == second_phone);
        let call = h.sandbox.calls().iter().any(|c| c.to == second_phone);
        if sms && call {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second doctor was not paged; notifier log:\n{}",
            h.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "escalate now: the second doctor's SMS and call reached the sandbox {:.2} s after the request",
        asked.elapsed().as_secs_f64()
    );
    assert!(
        !h.sandbox.messages().iter().any(|m| m.to == third_phone),
        "one step, not the whole chain"
    );

    // Asked again before anyone acked: the next step (the third doctor).
    let (got, again) = escalate(&http, &base, &token, &alert.id).await;
    assert_eq!(got, 200, "{again}");
    assert_eq!(again["escalation"]["level"], 3);
    h.wait_deliveries(&alert.id, "the third step", |rows| {
        rows.iter()
            .any(|d| d.attempt == 3 && d.recipient == users[2].id)
    })
    .await;
    // Nobody is left to page.
    let (got, error) = escalate(&http, &base, &token, &alert.id).await;
    assert_eq!(got, 409, "{error}");
    assert_eq!(error["error"]["code"], "conflict");

    let audit = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.entry.action == "alert_escalate" && e.entry.actor == doctor.id.as_str())
            .count(),
        2,
        "each escalation is audited"
    );

    // An acknowledged alert is not escalated.
    h.stores
        .records
        .acknowledge_alert(&alert.id, doctor.id.as_str(), now_ns())
        .await
        .expect("ack");
    let (got, _) = escalate(&http, &base, &token, &alert.id).await;
    assert_eq!(got, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_escalate_now_pages_the_next_doctor_at_once() {
    escalate_now_pages_the_next_doctor_at_once(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_escalate_now_pages_the_next_doctor_at_once() {
    escalate_now_pages_the_next_doctor_at_once(Mode::Servers).await;
}
