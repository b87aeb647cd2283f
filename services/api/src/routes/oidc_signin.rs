//! Signing in to the console through the OIDC provider (issue 16 item 2; the flow is
//! `oidc_flow.rs`): `GET /v1/auth/config` tells the sign-in page what it may offer,
//! `GET /v1/auth/oidc/start` sends the browser to the provider, `GET
//! /v1/auth/oidc/callback` takes it back and begins a session of ours, and `POST
//! /v1/auth/oidc/session` hands that session (access + rotating refresh token, as a
//! password login gets) to the page. All anonymous by declaration: they are how one
//! signs in. A refusal is logged with its reason (no token, no code); where a browser is
//! sent (the provider's callback, the start once the provider cannot be reached) it
//! lands on the console's sign-in page, which says in plain words what happened; an
//! API call gets the JSON error shape.

use crate::access_rule::Access;
use crate::app::AppState;
use crate::audit_trail::{AuditActor, AuditStatus};
use crate::error::ApiError;
use crate::oidc_flow::{
    CodeFlow, FLOW_COOKIE, FlowError, HANDOFF_COOKIE, HANDOFF_TTL_S, cookie, landing, set_cookie,
};
use crate::query::ValidQuery;
use crate::routes::auth::{Tokens, issue, rotate};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// How the console may sign in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignInOptions {
    /// Password login (`POST /v1/auth/login`) is always offered.
    pub password: bool,
    /// The OIDC provider, when `oidc.client_id` is configured.
    pub oidc: Option<OidcOption>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OidcOption {
    /// The provider's name ("Sign in with <name>").
    pub name: String,
    /// Where the page sends the browser to begin (add `?return_to=/console/#…`).
    pub start: &'static str,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// The console path to come back to: `/console/` or `/console/#<page>` (default
    /// `/console/`); anything else is refused.
    pub return_to: Option<String>,
}

#[utoipa::path(get, path = "/v1/auth/config", summary = "How to sign in: password, and the OIDC provider when configured",
    extensions(("x-access" = json!(Access::Public))),
    responses((status = 200, body = SignInOptions)))]
pub async fn options(State(state): State<AppState>) -> Json<SignInOptions> {
    Json(SignInOptions {
        password: true,
        oidc: state.oidc_flow.as_ref().map(|flow| OidcOption {
            name: flow.name().to_owned(),
            start: "/v1/auth/oidc/start",
        }),
    })
}

#[utoipa::path(get, path = "/v1/auth/oidc/start", summary = "Begin signing in through the OIDC provider (code flow, PKCE S256)",
    extensions(("x-access" = json!(Access::Public))),
    params(StartQuery),
    responses((status = 303, description = "to the provider's authorization endpoint, with this browser's sign-in cookie")))]
pub async fn start(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<StartQuery>,
) -> Result<Response, ApiError> {
    let flow = configured(&state)?;
    let return_to = query.return_to.as_deref().unwrap_or("/console/");
    let (authorize, sealed) = match flow.begin(return_to).await {
        Ok(begun) => begun,
        // The link on the sign-in page: say so there, not in JSON.
        Err(e @ FlowError::Discovery(_)) => {
            let code = e.code();
            return refused_page(code, refused(e), None);
        }
        Err(e) => return Err(refused(e)),
    };
    let mut response = see_other(&authorize)?;
    add_cookie(
        &mut response,
        &set_cookie(FLOW_COOKIE, &sealed, flow.ttl_s()),
    )?;
    Ok(response)
}

#[utoipa::path(get, path = "/v1/auth/oidc/callback", summary = "The provider's answer: check state, redeem the code, begin a session",
    extensions(("x-access" = json!(Access::Public))),
    params(crate::oidc_flow::Callback),
    responses((status = 303, description = "to the console path the sign-in began with; the session waits in a cookie for POST /v1/auth/oidc/session. A refused sign-in goes to the console's sign-in page instead: /console/?signin_error=<code> (docs/console.md, \"Sign-in\")")))]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidQuery(answer): ValidQuery<crate::oidc_flow::Callback>,
) -> Result<Response, ApiError> {
    let flow = configured(&state)?;
    // Any answer ends this browser's attempt: the cookie goes, whatever comes next.
    let clear = set_cookie(FLOW_COOKIE, "", 0);
    let finished = flow.finish(cookie(&headers, FLOW_COOKIE), &answer).await;
    let signed_in = match finished {
        Ok((claims, return_to)) => {
            match crate::authn::oidc_account(&state, flow.verifier(), &claims).await {
                Ok(user) => Ok((user, return_to)),
                Err(e) => {
                    tracing::warn!(reason = %e, "OIDC sign-in refused: no usable account");
                    Err((account_refusal(&e), e))
                }
            }
        }
        Err(e) => Err((e.code(), refused(e))),
    };
    let (user, return_to) = match signed_in {
        Ok(found) => found,
        Err((code, e)) => return refused_page(code, e, Some(&clear)),
    };
    let tokens = issue(&state, &user.id, user.role, ulid::Ulid::new().to_string()).await?;
    let mut response = see_other(&landing(&return_to))?;
    add_cookie(&mut response, &clear)?;
    add_cookie(
        &mut response,
        &set_cookie(
            HANDOFF_COOKIE,
            &flow.seal_handoff(&tokens.refresh_token),
            HANDOFF_TTL_S,
        ),
    )?;
    response
        .extensions_mut()
        .insert(AuditActor(user.id.clone(), user.role));
    tracing::info!(user = %user.id, "OIDC sign-in");
    Ok(response)
}

#[utoipa::path(post, path = "/v1/auth/oidc/session", summary = "Take over the session an OIDC sign-in began in this browser (once)",
    extensions(("x-access" = json!(Access::Public))),
    responses((status = 200, body = Tokens)))]
pub async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let flow = configured(&state)?;
    let refresh = cookie(&headers, HANDOFF_COOKIE)
        .and_then(|sealed| flow.open_handoff(sealed))
        .ok_or_else(|| {
            tracing::info!("OIDC session take-over without a fresh sign-in cookie");
            ApiError::Unauthorized(
                "no OIDC sign-in to take over in this browser (it is used, expired or missing); sign in again".into(),
            )
        })?;
    // Its refresh token rotates here, so the cookie is spent even if it were kept.
    let tokens = rotate(&state, &refresh).await?;
    let mut response = Json(tokens).into_response();
    add_cookie(&mut response, &set_cookie(HANDOFF_COOKIE, "", 0))?;
    Ok(response)
}

fn configured(state: &AppState) -> Result<&CodeFlow, ApiError> {
    state
        .oidc_flow
        .as_deref()
        .ok_or(ApiError::NotFound("OIDC sign-in (not configured)"))
}

/// A flow failure as the caller sees it, logged with its reason.
fn refused(e: FlowError) -> ApiError {
    tracing::warn!(reason = %e, "OIDC sign-in refused");
    match e {
        FlowError::ReturnTo => ApiError::Invalid {
            field: Some("return_to".into()),
            message: e.to_string(),
        },
        FlowError::Missing(_) => ApiError::BadRequest(e.to_string()),
        FlowError::Discovery(_) => ApiError::ProviderUnavailable(e.to_string()),
        other => ApiError::Unauthorized(other.to_string()),
    }
}

/// Where a refused sign-in sends the browser: the console's sign-in page, which turns
/// the code into a message and offers to try again (`signin.js`).
pub const REFUSED_LANDING: &str = "/console/?signin_error=";

/// A refused sign-in as the browser sees it: a redirect to [`REFUSED_LANDING`] with a
/// fixed `code` — never the provider's text — and `clear` (the sign-in cookie's removal).
/// The audit records the refusal's own status, so forged callbacks count as refusals.
fn refused_page(code: &str, e: ApiError, clear: Option<&str>) -> Result<Response, ApiError> {
    let status = e.into_response().status();
    let mut response = see_other(&format!("{REFUSED_LANDING}{code}"))?;
    if let Some(clear) = clear {
        add_cookie(&mut response, clear)?;
    }
    response.extensions_mut().insert(AuditStatus(status));
    Ok(response)
}

/// The code of a verified identity that cannot sign in (`authn::oidc_account`).
fn account_refusal(e: &ApiError) -> &'static str {
    match e {
        ApiError::AccountDisabled(_) => "disabled",
        ApiError::Unauthorized(_) => "no_account",
        _ => "unavailable",
    }
}

fn see_other(location: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(location).map_err(|_| ApiError::Internal)?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

fn add_cookie(response: &mut Response, value: &str) -> Result<(), ApiError> {
    let value = HeaderValue::from_str(value).map_err(|_| ApiError::Internal)?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(())
}
