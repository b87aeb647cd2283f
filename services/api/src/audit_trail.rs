//! Every request under `/v1/` and `/fhir/` — each PHI read or write and each denial — is appended to
//! the hash-chained audit log. No unaudited PHI access: a change is recorded as an
//! `attempt` before the handler runs, and if any audit write fails the caller gets 503
//! and never the data.
//!
//! A request with no valid identity ("anonymous") can reach no PHI and change nothing but
//! its own sign-in state (login, refresh, logout), so it gets no `attempt` record, only
//! its outcome; and its refusals are aggregated per source address and window
//! (`anonymous_denials.rs`, issue 13 #9), so a flood of them cannot flood the chain.

use crate::app::AppState;
use crate::error::ApiError;
use crate::request_id::RequestId;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cw_core::PatientId;
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::time::now_ns;
use std::net::SocketAddr;

/// Set on a response by a handler whose patient is not in the path (alerts by id).
#[derive(Clone, Debug)]
pub struct AuditPatient(pub PatientId);

/// Set on a response by a handler that signed an anonymous caller in (the OIDC
/// callback): the record names who that became.
#[derive(Clone, Debug)]
pub struct AuditActor(pub cw_core::UserId, pub cw_core::Role);

/// Set on a response that stands for a refusal the browser sees as a redirect (a refused
/// OIDC sign-in goes to the console's sign-in page): the record keeps this status.
#[derive(Clone, Copy, Debug)]
pub struct AuditStatus(pub StatusCode);

pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !(req.uri().path().starts_with("/v1/") || req.uri().path().starts_with("/fhir/")) {
        return next.run(req).await;
    }
    // Authenticated once, here; a store failure while mapping an OIDC identity is left
    // for the handler's extractor to report (503, not 401).
    let caller = match crate::authn::bearer(req.headers()) {
        None => None,
        Some(_) => match crate::authn::authenticate(&state, req.headers()).await {
            Ok(caller) => Some(Ok(caller)),
            Err(e @ (ApiError::Unauthorized(_) | ApiError::AccountDisabled(_))) => Some(Err(e)),
            Err(_) => None,
        },
    };
    let anonymous = !matches!(caller, Some(Ok(_)));
    let mut entry = describe(caller.as_ref().and_then(|c| c.as_ref().ok()), &req);
    if let Some(Err(ApiError::AccountDisabled(user))) = &caller {
        // Refused before any handler, whatever the route: a disabled account's token opens
        // nothing. The denial names the account, so its attempts show in the audit chain.
        entry.actor = user.to_string();
        entry.status = StatusCode::FORBIDDEN.as_u16();
        entry.outcome = AuditOutcome::Denied;
        tracing::warn!(actor = %entry.actor, action = %entry.action, request_id = %entry.request_id, "access denied: account disabled");
        return match state.records.append_audit(&entry).await {
            Ok(_) => ApiError::AccountDisabled(user.clone()).into_response(),
            Err(e) => audit_failed(&e),
        };
    }
    if let Some(outcome) = caller {
        req.extensions_mut()
            .insert(crate::authn::Authentication(outcome));
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if changes && !anonymous {
        entry.outcome = AuditOutcome::Attempt;
        if let Err(e) = state.records.append_audit(&entry).await {
            return audit_failed(&e);
        }
    }
    let response = next.run(req).await;
    // The handler knows best whose data it served (a lookup by MRN names nobody in its path).
    if let Some(AuditPatient(patient)) = response.extensions().get::<AuditPatient>() {
        entry.patient = Some(patient.clone());
    }
    let anonymous = match response.extensions().get::<AuditActor>() {
        Some(AuditActor(user, role)) => {
            entry.actor = user.to_string();
            entry.role = role_name(*role).to_owned();
            false
        }
        None => anonymous,
    };
    let status = response
        .extensions()
        .get::<AuditStatus>()
        .map_or(response.status(), |s| s.0);
    entry.status = status.as_u16();
    entry.outcome = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => AuditOutcome::Denied,
        // 101: a WebSocket (live view) was opened; 303: the OIDC sign-in's redirects.
        s if s.is_success()
            || s == StatusCode::SWITCHING_PROTOCOLS
            || s == StatusCode::SEE_OTHER =>
        {
            AuditOutcome::Allowed
        }
        _ => AuditOutcome::Failed,
    };
    entry.at_ns = now_ns();
    if anonymous
        && entry.outcome != AuditOutcome::Allowed
        && !state.anonymous_denials.admit(&mut entry)
    {
        // Counted for its source's summary record (nothing was served).
        return response;
    }
    if entry.outcome == AuditOutcome::Denied {
        tracing::warn!(actor = %entry.actor, action = %entry.action, request_id = %entry.request_id, "access denied");
    }
    match state.records.append_audit(&entry).await {
        Ok(_) => response,
        Err(e) => audit_failed(&e),
    }
}

fn audit_failed(e: &cw_storage::StoreError) -> Response {
    tracing::error!(error = %e, "audit write failed; refusing the request");
    ApiError::AuditUnavailable.into_response()
}

/// Who asks for what, from the request alone (the handler has not run yet).
fn describe(caller: Option<&crate::access::Caller>, req: &Request) -> AuditEntry {
    let (actor, role) = caller
        .map(|c| (c.user.to_string(), role_name(c.role).to_owned()))
        .unwrap_or_else(|| ("anonymous".into(), String::new()));
    let path = req.uri().path();
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "<no route>".into());
    AuditEntry {
        at_ns: now_ns(),
        actor,
        role,
        action: format!("{} {matched}", req.method()),
        resource: path.to_owned(),
        patient: patient_in_path(&matched, path),
        outcome: AuditOutcome::Attempt,
        status: 0,
        source: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.to_string())
            .unwrap_or_default(),
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        reason: String::new(),
    }
}

pub fn role_name(role: cw_core::Role) -> &'static str {
    match role {
        cw_core::Role::Doctor => "doctor",
        cw_core::Role::Admin => "admin",
        cw_core::Role::Ops => "ops",
    }
}

/// A path whose route is `/v1/patients/{id}…` names its patient; a fixed segment in
/// that place (`/v1/patients/lookup`) is not a patient id, however it parses.
fn patient_in_path(matched: &str, path: &str) -> Option<PatientId> {
    let prefix = ["/v1/patients/", "/fhir/R4/Patient/"]
        .into_iter()
        .find(|p| {
            matched
                .strip_prefix(p)
                .is_some_and(|r| r.starts_with("{id}"))
        })?;
    let rest = path.strip_prefix(prefix)?;
    let id = rest.split('/').next()?;
    PatientId::parse(id).ok()
}
