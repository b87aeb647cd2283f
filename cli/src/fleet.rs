//! Many simulated patients at once: one gateway connection per patient, each streaming
//! a WFDB record from its own offset (so no two patients send the same ECG at the same
//! time), all counted in one [`GatewayStats`] for the progress line.

use crate::gateway::{self, GatewayOptions, GatewayStats};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// Per-connection settings; `device_token`, `record` and `offset_s` are set per
    /// patient.
    pub gateway: GatewayOptions,
    /// Records handed out round-robin.
    pub records: Vec<PathBuf>,
    /// Seconds between the record offsets of consecutive patients.
    pub stagger_s: f64,
    /// Connections opened per second at start (a thousand TLS handshakes at once would
    /// measure the handshake, not the stream).
    pub connects_per_s: f64,
}

/// One bearer token per line (blank lines and `#` comments skipped): one patient each.
pub fn read_tokens(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        bail!("{} holds no device token", path.display());
    }
    Ok(tokens)
}

/// Streams one patient per token until all are done (or `shutdown`); the first error
/// of any patient is returned after all have ended.
pub async fn run(
    opts: FleetOptions,
    tokens: Vec<String>,
    stats: Arc<GatewayStats>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if opts.records.is_empty() {
        bail!("no record to stream");
    }
    let connector = match &opts.gateway.ca_cert {
        Some(ca) => Some(tokio_rustls::TlsConnector::from(cw_tls::client_config(ca)?)),
        None => None,
    };
    let record_s = record_seconds(&opts.records[0])?;
    let sent_s = opts.gateway.seconds.unwrap_or(record_s).min(record_s);
    let room_s = (record_s - sent_s).max(0.0);
    let spacing = Duration::from_secs_f64(1.0 / opts.connects_per_s.max(1.0));
    let mut tasks = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.into_iter().enumerate() {
        let mut gw = opts.gateway.clone();
        gw.device_token = token;
        gw.record = opts.records[i % opts.records.len()].clone();
        gw.vitals = gw.vitals.map(|v| v.for_patient(i));
        gw.offset_s = if room_s > 0.0 {
            (i as f64 * opts.stagger_s) % room_s
        } else {
            0.0
        };
        tasks.push(tokio::spawn(gateway::stream_record_with(
            gw,
            connector.clone(),
            stats.clone(),
            shutdown.clone(),
        )));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(spacing) => {}
        }
    }
    let mut first_error = None;
    for task in tasks {
        let outcome = task.await.context("gateway task")?;
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn record_seconds(path: &Path) -> anyhow::Result<f64> {
    let record = cw_wfdb::Record::open(path)
        .with_context(|| format!("reading record {}", path.display()))?;
    Ok(record.len() as f64 / record.fs)
}

/// Prints one progress line every `every` until cancelled: frames/s sent, acked, nacked,
/// in flight, reconnects, and lag (frames due by the schedule but not yet sent).
pub async fn print_progress(
    stats: Arc<GatewayStats>,
    frames_due_per_s: f64,
    total_frames: u64,
    every: Duration,
    stop: CancellationToken,
) {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut last = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let sent = stats.frames_sent.load(Ordering::Relaxed);
        let acked = stats.acked.load(Ordering::Relaxed);
        let nacked = stats.nacked.load(Ordering::Relaxed);
        let due = ((started.elapsed().as_secs_f64() * frames_due_per_s) as u64).min(total_frames);
        eprintln!(
            "[{:>5.0}s] frames/s {:>7.0}  acked {acked}  nacked {nacked}  in flight {}  reconnects {}  lag {} frames",
            started.elapsed().as_secs_f64(),
            (sent - last) as f64 / every.as_secs_f64(),
            sent.saturating_sub(acked + nacked),
            stats.reconnects.load(Ordering::Relaxed),
            due.saturating_sub(sent),
        );
        last = sent;
    }
}
