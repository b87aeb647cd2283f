//! `GET /v1/reports/fatigue?days=N` — the alarm-fatigue report (alarms per patient, rule
//! and day; ack rate; median time to acknowledge). Doctors get their own patients';
//! admins and ops get every patient's. It names patients by opaque id only, so ops (who
//! see no PHI) may read it.

use crate::access::Caller;
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::State;
use cw_core::fatigue::{FatigueReport, summarize};
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{PatientId, Role};
use serde::Deserialize;

/// Patients per store query, so one report never asks for unbounded lists at once.
const PATIENTS_PER_QUERY: usize = 100;
/// Alerts read per patient chunk.
const ALERTS_PER_QUERY: usize = 100_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FatigueQuery {
    /// 1–90, default 7.
    pub days: Option<i64>,
}

#[utoipa::path(get, path = "/v1/reports/fatigue",
    summary = "Alarm-fatigue report: alarms per patient/rule/day, ack rate, median time to ack",
    extensions(("x-access" = json!(Access::AnyRole))), params(FatigueQuery),
    responses((status = 200, body = FatigueReport)))]
pub async fn fatigue(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(q): ValidQuery<FatigueQuery>,
) -> Result<Json<FatigueReport>, ApiError> {
    let days = q.days.unwrap_or(7);
    if !(1..=90).contains(&days) {
        return Err(ApiError::Invalid {
            field: Some("days".into()),
            message: "days is between 1 and 90".into(),
        });
    }
    let patients: Vec<PatientId> = match caller.role {
        Role::Doctor => caller.patients(&state).await?,
        Role::Admin | Role::Ops => state
            .records
            .clinical_patients()
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    };
    let since = now_ns() - days * 86_400 * NANOS_PER_SEC;
    let mut alerts = Vec::new();
    for chunk in patients.chunks(PATIENTS_PER_QUERY) {
        let mut some = state
            .records
            .alerts_for_patients(chunk, None, ALERTS_PER_QUERY)
            .await?;
        some.retain(|a| a.fired_ns >= since);
        alerts.extend(some);
    }
    Ok(Json(summarize(&alerts)))
}
