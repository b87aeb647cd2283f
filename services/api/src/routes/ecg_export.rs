//! `GET /v1/patients/{id}/ecg/export?from_ns=&to_ns=&format=edf|wfdb` — a range of the
//! patient's ECG as one download (EDF, or a WFDB record in a tar). Authorized as the ECG
//! range read, audited by the audit middleware, at most an hour and
//! [`ecg_export::MAX_VALUES`] samples. The file is made by `crate::ecg_export`.

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::ecg_export::{self, ExportError, Format};
use crate::error::ApiError;
use crate::query::ValidQuery;
use crate::routes::ecg::{MAX_RANGE_NS, range_width};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cw_core::time::Nanos;
use serde::Deserialize;

/// Alerts read to annotate a WFDB export: the patient's newest ones.
const ALERTS_READ: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
    /// `edf` or `wfdb`.
    pub format: String,
}

#[utoipa::path(get, path = "/v1/patients/{id}/ecg/export",
    summary = "ECG range as one download: EDF, or a WFDB record (header, format 212, beat and alarm annotations) in a tar",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), ExportQuery),
    responses((status = 200, description = "the file (Content-Disposition names it)", content(
        (Vec<u8> = "application/octet-stream"),
        (Vec<u8> = "application/x-tar")))))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let format = Format::parse(&q.format).ok_or_else(|| ApiError::Invalid {
        field: Some("format".into()),
        message: "format is edf or wfdb".into(),
    })?;
    range_width(q.from_ns, q.to_ns, MAX_RANGE_NS)?;
    let frames = state.samples.frames(&patient, q.from_ns, q.to_ns).await?;
    let alerts = match format {
        Format::Wfdb => {
            let mut alerts = state
                .records
                .alerts_for_patients(std::slice::from_ref(&patient), None, ALERTS_READ)
                .await?;
            alerts.retain(|a| a.fired_ns < q.to_ns && a.resolved_ns.is_none_or(|r| r >= q.from_ns));
            alerts
        }
        Format::Edf => Vec::new(),
    };
    let patient_text = patient.to_string();
    let made = tokio::task::spawn_blocking(move || {
        let grid = ecg_export::grid(&frames)?;
        let name = ecg_export::record_name(&grid);
        ecg_export::build(format, &grid, &patient_text, &alerts).map(|bytes| (name, bytes))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "export worker failed");
        ApiError::Internal
    })?;
    let (name, bytes) = made.map_err(|e| match e {
        ExportError::Empty => ApiError::NotFound("ECG in this range"),
        ExportError::Rate(_) | ExportError::TooLarge => ApiError::Invalid {
            field: Some("to_ns".into()),
            message: e.to_string(),
        },
        ExportError::Encode(detail) => {
            tracing::error!(%detail, "export encoding failed");
            ApiError::Internal
        }
    })?;
    let (content_type, extension) = format.media();
    tracing::info!(user = %caller.user, patient = %patient, bytes = bytes.len(), format = extension, "ecg exported");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{extension}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
