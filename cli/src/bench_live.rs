//! `cardiowatch bench live`: N patients stream MIT-BIH record 100 in real time through
//! ingest → (alert-engine events PUB + ingest samples PUB) → the api's live hub → V live
//! WebSockets per patient, all in this process on the embedded store (each service on its
//! own connection, as separate processes are, unless `--one-store-connection`). The
//! simulator sends each 250 ms block when the wall clock reaches the block's last sample
//! time, as a device does. Prints p50/p99 of
//!   * `hr` *beat → socket*: from the beat's sample time (in this real-time stream, when
//!     the heart beat) to the client reading its message — the device's block buffering,
//!     the detector's look-ahead (up to 300 ms of later samples must arrive) plus the
//!     pipeline;
//!   * `ecg` *sent → socket*: from when the block was due to leave the gateway (its end
//!     sample time, taken as the last complete bucket's end, up to one 22 ms bucket early,
//!     so this reads at most that much high) to the client reading it — gateway → ingest
//!     (stored) → PUB → hub → socket;
//!
//! then where the time went, stage by stage, from the api's live stage histograms over
//! the same window (`bench_live_stages.rs`), and how many messages the sockets dropped.

use crate::bench_alerts_stages::percentile;
use crate::bench_live_stages::{self as stages, INGEST_WRITE, STAGES};
use crate::fixture::{self, FixtureSpec};
use crate::gateway::{self, GatewayOptions, GatewayStats};
use crate::in_process::{self, Wiring};
use clap::Args;
use cw_bus::BusConfig;
use cw_core::Role;
use cw_core::time::{Nanos, now_ns};
use cw_storage::{Backend, StorageConfig};
use cw_tls::TlsServerConfig;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The simulated gateway's block length.
const BLOCK_MS: i64 = 250;

#[derive(Args, Debug)]
pub struct BenchLiveArgs {
    #[arg(long, default_value_t = 50)]
    pub patients: usize,
    /// Live sockets per patient (doctors watching the same patient).
    #[arg(long, default_value_t = 2)]
    pub viewers: usize,
    /// Seconds of record each patient streams (real time).
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    #[arg(long, default_value = "testdata/mitdb/100")]
    pub record: PathBuf,
    /// Seconds after every gateway has sent its first second of blocks before latencies
    /// count (start-up is not the steady state).
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Ingest, engine, notifier and api share one store connection (the demo's wiring)
    /// instead of one each, as separate processes have.
    #[arg(long)]
    pub one_store_connection: bool,
    /// Points per ingest store write (ingest's `writer.batch_lines`; default 5,000): each
    /// write is one commit, so one fsync on the embedded store.
    #[arg(long)]
    pub ingest_batch_lines: Option<usize>,
}

/// The fields of the live messages the benchmark measures (`docs/live.md`).
#[derive(serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Message {
    Hr {
        at_ns: Nanos,
    },
    Ecg {
        bucket_ns: Nanos,
        buckets: Vec<BucketStart>,
    },
    Dropped {
        dropped: u64,
    },
    #[serde(other)]
    Other,
}

#[derive(serde::Deserialize)]
struct BucketStart {
    start_ns: Nanos,
}

/// What the sockets saw: latencies (ms) per message type, and drops.
#[derive(Default)]
struct Seen {
    hr: Mutex<Vec<f64>>,
    ecg: Mutex<Vec<f64>>,
    dropped: AtomicU64,
    messages: AtomicU64,
    /// Messages read before this (ns) are not measured: start-up, when every simulated
    /// gateway reads its record and connects at once, is not the steady state.
    measure_from: AtomicI64,
}

impl Seen {
    /// `dropped`: this socket's total so far (the server reports totals).
    fn record(&self, text: &str, dropped: &mut u64) {
        let now = now_ns();
        self.messages.fetch_add(1, Ordering::Relaxed);
        let from = self.measure_from.load(Ordering::Relaxed);
        if from == 0 || now < from {
            return;
        }
        let Ok(m) = serde_json::from_str::<Message>(text) else {
            return;
        };
        let ms = |since: Nanos| (now - since) as f64 / 1e6;
        match m {
            Message::Hr { at_ns } => self
                .hr
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(ms(at_ns)),
            Message::Ecg { bucket_ns, buckets } => {
                if let Some(last) = buckets.last() {
                    // The block left the gateway once its last sample existed.
                    self.ecg
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(ms(last.start_ns + bucket_ns));
                }
            }
            Message::Dropped { dropped: total } => {
                self.dropped
                    .fetch_add(total.saturating_sub(*dropped), Ordering::Relaxed);
                *dropped = total;
            }
            Message::Other => {}
        }
    }
}

fn report(name: &str, values: &Mutex<Vec<f64>>) {
    let mut v = values
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    v.sort_by(f64::total_cmp);
    println!(
        "{name} n={} p50={:.0} p99={:.0} max={:.0}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

pub async fn run(args: BenchLiveArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs"))?;
    let jwt_secret = cw_bus::Sealer::generate_key_hex();
    let storage = StorageConfig {
        backend: Backend::Embedded,
        path: dir.path().join("bench.sqlite"),
        key_hex: Some(crate::secrets::random_secret().into()),
        audit: crate::secrets::local_audit(dir.path())?,
        ..StorageConfig::default()
    };
    let stores = cw_storage::open(&storage).await?;
    let mut patients = Vec::with_capacity(args.patients);
    for k in 0..args.patients {
        let (id, doctor, device) = (
            format!("live-p{k}"),
            format!("live-dr{k}"),
            format!("live-gw{k}"),
        );
        patients.push(
            fixture::install(
                stores.records.as_ref(),
                &FixtureSpec {
                    patient_id: &id,
                    doctor_id: &doctor,
                    device_id: &device,
                    phone: None,
                    email: None,
                    // Above the record's rate: the benchmark is about the stream.
                    hr_high_bpm: 150.0,
                    for_s: 5.0,
                },
            )
            .await?,
        );
    }
    let shutdown = CancellationToken::new();
    let sandbox = cw_sandbox::TwilioSandbox::start(0).await?;
    let sockets = args.patients * args.viewers;
    let services = in_process::start_with(
        &Wiring {
            tls: TlsServerConfig {
                cert_path: certs.server_cert.clone(),
                key_path: certs.server_key.clone(),
                insecure_plaintext: false,
                connections: Default::default(),
            },
            bus: BusConfig {
                key_id: 1,
                key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                ..BusConfig::default()
            },
            storage,
            jwt_secret: Some(jwt_secret.clone()),
            twilio: in_process::sandbox_twilio(&sandbox.base_url()),
        },
        &in_process::Extras {
            own_store_connections: !args.one_store_connection,
            // Room for every socket of the run (the default refuses past 1,000).
            live_max_connections: Some(sockets.max(1000)),
            ingest_writer: args
                .ingest_batch_lines
                .map(|batch_lines| cw_ingest::WriterConfig {
                    batch_lines,
                    ..Default::default()
                }),
            ..Default::default()
        },
        &stores,
        &shutdown,
    )
    .await?;
    let (api, api_admin) = services
        .api
        .as_ref()
        .map(|a| (a.addr.port(), a.admin_addr.port()))
        .ok_or_else(|| anyhow::anyhow!("the api did not start"))?;

    let connector = tokio_rustls::TlsConnector::from(cw_tls::client_config(&certs.ca_cert)?);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(
            &certs.ca_cert,
        )?)?)
        .build()?;
    // Metrics are served on the admin listeners only.
    let metrics_url = format!("https://127.0.0.1:{api_admin}/metrics");
    let ingest_metrics_url = format!(
        "https://127.0.0.1:{}/metrics",
        services.ingest.admin_addr.port()
    );
    let get = |url: String| {
        let http = http.clone();
        async move { anyhow::Ok(http.get(url).send().await?.text().await?) }
    };
    // The api's live stages and ingest's store writes, in one snapshot.
    let stage_snapshot = || async {
        let mut snapshot = stages::parse(&get(metrics_url.clone()).await?);
        snapshot.extend(stages::parse(&get(ingest_metrics_url.clone()).await?));
        anyhow::Ok(snapshot)
    };
    let seen = Arc::new(Seen::default());
    let mut readers = Vec::new();
    for f in &patients {
        let token = cw_api::token::issue(
            jwt_secret.as_bytes(),
            "cardiowatch",
            &f.doctor.id,
            Role::Doctor,
            cw_api::token::ACCESS_TTL_S,
        )?;
        for _ in 0..args.viewers {
            let socket = gateway::connect(
                &options(
                    format!("wss://127.0.0.1:{api}/v1/patients/{}/live", f.patient.id),
                    token.clone(),
                    &certs.ca_cert,
                    &args.record,
                    0.0,
                ),
                Some(&connector),
            )
            .await?;
            let (seen, stop) = (seen.clone(), shutdown.clone());
            readers.push(tokio::spawn(async move {
                let (_tx, mut rx) = socket.split();
                let mut dropped = 0;
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => return,
                        next = rx.next() => next,
                    };
                    match next {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                            seen.record(&text, &mut dropped)
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    }
                }
            }));
        }
    }
    // Past ZeroMQ's slow-joiner window of the shards just subscribed.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let url = format!("wss://127.0.0.1:{}/v1/stream", services.ingest.addr.port());
    let stats = Arc::new(GatewayStats::default());
    let mut streams = Vec::new();
    for (k, f) in patients.iter().enumerate() {
        let mut opts = options(
            url.clone(),
            f.device_token.clone(),
            &certs.ca_cert,
            &args.record,
            (k % 10) as f64,
        );
        opts.seconds = Some(args.seconds as f64);
        streams.push(tokio::spawn(gateway::stream_record(
            opts,
            stats.clone(),
            shutdown.clone(),
        )));
    }
    eprintln!(
        "{} patients streaming, {} live sockets …",
        patients.len(),
        patients.len() * args.viewers
    );
    // Every gateway has sent its first second (4 blocks): start-up is over.
    while stats.frames_sent.load(Ordering::Relaxed) < patients.len() as u64 * 4 {
        if streams.iter().any(|s| s.is_finished()) {
            // A gateway that gave up (unreadable record, refused) would leave this waiting.
            shutdown.cancel();
            anyhow::bail!("a simulated gateway ended before streaming its first second");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let warm = Duration::from_secs(args.warmup);
    seen.measure_from
        .store(now_ns() + warm.as_nanos() as Nanos, Ordering::Relaxed);
    eprintln!(
        "all streaming; measuring after {} s of warm-up",
        args.warmup
    );
    tokio::time::sleep(warm).await;
    let stages_before = stage_snapshot().await?;
    // Ingest's writer queue, sampled while the gateways stream: a backlog there is what
    // holds acks (and with them the gateways' windows) back.
    let (queue_max, queue_sum, queue_samples) = {
        let (mut max, mut sum, mut n) = (0f64, 0f64, 0u32);
        while !streams.iter().all(|s| s.is_finished()) {
            if let Some(depth) = get(ingest_metrics_url.clone())
                .await
                .ok()
                .and_then(|m| stages::gauge(&m, "cw_ingest_queue_depth"))
            {
                max = max.max(depth);
                sum += depth;
                n += 1;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        (max, sum, n.max(1))
    };
    for s in streams {
        let _ = s.await;
    }
    let stages_after = stage_snapshot().await?;
    // Messages lost between stages over the whole run (counters since start).
    let (api_text, ingest_text) = (
        get(metrics_url.clone()).await?,
        get(ingest_metrics_url.clone()).await?,
    );
    let counter = |text: &str, name| stages::gauge(text, name).unwrap_or(f64::NAN);
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    for r in readers {
        let _ = r.await;
    }
    println!(
        "patients={} viewers_per_patient={} sockets={} messages={} dropped={} frames_acked={}",
        patients.len(),
        args.viewers,
        patients.len() * args.viewers,
        seen.messages.load(Ordering::Relaxed),
        seen.dropped.load(Ordering::Relaxed),
        stats.acked.load(Ordering::Relaxed)
    );
    report("hr_beat_to_socket_ms", &seen.hr);
    report("ecg_sent_to_socket_ms", &seen.ecg);
    println!("stages over the same window (ms, upper bound of the histogram bucket, ~25 % wide):");
    for (name, label) in STAGES {
        let q = |q| {
            stages::quantile_ms(&stages_before, &stages_after, name, q)
                .map_or("-".to_owned(), |ms| format!("{ms:.1}"))
        };
        println!(
            "  {label:<36} n={:<8} p50<={:<8} p99<={}",
            stages::count(&stages_before, &stages_after, name),
            q(0.5),
            q(0.99)
        );
    }
    let write = |q| {
        stages::quantile_ms(&stages_before, &stages_after, INGEST_WRITE, q)
            .map_or("-".to_owned(), |ms| format!("{ms:.1}"))
    };
    println!(
        "  {:<36} n={:<8} p50<={:<8} p99<={} (coarse buckets)",
        "ingest store write, per batch",
        stages::count(&stages_before, &stages_after, INGEST_WRITE),
        write(0.5),
        write(0.99)
    );
    println!(
        "  ingest writer queue (blocks)         mean={:.0} max={queue_max:.0}",
        queue_sum / f64::from(queue_samples)
    );
    println!(
        "  lost, whole run: ingest PUB queue full {} | live bus gaps (samples + events) {} | sockets behind {}",
        counter(&ingest_text, "cw_ingest_bus_dropped_total"),
        counter(&api_text, "cw_api_live_bus_lost_total"),
        counter(&api_text, "cw_api_live_dropped_total"),
    );
    services.join().await;
    Ok(())
}

fn options(url: String, token: String, ca: &Path, record: &Path, offset_s: f64) -> GatewayOptions {
    GatewayOptions {
        url,
        device_token: token,
        ca_cert: Some(ca.to_owned()),
        record: record.to_owned(),
        speed: 1.0,
        seconds: None,
        offset_s,
        block_ms: BLOCK_MS as u32,
        window: 64,
        vitals: None,
    }
}
