//! `GET /v1/patients/{id}/news2?from_ns=&to_ns=` — the patient's NEWS2 trend: every score
//! the alert engine stored in a range, each with its components, missing and assumed
//! parameters and response (docs/api.md, docs/vitals.md "NEWS2 trend").

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use crate::routes::vitals::check_range;
use axum::Json;
use axum::extract::{Path, State};
use cw_core::news2::News2Assessment;
use cw_core::time::Nanos;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct News2Query {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct News2Answer {
    /// In time order; one each time the score changed, and at least every 5 min while
    /// the engine scores it.
    pub scores: Vec<News2Assessment>,
}

#[utoipa::path(get, path = "/v1/patients/{id}/news2",
    summary = "NEWS2 trend of a range (≤ 24 h): each stored score with its components",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), News2Query),
    responses((status = 200, body = News2Answer)))]
pub async fn trend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<News2Query>,
) -> Result<Json<News2Answer>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    check_range(q.from_ns, q.to_ns)?;
    let scores = state.samples.news2(&patient, q.from_ns, q.to_ns).await?;
    Ok(Json(News2Answer { scores }))
}
