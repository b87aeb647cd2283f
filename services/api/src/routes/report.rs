//! `GET /v1/patients/{id}/report?from_ns=&to_ns=&kind=daily|end[&format=pdf|json]` — the
//! monitoring report of a range (at most a day, or up to 31 whole UTC days): a PDF, or its figures as JSON (`format=json`
//! or `Accept: application/json`), both from one summary (docs/reports.md). Authorized as
//! the patient's ECG, audited by the audit middleware.

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::monitoring_report::{self, ReportError, ReportKind, ReportMeta, days};
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use cw_analysis::monitoring_summary::{MonitoringSummary, Strip};
use cw_core::PatientId;
use cw_core::time::{Nanos, now_ns};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
    /// `daily` or `end` (end of monitoring).
    pub kind: String,
    /// `pdf` or `json`; without it, JSON when `Accept` asks for `application/json`.
    pub format: Option<String>,
}

/// A report's range, kind and the patient, checked: what both the REST and the FHIR
/// route need before reading anything.
pub(crate) fn checked_kind(kind: &str) -> Result<ReportKind, ApiError> {
    ReportKind::parse(kind).ok_or_else(|| ApiError::Invalid {
        field: Some("kind".into()),
        message: "kind is daily or end".into(),
    })
}

/// The summary and strips of the range, read through the api's stores.
pub(crate) async fn summarize(
    state: &AppState,
    patient: &PatientId,
    from_ns: Nanos,
    to_ns: Nanos,
) -> Result<(MonitoringSummary, Vec<Strip>), ApiError> {
    days::by_days(from_ns, to_ns).map_err(|e| ApiError::Invalid {
        field: Some(e.field.into()),
        message: e.message,
    })?;
    let alerts: &dyn cw_storage::AlertStore = state.records.as_ref();
    let summaries: &dyn cw_storage::ReportDays = state.records.as_ref();
    monitoring_report::gather(
        state.samples.as_ref(),
        alerts,
        summaries,
        patient,
        from_ns,
        to_ns,
    )
    .await
    .map_err(|e| match e {
        ReportError::Store(e) => e.into(),
        ReportError::Worker(detail) => {
            tracing::error!(%detail, "report worker failed");
            ApiError::Internal
        }
    })
}

/// The PDF of a summary, made off the async workers.
pub(crate) async fn pdf(
    meta: ReportMeta,
    summary: MonitoringSummary,
    strips: Vec<Strip>,
) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(move || monitoring_report::pdf::render(&meta, &summary, &strips))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "report rendering failed");
            ApiError::Internal
        })
}

#[utoipa::path(get, path = "/v1/patients/{id}/report",
    summary = "Monitoring report of a range (at most a day, or 2 to 31 whole UTC days): PDF, or its figures as JSON",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), ReportQuery),
    responses((status = 200, description = "the PDF (Content-Disposition names it), or the figures", content(
        (Vec<u8> = "application/pdf"),
        (MonitoringSummary = "application/json")))))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let kind = checked_kind(&q.kind)?;
    let json = match q.format.as_deref() {
        Some("json") => true,
        Some("pdf") => false,
        Some(_) => {
            return Err(ApiError::Invalid {
                field: Some("format".into()),
                message: "format is pdf or json".into(),
            });
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("application/json")),
    };
    let (summary, strips) = summarize(&state, &patient, q.from_ns, q.to_ns).await?;
    if json {
        return Ok(Json(summary).into_response());
    }
    let meta = ReportMeta {
        kind,
        patient: patient.to_string(),
        made_ns: now_ns(),
    };
    let bytes = pdf(meta, summary, strips).await?;
    tracing::info!(user = %caller.user, patient = %patient, bytes = bytes.len(), kind = kind.as_str(), "report made");
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"report-{}-{}.pdf\"",
                    kind.as_str(),
                    q.from_ns / cw_core::time::NANOS_PER_SEC
                ),
            ),
        ],
        bytes,
    )
        .into_response())
}
