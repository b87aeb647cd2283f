//! `cardiowatch bench ingest --influx-url URL`: the same points into the same InfluxDB,
//! (a) by the plain batched line-protocol writer straight to InfluxDB and (b) through
//! ingest over TLS from the gateway simulator (a child process, one connection per
//! patient). Prints points/s of each, ingest's CPU per million samples and peak RSS,
//! and last `ratio=<b/a>`.
//!
//! Ingest runs inside this process (records in a temp SQLite file, samples in InfluxDB),
//! so this process's CPU time and peak RSS during (b) are ingest's; the simulator's are
//! not counted. Each phase writes to its own fresh database, so neither overwrites.

use crate::proc_stats::{process_cpu_seconds, rss_kib};
use anyhow::{Context, bail};
use clap::Args;
use cw_core::device::token_sha256;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Device, DeviceId, PatientId, SampleBlock};
use cw_storage::{InfluxConfig, SampleStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct BenchIngestArgs {
    /// InfluxDB base URL (1.x HTTP API).
    #[arg(long)]
    pub influx_url: String,
    #[arg(long, default_value = "testdata/mitdb/100")]
    pub record: PathBuf,
    /// Simulated patients (one gateway connection each).
    #[arg(long, default_value_t = 100)]
    pub patients: usize,
    /// Seconds of ECG per patient (at most 240: ingest accepts ±300 s of clock skew).
    #[arg(long, default_value_t = 120.0)]
    pub seconds: f64,
    /// Seconds between consecutive patients' record offsets.
    #[arg(long, default_value_t = 37.0)]
    pub stagger_s: f64,
    /// The InfluxDB server's process id: freeze it (SIGSTOP) during phase (b) for
    /// `--stall-s` seconds, to show ingest's memory staying flat while it stalls.
    #[arg(long, requires = "stall_s")]
    pub stall_pid: Option<u32>,
    #[arg(long)]
    pub stall_s: Option<f64>,
    /// Ingest's writer: points per InfluxDB write (default: ingest's own default).
    #[arg(long)]
    pub batch_lines: Option<usize>,
    /// Ingest's writer: writes in flight at once (default: ingest's own default).
    #[arg(long)]
    pub writes_in_flight: Option<usize>,
    /// gzip the `/write` bodies of both phases (`true`/`false`); default: the store's
    /// own choice (`storage.influx.gzip`: off to a loopback URL, on to another host).
    #[arg(long)]
    pub gzip: Option<bool>,
}

const BLOCK_MS: u32 = 250;

pub async fn run(args: BenchIngestArgs) -> anyhow::Result<()> {
    if !(1.0..=240.0).contains(&args.seconds) {
        bail!("--seconds must be within 1–240");
    }
    cw_tls::install_default_crypto();
    let record = cw_wfdb::Record::open(&args.record)
        .with_context(|| format!("reading {}", args.record.display()))?;
    let fs = record.fs;
    let leads = record.signal_count();
    let record_s = record.len() as f64 / fs;
    let all = record.microvolts_interleaved();
    let per_patient = (args.seconds * fs) as usize;
    let room = record.len().saturating_sub(per_patient);
    let run_id = cw_core::AlertId::random().to_string().to_lowercase();
    println!(
        "bench ingest: {} patients × {:.0} s of {} ({fs} Hz, {leads} leads; record {record_s:.0} s), {} points",
        args.patients,
        args.seconds,
        args.record.display(),
        args.patients * per_patient
    );

    // (a) straight to InfluxDB.
    let direct = influx(
        &args.influx_url,
        &format!("bench_direct_{run_id}"),
        args.gzip,
    )
    .await?;
    let start_ns = now_ns() - (args.seconds * NANOS_PER_SEC as f64) as i64;
    let per_block = (fs * f64::from(BLOCK_MS) / 1000.0).round() as usize;
    let mut blocks = Vec::new();
    for p in 0..args.patients {
        let first = offset_frames(p, args.stagger_s, fs, room);
        let patient = PatientId::parse(&format!("bench-{p}")).context("patient id")?;
        let device = DeviceId::parse(&format!("bench-gw-{p}")).context("device id")?;
        let mut at = 0;
        let mut seq = 1;
        while at < per_patient {
            let n = per_block.min(per_patient - at);
            blocks.push(SampleBlock {
                patient: patient.clone(),
                device: device.clone(),
                seq,
                start_ns: start_ns + ((at as f64) * NANOS_PER_SEC as f64 / fs) as i64,
                rate_hz: fs.round() as u32,
                leads: leads as u8,
                samples_uv: all[(first + at) * leads..(first + at + n) * leads].to_vec(),
                lead_off: false,
            });
            seq += 1;
            at += n;
        }
    }
    let points: usize = blocks.iter().map(SampleBlock::frames).sum();
    let started = Instant::now();
    direct.write(&blocks).await.context("direct write")?;
    let direct_s = started.elapsed().as_secs_f64();
    let direct_rate = points as f64 / direct_s;
    drop(blocks);
    println!(
        "(a) direct line protocol: {points} points in {direct_s:.2} s = {direct_rate:.0} points/s"
    );

    // (b) through ingest over TLS from the simulator.
    let dir = tempfile::tempdir().context("temp dir")?;
    let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs"))?;
    let storage = cw_storage::StorageConfig {
        path: dir.path().join("records.sqlite"),
        key_hex: Some(crate::secrets::random_secret().into()),
        audit: crate::secrets::local_audit(dir.path())?,
        ..Default::default()
    };
    let mut stores = cw_storage::open(&storage).await?;
    stores.samples = Arc::new(
        influx(
            &args.influx_url,
            &format!("bench_ingest_{run_id}"),
            args.gzip,
        )
        .await?,
    );
    let mut tokens = String::new();
    for p in 0..args.patients {
        let token = crate::secrets::device_token();
        stores
            .records
            .put_device(&Device {
                id: DeviceId::parse(&format!("bench-gw-{p}"))?,
                patient: PatientId::parse(&format!("bench-{p}"))?,
                token_sha256: token_sha256(&token),
                revoked: false,
                cert_sha256: None,
            })
            .await?;
        tokens.push_str(&token);
        tokens.push('\n');
    }
    let tokens_file = dir.path().join("tokens.txt");
    std::fs::write(&tokens_file, tokens)?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let ingest = cw_ingest::start(
        cw_ingest::IngestConfig {
            listen: "127.0.0.1:0".into(),
            tls: certs.server_tls(),
            admin_listen: "127.0.0.1:0".into(),
            publish_endpoint: "tcp://127.0.0.1:0".into(),
            storage,
            bus: cw_bus::BusConfig {
                key_id: 1,
                key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                ..Default::default()
            },
            writer: {
                let defaults = cw_ingest::WriterConfig::default();
                cw_ingest::WriterConfig {
                    batch_lines: args.batch_lines.unwrap_or(defaults.batch_lines),
                    writes_in_flight: args.writes_in_flight.unwrap_or(defaults.writes_in_flight),
                    ..defaults
                }
            },
            ..Default::default()
        },
        stores.clone().into(),
        shutdown.clone(),
    )
    .await?;
    let url = format!("wss://127.0.0.1:{}/v1/stream", ingest.addr.port());
    reset_peak_rss();
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let curve = tokio::spawn(rss_curve(started, args.stall_pid.zip(args.stall_s)));
    let status = tokio::process::Command::new(std::env::current_exe()?)
        .args(["gateway", "--url", &url, "--speed", "1000000", "--block-ms"])
        .arg(BLOCK_MS.to_string())
        .arg("--seconds")
        .arg(args.seconds.to_string())
        .arg("--stagger-s")
        .arg(args.stagger_s.to_string())
        .arg("--connects-per-s")
        .arg("2000")
        .arg("--record")
        .arg(&args.record)
        .arg("--ca")
        .arg(&certs.ca_cert)
        .arg("--tokens-file")
        .arg(&tokens_file)
        .env_remove("CW_DEVICE_TOKEN")
        .status()
        .await
        .context("running the gateway simulator")?;
    let ingest_s = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    let peak_rss_mib = peak_rss_kib() as f64 / 1024.0;
    curve.abort();
    if let Some(pid) = args.stall_pid {
        // Never leave the server frozen, whenever the run ended.
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .arg(pid.to_string())
            .status();
    }
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(100), curve).await
        && !e.is_cancelled()
    {
        tracing::warn!(error = %e, "rss sampler");
    }
    if !status.success() {
        bail!("the gateway simulator failed: {status}");
    }
    let stored = count_points(stores.samples.as_ref(), args.patients).await?;
    if stored != points as u64 {
        bail!("ingest stored {stored} points, expected {points}");
    }
    let ingest_rate = points as f64 / ingest_s;
    let samples = points * leads;
    println!(
        "(b) through ingest (TLS, {} connections): {points} points in {ingest_s:.2} s = {ingest_rate:.0} points/s",
        args.patients
    );
    println!(
        "ingest cpu {:.2} s = {:.3} cpu-s per million samples ({samples} samples, all leads); peak RSS {peak_rss_mib:.0} MiB",
        cpu,
        cpu / (samples as f64 / 1e6)
    );
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), ingest.task).await;
    println!("ratio={:.3}", ingest_rate / direct_rate);
    Ok(())
}

fn offset_frames(patient: usize, stagger_s: f64, fs: f64, room: usize) -> usize {
    if room == 0 {
        0
    } else {
        ((patient as f64 * stagger_s * fs) as usize) % room
    }
}

async fn influx(
    url: &str,
    database: &str,
    gzip: Option<bool>,
) -> anyhow::Result<cw_storage::influx::InfluxSamples> {
    cw_storage::influx::InfluxSamples::connect(&InfluxConfig {
        url: url.to_owned(),
        database: database.to_owned(),
        gzip,
        ..Default::default()
    })
    .await
    .with_context(|| format!("connecting to InfluxDB at {url}"))
}

async fn count_points(samples: &dyn SampleStore, patients: usize) -> anyhow::Result<u64> {
    let mut total = 0;
    for p in 0..patients {
        total += samples
            .count_frames(&PatientId::parse(&format!("bench-{p}"))?, 0, i64::MAX)
            .await?;
    }
    Ok(total)
}

/// Samples this process's RSS every 500 ms while phase (b) runs (printed every 5 s),
/// freezing `stall` = (pid, seconds) from 2 s in, and thawing it after.
async fn rss_curve(started: Instant, stall: Option<(u32, f64)>) {
    let signal = |pid: u32, name: &str| {
        let _ = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status();
    };
    let mut frozen_until = None;
    let mut line = String::new();
    for tick in 0u64.. {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = started.elapsed().as_secs_f64();
        if let Some((pid, seconds)) = stall {
            if frozen_until.is_none() && t >= 2.0 {
                signal(pid, "STOP");
                frozen_until = Some(t + seconds);
                println!("[{t:>5.1}s] InfluxDB (pid {pid}) frozen for {seconds} s");
            }
            if let Some(until) = frozen_until
                && t >= until
                && until > 0.0
            {
                signal(pid, "CONT");
                frozen_until = Some(0.0);
                println!("[{t:>5.1}s] InfluxDB thawed");
            }
        }
        line.push_str(&format!(
            " {t:.1}s:{:.0}MiB",
            rss_kib("VmRSS:") as f64 / 1024.0
        ));
        if tick % 10 == 9 {
            println!("rss{line}");
            line.clear();
        }
    }
}

/// Resets VmHWM so the peak covers phase (b) only (Linux ≥ 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> u64 {
    rss_kib("VmHWM:")
}
