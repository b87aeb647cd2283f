//! `cardiowatch gateway`: one simulated gateway (`--token`), or one per line of
//! `--tokens-file` (1,000+ patients, staggered record offsets), with a live progress
//! line on stderr; with `--vitals`, numerics from a WFDB numerics record beside the ECG,
//! with `--vitals-profile` generated ones.

use crate::fleet::{self, FleetOptions};
use crate::gateway::{self, GatewayOptions, GatewayStats};
use crate::gateway_vitals::VitalsArgs;
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug)]
pub struct GatewayArgs {
    /// WFDB record to stream (path without extension); repeat for several.
    #[arg(long, required = true)]
    pub record: Vec<PathBuf>,
    /// wss://host:port/v1/stream
    #[arg(long)]
    pub url: String,
    /// The device bearer token (or set CW_DEVICE_TOKEN).
    #[arg(long, env = "CW_DEVICE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// One device token per line: one simulated patient (one connection) each.
    #[arg(long, conflicts_with = "token")]
    pub tokens_file: Option<PathBuf>,
    /// CA certificate to trust, PEM.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Present this client certificate (PEM; with --cert-key): mTLS instead of a token.
    #[arg(long, requires = "cert_key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long)]
    pub cert_key: Option<PathBuf>,
    /// 1 = real time.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Seconds of the record to send (default: all).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Milliseconds of signal per frame.
    #[arg(long, default_value_t = 250)]
    pub block_ms: u32,
    /// Unacknowledged frames per connection before waiting.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Seconds between consecutive patients' record offsets.
    #[arg(long, default_value_t = 37.0)]
    pub stagger_s: f64,
    /// New connections per second at start.
    #[arg(long, default_value_t = 200.0)]
    pub connects_per_s: f64,
    /// Numerics beside the ECG (a WFDB numerics record or a generated profile).
    #[command(flatten)]
    pub vitals: VitalsArgs,
}

pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let shutdown = cw_runtime::shutdown_on_signal();
    let stats = Arc::new(GatewayStats::default());
    let tokens = match (&args.tokens_file, &args.token, &args.cert) {
        (Some(file), _, _) => fleet::read_tokens(file)?,
        (None, Some(token), None) if token.trim().is_empty() => {
            bail!(
                "--token (or CW_DEVICE_TOKEN) is empty: give the device's token, or --cert and --cert-key"
            )
        }
        (None, Some(token), _) => vec![token.clone()],
        (None, None, Some(_)) => vec![String::new()],
        (None, None, None) => bail!("give --token, --tokens-file, or --cert and --cert-key"),
    };
    let base = GatewayOptions {
        url: args.url.clone(),
        device_token: String::new(),
        ca_cert: args.ca.clone(),
        record: args.record[0].clone(),
        speed: args.speed,
        seconds: args.seconds,
        offset_s: 0.0,
        block_ms: args.block_ms,
        window: args.window,
        vitals: args.vitals.options(),
    };
    let fs = cw_wfdb::Record::open(&args.record[0])?.fs;
    let frames_per_patient = args
        .seconds
        .map(|s| (s * 1000.0 / f64::from(args.block_ms)).ceil() as u64)
        .unwrap_or(u64::MAX / 1_000_000);
    let frames_due_per_s = tokens.len() as f64 * args.speed * 1000.0 / f64::from(args.block_ms);
    let stop_progress = CancellationToken::new();
    let progress = tokio::spawn(fleet::print_progress(
        stats.clone(),
        frames_due_per_s,
        frames_per_patient.saturating_mul(tokens.len() as u64),
        Duration::from_secs(2),
        stop_progress.clone(),
    ));
    let patients = tokens.len();
    let result = match (&args.cert, &args.cert_key, &args.ca) {
        (Some(cert), Some(key), Some(ca)) => {
            let connector =
                tokio_rustls::TlsConnector::from(cw_tls::client_config_with_cert(ca, cert, key)?);
            gateway::stream_record_with(
                GatewayOptions {
                    device_token: tokens.into_iter().next().unwrap_or_default(),
                    ..base
                },
                Some(connector),
                stats.clone(),
                shutdown,
            )
            .await
        }
        (Some(_), _, None) => bail!("--cert needs --ca"),
        _ => {
            fleet::run(
                FleetOptions {
                    gateway: base,
                    records: args.record.clone(),
                    stagger_s: args.stagger_s,
                    connects_per_s: args.connects_per_s,
                },
                tokens,
                stats.clone(),
                shutdown,
            )
            .await
        }
    };
    stop_progress.cancel();
    let _ = progress.await;
    eprintln!(
        "done: {patients} patients at {fs} Hz, {} frames acked ({} samples), {} nacked, {} resent, {} reconnects",
        stats.acked.load(Ordering::Relaxed),
        stats.samples_acked.load(Ordering::Relaxed),
        stats.nacked.load(Ordering::Relaxed),
        stats.resent.load(Ordering::Relaxed),
        stats.reconnects.load(Ordering::Relaxed),
    );
    result
}
