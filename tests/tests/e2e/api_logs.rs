//! No PHI in logs: the whole flow runs across the four service processes — a patient
//! created with PHI through the api, their device registered, ECG streamed, an alert
//! fired, sent to the doctor's phone and acknowledged, the record read and looked up by
//! MRN — and then every service's log is searched for the patient's name and MRN, and for
//! the doctor's phone and email set through `PUT /v1/users/{id}`.

use cardiowatch::fixture::{self, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::Role;
use cw_e2e::system::{Mode, Providers, System};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const NAME: &str = "Philomena Vandersteen";
const MRN: &str = "MRN-4455667";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_logs_neither_the_patients_name_nor_mrn() {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    let fixture = fixture::install(
        system.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: "log-fixture-patient",
            doctor_id: "dr-logs",
            device_id: "gw-logs-1",
            phone: Some("+15005550199"),
            email: None,
            hr_high_bpm: 200.0,
            for_s: 3.0,
        },
    )
    .await
    .expect("fixture");
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;
    let http = system.https();
    let secret = system.jwt_secret.as_bytes().to_vec();
    let token = |user: &str, role| {
        let user = cw_core::UserId::parse(user).expect("user id");
        cw_api::token::issue(&secret, "cardiowatch", &user, role, 900).expect("token")
    };
    let admin = token("admin-logs", Role::Admin);
    let doctor = token(fixture.doctor.id.as_str(), Role::Doctor);

    let created: Value = http
        .post(system.api_url("/v1/patients"))
        .bearer_auth(&admin)
        .json(&json!({
            "name": NAME, "date_of_birth": "1952-08-14", "mrn": MRN,
            "contact": "+15550002222", "doctors": [fixture.doctor.id.as_str()]
        }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let patient = created["id"].as_str().expect("patient id").to_owned();
    // The doctor's contact points through the directory (the number paged below), one
    // refused, and the doctor's own preferences: none of it may reach a log.
    let directory = format!("/v1/users/{}", fixture.doctor.id);
    for (body, status) in [
        (
            json!({"phone": "+15005550188", "email": "dr.logs@hospital.example"}),
            200,
        ),
        (json!({"phone": "+1 500 555 0177"}), 422),
    ] {
        let answer = http
            .put(system.api_url(&directory))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("directory");
        assert_eq!(answer.status(), status, "{body}");
    }
    let own = http
        .put(system.api_url("/v1/users/me/notify"))
        .bearer_auth(&doctor)
        .json(&json!({"high": ["sms", "voice"]}))
        .send()
        .await
        .expect("own preferences");
    assert_eq!(own.status(), 200);
    let device: Value = http
        .post(system.api_url("/v1/devices"))
        .bearer_auth(&admin)
        .json(&json!({ "patient": patient }))
        .send()
        .await
        .expect("device")
        .json()
        .await
        .expect("json");
    let device_token = device["token"].as_str().expect("device token").to_owned();
    let limits = http
        .put(system.api_url(&format!("/v1/patients/{patient}/thresholds")))
        .bearer_auth(&doctor)
        .json(&json!({"hr_high": {"bpm": 70.0, "priority": "high", "for_s": 3.0}}))
        .send()
        .await
        .expect("thresholds");
    assert_eq!(limits.status(), 200);
    // Engines pick up the policy from the config bus; give the subscription a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stats = Arc::new(GatewayStats::default());
    gateway::stream_record(
        GatewayOptions {
            url: system.ingest_url(),
            device_token,
            ca_cert: Some(system.ca_cert.clone()),
            record: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100"),
            speed: 4.0,
            seconds: Some(30.0),
            offset_s: 0.0,
            block_ms: 250,
            window: 64,
            vitals: None,
        },
        stats,
        CancellationToken::new(),
    )
    .await
    .expect("gateway streams");

    let deadline = Instant::now() + Duration::from_secs(30);
    let alert_id = loop {
        let alerts: Value = http
            .get(system.api_url(&format!("/v1/alerts?patient={patient}")))
            .bearer_auth(&doctor)
            .send()
            .await
            .expect("alerts")
            .json()
            .await
            .expect("json");
        if let Some(id) = alerts[0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no alert fired; logs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    sandbox.wait_for_messages(1, Duration::from_secs(30)).await;
    assert_eq!(
        sandbox.messages()[0].to,
        "+15005550188",
        "the directory's number"
    );
    let acked = http
        .post(system.api_url(&format!("/v1/alerts/{alert_id}/ack")))
        .bearer_auth(&doctor)
        .send()
        .await
        .expect("ack");
    assert_eq!(acked.status(), 200);
    let read: Value = http
        .get(system.api_url(&format!("/v1/patients/{patient}")))
        .bearer_auth(&doctor)
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(read["name"], NAME);
    let found = http
        .post(system.api_url("/v1/patients/lookup"))
        .bearer_auth(&doctor)
        .json(&json!({ "mrn": MRN }))
        .send()
        .await
        .expect("lookup");
    assert_eq!(found.status(), 200);
    // Error paths too: a duplicate MRN, and a malformed body quoting the name.
    let duplicate = http
        .post(system.api_url("/v1/patients"))
        .bearer_auth(&admin)
        .json(&json!({"name": NAME, "date_of_birth": "1952-08-14", "mrn": MRN}))
        .send()
        .await
        .expect("duplicate");
    assert_eq!(duplicate.status(), 409);
    let malformed = http
        .post(system.api_url("/v1/patients"))
        .bearer_auth(&admin)
        .json(&json!({"name": NAME, "date_of_birth": 1952, "mrn": MRN}))
        .send()
        .await
        .expect("malformed");
    assert_eq!(malformed.status(), 400);

    let logs = system.logs();
    assert!(logs.contains("patient created"), "the api logged the flow");
    for secret in [
        NAME,
        "Philomena",
        "Vandersteen",
        MRN,
        "4455667",
        "1952-08-14",
        "5550002222",
        "5550188",
        "5550177",
        "dr.logs@hospital.example",
    ] {
        assert!(!logs.contains(secret), "a service log holds PHI {secret:?}");
    }
}
