//! `cardiowatch bench api`: latency of the two reads doctors make most — the alert list
//! and a 10 s ECG window — with N doctors asking concurrently, through the real api over
//! TLS, each request authorized and audited (one hash-chain append each).

use anyhow::Context;
use clap::Args;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{
    Alert, AlertId, AlertState, DeviceId, Patient, PatientId, Priority, Role, RuleKind,
    SampleBlock, UserId,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug)]
pub struct BenchApiArgs {
    /// Concurrent doctors, each with their own patient.
    #[arg(long, default_value_t = 200)]
    pub doctors: usize,
    /// Requests of each kind per doctor.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Alerts stored per patient.
    #[arg(long, default_value_t = 50)]
    pub alerts: usize,
    /// Where the embedded store goes (default: a temp dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

pub async fn run(args: BenchApiArgs) -> anyhow::Result<()> {
    cw_tls::install_default_crypto();
    let tmp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_owned());
    let certs = cw_tls::ensure_dev_certs(&dir.join("certs"))?;
    let storage = cw_storage::StorageConfig {
        backend: cw_storage::Backend::Embedded,
        path: dir.join("bench.sqlite"),
        ..Default::default()
    };
    let stores = cw_storage::open(&storage).await?;
    let secret = cw_bus::Sealer::generate_key_hex();
    let shutdown = CancellationToken::new();
    let api = cw_api::start(
        cw_api::ApiConfig {
            listen: "127.0.0.1:0".into(),
            tls: cw_tls::TlsServerConfig {
                cert_path: certs.server_cert.clone(),
                key_path: certs.server_key.clone(),
                insecure_plaintext: false,
            },
            config_publish_endpoint: "tcp://127.0.0.1:0".into(),
            auth: cw_api::config::AuthConfig {
                jwt_secret: Some(secret.clone()),
                ..Default::default()
            },
            storage: storage.clone(),
            bus: cw_bus::BusConfig {
                key_hex: Some(cw_bus::Sealer::generate_key_hex()),
                ..Default::default()
            },
            ..Default::default()
        },
        stores.clone(),
        shutdown.clone(),
    )
    .await
    .context("starting the api")?;

    eprintln!("seeding {} doctors …", args.doctors);
    let start_ns = now_ns() - 3600 * NANOS_PER_SEC;
    let mut cast = Vec::new();
    for _ in 0..args.doctors {
        let doctor = UserId::random();
        let patient = Patient {
            id: PatientId::random(),
            doctors: vec![doctor.clone()],
            devices: vec![],
            timezone: "UTC".into(),
            phi: None,
            mrn_hash: None,
        };
        stores.records.put_patient(&patient).await?;
        for i in 0..args.alerts {
            let fired_ns = start_ns + i as i64 * NANOS_PER_SEC;
            let alert = Alert {
                id: AlertId::random(),
                patient: patient.id.clone(),
                rule: RuleKind::HrHigh,
                priority: Priority::High,
                state: AlertState::Firing,
                started_ns: fired_ns,
                fired_ns,
                acked_ns: None,
                acked_by: None,
                resolved_ns: None,
                value: 130.0,
                limit: 120.0,
                policy_version: 1,
                window_start_ns: fired_ns,
                window_end_ns: fired_ns,
                snooze: None,
            };
            stores.records.open_alert(&alert).await?;
            // One open alert per (patient, rule): resolve so the next one can open.
            stores
                .records
                .resolve_alert(&alert.id, fired_ns + 1)
                .await?;
        }
        // 10 s at 250 Hz, two leads.
        let samples: Vec<i16> = (0..2500).flat_map(|i| [(i % 200) as i16, -5]).collect();
        stores
            .samples
            .write(&[SampleBlock {
                patient: patient.id.clone(),
                device: DeviceId::random(),
                seq: 1,
                start_ns,
                rate_hz: 250,
                leads: 2,
                samples_uv: samples,
                lead_off: false,
            }])
            .await?;
        let token =
            cw_api::token::issue(secret.as_bytes(), "cardiowatch", &doctor, Role::Doctor, 900)?;
        cast.push((patient.id, token));
    }

    let ca = std::fs::read(&certs.ca_cert)?;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
        .pool_max_idle_per_host(args.doctors)
        .timeout(Duration::from_secs(60))
        .build()?;
    let base = Arc::new(format!("https://127.0.0.1:{}", api.addr.port()));
    eprintln!(
        "running {} doctors × {} rounds …",
        args.doctors, args.rounds
    );
    let began = Instant::now();
    let tasks: Vec<_> = cast
        .into_iter()
        .map(|(patient, token)| {
            let (http, base) = (http.clone(), base.clone());
            let rounds = args.rounds;
            tokio::spawn(async move {
                let mut alerts = Vec::with_capacity(rounds);
                let mut ecg = Vec::with_capacity(rounds);
                for _ in 0..rounds {
                    let t = Instant::now();
                    let r = http
                        .get(format!("{base}/v1/alerts?patient={patient}&limit=50"))
                        .bearer_auth(&token)
                        .send()
                        .await?;
                    anyhow::ensure!(r.status().is_success(), "alert list: {}", r.status());
                    r.bytes().await?;
                    alerts.push(t.elapsed());
                    let t = Instant::now();
                    let r = http
                        .get(format!(
                            "{base}/v1/patients/{patient}/ecg?from_ns={start_ns}&to_ns={}",
                            start_ns + 10 * NANOS_PER_SEC
                        ))
                        .bearer_auth(&token)
                        .send()
                        .await?;
                    anyhow::ensure!(r.status().is_success(), "ecg window: {}", r.status());
                    r.bytes().await?;
                    ecg.push(t.elapsed());
                }
                Ok::<_, anyhow::Error>((alerts, ecg))
            })
        })
        .collect();
    let (mut alerts, mut ecg) = (Vec::new(), Vec::new());
    for task in tasks {
        let (a, e) = task.await??;
        alerts.extend(a);
        ecg.extend(e);
    }
    let wall = began.elapsed();
    report("alert list (50)", &mut alerts);
    report("ecg 10 s window", &mut ecg);
    println!(
        "requests {}  wall {:.1}s  throughput {:.0} req/s  doctors {}",
        alerts.len() + ecg.len(),
        wall.as_secs_f64(),
        (alerts.len() + ecg.len()) as f64 / wall.as_secs_f64(),
        args.doctors
    );
    shutdown.cancel();
    Ok(())
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let pick = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    println!(
        "{name:<18} n {:>6}  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        samples.len(),
        pick(0.50),
        pick(0.99),
        pick(1.0)
    );
}
