//! Monitoring reports (docs/reports.md): the figures of a range of a patient's monitoring
//! (`cw_analysis::monitoring_summary`) as JSON, as a PDF ([`pdf::render`]) and as a FHIR
//! `DiagnosticReport`. [`gather`] reads the stores; the route `GET
//! /v1/patients/{id}/report`, the FHIR search and `cardiowatch report` all call it and
//! the one renderer, so the three answer the same figures.

pub mod days;
mod paper;
pub mod pdf;

use cw_analysis::backtest::infer_rate;
use cw_analysis::monitoring_summary::{MonitoringSummary, Strip, SummaryBuilder};
use cw_core::rules::AfRule;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{Alert, PatientId};
use cw_storage::{AlertStore, ReportDays, SampleStore, StoreError};

/// The longest range analysed at once: a day (an unoptimised build analysed 12.5 h of
/// two-lead 360 Hz ECG in 43 s, so a day is about 1.5 min of one core; docs/reports.md).
/// A longer range is whole days, each summarised once ([`days`]).
pub const MAX_RANGE_NS: Nanos = 24 * 3600 * NANOS_PER_SEC;
/// Stored ECG is read and analysed this much at a time, so memory stays bounded.
const CHUNK_NS: Nanos = 10 * 60 * NANOS_PER_SEC;
/// Alerts read for the alarm list: the patient's newest ones.
const ALERTS_READ: usize = 10_000;

/// Which report: a day's, or the one closing a monitoring period. Same figures; the title
/// says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    Daily,
    End,
}

impl ReportKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "daily" => Some(Self::Daily),
            "end" => Some(Self::End),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::End => "end",
        }
    }
}

/// What the PDF's header says besides the figures.
#[derive(Clone, Debug)]
pub struct ReportMeta {
    pub kind: ReportKind,
    /// The opaque patient id: the report carries no PHI.
    pub patient: String,
    pub made_ns: Nanos,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the analysis worker failed: {0}")]
    Worker(String),
}

/// AF as the shipped AF rule judges it (its serde defaults, crates/core `rules.rs`), not
/// the patient's alarm settings: reports of different patients compare.
pub fn af_rule() -> AfRule {
    serde_json::from_str("{}").expect("every field of AfRule has a serde default")
}

/// The figures and event strips of `patient` over `[from_ns, to_ns)` from the stores:
/// analysed at once over a day at most, else day by day ([`days::gather_days`], whole
/// UTC days; the caller checked the range with [`days::by_days`]).
pub async fn gather(
    samples: &dyn SampleStore,
    alerts: &dyn AlertStore,
    summaries: &dyn ReportDays,
    patient: &PatientId,
    from_ns: Nanos,
    to_ns: Nanos,
) -> Result<(MonitoringSummary, Vec<Strip>), ReportError> {
    let mut listed: Vec<Alert> = alerts
        .alerts_for_patients(std::slice::from_ref(patient), None, ALERTS_READ)
        .await?;
    listed.retain(|a| (from_ns..to_ns).contains(&a.fired_ns));
    if to_ns - from_ns > MAX_RANGE_NS {
        return days::gather_days(
            samples,
            summaries,
            patient,
            from_ns,
            to_ns,
            &listed,
            now_ns(),
        )
        .await;
    }
    let builder = fold(samples, patient, from_ns, to_ns, &listed).await?;
    blocking(move || builder.finish(&listed)).await
}

/// A builder over `[from_ns, to_ns)` (strips for `alerts`) fed every stored frame of the
/// range, read and analysed [`CHUNK_NS`] at a time.
async fn fold(
    samples: &dyn SampleStore,
    patient: &PatientId,
    from_ns: Nanos,
    to_ns: Nanos,
    alerts: &[Alert],
) -> Result<SummaryBuilder, ReportError> {
    let mut builder: Option<SummaryBuilder> = None;
    let mut at = from_ns;
    while at < to_ns {
        let end = at.saturating_add(CHUNK_NS).min(to_ns);
        let frames = samples.frames(patient, at, end).await?;
        at = end;
        let mut b = match builder.take() {
            Some(b) => b,
            None => match infer_rate(&frames) {
                // Nothing (or one frame) stored yet: look further.
                0 => continue,
                rate => SummaryBuilder::new(from_ns, to_ns, rate, af_rule(), alerts),
            },
        };
        b = blocking(move || {
            b.push(&frames);
            b
        })
        .await?;
        builder = Some(b);
    }
    Ok(builder.unwrap_or_else(|| SummaryBuilder::new(from_ns, to_ns, 0, af_rule(), alerts)))
}

/// CPU-bound analysis off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReportError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ReportError::Worker(e.to_string()))
}
