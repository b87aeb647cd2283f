//! `GET /v1/patients/{id}/beats?from_ns=&to_ns=` — the beats of a stored range, found and
//! classified by the engine's own detector (`cw_analysis::strip_beats`): the beat marks
//! of the console's strip (docs/console.md). Same access as the ECG it is drawn on.

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::{Path, State};
use cw_analysis::strip_beats::{BeatMark, beat_marks};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use serde::{Deserialize, Serialize};

/// The longest range one request may ask for: a strip, not a Holter report.
const MAX_RANGE_NS: Nanos = 300 * NANOS_PER_SEC;
/// Signal read before `from_ns` for the detector to learn its thresholds on.
const PRE_ROLL_NS: Nanos = 10 * NANOS_PER_SEC;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BeatsQuery {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Beats {
    pub beats: Vec<BeatMark>,
}

#[utoipa::path(get, path = "/v1/patients/{id}/beats",
    summary = "Beats of a range (≤ 300 s), detected and classified: a strip's beat marks",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), BeatsQuery),
    responses((status = 200, body = Beats)))]
pub async fn range(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<BeatsQuery>,
) -> Result<Json<Beats>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    crate::routes::ecg::range_width(q.from_ns, q.to_ns, MAX_RANGE_NS)?;
    let from_ns = q.from_ns;
    let frames = state
        .samples
        .frames(&patient, from_ns.saturating_sub(PRE_ROLL_NS), q.to_ns)
        .await?;
    let beats = tokio::task::spawn_blocking(move || beat_marks(&frames, from_ns))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "beat detection worker failed");
            ApiError::Internal
        })?;
    Ok(Json(Beats { beats }))
}
