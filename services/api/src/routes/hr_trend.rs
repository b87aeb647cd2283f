//! `GET /v1/patients/{id}/hr?from_ns=&to_ns=` — the heart-rate trend of a stored range:
//! one point per beat, the rate the patient's HR rules saw (`cw_analysis::hr_trend`, the
//! engine's own monitor under the patient's current policy). The console draws it around
//! an alarm and on the patient view (docs/console.md). Same access as the ECG it comes from.

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::{Path, State};
use cw_analysis::hr_trend::{HrPoint, hr_trend};
use cw_core::ThresholdPolicy;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use serde::{Deserialize, Serialize};

/// The longest range one request may ask for: as long as a backtest replays.
const MAX_RANGE_NS: Nanos = 3600 * NANOS_PER_SEC;
/// Signal read before `from_ns` for the detector and the averaging window to settle on.
const PRE_ROLL_NS: Nanos = 10 * NANOS_PER_SEC;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HrQuery {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HrTrend {
    /// The policy's averaging window (`hr_average_beats`) the points were computed with.
    pub average_beats: u8,
    pub points: Vec<HrPoint>,
}

#[utoipa::path(get, path = "/v1/patients/{id}/hr",
    summary = "Heart-rate trend of a range (≤ 1 h): the rate the HR rules saw at each beat",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), HrQuery),
    responses((status = 200, body = HrTrend)))]
pub async fn range(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<HrQuery>,
) -> Result<Json<HrTrend>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    crate::routes::ecg::range_width(q.from_ns, q.to_ns, MAX_RANGE_NS)?;
    let policy = match state.records.policy(&patient).await {
        Ok(policy) => policy,
        Err(cw_storage::StoreError::NotFound) => ThresholdPolicy::empty(patient.clone()),
        Err(e) => return Err(e.into()),
    };
    let from_ns = q.from_ns;
    let frames = state
        .samples
        .frames(&patient, from_ns.saturating_sub(PRE_ROLL_NS), q.to_ns)
        .await?;
    let average_beats = policy.hr_average_beats;
    let points = tokio::task::spawn_blocking(move || hr_trend(&policy, &frames, from_ns))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "heart-rate trend worker failed");
            ApiError::Internal
        })?;
    Ok(Json(HrTrend {
        average_beats,
        points,
    }))
}
