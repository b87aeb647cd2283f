//! `cw_notifier_time_to_ack_seconds` counts every acknowledgement exactly once, read from
//! the notifier's own `/metrics`: one made through the api's REST route (which only the
//! store knows of — the notifier's sweep finds it) and one by SMS reply through the
//! notifier's webhooks (which the sweep then also sees, and must not count again).

use cw_core::{DeliveryStatus, Priority, Role};
use cw_e2e::ingest::metric;
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The api in this process, over the notifier's store (as two services share one).
pub(crate) async fn start_api(
    h: &NotifierHarness,
    jwt_secret: &str,
    shutdown: &CancellationToken,
) -> String {
    let certs = h.dir.path().join("certs");
    let running = cw_api::start(
        cw_api::ApiConfig {
            listen: "127.0.0.1:0".into(),
            tls: cw_tls::TlsServerConfig {
                cert_path: certs.join("server.pem"),
                key_path: certs.join("server-key.pem"),
                insecure_plaintext: false,
                connections: Default::default(),
            },
            admin_listen: "127.0.0.1:0".into(),
            config_publish_endpoint: "tcp://127.0.0.1:0".into(),
            auth: cw_api::config::AuthConfig {
                jwt_secret: Some(jwt_secret.into()),
                ..Default::default()
            },
            storage: h.storage.clone(),
            bus: cw_bus::BusConfig {
                key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                ..Default::default()
            },
            ..Default::default()
        },
        h.stores.clone().into(),
        shutdown.clone(),
    )
    .await
    .expect("api starts");
    format!("https://127.0.0.1:{}", running.addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_to_ack_counts_a_rest_ack_and_an_sms_ack_once_each() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550341"]).await;
    let second = h.another_patient_like(&patient).await;
    let by_rest = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning::default());
    h.wait_ready().await;
    h.wait_deliveries(&by_rest.id, "sms sent", |rows| {
        rows.iter().any(|d| d.status == DeliveryStatus::Sent)
    })
    .await;
    assert_eq!(
        metric(&h.metrics().await, "cw_notifier_time_to_ack_seconds_count"),
        0.0
    );

    // A REST ack through the api: the notifier hears of it from the store only.
    let shutdown = CancellationToken::new();
    let secret = cw_bus::Sealer::generate_key_hex();
    let api = start_api(&h, &secret, &shutdown).await;
    let token = cw_api::token::issue(
        secret.as_bytes(),
        "cardiowatch",
        &users[0].id,
        Role::Doctor,
        300,
    )
    .expect("token");
    let acked = h
        .https()
        .post(format!("{api}/v1/alerts/{}/ack", by_rest.id))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api answers");
    assert_eq!(acked.status(), 200);
    h.wait_metric("cw_notifier_time_to_ack_seconds_count", 1.0)
        .await;
    h.wait_metric("cw_notifier_acks_total{channel=\"other\"}", 1.0)
        .await;

    // An SMS reply to the second alert: counted by the webhook, not again by the sweep.
    let by_sms = h.fire(&second.id, Priority::Medium).await;
    h.wait_deliveries(&by_sms.id, "sms sent", |rows| {
        rows.iter().any(|d| d.status == DeliveryStatus::Sent)
    })
    .await;
    let (status, _) = h.reply_sms("+15005550341", "1").await;
    assert_eq!(status, 200);
    h.wait_metric("cw_notifier_time_to_ack_seconds_count", 2.0)
        .await;
    // Several sweeps later: still one count per ack.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let text = h.metrics().await;
    assert_eq!(
        metric(&text, "cw_notifier_time_to_ack_seconds_count"),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "cw_notifier_acks_total{channel=\"sms\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "cw_notifier_acks_total{channel=\"other\"}"),
        1.0
    );
    shutdown.cancel();
}
