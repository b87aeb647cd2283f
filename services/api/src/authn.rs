//! Who is calling: a bearer token is either one of our own access tokens (HS256) or,
//! with `[oidc]` enabled, a token of the configured provider (RS256 / ES256) whose
//! identity maps to a local user. Roles and patient assignments always come from us.
//!
//! The audit middleware authenticates once and leaves the outcome in the request's
//! extensions ([`Authentication`]); the `Caller` extractor reads it from there.
//!
//! Each of our tokens holds only while its session does ([`checked_session`]: logout,
//! role change and disable end it at once, issue 13 #12).
//!
//! A disabled account ([`require_active`]) is refused here, where every token becomes a
//! caller, so no route can forget the check; login, refresh and the live socket's
//! re-check ask the same function.

use crate::access::Caller;
use crate::app::AppState;
use crate::error::ApiError;
use crate::oidc::{OidcClaims, OidcVerifier};
use crate::token;
use axum::http::HeaderMap;
use cw_core::secret::ExposeSecret;
use cw_core::{Role, User, UserId};
use cw_storage::StoreError;

/// The outcome of authenticating one request (a 401, or 403 `account_disabled`).
#[derive(Clone, Debug)]
pub struct Authentication(pub Result<Caller, ApiError>);

const SESSION_ENDED: &str =
    "this session has ended (logout, role change or disable); sign in again";

const NO_ACCOUNT: &str = "this OIDC identity has no cardiowatch account; an admin must register it (accounts are never created on sign-in)";

/// The bearer token of a request, if it sent one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Authenticates a request by its `Authorization: Bearer …` header.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::Unauthorized("send Authorization: Bearer <access token>".into())
    })?;
    authenticate_token(state, token).await
}

/// Authenticates a bearer token (also for transports without headers, e.g. WebSocket).
pub async fn authenticate_token(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    if let Some(oidc) = &state.oidc
        && oidc.claims_algorithm(token)
    {
        return from_oidc(state, oidc, token).await;
    }
    let claims =
        token::verify(state.jwt_secret.expose_secret(), &state.issuer, token).map_err(|e| {
            tracing::info!(error = %e, "access token rejected");
            ApiError::Unauthorized("invalid or expired access token".into())
        })?;
    let user =
        UserId::parse(&claims.sub).map_err(|_| ApiError::Unauthorized("invalid subject".into()))?;
    let session = token::TokenSession {
        sid: claims.sid,
        generation: claims.generation,
    };
    let role = checked_session(state, &user, claims.role, &session).await?;
    Ok(Caller {
        user,
        role,
        session: Some(session),
        rule: None,
    })
}

/// The role a token of ours acts with, checked against the user record — one read by
/// primary key per request, the read the disabled check needs anyway ([`session_holds`]).
/// A user id with no user record has had none of these happen (each writes the record):
/// the token's role stands. A store failure is an error (503), never a pass.
async fn checked_session(
    state: &AppState,
    user: &UserId,
    role: Role,
    session: &token::TokenSession,
) -> Result<Role, ApiError> {
    match state.records.user(user).await {
        Ok(found) => {
            session_holds(&found, role, Some(session))?;
            Ok(found.role)
        }
        Err(StoreError::NotFound) => Ok(role),
        Err(e) => Err(e.into()),
    }
}

/// Whether a caller authenticated as `role` in `session` (`None`: an OIDC token, which
/// has no session of ours) may still act, by the account's record: a disabled account is
/// 403 `account_disabled`; a session ended (logout), of an older generation (role change,
/// disable) or whose role is no longer the account's is 401. Every request asks it, and
/// an open live socket asks it again every `live.session_recheck_ms`.
pub fn session_holds(
    found: &User,
    role: Role,
    session: Option<&token::TokenSession>,
) -> Result<(), ApiError> {
    refuse_disabled(found)?;
    let admitted = session.is_none_or(|s| found.sessions.admits(s.generation, &s.sid));
    if found.role != role || !admitted {
        tracing::info!(user = %found.id, "access token of an ended session refused");
        return Err(ApiError::Unauthorized(SESSION_ENDED.into()));
    }
    Ok(())
}

/// What a new token of `user` carries — its role and session generation — from its user
/// record when it has one (else `login_role`, generation 0). Refuses a disabled account.
pub async fn current_account(
    state: &AppState,
    user: &UserId,
    login_role: Role,
) -> Result<(Role, u32), ApiError> {
    match state.records.user(user).await {
        Ok(found) => {
            refuse_disabled(&found)?;
            Ok((found.role, found.sessions.generation))
        }
        Err(StoreError::NotFound) => Ok((login_role, 0)),
        Err(e) => Err(e.into()),
    }
}

/// Refuses a disabled account with 403 `account_disabled`: one read of the user by its
/// primary key. A user id with no user record (a login made with `set-login` alone, a
/// token from `cardiowatch token`) has never been disabled — disabling one writes its
/// record. A store failure is an error (503), never a pass.
pub async fn require_active(state: &AppState, user: &UserId) -> Result<(), ApiError> {
    match state.records.user(user).await {
        Ok(found) => refuse_disabled(&found),
        Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// [`require_active`] for a user already read.
fn refuse_disabled(user: &User) -> Result<(), ApiError> {
    if user.is_disabled() {
        tracing::warn!(user = %user.id, "disabled account refused");
        return Err(ApiError::AccountDisabled(user.id.clone()));
    }
    Ok(())
}

async fn from_oidc(state: &AppState, oidc: &OidcVerifier, token: &str) -> Result<Caller, ApiError> {
    let claims = oidc.verify(token).await.map_err(|e| {
        tracing::info!(error = %e, "OIDC token rejected");
        ApiError::Unauthorized(format!("invalid OIDC token: {e}"))
    })?;
    let found = oidc_account(state, oidc, &claims).await?;
    Ok(Caller {
        user: found.id,
        role: found.role,
        session: None,
        rule: None,
    })
}

/// The local account a verified OIDC identity is, and only an active one: a bearer
/// token's and the console's sign-in (`routes/oidc_signin.rs`) alike. No account is 401.
pub async fn oidc_account(
    state: &AppState,
    oidc: &OidcVerifier,
    claims: &OidcClaims,
) -> Result<User, ApiError> {
    let user = local_user(oidc, claims)?;
    match state.records.user(&user).await {
        Ok(found) => {
            // The user is read here anyway: no second read for the disabled check.
            refuse_disabled(&found)?;
            Ok(found)
        }
        Err(StoreError::NotFound) => {
            tracing::warn!(user = %user, "OIDC identity without a local account refused");
            Err(ApiError::Unauthorized(NO_ACCOUNT.into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The local user id an identity maps to: the configured table first, else the claim
/// value itself when it is a valid user id.
fn local_user(oidc: &OidcVerifier, claims: &OidcClaims) -> Result<UserId, ApiError> {
    let cfg = oidc.config();
    let value = if cfg.user_claim == "email" {
        // Required, not merely "not false": a provider that omits the claim has not
        // verified the address, and anyone could claim a doctor's (issue 13 #16).
        if claims.email_verified != Some(true) {
            return Err(ApiError::Unauthorized(
                "the OIDC email is not verified".into(),
            ));
        }
        claims
            .email
            .as_deref()
            .ok_or_else(|| ApiError::Unauthorized("the OIDC token has no email claim".into()))?
    } else {
        claims.sub.as_str()
    };
    let id = cfg.users.get(value).map_or(value, String::as_str);
    UserId::parse(id).map_err(|_| ApiError::Unauthorized(NO_ACCOUNT.into()))
}
