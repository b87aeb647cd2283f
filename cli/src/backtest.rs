//! `cardiowatch backtest`: replay a patient's stored ECG and numerics (or a WFDB record,
//! with numerics from a numerics record or a generated profile beside it) through a
//! candidate policy with the alert-engine's own monitor; prints the alerts it would have
//! raised as JSON.

use anyhow::{Context, bail};
use clap::Args;
use cw_analysis::backtest::{BacktestReport, replay};
use cw_core::policy_input;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{PatientId, ThresholdPolicy};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// The patient whose stored ECG is replayed.
    #[arg(long)]
    pub patient: String,
    /// Candidate policy: a JSON file with the settings of `PUT /v1/patients/{id}/thresholds`.
    #[arg(long)]
    pub policy: PathBuf,
    /// Range start and end (ns since the epoch); default: the last `--last-s` seconds.
    #[arg(long)]
    pub from_ns: Option<Nanos>,
    #[arg(long)]
    pub to_ns: Option<Nanos>,
    #[arg(long, default_value_t = 600)]
    pub last_s: u32,
    /// Replay this WFDB record (path without extension) instead of the stored ECG and
    /// numerics.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Numerics replayed beside `--record`, on its time axis (both start at 0).
    #[command(flatten)]
    pub vitals: crate::gateway_vitals::VitalsArgs,
    /// Where the stored ECG is: the CLI's one store rule (docs/config.md).
    #[command(flatten)]
    pub store: crate::store_args::StoreArgs,
}

/// The candidate policy from its JSON file, read and validated by the api's own function
/// (`cw_core::policy_input`): an unknown or misspelt field is refused, as the api does.
pub fn load_policy(path: &Path, patient: &PatientId) -> anyhow::Result<ThresholdPolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the policy {}", path.display()))?;
    policy_input::policy_from_json(patient, &text)
        .with_context(|| format!("invalid policy {}", path.display()))
}

/// Runs the backtest and returns the report (the command prints it).
pub async fn report(args: &BacktestArgs) -> anyhow::Result<BacktestReport> {
    let patient = PatientId::parse(&args.patient).context("--patient")?;
    let policy = load_policy(&args.policy, &patient)?;
    let (frames, vitals) = match &args.record {
        Some(record) => {
            let (fs, frames) = record_frames(record)?;
            let vitals = match args.vitals.options() {
                Some(opts) => crate::gateway_vitals::readings(&opts, 0, frames.len() as f64 / fs)?,
                None => Vec::new(),
            };
            (frames, vitals)
        }
        None if args.vitals.options().is_some() => {
            bail!(
                "--vitals and --vitals-profile go with --record; stored numerics replay by themselves"
            )
        }
        None => {
            let to = args.to_ns.unwrap_or_else(now_ns);
            let from = args
                .from_ns
                .unwrap_or(to - i64::from(args.last_s) * NANOS_PER_SEC);
            let stores = args.store.open().await?;
            let frames = stores
                .samples
                .frames(&patient, from, to)
                .await
                .context("reading the stored ECG")?;
            let vitals = stores
                .samples
                .vitals(&patient, from, to)
                .await
                .context("reading the stored numerics")?;
            (frames, vitals)
        }
    };
    Ok(tokio::task::spawn_blocking(move || replay(&policy, &frames, &vitals)).await?)
}

/// Timestamped frames, one value per lead (as the store returns them).
type Frames = Vec<(Nanos, Vec<i16>)>;

/// The record's sampling rate and its frames from time 0.
fn record_frames(path: &Path) -> anyhow::Result<(f64, Frames)> {
    let record = cw_wfdb::Record::open(path)
        .with_context(|| format!("opening the record {}", path.display()))?;
    let leads = record.signal_count().max(1);
    Ok((
        record.fs,
        frames_of(record.fs, leads, &record.microvolts_interleaved()),
    ))
}

/// Interleaved samples (µV) as timestamped frames from time 0, as the store returns them.
pub fn frames_of(fs: f64, leads: usize, interleaved_uv: &[i16]) -> Vec<(Nanos, Vec<i16>)> {
    let step = 1e9 / fs;
    interleaved_uv
        .chunks_exact(leads)
        .enumerate()
        .map(|(i, frame)| ((i as f64 * step) as Nanos, frame.to_vec()))
        .collect()
}

pub async fn run(args: BacktestArgs) -> anyhow::Result<()> {
    let report = report(&args).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
