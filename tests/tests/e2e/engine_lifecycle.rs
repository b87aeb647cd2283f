//! The alert-engine as a process among the four: killed with SIGKILL during an open
//! episode it neither loses nor duplicates the alert, and the episode still resolves; a
//! policy change through the api reaches the running engine in well under a second.
//! Embedded mode (one SQLite file shared by the processes): no external server needed.

use cardiowatch::fixture::{self, Fixture, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::{Alert, AlertState, PatientId, Role};
use cw_e2e::processes::Service;
use cw_e2e::system::{Mode, Providers, System};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PATIENT: &str = "engine-patient-100";

fn record_100() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100")
}

async fn start(hr_high_bpm: f32) -> (System, Fixture, cw_sandbox::TwilioSandbox) {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    let fixture = fixture::install(
        system.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: PATIENT,
            doctor_id: "dr-engine",
            device_id: "gw-engine-1",
            phone: Some("+15005550199"),
            email: None,
            hr_high_bpm,
            for_s: 3.0,
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
    (system, fixture, sandbox)
}

/// Streams `seconds` of record 100 at `speed` in the background.
fn stream(
    system: &System,
    fixture: &Fixture,
    seconds: f64,
    speed: f64,
) -> tokio::task::JoinHandle<()> {
    let options = GatewayOptions {
        url: system.ingest_url(),
        device_token: fixture.device_token.clone(),
        ca_cert: Some(system.ca_cert.clone()),
        record: record_100(),
        speed,
        seconds: Some(seconds),
        offset_s: 0.0,
        block_ms: 250,
        window: 64,
        vitals: None,
    };
    tokio::spawn(async move {
        gateway::stream_record(
            options,
            Arc::new(GatewayStats::default()),
            CancellationToken::new(),
        )
        .await
        .expect("gateway streams");
    })
}

async fn alerts(system: &System) -> Vec<Alert> {
    system
        .stores
        .records
        .alerts_for_patients(&[PatientId::parse(PATIENT).expect("id")], None, 50)
        .await
        .expect("alerts readable")
}

async fn wait_for(system: &System, what: &str, timeout: Duration, ok: impl Fn(&[Alert]) -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        let now = alerts(system).await;
        if ok(&now) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {now:?}\nlogs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn put_policy(system: &System, fixture: &Fixture, body: serde_json::Value) {
    let token = cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &fixture.doctor.id,
        Role::Doctor,
        300,
    )
    .expect("token");
    let response = system
        .https()
        .put(system.api_url(&format!("/v1/patients/{PATIENT}/thresholds")))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("api answers");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// Kills the engine with SIGKILL and starts a new process on the same config.
async fn crash_and_restart_engine(system: &mut System) {
    let index = system
        .services
        .iter()
        .position(|s| s.name == "cw-alert-engine")
        .expect("engine running");
    system.services[index].kill();
    let config = system.dir().join("cw-alert-engine.toml");
    let logs = system.dir().join("after-restart");
    std::fs::create_dir_all(&logs).expect("log dir");
    system.services[index] = Service::spawn("cw-alert-engine", &config, &logs);
    let url = format!("https://127.0.0.1:{}/healthz", system.ports.engine_admin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !system
        .https()
        .get(&url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "engine did not come back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_neither_duplicates_nor_forgets_an_open_episode() {
    // Record 100 runs at ~75 bpm: over a 70 bpm limit the episode opens after 3 s.
    let (mut system, fixture, _sandbox) = start(70.0).await;
    let streaming = stream(&system, &fixture, 60.0, 2.0);
    wait_for(&system, "the alert to fire", Duration::from_secs(20), |a| {
        a.len() == 1 && a[0].state == AlertState::Firing
    })
    .await;
    crash_and_restart_engine(&mut system).await;
    // The restarted engine sees the same fast rhythm: it must adopt, not re-raise.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(alerts(&system).await.len(), 1, "no duplicate after restart");
    // The doctor raises the limit: the adopted episode is now clear and resolves.
    put_policy(
        &system,
        &fixture,
        serde_json::json!({"hr_high": {"bpm": 150, "priority": "high", "for_s": 3, "clear_s": 4}}),
    )
    .await;
    wait_for(
        &system,
        "the episode to resolve",
        Duration::from_secs(25),
        |a| a.iter().any(|x| x.state == AlertState::Resolved),
    )
    .await;
    let all = alerts(&system).await;
    assert_eq!(all.len(), 1, "one episode, one alert: {all:?}");
    // The fast rhythm went on through the restart: one event, neither forgotten nor
    // counted again by the engine that adopted the alert.
    assert_eq!(all[0].episode.count, 1, "{:?}", all[0].episode);
    streaming.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_change_through_the_api_reaches_the_running_engine_within_a_second() {
    let (system, fixture, _sandbox) = start(150.0).await;
    let streaming = stream(&system, &fixture, 120.0, 4.0);
    // Let the engine learn the rhythm: nothing fires at 150 bpm.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(alerts(&system).await.is_empty());
    let put_at = Instant::now();
    put_policy(
        &system,
        &fixture,
        serde_json::json!({"hr_high": {"bpm": 60, "priority": "high", "for_s": 0}}),
    )
    .await;
    wait_for(
        &system,
        "the alert under the new limit",
        Duration::from_secs(5),
        |a| !a.is_empty(),
    )
    .await;
    let elapsed = put_at.elapsed();
    println!("policy PUT -> alert stored by the engine: {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(1),
        "policy change took {elapsed:?} to act"
    );
    streaming.abort();
}
