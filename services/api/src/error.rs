//! Every error leaves as `{"error": {"code", "message", "field"?}}` with a fitting status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cw_storage::StoreError;
use serde::Serialize;

/// The body of every error answer (the `Error` schema of `/openapi.json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    #[schema(inline)]
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthorized`, `forbidden`, `not_found`, `invalid`, …
    pub code: &'static str,
    pub message: String,
    /// The request field at fault (`invalid` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("you have no access to this resource")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("storage unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
    /// The audit log could not be written, so the request is refused (no unaudited access).
    #[error("audit log unavailable; request refused")]
    AuditUnavailable,
    #[error("{0}")]
    Conflict(&'static str),
    /// No PHI key is configured, so PHI can be neither stored nor shown.
    #[error("PHI encryption is not configured")]
    PhiUnavailable,
    /// A change under break-glass: the grant is for reading a patient's data only.
    #[error(
        "break-glass access is read-only: ask an assigned doctor or an admin to make this change"
    )]
    BreakGlassReadOnly,
    #[error("too many login attempts; wait a minute")]
    RateLimited,
    #[error("this login is locked after repeated failures; try later")]
    Locked,
    /// An admin disabled this account (the id is for the audit record, not the message).
    #[error("this account is disabled; an administrator must enable it")]
    AccountDisabled(cw_core::UserId),
    #[error("the identity provider cannot be used now: {0}")]
    ProviderUnavailable(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("resource"),
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                Self::Unavailable
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::AuditUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::PhiUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "phi_unavailable"),
            Self::BreakGlassReadOnly => (StatusCode::FORBIDDEN, "break_glass_read_only"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Locked => (StatusCode::LOCKED, "locked"),
            Self::AccountDisabled(_) => (StatusCode::FORBIDDEN, "account_disabled"),
            Self::ProviderUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable")
            }
        };
        let field = match &self {
            Self::Invalid { field, .. } => field.clone(),
            _ => None,
        };
        let error = ErrorDetail {
            code,
            message: self.to_string(),
            field,
        };
        (status, Json(ErrorBody { error })).into_response()
    }
}
