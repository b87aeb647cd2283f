//! `GET /v1/audit?from_seq=&limit=` — the audit log, for admins (security officers).

use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::State;
use cw_core::audit::AuditEvent;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// First sequence number (default 1).
    pub from_seq: Option<u64>,
    /// 1–1000, default 100.
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/audit", summary = "Audit events (admin)",
    extensions(("x-access" = json!(Access::Admin))), params(AuditQuery),
    responses((status = 200, body = Vec<AuditEvent>)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid {
            field: Some("limit".into()),
            message: "limit is between 1 and 1000".into(),
        });
    }
    Ok(Json(
        state
            .records
            .audit_events(q.from_seq.unwrap_or(1), limit)
            .await?,
    ))
}
