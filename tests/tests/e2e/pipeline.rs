//! The walking skeleton, end to end: a TLS gateway streams MIT-BIH record 100 into four
//! separate service processes; the alert reaches the doctor's phone (Twilio sandbox) and
//! mailbox (moto SES), and the doctor sees and acknowledges it through the api.
//! Each joint is checked on its far side: points in InfluxDB, the alert document in
//! MongoDB, the messages on the provider emulators.

use cardiowatch::fixture::{self, Fixture, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::secret::ExposeSecret;
use cw_core::{AlertState, Role};
use cw_e2e::env::required;
use cw_e2e::system::{Mode, Providers, System};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const STREAM_SECONDS: f64 = 40.0;
const SPEED: f64 = 4.0;

fn record_100() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100")
}

pub(crate) async fn install_fixture(system: &System, email: &str) -> Fixture {
    fixture::install(
        system.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: "e2e-patient-100",
            doctor_id: "dr-e2e",
            device_id: "gw-e2e-1",
            phone: Some("+15005550199"),
            email: Some(email),
            hr_high_bpm: 70.0,
            for_s: 3.0,
        },
    )
    .await
    .expect("fixture installed")
}

/// Streams the record through the real gateway client; returns (frames, samples per lead) acked.
pub(crate) async fn stream(system: &System, fixture: &Fixture) -> (u64, u64) {
    let stats = Arc::new(GatewayStats::default());
    gateway::stream_record(
        GatewayOptions {
            url: system.ingest_url(),
            device_token: fixture.device_token.clone(),
            ca_cert: Some(system.ca_cert.clone()),
            record: record_100(),
            speed: SPEED,
            seconds: Some(STREAM_SECONDS),
            offset_s: 0.0,
            block_ms: 250,
            window: 64,
            vitals: None,
        },
        stats.clone(),
        CancellationToken::new(),
    )
    .await
    .expect("gateway streams");
    assert_eq!(stats.nacked.load(Ordering::Relaxed), 0, "no frame refused");
    let frames = stats.acked.load(Ordering::Relaxed);
    (frames, stats.samples_acked.load(Ordering::Relaxed) / 2)
}

async fn eventually<T, F, Fut>(what: &str, system: &System, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; service logs:\n{}",
                system.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The doctor's side through the api: list, foreign-doctor denial, validation, ack.
async fn doctor_reviews_and_acknowledges(system: &System, fixture: &Fixture) {
    let http = system.https();
    let token = cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &fixture.doctor.id,
        Role::Doctor,
        300,
    )
    .expect("token");
    let alerts: Value = http
        .get(system.api_url("/v1/alerts?state=firing"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api answers")
        .json()
        .await
        .expect("json");
    let alert = alerts
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_else(|| panic!("the doctor sees the firing alert: {alerts}"));
    assert_eq!(alert["patient"], "e2e-patient-100");
    assert_eq!(alert["rule"], "hr_high");
    let alert_id = alert["id"].as_str().expect("alert id").to_owned();

    let stranger = cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &cw_core::UserId::parse("dr-other").expect("id"),
        Role::Doctor,
        300,
    )
    .expect("token");
    let denied = http
        .get(system.api_url("/v1/patients/e2e-patient-100/thresholds"))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("api answers");
    assert_eq!(
        denied.status(),
        403,
        "another doctor cannot read this patient's thresholds"
    );

    let invalid = http
        .put(system.api_url("/v1/patients/e2e-patient-100/thresholds"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"hr_high": {"bpm": 900, "priority": "high"}}))
        .send()
        .await
        .expect("api answers");
    assert_eq!(invalid.status(), 422);
    let body: Value = invalid.json().await.expect("json error body");
    assert_eq!(body["error"]["field"], "hr_high.bpm", "{body}");

    let acked = http
        .post(system.api_url(&format!("/v1/alerts/{alert_id}/ack")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api answers");
    assert_eq!(acked.status(), 200);
    let stored = system
        .stores
        .records
        .get_alert(&cw_core::AlertId::parse(&alert_id).expect("id"))
        .await
        .expect("alert stored");
    assert_eq!(stored.state, AlertState::Acknowledged);
    assert_eq!(stored.acked_by.as_deref(), Some("dr-e2e"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_reaches_the_doctor_across_four_processes_on_real_servers() {
    let ses_url = required("CW_TEST_SES_URL");
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Servers).await;
    let sender = "alerts@cardiowatch.test";
    let ses = cw_notifier::providers::ses::SesClient::new(
        serde_json::from_value(serde_json::json!({
            "endpoint_url": ses_url,
            "from_address": sender,
            "static_credentials": {"access_key_id": "testing", "secret_access_key": "testing"},
        }))
        .expect("ses config"),
    )
    .await
    .expect("ses client");
    ses.ensure_identity(sender).await.expect("sender identity");
    let doctor_email = format!("dr-{}@hospital.test", cw_core::AlertId::random());
    let fixture = install_fixture(&system, &doctor_email).await;
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: Some((ses_url.clone(), sender.into())),
        })
        .await;

    let (frames, samples_per_lead) = stream(&system, &fixture).await;
    assert!(
        frames >= (STREAM_SECONDS * 4.0) as u64 - 1,
        "all frames acked: {frames}"
    );

    // Joint 1: every acknowledged sample is in InfluxDB (asked directly, not via our adapter).
    let influx = system.storage.influx.clone();
    let http = reqwest::Client::new();
    let counted = eventually("points in InfluxDB", &system, || {
        let http = http.clone();
        let influx = influx.clone();
        async move {
            let body: Value = http
                .get(format!("{}/query", influx.url))
                .query(&[
                    ("db", influx.database.as_str()),
                    (
                        "q",
                        "SELECT count(\"l0\") FROM ecg WHERE patient = 'e2e-patient-100'",
                    ),
                ])
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            body["results"][0]["series"][0]["values"][0][1].as_u64()
        }
    })
    .await;
    assert_eq!(
        counted, samples_per_lead,
        "InfluxDB holds exactly the acknowledged samples"
    );

    // Joint 2: the alert document is in MongoDB.
    let mongo = mongodb::Client::with_uri_str(system.storage.mongo.uri.expose_secret())
        .await
        .expect("mongo client");
    let db = mongo.database(&system.storage.mongo.database);
    let alert_doc = eventually("the alert document in MongoDB", &system, || {
        let alerts = db.collection::<mongodb::bson::Document>("alerts");
        async move { alerts.find_one(mongodb::bson::doc! {}).await.ok()? }
    })
    .await;
    let text = format!("{alert_doc:?}");
    assert!(
        text.contains("e2e-patient-100") && text.contains("hr_high"),
        "{text}"
    );

    // Joint 3: the SMS reached the provider emulator, once, to the doctor's phone.
    let messages = sandbox.wait_for_messages(1, Duration::from_secs(30)).await;
    assert_eq!(messages.len(), 1, "one SMS; logs:\n{}", system.logs());
    assert_eq!(messages[0].to, "+15005550199");
    assert!(
        messages[0].body.contains("heart rate above limit"),
        "{}",
        messages[0].body
    );
    let calls = sandbox.wait_for_calls(1, Duration::from_secs(10)).await;
    assert_eq!(calls.len(), 1, "one voice call for a high-priority alert");

    // Joint 4: the email reached moto's SES, to the doctor's address.
    let mail = eventually("the email in moto", &system, || {
        let (ses_url, doctor_email) = (ses_url.clone(), doctor_email.clone());
        async move {
            cw_e2e::notifier::moto_mails_to(&ses_url, &doctor_email)
                .await
                .into_iter()
                .next()
        }
    })
    .await;
    assert!(mail.to_string().contains("cardiowatch"), "{mail}");

    doctor_reviews_and_acknowledges(&system, &fixture).await;
    mongo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_reaches_the_doctor_across_four_processes_on_one_embedded_file() {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    let fixture = install_fixture(&system, "dr@hospital.test").await;
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;

    let (_, samples_per_lead) = stream(&system, &fixture).await;
    let patient = fixture.patient.id.clone();
    let stored = system
        .stores
        .samples
        .count_frames(&patient, 0, i64::MAX)
        .await
        .expect("count");
    assert_eq!(
        stored, samples_per_lead,
        "the embedded file holds exactly the acknowledged samples"
    );

    let messages = sandbox.wait_for_messages(1, Duration::from_secs(30)).await;
    assert_eq!(messages.len(), 1, "one SMS; logs:\n{}", system.logs());
    doctor_reviews_and_acknowledges(&system, &fixture).await;
}
