//! The credentials port: local logins (argon2id hashes, failure counts, lockout) and
//! refresh tokens (stored by hash, single use, revocable by family).

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::secret::{self, SecretString};
use cw_core::time::Nanos;
use cw_core::{Role, UserId};
use serde::{Deserialize, Serialize};

/// A local login. `password_hash` is a PHC string (argon2id); never the password.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Login {
    pub user: UserId,
    pub role: Role,
    #[serde(serialize_with = "secret::serialize")]
    pub password_hash: SecretString,
    /// Consecutive failed attempts since the last success or lockout.
    #[serde(default)]
    pub failures: u32,
    /// Logins are refused until then (0: not locked).
    #[serde(default)]
    pub locked_until_ns: Nanos,
}

/// A refresh token as stored: by the hex SHA-256 of the token. Every rotation issues a
/// new token in the same `family`; presenting a used one revokes the whole family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub token_sha256: String,
    pub user: UserId,
    pub family: String,
    pub expires_ns: Nanos,
    #[serde(default)]
    pub used: bool,
    #[serde(default)]
    pub revoked: bool,
}

/// What presenting a refresh token found.
#[derive(Clone, Debug, PartialEq)]
pub enum RefreshUse {
    /// First use: it is now marked used (the caller issues the next one).
    Fresh(RefreshToken),
    /// It had been used before (or revoked): a stolen copy, or a replay.
    Reused(RefreshToken),
}

/// What counting a login attempt found.
#[derive(Clone, Debug)]
pub enum LoginAttempt {
    /// Counted: the password may be checked. The login as stored after counting.
    Admitted(Login),
    /// The login is locked: refuse without checking the password.
    Locked,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Creates or replaces a login (resetting failures and lockout).
    async fn put_login(&self, login: &Login) -> Result<()>;
    async fn login(&self, user: &UserId) -> Result<Login>;
    /// Every login's user and role, by user id (the admin's directory lists accounts that
    /// have a login but no user record yet). Never the password hashes.
    async fn login_roles(&self) -> Result<Vec<(UserId, Role)>>;
    /// Counts a login attempt as a failure *before* its password is checked, atomically:
    /// checking first and counting after let parallel guesses all be checked before any
    /// was counted (issue 13 #6). A locked login admits nothing; otherwise the count
    /// goes up, and the attempt that reaches `max_failures` is admitted and locks the
    /// login until `now + lock_ns` (the count restarts). So racing attempts get at most
    /// `max_failures` checks per lock. `NotFound` for an unknown login.
    async fn begin_login_attempt(
        &self,
        user: &UserId,
        now: Nanos,
        max_failures: u32,
        lock_ns: Nanos,
    ) -> Result<LoginAttempt>;
    /// A successful login clears the failure count, and the lock its own attempt may
    /// have set.
    async fn clear_login_failures(&self, user: &UserId) -> Result<()>;

    async fn insert_refresh(&self, token: &RefreshToken) -> Result<()>;
    /// Marks the token used, atomically: of two racing uses exactly one is `Fresh`.
    async fn use_refresh(&self, token_sha256: &str) -> Result<RefreshUse>;
    /// Revokes every token of a family (logout, or reuse detected).
    async fn revoke_refresh_family(&self, family: &str) -> Result<()>;
    /// Revokes every refresh token of a user (the account was disabled: enabling it again
    /// must not bring back sessions opened before). Rare, so it may scan.
    async fn revoke_refresh_of_user(&self, user: &UserId) -> Result<()>;
}
