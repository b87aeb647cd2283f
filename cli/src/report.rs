//! `cardiowatch report`: the monitoring report of a patient's stored range, the same PDF
//! (or JSON figures) as `GET /v1/patients/{id}/report`, made by the api's own code
//! (`cw_api::monitoring_report`) from the configured stores (docs/reports.md).

use anyhow::Context;
use clap::Args;
use cw_api::monitoring_report::{self, MAX_RANGE_NS, ReportKind, ReportMeta};
use cw_core::PatientId;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The patient (opaque id).
    #[arg(long)]
    pub patient: String,
    /// Range start and end (ns since the epoch), at most a day apart.
    #[arg(long)]
    pub from_ns: Nanos,
    #[arg(long)]
    pub to_ns: Nanos,
    /// `daily` or `end` (end of monitoring).
    #[arg(long, default_value = "daily")]
    pub kind: String,
    /// Where the PDF goes.
    #[arg(long, required_unless_present = "json")]
    pub out: Option<PathBuf>,
    /// Print the figures as JSON instead of writing the PDF.
    #[arg(long)]
    pub json: bool,
    /// Where the stored ECG and alarms are: the CLI's one store rule (docs/config.md).
    #[command(flatten)]
    pub store: crate::store_args::StoreArgs,
}

pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let patient = PatientId::parse(&args.patient).context("--patient")?;
    let kind = ReportKind::parse(&args.kind).context("--kind is daily or end")?;
    let width = args.to_ns.checked_sub(args.from_ns);
    anyhow::ensure!(
        width.is_some_and(|w| w > 0 && w <= MAX_RANGE_NS),
        "--to-ns is after --from-ns and at most {} s later",
        MAX_RANGE_NS / NANOS_PER_SEC
    );
    let stores = args.store.open().await?;
    let alerts: &dyn cw_storage::AlertStore = stores.records.as_ref();
    let (summary, strips) = monitoring_report::gather(
        stores.samples.as_ref(),
        alerts,
        &patient,
        args.from_ns,
        args.to_ns,
    )
    .await
    .context("reading and analysing the stored range")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    let meta = ReportMeta {
        kind,
        patient: patient.to_string(),
        made_ns: now_ns(),
    };
    let bytes = tokio::task::spawn_blocking(move || {
        monitoring_report::pdf::render(&meta, &summary, &strips)
    })
    .await?;
    let out = args.out.context("--out names the PDF")?;
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!("{} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
