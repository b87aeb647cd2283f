//! `GET /v1/patients` — the caller's patients.

use crate::access::Caller;
use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use cw_core::Patient;

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Patient>>, ApiError> {
    caller.patients(&state).await?;
    Ok(Json(state.records.patients_of(&caller.user).await?))
}
