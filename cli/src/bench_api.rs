//! `cardiowatch bench api`: latency of the two reads doctors make most — the alert list
//! and a 10 s ECG window — with N doctors asking concurrently, through the real api over
//! TLS, each request authorized and audited (one hash-chain append each). On the
//! embedded store (default) or, with `--mongo-uri` and `--influx-url`, on MongoDB
//! (records, audit) and InfluxDB (ECG).

use anyhow::Context;
use clap::Args;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{
    Alert, AlertState, DeviceId, Patient, PatientId, Priority, Role, RuleKind, SampleBlock, UserId,
};
use futures::{StreamExt, TryStreamExt};
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
    /// Records and audit in this MongoDB (a fresh database per run) instead of the
    /// embedded store; needs `--influx-url` too.
    #[arg(long, requires = "influx_url")]
    pub mongo_uri: Option<String>,
    /// ECG in this InfluxDB (a fresh database per run); needs `--mongo-uri` too.
    #[arg(long, requires = "mongo_uri")]
    pub influx_url: Option<String>,
    /// Seeding writes in flight at once.
    #[arg(long, default_value_t = 16)]
    pub seed_concurrency: usize,
}

fn storage(
    args: &BenchApiArgs,
    dir: &std::path::Path,
) -> anyhow::Result<cw_storage::StorageConfig> {
    let audit = crate::secrets::local_audit(dir)?;
    Ok(match (&args.mongo_uri, &args.influx_url) {
        (Some(mongo), Some(influx)) => {
            let database = format!("bench_api_{}", PatientId::random()).replace('-', "_");
            cw_storage::StorageConfig {
                backend: cw_storage::Backend::Servers,
                influx: cw_storage::InfluxConfig {
                    url: influx.clone(),
                    database: database.clone(),
                    ..Default::default()
                },
                mongo: cw_storage::MongoConfig {
                    uri: mongo.clone().into(),
                    database,
                    ..Default::default()
                },
                audit,
                ..Default::default()
            }
        }
        _ => cw_storage::StorageConfig {
            backend: cw_storage::Backend::Embedded,
            path: dir.join("bench.sqlite"),
            key_hex: Some(crate::secrets::random_secret().into()),
            audit,
            ..Default::default()
        },
    })
}

pub async fn run(args: BenchApiArgs) -> anyhow::Result<()> {
    cw_tls::install_default_crypto();
    let tmp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_owned());
    let certs = cw_tls::ensure_dev_certs(&dir.join("certs"))?;
    let storage = storage(&args, &dir)?;
    let stores = cw_storage::open(&storage).await?;
    eprintln!(
        "store: {}",
        match storage.backend {
            cw_storage::Backend::Embedded => "embedded (SQLite)",
            cw_storage::Backend::Servers => "servers (MongoDB records + InfluxDB samples)",
        }
    );
    let secret = cw_bus::Sealer::generate_key_hex();
    let shutdown = CancellationToken::new();
    let api = cw_api::start(
        cw_api::ApiConfig {
            listen: "127.0.0.1:0".into(),
            tls: certs.server_tls(),
            admin_listen: "127.0.0.1:0".into(),
            config_publish_endpoint: "tcp://127.0.0.1:0".into(),
            auth: cw_api::config::AuthConfig {
                jwt_secret: Some(secret.clone().into()),
                ..Default::default()
            },
            storage: storage.clone(),
            bus: cw_bus::BusConfig {
                key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                ..Default::default()
            },
            ..Default::default()
        },
        stores.clone().into(),
        shutdown.clone(),
    )
    .await
    .context("starting the api")?;

    eprintln!("seeding {} doctors …", args.doctors);
    let start_ns = now_ns() - 3600 * NANOS_PER_SEC;
    let seeded = futures::stream::iter(0..args.doctors)
        .map(|_| seed_doctor(&stores, args.alerts, start_ns, &secret))
        .buffer_unordered(args.seed_concurrency.max(1));
    let cast: Vec<(PatientId, String)> = seeded.try_collect().await?;

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
                // Refusals (e.g. 503 when the audit append gave up) are counted, not timed.
                let mut failed: Vec<u16> = Vec::new();
                for _ in 0..rounds {
                    let t = Instant::now();
                    let r = http
                        .get(format!("{base}/v1/alerts?patient={patient}&limit=50"))
                        .bearer_auth(&token)
                        .send()
                        .await?;
                    let ok = r.status().is_success();
                    let status = r.status().as_u16();
                    r.bytes().await?;
                    if ok {
                        alerts.push(t.elapsed());
                    } else {
                        failed.push(status);
                    }
                    let t = Instant::now();
                    let r = http
                        .get(format!(
                            "{base}/v1/patients/{patient}/ecg?from_ns={start_ns}&to_ns={}",
                            start_ns + 10 * NANOS_PER_SEC
                        ))
                        .bearer_auth(&token)
                        .send()
                        .await?;
                    let ok = r.status().is_success();
                    let status = r.status().as_u16();
                    r.bytes().await?;
                    if ok {
                        ecg.push(t.elapsed());
                    } else {
                        failed.push(status);
                    }
                }
                Ok::<_, anyhow::Error>((alerts, ecg, failed))
            })
        })
        .collect();
    let (mut alerts, mut ecg, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for task in tasks {
        let (a, e, f) = task.await??;
        alerts.extend(a);
        ecg.extend(e);
        failed.extend(f);
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
    if !failed.is_empty() {
        failed.sort_unstable();
        failed.dedup();
        println!(
            "refused (not timed): {} of {} requests, statuses {failed:?}",
            args.doctors * args.rounds * 2 - alerts.len() - ecg.len(),
            args.doctors * args.rounds * 2
        );
    }
    shutdown.cancel();
    Ok(())
}

/// One doctor with one patient, `alerts` past (resolved) alerts and 10 s of ECG.
async fn seed_doctor(
    stores: &cw_storage::Stores,
    alerts: usize,
    start_ns: i64,
    secret: &str,
) -> anyhow::Result<(PatientId, String)> {
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
    for i in 0..alerts {
        let fired_ns = start_ns + i as i64 * NANOS_PER_SEC;
        // Stored resolved: history holds no dedup key, so one write per alert.
        let alert = Alert {
            state: AlertState::Resolved,
            resolved_ns: Some(fired_ns + 1),
            value: 130.0,
            limit: 120.0,
            policy_version: 1,
            ..Alert::firing(
                patient.id.clone(),
                RuleKind::HrHigh,
                Priority::High,
                fired_ns,
            )
        };
        stores.records.open_alert(&alert).await?;
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
    let token = cw_api::token::issue(secret.as_bytes(), "cardiowatch", &doctor, Role::Doctor, 900)?;
    Ok((patient.id, token))
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
