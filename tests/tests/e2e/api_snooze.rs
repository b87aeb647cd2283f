//! Alert snooze end to end: the api (in-process) and the notifier (its own process) on
//! one store. A doctor snoozes a paged medium alert through the api; the notifier then
//! sends nothing more for it — no escalation to the next doctor — until the snooze ends,
//! and escalates after it. Out-of-bounds durations and high priority are refused with
//! JSON errors; the snooze is on the alert and in the audit chain.

use cw_core::time::now_ns;
use cw_core::{Channel, Priority, Role};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use serde_json::{Value, json};
use std::time::Duration;

const SNOOZE_S: u64 = 6;

/// The api on the harness's store, with short snooze bounds for the test.
pub(crate) async fn api_on(h: &NotifierHarness) -> (String, reqwest::Client, String) {
    let certs = cw_tls::ensure_dev_certs(&h.dir.path().join("certs")).expect("dev certs");
    let secret = cw_bus::Sealer::generate_key_hex();
    let cfg = cw_api::ApiConfig {
        listen: "127.0.0.1:0".into(),
        tls: certs.server_tls(),
        admin_listen: "127.0.0.1:0".into(),
        config_publish_endpoint: "tcp://127.0.0.1:0".into(),
        auth: cw_api::config::AuthConfig {
            jwt_secret: Some(secret.clone().into()),
            ..Default::default()
        },
        storage: h.storage.clone(),
        bus: cw_bus::BusConfig {
            key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
            ..Default::default()
        },
        snooze: cw_api::config::SnoozeConfig {
            min_s: 1,
            max_medium_s: 60,
            max_low_s: 120,
        },
        ..Default::default()
    };
    // The api lives as long as the test's runtime.
    let running = cw_api::start(
        cfg,
        h.stores.clone().into(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("api starts");
    let ca = std::fs::read(&certs.ca_cert).expect("CA");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("client");
    (
        format!("https://127.0.0.1:{}", running.addr.port()),
        http,
        secret,
    )
}

async fn snooze_request(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    alert: &cw_core::AlertId,
    body: Value,
) -> (u16, Value) {
    let response = http
        .post(format!("{base}/v1/alerts/{alert}/snooze"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn snoozed_alert_escalates_only_after_its_snooze(mode: Mode) {
    let mut h = NotifierHarness::new(mode).await;
    let (base, http, secret) = api_on(&h).await;
    let (patient, users) = h.chain(&["+15005550701", "+15005550702"]).await;
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
        extra: "[reliability]\nack_deadline_s = { high = 120, medium = 3, low = 0 }\n".into(),
        ..Tuning::default()
    });
    h.wait_deliveries(&alert.id, "the first page", |rows| {
        rows.iter()
            .any(|d| d.attempt == 1 && d.channel == Channel::Sms)
    })
    .await;

    // Out of bounds and badly formed: JSON errors, nothing stored.
    for (body, status, field) in [
        (
            json!({"duration_s": 0, "reason": "seen"}),
            422,
            "duration_s",
        ),
        (
            json!({"duration_s": 61, "reason": "seen"}),
            422,
            "duration_s",
        ),
        (json!({"duration_s": 10, "reason": ""}), 422, "reason"),
    ] {
        let (got, error) = snooze_request(&http, &base, &token, &alert.id, body).await;
        assert_eq!(got, status, "{error}");
        assert_eq!(error["error"]["field"], field, "{error}");
    }
    let (got, error) =
        snooze_request(&http, &base, &token, &alert.id, json!({"duration_s": 10})).await;
    assert_eq!(got, 400, "{error}");
    assert_eq!(error["error"]["code"], "bad_request");

    let (got, snoozed) = snooze_request(
        &http,
        &base,
        &token,
        &alert.id,
        json!({"duration_s": SNOOZE_S, "reason": "at the bedside, treating"}),
    )
    .await;
    assert_eq!(got, 200, "{snoozed}");
    let until_ns = snoozed["snooze"]["until_ns"].as_i64().expect("until_ns");
    assert_eq!(snoozed["snooze"]["by"], doctor.id.as_str());
    assert_eq!(snoozed["snooze"]["reason"], "at the bedside, treating");
    let sms_before = h.sandbox.messages().len();

    // The ack deadline (3 s) passes during the snooze: nobody new is paged.
    while now_ns() < until_ns - 300_000_000 {
        let rows = h.deliveries(&alert.id).await;
        assert!(
            rows.iter().all(|d| d.attempt == 1),
            "escalated during the snooze: {rows:#?}"
        );
        assert_eq!(
            h.sandbox.messages().len(),
            sms_before,
            "an SMS during the snooze"
        );
        assert!(h.sandbox.calls().is_empty(), "a call during the snooze");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // After it, the rest of the deadline runs and the next doctor is paged, by voice too.
    let rows = h
        .wait_deliveries(&alert.id, "escalation after the snooze", |rows| {
            rows.iter()
                .any(|d| d.attempt == 2 && d.channel == Channel::Voice)
        })
        .await;
    assert!(now_ns() >= until_ns, "escalated before the snooze ended");
    assert!(
        rows.iter()
            .filter(|d| d.attempt == 2)
            .all(|d| d.recipient == users[1].id),
        "{rows:#?}"
    );

    // The snooze is on the alert, and its reason is in the audit chain.
    let listed: Value = http
        .get(format!("{base}/v1/alerts?patient={}", patient.id))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["snooze"]["until_ns"], until_ns, "{listed}");
    let audit = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        audit.iter().any(|e| e.entry.action == "alert_snooze"
            && e.entry.actor == doctor.id.as_str()
            && e.entry.reason.contains("at the bedside")),
        "the snooze is audited"
    );

    // High priority cannot be snoozed; an acknowledged alert neither.
    // (Another patient of the same doctors: one open alert per patient and rule.)
    let other = cw_core::Patient {
        id: cw_core::PatientId::random(),
        ..patient.clone()
    };
    h.stores.records.put_patient(&other).await.expect("patient");
    let high = h.fire(&other.id, Priority::High).await;
    let body = json!({"duration_s": 10, "reason": "seen"});
    let (got, error) = snooze_request(&http, &base, &token, &high.id, body.clone()).await;
    assert_eq!(got, 409, "{error}");
    assert_eq!(error["error"]["code"], "conflict");
    h.stores
        .records
        .acknowledge_alert(&alert.id, doctor.id.as_str(), now_ns())
        .await
        .expect("ack");
    let (got, _) = snooze_request(&http, &base, &token, &alert.id, body).await;
    assert_eq!(got, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_snoozed_alert_escalates_only_after_its_snooze() {
    snoozed_alert_escalates_only_after_its_snooze(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_a_snoozed_alert_escalates_only_after_its_snooze() {
    snoozed_alert_escalates_only_after_its_snooze(Mode::Servers).await;
}
