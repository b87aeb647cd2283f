//! `cardiowatch report`: the monitoring report of a patient's stored range, the same PDF
//! (or JSON figures) as `GET /v1/patients/{id}/report`, made by the api's own code
//! (`cw_api::monitoring_report`) from the configured stores (docs/reports.md).

use anyhow::Context;
use clap::Args;
use cw_api::monitoring_report::{self, ReportKind, ReportMeta, days};
use cw_core::PatientId;
use cw_core::time::{Nanos, now_ns};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The patient (opaque id).
    #[arg(long)]
    pub patient: String,
    /// Range start and end (ns since the epoch): at most a day apart, or whole UTC days
    /// (both at 00:00 UTC) up to 31.
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
    days::by_days(args.from_ns, args.to_ns)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.message))?;
    let stores = args.store.open().await?;
    let alerts: &dyn cw_storage::AlertStore = stores.records.as_ref();
    let summaries: &dyn cw_storage::ReportDays = stores.records.as_ref();
    let (summary, strips) = monitoring_report::gather(
        stores.samples.as_ref(),
        alerts,
        summaries,
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
