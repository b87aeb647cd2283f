//! `POST /v1/patients/{id}/backtest` — replay a stored range of the patient's ECG and
//! numerics through a candidate policy with the engine's own code, and return the alerts
//! it would have raised (shown to a doctor before a threshold is saved).

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::thresholds::PolicyInput;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use cw_analysis::backtest::{BacktestReport, replay};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use serde::Deserialize;

/// Longest range one request may replay (memory and CPU of one api worker).
const MAX_RANGE_S: i64 = 3600;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestInput {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
    pub policy: PolicyInput,
}

#[utoipa::path(post, path = "/v1/patients/{id}/backtest", summary = "Replay stored ECG and numerics against a candidate policy",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id")),
    request_body = BacktestInput,
    responses((status = 200, body = BacktestReport)))]
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<BacktestInput>, JsonRejection>,
) -> Result<Json<BacktestReport>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let span = input.to_ns - input.from_ns;
    if span <= 0 || span > MAX_RANGE_S * NANOS_PER_SEC {
        return Err(ApiError::Invalid {
            field: Some("to_ns".into()),
            message: format!("to_ns must be after from_ns, by at most {MAX_RANGE_S} s"),
        });
    }
    let policy = input.policy.into_policy(patient.clone())?;
    let frames = state
        .samples
        .frames(&patient, input.from_ns, input.to_ns)
        .await?;
    let vitals = state
        .samples
        .vitals(&patient, input.from_ns, input.to_ns)
        .await?;
    let report = tokio::task::spawn_blocking(move || replay(&policy, &frames, &vitals))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "backtest worker failed");
            ApiError::Internal
        })?;
    tracing::info!(user = %caller.user, patient = %patient, frames = report.frames, vitals = report.vitals, alerts = report.alerts.len(), "backtest run");
    Ok(Json(report))
}
