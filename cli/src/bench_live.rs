//! `cardiowatch bench live`: N patients stream MIT-BIH record 100 in real time through
//! ingest → (alert-engine events PUB + ingest samples PUB) → the api's live hub → V live
//! WebSockets per patient, all in this process on the embedded store. The simulator sends
//! each 250 ms block when the wall clock reaches the block's first sample time. Prints
//! p50/p99 of
//!   * `hr` *beat → socket*: from the beat's sample time (in this real-time stream, when
//!     the heart beat) to the client reading its message — the detector's look-ahead (up
//!     to 300 ms of later samples must arrive) plus the pipeline;
//!   * `ecg` *sent → socket*: from when the block left the gateway (its end sample time
//!     − 250 ms, the end taken as the last complete bucket's end, up to one 22 ms bucket
//!     early, so this reads at most that much high) to the client reading it —
//!     gateway → ingest (stored) → PUB → hub → socket.
//!
//! A real device buffers a block before sending: add 250 ms to both. Also prints how many
//! messages the sockets dropped.

use crate::bench_alerts_stages::percentile;
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
        let Ok(m) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let ms = |end: Nanos| (now - (end - BLOCK_MS * 1_000_000)) as f64 / 1e6;
        match m["type"].as_str() {
            Some("hr") => {
                if let Some(at) = m["at_ns"].as_i64() {
                    self.hr
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((now - at) as f64 / 1e6);
                }
            }
            Some("ecg") => {
                let last = m["buckets"].as_array().and_then(|b| b.last());
                if let (Some(start), Some(width)) = (
                    last.and_then(|b| b["start_ns"].as_i64()),
                    m["bucket_ns"].as_i64(),
                ) {
                    self.ecg
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(ms(start + width));
                }
            }
            Some("dropped") => {
                let total = m["dropped"].as_u64().unwrap_or(*dropped);
                self.dropped
                    .fetch_add(total.saturating_sub(*dropped), Ordering::Relaxed);
                *dropped = total;
            }
            _ => {}
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
    let services = in_process::start(
        &Wiring {
            tls: TlsServerConfig {
                cert_path: certs.server_cert.clone(),
                key_path: certs.server_key.clone(),
                insecure_plaintext: false,
            },
            bus: BusConfig {
                key_id: 1,
                key_hex: Some(cw_bus::Sealer::generate_key_hex()),
                ..BusConfig::default()
            },
            storage,
            jwt_secret: Some(jwt_secret.clone()),
            twilio: in_process::sandbox_twilio(&sandbox.base_url()),
        },
        &stores,
        &shutdown,
    )
    .await?;
    let api = services
        .api
        .as_ref()
        .map(|a| a.addr.port())
        .ok_or_else(|| anyhow::anyhow!("the api did not start"))?;

    let connector = tokio_rustls::TlsConnector::from(cw_tls::client_config(&certs.ca_cert)?);
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let warm = Duration::from_secs(args.warmup);
    seen.measure_from
        .store(now_ns() + warm.as_nanos() as Nanos, Ordering::Relaxed);
    eprintln!(
        "all streaming; measuring after {} s of warm-up",
        args.warmup
    );
    for s in streams {
        let _ = s.await;
    }
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
    }
}
