//! The unmonitored-patient alarm across real processes: the only alert-engine is killed
//! with SIGKILL while a patient streams; once its lease has been expired for 15 s ingest
//! raises "monitoring interrupted" (high, technical), the doctor is paged, and when a new
//! engine takes the shard over the alarm clears (docs/architecture.md, "Shards").
//! Embedded mode: one SQLite file shared by the processes.

use cardiowatch::fixture::{self, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::{Alert, AlertState, PatientId, RuleKind};
use cw_e2e::ingest::{metric, record_100};
use cw_e2e::processes::Service;
use cw_e2e::system::{Mode, Providers, System};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PATIENT: &str = "unmonitored-patient";
const PHONE: &str = "+15005550177";

async fn ingest_metric(system: &System, name: &str) -> f64 {
    let text = system
        .https()
        .get(format!(
            "https://127.0.0.1:{}/metrics",
            system.ports.ingest_admin
        ))
        .send()
        .await
        .expect("ingest metrics")
        .text()
        .await
        .expect("metrics text");
    metric(&text, name)
}

async fn alarms(system: &System) -> Vec<Alert> {
    let patient = PatientId::parse(PATIENT).expect("id");
    let alerts = system
        .stores
        .records
        .alerts_for_patients(&[patient], None, 50)
        .await
        .expect("alerts");
    alerts
        .into_iter()
        .filter(|a| a.rule == RuleKind::MonitoringInterrupted)
        .collect()
}

async fn wait_alarms(system: &System, what: &str, ok: impl Fn(&[Alert]) -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let now = alarms(system).await;
        if ok(&now) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {now:?}\nlogs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_patient_without_an_engine_raises_monitoring_interrupted_until_one_takes_over()
{
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    // A limit the patient (~75 bpm) never crosses: the only page is the technical alarm.
    let fixture = fixture::install(
        system.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: PATIENT,
            doctor_id: "dr-unmonitored",
            device_id: "gw-unmonitored",
            phone: Some(PHONE),
            email: None,
            hr_high_bpm: 150.0,
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
    let options = GatewayOptions {
        url: system.ingest_url(),
        device_token: fixture.device_token.clone(),
        ca_cert: Some(system.ca_cert.clone()),
        record: record_100(),
        speed: 1.0,
        seconds: Some(120.0),
        offset_s: 0.0,
        block_ms: 250,
        window: 64,
        vitals: None,
    };
    let streaming = tokio::spawn(async move {
        gateway::stream_record(
            options,
            Arc::new(GatewayStats::default()),
            CancellationToken::new(),
        )
        .await
        .expect("gateway streams");
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ingest_metric(&system, "cw_ingest_unmonitored_patients").await,
        0.0
    );

    let index = system
        .services
        .iter()
        .position(|s| s.name == "cw-alert-engine")
        .expect("engine running");
    let killed = Instant::now();
    system.services[index].kill();
    let raised = wait_alarms(&system, "the alarm", |a| {
        a.len() == 1 && a[0].state == AlertState::Firing
    })
    .await;
    let after = raised - killed;
    println!("kill -9 of the only engine -> monitoring interrupted raised after {after:?}");
    // 15 s past the lease's expiry (5 s after the last renewal), plus a check round.
    assert!(
        after >= Duration::from_secs(15) && after <= Duration::from_secs(25),
        "raised after {after:?}"
    );
    assert_eq!(
        ingest_metric(&system, "cw_ingest_unmonitored_patients").await,
        1.0
    );
    let alarm = &alarms(&system).await[0];
    assert_eq!(alarm.priority, cw_core::Priority::High);
    let messages = sandbox.wait_for_messages(1, Duration::from_secs(20)).await;
    assert!(
        messages
            .iter()
            .any(|m| m.to == PHONE && m.body.contains("monitoring interrupted")),
        "{messages:?}"
    );

    // A new engine takes the shard over: the alarm clears.
    let config = system.dir().join("cw-alert-engine.toml");
    let logs = system.dir().join("engine-replacement");
    std::fs::create_dir_all(&logs).expect("log dir");
    let restarted = Instant::now();
    system.services[index] = Service::spawn("cw-alert-engine", &config, &logs);
    let cleared = wait_alarms(&system, "the alarm to clear", |a| {
        a.len() == 1 && a[0].state == AlertState::Resolved
    })
    .await;
    println!(
        "replacement engine started -> alarm cleared after {:?}",
        cleared - restarted
    );
    assert_eq!(
        ingest_metric(&system, "cw_ingest_unmonitored_patients").await,
        0.0
    );
    assert_eq!(
        ingest_metric(&system, "cw_ingest_monitoring_alarms_total").await,
        1.0
    );
    streaming.abort();
}
