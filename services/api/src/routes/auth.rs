//! Local authentication: `POST /v1/auth/login`, `/v1/auth/refresh`, `/v1/auth/logout`,
//! and `PUT /v1/users/{id}/login` (admin: set a user's role and password).
//!
//! Access tokens live ≤ 15 min; refresh tokens are random, stored by SHA-256, single
//! use: each refresh returns a new one of the same family, and presenting a used one
//! (a stolen copy) revokes the family. Per-address rate limiting and per-account
//! lockout bound password guessing. A disabled account (`routes::users`) gets 403
//! `account_disabled` from login and refresh alike. Each access token names its session
//! (the refresh family); logout ends it, a role change ends all of the account's.

use crate::access::Caller;
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::{password, token};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use cw_core::secret::ExposeSecret;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Role, UserId};
use cw_storage::StoreError;
use cw_storage::credentials::{Login, LoginAttempt, RefreshToken, RefreshUse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub user: String,
    pub password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    pub refresh_token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLogin {
    pub role: Role,
    /// At least 12 characters.
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: u64,
}

fn sha256_hex(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("invalid credentials".into())
}

/// A new access token and a new refresh token in `family` (the session), for an active
/// account: role and session generation as its user record has them now (`role` only
/// for an account with a login and no user record yet). Password and OIDC sign-in alike.
pub(crate) async fn issue(
    state: &AppState,
    user: &UserId,
    role: Role,
    family: String,
) -> Result<Tokens, ApiError> {
    let (role, generation) = crate::authn::current_account(state, user, role).await?;
    let access = token::issue_in_session(
        state.jwt_secret.expose_secret(),
        &state.issuer,
        user,
        role,
        token::ACCESS_TTL_S,
        &token::TokenSession {
            sid: family.clone(),
            generation,
        },
    )
    .map_err(|_| ApiError::Internal)?;
    let refresh = hex::encode(rand::random::<[u8; 32]>());
    state
        .records
        .insert_refresh(&RefreshToken {
            token_sha256: sha256_hex(&refresh),
            user: user.clone(),
            family,
            expires_ns: now_ns() + state.auth.refresh_ttl_s as i64 * NANOS_PER_SEC,
            used: false,
            revoked: false,
        })
        .await?;
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: token::ACCESS_TTL_S,
    })
}

#[utoipa::path(post, path = "/v1/auth/login", summary = "Log in (argon2id); access + refresh token",
    extensions(("x-access" = json!(Access::Public))),
    request_body = LoginInput,
    responses((status = 200, body = Tokens)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginInput>, JsonRejection>,
) -> Result<Json<Tokens>, ApiError> {
    if !state.login_limiter.allow(peer.ip()) {
        tracing::warn!(source = %peer.ip(), "login rate limit hit");
        return Err(ApiError::RateLimited);
    }
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let user = UserId::parse(&input.user).ok();
    // The attempt is counted (as a failure) before the password is checked, in one
    // atomic step with the lock check: parallel guesses get no more checks than
    // `max_failures` (issue 13 #6). A success clears the count below.
    let now = now_ns();
    let stored = match &user {
        Some(user) => match state
            .records
            .begin_login_attempt(
                user,
                now,
                state.auth.max_failures,
                state.auth.lockout_s as i64 * NANOS_PER_SEC,
            )
            .await
        {
            Ok(LoginAttempt::Admitted(login)) => {
                if login.locked_until_ns > now {
                    tracing::warn!(user = %login.user, "login locked after repeated failures (unless this attempt's password is right)");
                }
                Some(login)
            }
            Ok(LoginAttempt::Locked) => return Err(ApiError::Locked),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    // An unknown name locks like a real login, and its password is checked against a
    // dummy hash: neither the status nor the time tells which logins exist.
    if stored.is_none() && !state.unknown_logins.attempt(&input.user) {
        return Err(ApiError::Locked);
    }
    let ok = password::verify(
        input.password,
        stored.as_ref().map(|l| l.password_hash.clone()),
    )
    .await?;
    let Some(login) = stored else {
        return Err(unauthorized());
    };
    if !ok {
        return Err(unauthorized());
    }
    // After the password: whether an account is disabled is told only to its holder
    // (`issue` refuses it).
    let tokens = issue(
        &state,
        &login.user,
        login.role,
        ulid::Ulid::new().to_string(),
    )
    .await?;
    state.records.clear_login_failures(&login.user).await?;
    tracing::info!(user = %login.user, "login");
    Ok(Json(tokens))
}

#[utoipa::path(post, path = "/v1/auth/refresh", summary = "Rotate a refresh token",
    extensions(("x-access" = json!(Access::Public))),
    request_body = RefreshInput,
    responses((status = 200, body = Tokens)))]
pub async fn refresh(
    State(state): State<AppState>,
    body: Result<Json<RefreshInput>, JsonRejection>,
) -> Result<Json<Tokens>, ApiError> {
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(Json(rotate(&state, &input.refresh_token).await?))
}

/// Spends refresh token `raw` and issues the next pair of its family: a used one (a
/// stolen copy, or the holder's replay) revokes the family instead. Also how the
/// console takes over a session the OIDC callback began (`routes/oidc_signin.rs`).
pub(crate) async fn rotate(state: &AppState, raw: &str) -> Result<Tokens, ApiError> {
    let used = match state.records.use_refresh(&sha256_hex(raw)).await {
        Ok(used) => used,
        Err(StoreError::NotFound) => return Err(unauthorized()),
        Err(e) => return Err(e.into()),
    };
    let token = match used {
        RefreshUse::Fresh(token) => token,
        RefreshUse::Reused(token) => {
            // Either the holder replayed it or someone copied it: end the whole chain.
            state.records.revoke_refresh_family(&token.family).await?;
            tracing::warn!(user = %token.user, "refresh token reused; family revoked");
            return Err(unauthorized());
        }
    };
    if token.expires_ns <= now_ns() {
        return Err(unauthorized());
    }
    // Disabling revoked the account's refresh tokens; `issue` refuses one issued in a
    // race with it (the token is spent now either way). An account signed in through
    // OIDC may have no password login: its user record names its role.
    let role = match state.records.login(&token.user).await {
        Ok(login) => login.role,
        Err(StoreError::NotFound) => match state.records.user(&token.user).await {
            Ok(user) => user.role,
            Err(StoreError::NotFound) => return Err(unauthorized()),
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    issue(state, &token.user, role, token.family).await
}

#[utoipa::path(post, path = "/v1/auth/logout", summary = "Revoke a refresh token's family",
    extensions(("x-access" = json!(Access::Public))),
    request_body = RefreshInput,
    responses((status = 204, description = "logged out (also for an unknown token)")))]
pub async fn logout(
    State(state): State<AppState>,
    body: Result<Json<RefreshInput>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    match state
        .records
        .use_refresh(&sha256_hex(&input.refresh_token))
        .await
    {
        Ok(RefreshUse::Fresh(t) | RefreshUse::Reused(t)) => {
            state.records.revoke_refresh_family(&t.family).await?;
            // The family is the session its access tokens name: they end now too.
            let until_ns = now_ns() + token::ACCESS_TTL_S as i64 * NANOS_PER_SEC;
            crate::sessions::end_one(state.records.as_ref(), &t.user, &t.family, until_ns).await?;
        }
        // Logging out twice, or with a token we never issued, changes nothing.
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/users/{id}/login", summary = "Set a user's role and password (admin)",
    extensions(("x-access" = json!(Access::Admin))),
    params(("id" = String, Path, description = "user id")),
    request_body = SetLogin,
    responses((status = 204, description = "login set")))]
pub async fn set_login(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<SetLogin>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let user = UserId::parse(&id).map_err(|e| ApiError::Invalid {
        field: Some("user_id".into()),
        message: e.to_string(),
    })?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if input.password.chars().count() < 12 || input.password.len() > 1024 {
        return Err(ApiError::Invalid {
            field: Some("password".into()),
            message: "password is 12 to 1024 characters".into(),
        });
    }
    let password_hash = password::hash(input.password).await?;
    // A role change ends the account's sessions first: its tokens must not act in the
    // old role for a moment longer than the write.
    crate::sessions::change_role(state.records.as_ref(), &user, input.role).await?;
    state
        .records
        .put_login(&Login {
            user: user.clone(),
            role: input.role,
            password_hash,
            failures: 0,
            locked_until_ns: 0,
        })
        .await?;
    tracing::info!(user = %user, by = %caller.user, "login set");
    Ok(StatusCode::NO_CONTENT)
}
