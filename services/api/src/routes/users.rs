//! `POST /v1/users/{id}/disable {reason}` and `POST /v1/users/{id}/enable {reason?}`
//! (admin): cut an account off at once — its tokens, logins, refreshes, OIDC sign-ins and
//! open live sockets are refused from the next request or re-check — and let it back in.
//!
//! Each change is an audit event (`account_disable` / `account_enable`: the admin, the
//! target as `/v1/users/{id}`, the reason) written before the change. An admin cannot
//! disable themselves (409): that way the admin acting always stays active, so the api
//! cannot lose its last admin through its own endpoint; `cardiowatch user enable` on the
//! server is the way back should two admins disable each other.

use crate::access::Caller;
use crate::access_rule::Access;
use crate::accounts::{self, DISABLE_ACTION, ENABLE_ACTION};
use crate::app::AppState;
use crate::audit_trail::role_name;
use crate::error::ApiError;
use crate::request_id::RequestId;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use cw_core::patient::Disabled;
use cw_core::time::now_ns;
use cw_core::{Role, User, UserId};
use cw_storage::StoreError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableInput {
    /// Why (3–500 characters; no patient details): kept in the audit log.
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableInput {
    #[serde(default)]
    pub reason: Option<String>,
}

/// An account's state as the two endpoints answer it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountStatus {
    pub user: String,
    pub role: Role,
    pub active: bool,
    pub disabled: Option<Disabled>,
    /// After a disable: the account's patients that now have no active doctor — their
    /// alarms page nobody until another doctor is assigned (`PUT
    /// /v1/patients/{id}/doctors`). Opaque ids only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patients_without_active_doctor: Vec<String>,
}

impl From<User> for AccountStatus {
    fn from(user: User) -> Self {
        Self {
            user: user.id.to_string(),
            role: user.role,
            active: !user.is_disabled(),
            disabled: user.disabled,
            patients_without_active_doctor: Vec::new(),
        }
    }
}

#[utoipa::path(post, path = "/v1/users/{id}/disable", summary = "Disable an account at once, with a reason (admin; not one's own: 409)",
    extensions(("x-access" = json!(Access::Admin))),
    params(("id" = String, Path, description = "user id")),
    request_body = DisableInput,
    responses((status = 200, body = AccountStatus)))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    body: Result<Json<DisableInput>, JsonRejection>,
) -> Result<Json<AccountStatus>, ApiError> {
    let target = parse_user(&id)?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let reason = checked_reason(&input.reason)?;
    if target == caller.user {
        return Err(ApiError::Conflict(
            "an admin cannot disable their own account; another admin (or `cardiowatch user disable` on the server) can",
        ));
    }
    let user = target_account(&state, &target).await?;
    audit(&state, &caller, request_id, DISABLE_ACTION, &target, reason).await?;
    let user =
        accounts::disable(state.records.as_ref(), user, caller.user.as_str(), now_ns()).await?;
    let orphaned =
        accounts::patients_without_active_doctor(state.records.as_ref(), &target).await?;
    tracing::warn!(user = %target, by = %caller.user, orphaned_patients = orphaned.len(), "account disabled");
    Ok(Json(AccountStatus {
        patients_without_active_doctor: orphaned,
        ..user.into()
    }))
}

#[utoipa::path(post, path = "/v1/users/{id}/enable", summary = "Enable a disabled account (admin; optional {reason})",
    extensions(("x-access" = json!(Access::Admin))),
    params(("id" = String, Path, description = "user id")),
    request_body(content = Option<EnableInput>, description = "optional: `{\"reason\": …}` or no body"),
    responses((status = 200, body = AccountStatus)))]
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<AccountStatus>, ApiError> {
    let target = parse_user(&id)?;
    // The body is optional: `{"reason": …}` or nothing.
    let input: EnableInput = if body.iter().all(u8::is_ascii_whitespace) {
        EnableInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?
    };
    let reason = match &input.reason {
        Some(reason) => checked_reason(reason)?,
        None => "",
    };
    let user = target_account(&state, &target).await?;
    audit(&state, &caller, request_id, ENABLE_ACTION, &target, reason).await?;
    let user = accounts::enable(state.records.as_ref(), user).await?;
    tracing::warn!(user = %target, by = %caller.user, "account enabled");
    Ok(Json(user.into()))
}

pub(crate) fn parse_user(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|e| ApiError::Invalid {
        field: Some("user_id".into()),
        message: e.to_string(),
    })
}

fn checked_reason(raw: &str) -> Result<&str, ApiError> {
    let reason = raw.trim();
    if (3..=500).contains(&reason.chars().count()) {
        Ok(reason)
    } else {
        Err(ApiError::Invalid {
            field: Some("reason".into()),
            message: "reason is 3 to 500 characters".into(),
        })
    }
}

async fn target_account(state: &AppState, id: &UserId) -> Result<User, ApiError> {
    match accounts::account(state.records.as_ref(), id).await {
        Ok(user) => Ok(user),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("user")),
        Err(e) => Err(e.into()),
    }
}

/// No audit, no change: the event (admin, target, reason) is written first.
async fn audit(
    state: &AppState,
    caller: &Caller,
    request_id: RequestId,
    action: &str,
    target: &UserId,
    reason: &str,
) -> Result<(), ApiError> {
    let event = accounts::audit_entry(
        caller.user.as_str(),
        role_name(caller.role),
        action,
        target,
        reason,
        request_id.0,
    );
    state
        .records
        .append_audit(&event)
        .await
        .map_err(|_| ApiError::AuditUnavailable)?;
    Ok(())
}
