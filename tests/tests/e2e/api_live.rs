//! The live WebSocket across four service processes on the real bus: a doctor's socket
//! (opened the browser way, token as subprotocol) receives heart rate per beat from the
//! alert-engine's events PUB, the alert firing and then its REST acknowledgement, and
//! min/max-subsampled ECG from ingest's samples PUB; another doctor is refused (403) and
//! both attempts are in the audit chain.

use cardiowatch::fixture::{self, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::Role;
use cw_core::audit::AuditOutcome;
use cw_e2e::api::ApiHarness;
use cw_e2e::live::{Auth, Live, close_code, open_live};
use cw_e2e::system::{Mode, Providers, System};
use futures::StreamExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;

const PATIENT: &str = "e2e-live-100";

fn token(system: &System, user: &str) -> String {
    cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &cw_core::UserId::parse(user).expect("user id"),
        Role::Doctor,
        300,
    )
    .expect("token")
}

/// What the socket has delivered so far, by type.
#[derive(Default)]
struct Seen {
    hello: Option<Value>,
    hr: Vec<Value>,
    ecg: Vec<Value>,
    alerts: Vec<Value>,
    analysis: Vec<Value>,
}

impl Seen {
    fn alert_event(&self, event: &str) -> Option<&Value> {
        self.alerts.iter().find(|a| a["event"] == event)
    }
}

async fn read_until(
    socket: &mut Live,
    seen: &mut Seen,
    system: &System,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let next = tokio::time::timeout(left, socket.next()).await;
        let text = match next {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            other => panic!(
                "live socket ended or timed out waiting for {what} ({other:?}); logs:\n{}",
                system.logs()
            ),
        };
        let message: Value = serde_json::from_str(&text).expect("JSON message");
        match message["type"].as_str() {
            Some("hello") => seen.hello = Some(message),
            Some("hr") => seen.hr.push(message),
            Some("ecg") => seen.ecg.push(message),
            Some("alert") => seen.alerts.push(message),
            Some("analysis") => seen.analysis.push(message),
            Some("dropped") => panic!("a reading client dropped messages: {message}"),
            other => panic!("unknown message type {other:?}: {message}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_a_doctors_live_socket_streams_heart_rate_alert_state_and_ecg_and_another_doctor_is_refused()
 {
    doctor_watches_live(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn servers_a_doctors_live_socket_streams_heart_rate_alert_state_and_ecg_and_another_doctor_is_refused()
 {
    doctor_watches_live(Mode::Servers).await;
}

async fn doctor_watches_live(mode: Mode) {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(mode).await;
    let fixture = fixture::install(
        system.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: PATIENT,
            doctor_id: "dr-live",
            device_id: "gw-live-1",
            phone: Some("+15005550177"),
            email: None,
            hr_high_bpm: 70.0,
            for_s: 2.0,
        },
    )
    .await
    .expect("fixture installed");
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;

    let doctor = token(&system, "dr-live");
    let (mut socket, response) = open_live(
        system.api_port,
        &system.ca_cert,
        PATIENT,
        Auth::Subprotocol(&doctor),
        None,
    )
    .await
    .expect("the assigned doctor's socket opens");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("cardiowatch.v1"),
        "the server selects the protocol and never echoes the token"
    );

    let stranger = token(&system, "dr-stranger");
    match open_live(
        system.api_port,
        &system.ca_cert,
        PATIENT,
        Auth::Header(&stranger),
        None,
    )
    .await
    {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected a 403 refusal, got {other}"),
        Ok(_) => panic!("another doctor's socket must be refused"),
    }

    let streaming = CancellationToken::new();
    let gateway = tokio::spawn(gateway::stream_record(
        GatewayOptions {
            url: system.ingest_url(),
            device_token: fixture.device_token.clone(),
            ca_cert: Some(system.ca_cert.clone()),
            record: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100"),
            speed: 2.0,
            seconds: Some(60.0),
            offset_s: 0.0,
            block_ms: 250,
            window: 64,
            vitals: None,
        },
        Arc::new(GatewayStats::default()),
        streaming.clone(),
    ));

    let mut seen = Seen::default();
    read_until(
        &mut socket,
        &mut seen,
        &system,
        "HR, ECG and the alert",
        |s| {
            s.hello.is_some()
                && s.hr.len() >= 5
                && s.ecg.len() >= 5
                && s.alert_event("fired").is_some()
                && s.analysis.iter().any(|a| a["state"] == "analysing")
        },
    )
    .await;
    // The stream starts with the learning period (a technical state), then analyses; the
    // HR alert fires only after it.
    let states: Vec<&str> = seen
        .analysis
        .iter()
        .filter_map(|a| a["state"].as_str())
        .collect();
    assert_eq!(states, ["learning", "analysing"], "{:?}", seen.analysis);
    let learned_ns = seen.analysis[1]["at_ns"].as_i64().expect("at_ns");
    let fired = seen.alert_event("fired").expect("fired");
    let fired_ns = fired["alert"]["fired_ns"].as_i64().expect("fired_ns");
    assert!(
        fired_ns >= learned_ns,
        "{fired} before learning ended at {learned_ns}"
    );
    let hello = seen.hello.as_ref().expect("hello");
    assert_eq!(hello["patient"], PATIENT);
    // Record 100 runs at ~75 bpm.
    for hr in &seen.hr {
        let bpm = hr["bpm"].as_f64().expect("bpm");
        assert!((50.0..110.0).contains(&bpm), "plausible heart rate: {hr}");
    }
    // 360 Hz subsampled to ≤ 50 buckets/s, two leads, min ≤ max in each.
    let ecg = &seen.ecg[0];
    let bucket_ns = ecg["bucket_ns"].as_i64().expect("bucket_ns");
    assert!(bucket_ns >= 20_000_000, "at most 50 Hz: {ecg}");
    let buckets = ecg["buckets"].as_array().expect("buckets");
    assert!(!buckets.is_empty());
    for b in buckets {
        let (min, max) = (
            b["min"].as_array().expect("min"),
            b["max"].as_array().expect("max"),
        );
        assert_eq!(min.len(), 2, "one value per lead");
        for (lo, hi) in min.iter().zip(max) {
            assert!(lo.as_i64() <= hi.as_i64(), "min ≤ max: {b}");
        }
    }
    let fired = seen.alert_event("fired").expect("fired").clone();
    assert_eq!(fired["alert"]["patient"], PATIENT);
    assert_eq!(fired["alert"]["rule"], "hr_high");
    let alert_id = fired["alert"]["id"].as_str().expect("alert id").to_owned();

    // A REST ack reaches the socket (from the store poll: acks have no bus event).
    let acked = system
        .https()
        .post(system.api_url(&format!("/v1/alerts/{alert_id}/ack")))
        .bearer_auth(&doctor)
        .send()
        .await
        .expect("api answers");
    assert_eq!(acked.status(), 200);
    read_until(
        &mut socket,
        &mut seen,
        &system,
        "the acknowledgement",
        |s| s.alert_event("acknowledged").is_some(),
    )
    .await;
    let ack = seen.alert_event("acknowledged").expect("acknowledged");
    for event in ["fired", "acknowledged"] {
        let told = seen.alerts.iter().filter(|a| a["event"] == event).count();
        assert_eq!(told, 1, "each change is told once: {:?}", seen.alerts);
    }
    assert_eq!(ack["alert"]["id"], alert_id.as_str());
    assert_eq!(ack["alert"]["acked_by"], "dr-live");

    streaming.cancel();
    let _ = gateway.await;
    let _ = socket.close(None).await;

    // Both attempts are in the audit chain, with the patient.
    let events = system
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let live: Vec<_> = events
        .iter()
        .filter(|e| e.entry.action == "GET /v1/patients/{id}/live")
        .collect();
    assert!(
        live.iter().any(|e| e.entry.actor == "dr-live"
            && e.entry.outcome == AuditOutcome::Allowed
            && e.entry.status == 101
            && e.entry.patient.as_ref().map(|p| p.as_str()) == Some(PATIENT)),
        "the doctor's socket is audited as allowed: {live:?}"
    );
    assert!(
        live.iter()
            .any(|e| e.entry.actor == "dr-stranger" && e.entry.outcome == AuditOutcome::Denied),
        "the refusal is audited: {live:?}"
    );
}

/// Opens a socket once the server has a free slot (max_connections = 1 in that test).
async fn open_when_free(
    port: u16,
    ca: &Path,
    patient: &str,
    token: &str,
) -> (Live, tungstenite::handshake::client::Response) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match open_live(port, ca, patient, Auth::Subprotocol(token), None).await {
            Ok(opened) => return opened,
            Err(e) => assert!(Instant::now() < deadline, "the socket opens: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next text message as JSON, or the close frame's code (5 s at most).
async fn next_message(socket: &mut Live) -> Result<Value, u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Ok(serde_json::from_str(&text).expect("JSON message"));
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(frame.map(|f| u16::from(f.code)).unwrap_or(1005));
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("socket ended without a close frame: {other:?}"),
        }
    }
}

/// In one process, no bus: what a socket is told first, who may open one (ops never, admin
/// always, a foreign doctor only under break-glass, audited), the connection bound, and the
/// session limit (code 4001) that bounds how long an authorization lasts.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_socket_starts_with_hello_and_open_alerts_is_bounded_ends_its_session_with_4001_and_honours_break_glass()
 {
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.live.event_endpoints = Vec::new();
        cfg.live.sample_endpoints = Vec::new();
        cfg.live.session_s = 3;
        cfg.live.max_connections = 1;
    })
    .await;
    let port: u16 = h
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("api port");
    let ca = h.dir.path().join("certs").join("ca.pem");
    let patient = h.own.to_string();

    let ops = h.token(&h.ops, Role::Ops);
    match open_live(port, &ca, &patient, Auth::Subprotocol(&ops), None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("ops sees no PHI: {:?}", other.map(|_| ())),
    }

    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let (mut socket, _) = open_live(port, &ca, &patient, Auth::Header(&doctor), None)
        .await
        .expect("the assigned doctor's socket opens");
    let hello = next_message(&mut socket).await.expect("hello");
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["patient"], patient.as_str());
    assert_eq!(hello["ecg_max_hz"], 50);
    let open = next_message(&mut socket).await.expect("the open alert");
    assert_eq!(open["type"], "alert");
    assert_eq!(open["event"], "open");
    assert_eq!(open["alert"]["id"], h.own_alert.as_str());

    let admin = h.token(&h.admin, Role::Admin);
    match open_live(port, &ca, &patient, Auth::Subprotocol(&admin), None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!(
            "max_connections = 1 refuses a second socket: {:?}",
            other.map(|_| ())
        ),
    }

    let started = Instant::now();
    assert_eq!(
        next_message(&mut socket).await.expect_err("closed"),
        4001,
        "the session ends with 4001"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // The slot is free again (once the server has finished the closed socket); an admin
    // may watch any patient.
    let (mut socket, _) = open_when_free(port, &ca, &patient, &admin).await;
    assert_eq!(
        next_message(&mut socket).await.expect("hello")["type"],
        "hello"
    );
    drop(socket);

    // Break-glass is honoured as on the REST routes: doctor A may watch doctor B's
    // patient only with a grant (and the access is audited as break-glass).
    let other = h.other.to_string();
    match open_live(port, &ca, &other, Auth::Header(&doctor), None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a foreign patient is refused: {:?}", other.map(|_| ())),
    }
    let granted = h
        .http
        .post(h.url(&format!("/v1/patients/{other}/break-glass")))
        .bearer_auth(&doctor)
        .json(&serde_json::json!({"reason": "covering the ward tonight, patient crashing"}))
        .send()
        .await
        .expect("api answers");
    assert!(granted.status().is_success(), "{}", granted.status());
    let (mut socket, _) = open_when_free(port, &ca, &other, &doctor).await;
    assert_eq!(
        next_message(&mut socket).await.expect("hello")["patient"],
        other.as_str()
    );
    let audit = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        audit.iter().any(|e| e.entry.action == "break_glass_access"
            && e.entry.patient.as_ref() == Some(&h.other)),
        "the live access under the grant is audited"
    );
}

async fn assign(h: &ApiHarness, admin: &str, patient: &str, doctors: &[&cw_core::UserId]) {
    let doctors: Vec<String> = doctors.iter().map(|d| d.to_string()).collect();
    let response = h
        .http
        .put(h.url(&format!("/v1/patients/{patient}/doctors")))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "doctors": doctors }))
        .send()
        .await
        .expect("api answers");
    assert_eq!(response.status(), 200, "the admin changes the assignments");
}

/// Access is re-checked while a socket is open: removing a doctor's assignment through the
/// api closes that doctor's socket with 4003 within `access_recheck_s` (audited as a
/// denial), while a colleague still assigned to the patient keeps streaming.
#[tokio::test(flavor = "multi_thread")]
async fn a_removed_assignment_closes_that_doctors_live_socket_with_4003_and_a_colleagues_keeps_streaming()
 {
    const RECHECK_S: u64 = 2;
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.live.event_endpoints = Vec::new();
        cfg.live.sample_endpoints = Vec::new();
        cfg.live.access_recheck_s = RECHECK_S;
        cfg.live.alert_poll_ms = 200;
    })
    .await;
    let (port, ca) = h.port_and_ca();
    let patient = h.own.to_string();
    let admin = h.token(&h.admin, Role::Admin);
    assign(&h, &admin, &patient, &[&h.doctor_a, &h.doctor_b]).await;

    let (doctor_a, doctor_b) = (
        h.token(&h.doctor_a, Role::Doctor),
        h.token(&h.doctor_b, Role::Doctor),
    );
    let (mut removed, _) = open_live(port, &ca, &patient, Auth::Subprotocol(&doctor_a), None)
        .await
        .expect("doctor A's socket opens");
    let (mut colleague, _) = open_live(port, &ca, &patient, Auth::Header(&doctor_b), None)
        .await
        .expect("doctor B's socket opens");
    for socket in [&mut removed, &mut colleague] {
        assert_eq!(next_message(socket).await.expect("hello")["type"], "hello");
        assert_eq!(next_message(socket).await.expect("open")["event"], "open");
    }

    assign(&h, &admin, &patient, &[&h.doctor_b]).await;
    let unassigned = Instant::now();
    let code = close_code(&mut removed, Duration::from_secs(RECHECK_S + 3)).await;
    assert_eq!(code, 4003, "closed as access revoked");
    assert!(
        unassigned.elapsed() < Duration::from_secs(RECHECK_S) + Duration::from_secs(1),
        "within the re-check interval: {:?}",
        unassigned.elapsed()
    );

    // Doctor B's socket outlives several intervals and still streams: B's REST ack of the
    // open alert reaches it.
    tokio::time::sleep(Duration::from_secs(RECHECK_S * 2)).await;
    let acked = h
        .http
        .post(h.url(&format!("/v1/alerts/{}/ack", h.own_alert)))
        .bearer_auth(&doctor_b)
        .send()
        .await
        .expect("api answers");
    assert_eq!(acked.status(), 200);
    let told = next_message(&mut colleague)
        .await
        .expect("doctor B's socket is still open");
    assert_eq!(told["type"], "alert");
    assert_eq!(told["event"], "acknowledged");
    assert_eq!(told["alert"]["id"], h.own_alert.as_str());

    let audit = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.entry.action == "GET /v1/patients/{id}/live"
                && e.entry.actor == h.doctor_a.as_str()
                && e.entry.outcome == AuditOutcome::Denied
                && e.entry.status == 4003
                && e.entry.patient.as_ref() == Some(&h.own)),
        "the revocation is audited as a denial"
    );
    assert!(
        !audit.iter().any(
            |e| e.entry.actor == h.doctor_b.as_str() && e.entry.outcome == AuditOutcome::Denied
        ),
        "doctor B was never denied"
    );
}

/// A socket opened under break-glass ends (4003) once the grant expires, not at the
/// session cap.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_socket_opened_under_break_glass_closes_with_4003_when_the_grant_expires() {
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.live.event_endpoints = Vec::new();
        cfg.live.sample_endpoints = Vec::new();
        cfg.live.access_recheck_s = 1;
        cfg.auth.break_glass_ttl_s = 3;
    })
    .await;
    let (port, ca) = h.port_and_ca();
    let other = h.other.to_string();
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let granted = h
        .http
        .post(h.url(&format!("/v1/patients/{other}/break-glass")))
        .bearer_auth(&doctor)
        .json(&serde_json::json!({"reason": "covering the ward tonight, patient crashing"}))
        .send()
        .await
        .expect("api answers");
    assert!(granted.status().is_success(), "{}", granted.status());
    let granted_at = Instant::now();
    let (mut socket, _) = open_live(port, &ca, &other, Auth::Header(&doctor), None)
        .await
        .expect("the socket opens under the grant");
    let code = loop {
        match next_message(&mut socket).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    assert_eq!(
        code, 4003,
        "closed as access revoked when the grant expires"
    );
    let after = granted_at.elapsed();
    assert!(
        after >= Duration::from_secs(2) && after < Duration::from_secs(6),
        "closed at the grant's expiry plus one interval at most: {after:?}"
    );
}
