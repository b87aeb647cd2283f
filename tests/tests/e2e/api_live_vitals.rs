//! Numerics on the live WebSocket (issue 18 item 2, docs/live.md): the gateway simulator
//! streams MIT-BIH 100 and, on the same connection, the real ICU numerics record a
//! minute per second; ingest stores and publishes them, the api's hub forwards each
//! frame's readings to the doctor's socket as `vitals`, and the alert-engine's NEWS2 after
//! each batch as `news2`. A socket opened after the stream stopped starts with the NEWS2
//! last heard.

use cardiowatch::fixture::{self, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cardiowatch::gateway_vitals::{VitalsOptions, VitalsSource};
use cw_core::Role;
use cw_core::vital_rules::News2Rule;
use cw_e2e::ingest::record_100;
use cw_e2e::live::{Auth, Live, open_live};
use cw_e2e::system::{Mode, Providers, System};
use futures::StreamExt;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const PATIENT: &str = "e2e-live-vitals";
/// Minute 1375 of the ICU record: SpO2 and respiration read, the cuff now and then.
const OFFSET_MIN: f64 = 1375.0;

/// Messages of the socket, in order, until `done` holds of them (60 s at most).
async fn read_until(
    socket: &mut Live,
    seen: &mut Vec<Value>,
    system: &System,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                seen.push(serde_json::from_str(&text).expect("JSON message"));
            }
            Ok(Some(Ok(_))) => {}
            other => panic!(
                "live socket ended or timed out waiting for {what} ({other:?}); seen {seen:?}; logs:\n{}",
                system.logs()
            ),
        }
    }
}

fn of_type<'a>(seen: &'a [Value], kind: &str) -> Vec<&'a Value> {
    seen.iter().filter(|m| m["type"] == kind).collect()
}

/// A valid SpO2 reading among the `vitals` messages.
fn has_spo2(seen: &[Value]) -> bool {
    of_type(seen, "vitals").iter().any(|m| {
        m["readings"].as_array().is_some_and(|readings| {
            readings
                .iter()
                .any(|r| r["kind"] == "spo2" && r["status"] == "valid")
        })
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_a_live_socket_streams_the_patients_numerics_and_news2() {
    live_numerics(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn servers_a_live_socket_streams_the_patients_numerics_and_news2() {
    live_numerics(Mode::Servers).await;
}

async fn live_numerics(mode: Mode) {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(mode).await;
    // A heart-rate limit record 100 (~75 bpm) never crosses: this test is about numerics.
    let fixture = fixture::install(
        system.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: PATIENT,
            doctor_id: "dr-live-vitals",
            device_id: "gw-live-vitals",
            phone: Some("+15005550178"),
            email: None,
            hr_high_bpm: 150.0,
            for_s: 3.0,
        },
    )
    .await
    .expect("fixture installed");
    let mut policy = fixture.policy.clone();
    policy.news2 = Some(News2Rule::default());
    policy.validate().expect("a valid policy");
    system
        .stores
        .records
        .put_policy(&policy)
        .await
        .expect("policy stored");
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;

    let doctor = cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &cw_core::UserId::parse("dr-live-vitals").expect("user id"),
        Role::Doctor,
        300,
    )
    .expect("token");
    let (mut socket, _) = open_live(
        system.api_port,
        &system.ca_cert,
        PATIENT,
        Auth::Subprotocol(&doctor),
        None,
    )
    .await
    .expect("the assigned doctor's socket opens");

    let streaming = CancellationToken::new();
    let gateway = tokio::spawn(gateway::stream_record(
        GatewayOptions {
            url: system.ingest_url(),
            device_token: fixture.device_token.clone(),
            ca_cert: Some(system.ca_cert.clone()),
            record: record_100(),
            speed: 2.0,
            seconds: Some(60.0),
            offset_s: 0.0,
            block_ms: 250,
            window: 64,
            vitals: Some(VitalsOptions {
                source: VitalsSource::Record(
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../testdata/vitals/s00001-2896-10-10-00-31n"),
                ),
                step_s: Some(1.0),
                offset_s: OFFSET_MIN * 60.0,
            }),
        },
        Arc::new(GatewayStats::default()),
        streaming.clone(),
    ));

    let mut seen = Vec::new();
    read_until(&mut socket, &mut seen, &system, "numerics and NEWS2", |s| {
        has_spo2(s) && of_type(s, "news2").len() >= 2
    })
    .await;
    for message in of_type(&seen, "vitals") {
        for r in message["readings"].as_array().expect("readings") {
            assert!(r["time_ns"].as_i64().is_some(), "{r}");
            match r["status"].as_str() {
                // A reading has its value, within the kind's plausible range here.
                Some("valid") => {
                    let v = r["value"].as_f64().expect("a valid reading has a value");
                    if r["kind"] == "spo2" {
                        assert!((50.0..=100.0).contains(&v), "{r}");
                    }
                }
                // A status is no reading: it carries no number.
                Some("sensor_off" | "unreliable") => assert!(r["value"].is_null(), "{r}"),
                other => panic!("unknown status {other:?}: {r}"),
            }
        }
    }
    let news2 = &of_type(&seen, "news2")[0]["news2"];
    let components = news2["components"].as_array().expect("components");
    let sum: u64 = components
        .iter()
        .map(|c| c["score"].as_u64().expect("score"))
        .sum();
    assert_eq!(news2["total"].as_u64(), Some(sum), "{news2}");
    assert!(
        components.iter().any(|c| c["parameter"] == "spo2"),
        "SpO2 is scored: {news2}"
    );
    // Oxygen and consciousness were not recorded for this patient: scored as assumed.
    let assumed = news2["assumed"].as_array().expect("assumed");
    assert!(assumed.iter().any(|p| p == "air_or_oxygen"), "{news2}");
    assert!(assumed.iter().any(|p| p == "consciousness"), "{news2}");
    assert!(news2["response"].is_string(), "{news2}");

    // With the gateway stopped (no new numerics, so no new score), a second socket starts
    // with the NEWS2 the hub last heard.
    streaming.cancel();
    let _ = gateway.await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut second, _) = open_live(
        system.api_port,
        &system.ca_cert,
        PATIENT,
        Auth::Header(&doctor),
        None,
    )
    .await
    .expect("a second socket opens");
    let mut greeting = Vec::new();
    read_until(
        &mut second,
        &mut greeting,
        &system,
        "the NEWS2 at connect",
        |s| !of_type(s, "news2").is_empty(),
    )
    .await;
    assert_eq!(greeting[0]["type"], "hello", "{greeting:?}");
    let told = &of_type(&greeting, "news2")[0]["news2"];
    let last = &of_type(&seen, "news2").last().expect("a news2")["news2"];
    assert!(
        told["at_ns"].as_i64() >= last["at_ns"].as_i64(),
        "the last one heard: {told} vs {last}"
    );
    let _ = socket.close(None).await;
    let _ = second.close(None).await;
}
