//! Two alert-engine processes pinned to disjoint halves of the 64 shards: every block of every
//! patient is analysed by exactly one of them, and each patient's episode raises exactly
//! one alert. Embedded mode: no external server needed.

use cardiowatch::fixture::{self, Fixture, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::{PatientId, SHARD_COUNT, shard_of};
use cw_e2e::env::free_port;
use cw_e2e::ingest::metric;
use cw_e2e::processes::Service;
use cw_e2e::system::{Mode, Providers, System};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PATIENTS: usize = 6;
const HALF: u16 = SHARD_COUNT / 2;

fn record_100() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100")
}

/// Patient ids spread over both halves of the shard space.
fn patient_ids() -> Vec<String> {
    let mut low = Vec::new();
    let mut high = Vec::new();
    for n in 0.. {
        let id = format!("shard-patient-{n}");
        let shard = shard_of(&PatientId::parse(&id).expect("id"));
        let side = if shard < HALF { &mut low } else { &mut high };
        if side.len() < PATIENTS / 2 {
            side.push(id);
        }
        if low.len() + high.len() == PATIENTS {
            break;
        }
    }
    low.into_iter().chain(high).collect()
}

async fn metrics(system: &System, port: u16) -> String {
    system
        .https()
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("engine metrics")
        .text()
        .await
        .expect("metrics text")
}

async fn healthy(system: &System, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !system
        .https()
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "service on {port} did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replaces the single engine by two, one per half of the shards, and points the notifier
/// at both PUSH sockets. Returns the two admin ports.
async fn split_engines(system: &mut System) -> [u16; 2] {
    let dir = system.dir().to_path_buf();
    let base = std::fs::read_to_string(dir.join("cw-alert-engine.toml")).expect("engine config");
    let old_push = format!("tcp://127.0.0.1:{}", system.ports.alerts_push);
    let old_admin = format!("127.0.0.1:{}", system.ports.engine_admin);
    let old_live = format!("tcp://127.0.0.1:{}", system.ports.live_pub);
    for s in system
        .services
        .iter_mut()
        .filter(|s| s.name == "cw-alert-engine" || s.name == "cw-notifier")
    {
        s.kill();
    }
    system
        .services
        .retain(|s| s.name != "cw-alert-engine" && s.name != "cw-notifier");
    let mut admins = [0u16; 2];
    let mut pushes = Vec::new();
    for (k, shards) in [(0..HALF), (HALF..SHARD_COUNT)].into_iter().enumerate() {
        let admin = free_port();
        let push = format!("tcp://127.0.0.1:{}", free_port());
        let list: Vec<String> = shards.map(|s| s.to_string()).collect();
        let text = format!(
            "shards = [{}]\n{}",
            list.join(", "),
            base.replace(&old_push, &push)
                .replace(&old_admin, &format!("127.0.0.1:{admin}"))
                // Each engine binds its own live-events PUB.
                .replace(&old_live, &format!("tcp://127.0.0.1:{}", free_port()))
        );
        let config = dir.join(format!("engine-{k}.toml"));
        std::fs::write(&config, text).expect("config written");
        let logs = dir.join(format!("engine-{k}"));
        std::fs::create_dir_all(&logs).expect("log dir");
        system
            .services
            .push(Service::spawn("cw-alert-engine", &config, &logs));
        admins[k] = admin;
        pushes.push(format!("\"{push}\""));
    }
    let notifier = std::fs::read_to_string(dir.join("cw-notifier.toml"))
        .expect("notifier config")
        .replace(&format!("\"{old_push}\""), &pushes.join(", "));
    let config = dir.join("notifier-2.toml");
    std::fs::write(&config, notifier).expect("config written");
    let logs = dir.join("notifier-2");
    std::fs::create_dir_all(&logs).expect("log dir");
    system
        .services
        .push(Service::spawn("cw-notifier", &config, &logs));
    for port in admins {
        healthy(system, port).await;
    }
    // Pinned shards are leased too: each engine waits until the killed engine's leases
    // on them expired (docs/architecture.md, "Shards").
    let deadline = Instant::now() + Duration::from_secs(30);
    for port in admins {
        while metric(&metrics(system, port).await, "cw_engine_shards_owned") != f64::from(HALF) {
            assert!(
                Instant::now() < deadline,
                "engine on {port} holds no leases"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    admins
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_with_disjoint_shards_evaluate_each_patient_exactly_once() {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    let ids = patient_ids();
    let mut fixtures: Vec<Fixture> = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let doctor = format!("dr-shard-{n}");
        let device = format!("gw-shard-{n}");
        fixtures.push(
            fixture::install(
                system.stores.records.as_ref(),
                &FixtureSpec {
                    patient_id: id,
                    doctor_id: &doctor,
                    device_id: &device,
                    phone: Some("+15005550199"),
                    email: None,
                    hr_high_bpm: 70.0,
                    for_s: 3.0,
                },
            )
            .await
            .expect("fixture installed"),
        );
    }
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;
    let admins = split_engines(&mut system).await;
    // The engines' SUB sockets need a moment to connect before ingest publishes.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stats = Arc::new(GatewayStats::default());
    let streams: Vec<_> = fixtures
        .iter()
        .map(|f| {
            let options = GatewayOptions {
                url: system.ingest_url(),
                device_token: f.device_token.clone(),
                ca_cert: Some(system.ca_cert.clone()),
                record: record_100(),
                speed: 4.0,
                seconds: Some(20.0),
                offset_s: 0.0,
                block_ms: 250,
                window: 64,
                vitals: None,
            };
            let stats = stats.clone();
            tokio::spawn(async move {
                gateway::stream_record(options, stats, CancellationToken::new())
                    .await
                    .expect("gateway streams");
            })
        })
        .collect();
    for s in streams {
        s.await.expect("stream task");
    }
    let sent = stats.acked.load(Ordering::Relaxed) as f64;

    // Wait until the engines analysed every block (each once), then compare.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (a, b) = loop {
        let a = metrics(&system, admins[0]).await;
        let b = metrics(&system, admins[1]).await;
        let blocks = metric(&a, "cw_engine_blocks_total") + metric(&b, "cw_engine_blocks_total");
        if blocks >= sent || Instant::now() > deadline {
            break (a, b);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let blocks_a = metric(&a, "cw_engine_blocks_total");
    let blocks_b = metric(&b, "cw_engine_blocks_total");
    assert_eq!(
        blocks_a + blocks_b,
        sent,
        "every block analysed exactly once"
    );
    assert!(blocks_a > 0.0 && blocks_b > 0.0, "both engines worked");
    assert_eq!(metric(&a, "cw_engine_foreign_shard_blocks_total"), 0.0);
    assert_eq!(metric(&b, "cw_engine_foreign_shard_blocks_total"), 0.0);
    let half = (PATIENTS / 2) as f64;
    assert_eq!(metric(&a, "cw_engine_patients"), half);
    assert_eq!(metric(&b, "cw_engine_patients"), half);

    let patients: Vec<PatientId> = ids
        .iter()
        .map(|id| PatientId::parse(id).expect("id"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alerts = system
            .stores
            .records
            .alerts_for_patients(&patients, None, 100)
            .await
            .expect("alerts");
        let fired = metric(
            &metrics(&system, admins[0]).await,
            "cw_engine_alerts_fired_total",
        ) + metric(
            &metrics(&system, admins[1]).await,
            "cw_engine_alerts_fired_total",
        );
        if alerts.len() == PATIENTS {
            for p in &patients {
                assert_eq!(
                    alerts.iter().filter(|a| &a.patient == p).count(),
                    1,
                    "one alert for {p}"
                );
            }
            assert_eq!(fired, PATIENTS as f64, "each alert raised by one engine");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alerts {alerts:?}\nlogs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
