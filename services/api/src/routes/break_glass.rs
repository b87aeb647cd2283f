//! `POST /v1/patients/{id}/break-glass` — emergency access by a doctor not assigned to
//! the patient: a stated reason, a time limit (`auth.break_glass_ttl_s`), and loud
//! auditing (the grant and every access under it are audit events, and a warning log).

use crate::access::{BREAK_GLASS_ACTION, Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::audit_trail::role_name;
use crate::error::ApiError;
use crate::request_id::RequestId;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::time::{NANOS_PER_SEC, now_ns};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassInput {
    /// Why access is needed (10–500 characters); kept in the audit log.
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BreakGlassGrant {
    pub patient: String,
    pub expires_at_ns: i64,
}

#[utoipa::path(post, path = "/v1/patients/{id}/break-glass", summary = "Emergency access with a reason (doctor)",
    extensions(("x-access" = json!(Access::Doctor))),
    params(("id" = String, Path, description = "patient id")),
    request_body = BreakGlassInput,
    responses((status = 200, body = BreakGlassGrant)))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    body: Result<Json<BreakGlassInput>, JsonRejection>,
) -> Result<Json<BreakGlassGrant>, ApiError> {
    let patient = parse_patient(&id)?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let reason = input.reason.trim();
    if !(10..=500).contains(&reason.chars().count()) {
        return Err(ApiError::Invalid {
            field: Some("reason".into()),
            message: "reason is 10 to 500 characters".into(),
        });
    }
    match state.records.patient(&patient).await {
        Ok(_) => {}
        Err(cw_storage::StoreError::NotFound) => return Err(ApiError::NotFound("patient")),
        Err(e) => return Err(e.into()),
    }
    let now = now_ns();
    let grant = AuditEntry {
        at_ns: now,
        actor: caller.user.to_string(),
        role: role_name(caller.role).into(),
        action: BREAK_GLASS_ACTION.into(),
        resource: format!("/v1/patients/{patient}"),
        patient: Some(patient.clone()),
        outcome: AuditOutcome::Allowed,
        status: 200,
        source: String::new(),
        request_id: request_id.0,
        reason: reason.to_owned(),
    };
    // The grant exists only as an audit event: no audit, no access.
    state
        .records
        .append_audit(&grant)
        .await
        .map_err(|_| ApiError::AuditUnavailable)?;
    tracing::warn!(user = %caller.user, patient = %patient, "BREAK-GLASS access opened");
    Ok(Json(BreakGlassGrant {
        patient: patient.to_string(),
        expires_at_ns: now + state.break_glass_ttl_s as i64 * NANOS_PER_SEC,
    }))
}
