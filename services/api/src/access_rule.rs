//! Who may call a route, declared once beside its handler, in its OpenAPI attribute:
//!
//! ```text
//! #[utoipa::path(get, path = "/v1/devices", extensions(("x-access" = json!(Access::Admin))), …)]
//! ```
//!
//! That one declaration is enforced by the layer [`guarded`] puts on the route, printed
//! in `/openapi.json` as the operation's `x-access`, and read by the authorization matrix
//! test (`tests/tests/e2e/api_authz.rs`), which derives every expected 401/403 from it
//! (docs/security.md, docs/api.md). A route registered without it fails at start.

use crate::access::Caller;
use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cw_core::Role;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::UtoipaMethodRouter;

/// The OpenAPI extension that carries a route's [`Access`].
pub const EXTENSION: &str = "x-access";

/// The roles a route admits, and which record the handler must then check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// No token needed (health, this document, signing in and out).
    Public,
    /// Any active account, whatever its role.
    AnyRole,
    /// Admins only.
    Admin,
    /// Admins and ops: operational reads that name no patient (`GET /v1/shards`).
    AdminOrOps,
    /// Doctors only.
    Doctor,
    /// Admins, or the user the path's `{id}` names.
    AdminOrSelf,
    /// Admins, and doctors for a patient assigned to them or under break-glass; ops never.
    /// The handler names the patient (path, alert, MRN) to [`Caller::require_patient`].
    PatientRead,
    /// As [`Access::PatientRead`] for a change to the patient's care: break-glass, which
    /// is read-only, does not admit it (403 `break_glass_read_only`, issue 13 #11).
    PatientChange,
}

impl Access {
    /// Whether `caller` passes the role part of this rule; `path_id` is the path's `{id}`.
    fn admits(self, caller: &Caller, path_id: Option<&str>) -> bool {
        match (self, caller.role) {
            (Self::Public | Self::AnyRole, _)
            | (Self::Admin | Self::AdminOrSelf | Self::AdminOrOps, Role::Admin)
            | (Self::AdminOrOps, Role::Ops)
            | (Self::Doctor, Role::Doctor)
            | (Self::PatientRead | Self::PatientChange, Role::Admin | Role::Doctor) => true,
            (Self::AdminOrSelf, _) => path_id == Some(caller.user.as_str()),
            _ => false,
        }
    }
}

/// The route of `routes!(handler)` (one handler) with its declared [`Access`] enforced
/// before the handler and its extractors run: no token is 401, a role the rule does not
/// admit is 403, and the rule travels on to [`Caller::require_patient`].
pub fn guarded(
    state: &AppState,
    route: UtoipaMethodRouter<AppState>,
) -> anyhow::Result<UtoipaMethodRouter<AppState>> {
    guarded_with(state, route, <ApiError as IntoResponse>::into_response)
}

/// How a route tells a refusal: the JSON error shape for `/v1`, an `OperationOutcome`
/// for the FHIR facade (`crate::fhir::guarded`).
pub type Refusal = fn(ApiError) -> Response;

/// [`guarded`], its refusals told by `refusal`.
pub fn guarded_with(
    state: &AppState,
    (schemas, paths, router): UtoipaMethodRouter<AppState>,
    refusal: Refusal,
) -> anyhow::Result<UtoipaMethodRouter<AppState>> {
    let access = declared(&paths)?;
    let router = router.route_layer(axum::middleware::from_fn_with_state(
        (state.clone(), access, refusal),
        enforce,
    ));
    Ok((schemas, paths, router))
}

/// The [`Access`] of the one operation in `paths`.
fn declared(paths: &utoipa::openapi::path::Paths) -> anyhow::Result<Access> {
    let mut operations = paths.paths.iter().flat_map(|(path, item)| {
        operations(item)
            .into_iter()
            .map(move |op| (path.as_str(), op))
    });
    let (Some((path, op)), None) = (operations.next(), operations.next()) else {
        anyhow::bail!("guarded: give routes! exactly one handler, so each has its own access");
    };
    let value = op
        .extensions
        .as_ref()
        .and_then(|e| e.get(EXTENSION))
        .ok_or_else(|| anyhow::anyhow!("{path}: no {EXTENSION} in its #[utoipa::path]"))?;
    serde_json::from_value(value.clone())
        .map_err(|e| anyhow::anyhow!("{path}: {EXTENSION} is not an Access: {e}"))
}

/// Every operation of a path item.
pub fn operations(item: &utoipa::openapi::PathItem) -> Vec<&utoipa::openapi::path::Operation> {
    [
        &item.get,
        &item.put,
        &item.post,
        &item.delete,
        &item.options,
        &item.head,
        &item.patch,
        &item.trace,
    ]
    .into_iter()
    .flatten()
    .collect()
}

async fn enforce(
    State((state, access, refusal)): State<(AppState, Access, Refusal)>,
    req: Request,
    next: Next,
) -> Response {
    if access == Access::Public {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(e) => return refusal(e),
    };
    let params = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .ok();
    let path_id = params
        .as_ref()
        .and_then(|p| p.iter().find(|(name, _)| *name == "id").map(|(_, v)| v));
    if !access.admits(&caller, path_id) {
        tracing::warn!(user = %caller.user, ?access, "access denied by the route's rule");
        return refusal(ApiError::Forbidden);
    }
    parts.extensions.insert(access);
    next.run(Request::from_parts(parts, body)).await
}
