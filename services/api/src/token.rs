//! Access tokens: short-lived HS256 JWTs naming the user, their role and their session.
//! A token holds only while its session does: `authn` checks `sid` and `gen` against the
//! user record on every request (`cw_core::patient::Sessions`), so logout, a role change
//! or a disable ends it at once.

use cw_core::{Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Access tokens live 15 minutes at most.
pub const ACCESS_TTL_S: u64 = 15 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
    /// The session: the refresh-token family of a password login (random otherwise).
    pub sid: String,
    /// The account's session generation when the token was issued.
    pub generation: u32,
}

/// The session a token is issued in.
#[derive(Debug, Clone)]
pub struct TokenSession {
    pub sid: String,
    pub generation: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token could not be made: {0}")]
    Encode(String),
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Issues an access token valid for `ttl_s` seconds (capped at [`ACCESS_TTL_S`]) outside
/// any login (`cardiowatch token`, tests): a session of its own in generation 0, so it
/// holds until the account's first role change or disable.
pub fn issue(
    secret: &[u8],
    issuer: &str,
    user: &UserId,
    role: Role,
    ttl_s: u64,
) -> Result<String, TokenError> {
    let session = TokenSession {
        sid: ulid::Ulid::new().to_string(),
        generation: 0,
    };
    issue_in_session(secret, issuer, user, role, ttl_s, &session)
}

/// Issues an access token of `session`, valid for `ttl_s` seconds (capped at
/// [`ACCESS_TTL_S`]).
pub fn issue_in_session(
    secret: &[u8],
    issuer: &str,
    user: &UserId,
    role: Role,
    ttl_s: u64,
    session: &TokenSession,
) -> Result<String, TokenError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let claims = Claims {
        sub: user.to_string(),
        role,
        iss: issuer.to_owned(),
        iat: now,
        exp: now + ttl_s.min(ACCESS_TTL_S),
        sid: session.sid.clone(),
        generation: session.generation,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| TokenError::Encode(e.to_string()))
}

/// Checks signature, algorithm, issuer and expiry.
pub fn verify(secret: &[u8], issuer: &str, token: &str) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[issuer]);
    validation.leeway = 5;
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_token_verifies_with_its_claims() {
        let user = UserId::parse("dr-1").expect("valid");
        let token = issue(SECRET, "cw", &user, Role::Doctor, 60).expect("issues");
        let claims = verify(SECRET, "cw", &token).expect("verifies");
        assert_eq!(claims.sub, "dr-1");
        assert_eq!(claims.role, Role::Doctor);
    }

    #[test]
    fn wrong_secret_or_issuer_is_rejected() {
        let user = UserId::parse("dr-1").expect("valid");
        let token = issue(SECRET, "cw", &user, Role::Doctor, 60).expect("issues");
        assert!(verify(b"another-secret-another-secret-xx", "cw", &token).is_err());
        assert!(verify(SECRET, "other", &token).is_err());
    }

    #[test]
    fn lifetime_is_capped_at_fifteen_minutes() {
        let user = UserId::parse("dr-1").expect("valid");
        let token = issue(SECRET, "cw", &user, Role::Doctor, 86_400).expect("issues");
        let claims = verify(SECRET, "cw", &token).expect("verifies");
        assert!(claims.exp - claims.iat <= ACCESS_TTL_S);
    }
}
