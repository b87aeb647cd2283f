//! Password hashing: argon2id (PHC strings), on the blocking pool because a hash takes
//! tens of milliseconds of CPU by design.

use crate::error::ApiError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use cw_core::secret::{ExposeSecret, SecretString};

/// OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

pub async fn hash(password: String) -> Result<SecretString, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| SecretString::from(h.to_string()))
    })
    .await
    .map_err(|_| ApiError::Internal)?
    .map_err(|_| ApiError::Internal)
}

/// Whether `password` matches `phc`. With `None` (unknown user) a dummy hash is checked
/// anyway, so response time does not tell which user names exist.
pub async fn verify(password: String, phc: Option<SecretString>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY.into());
        let parsed = PasswordHash::new(phc.expose_secret()).map_err(|_| ApiError::Internal)?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known)
    })
    .await
    .map_err(|_| ApiError::Internal)?
}

/// argon2id of a random password nobody knows, with the default parameters.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$3KNMY3ZfpDYZmVP7F0hiUA$NLy4k1I8wdpOM4BIZx4pBLzXGnXbRgOZDpsHrzm2V6Y";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery".into()).await.expect("hash");
        assert!(phc.expose_secret().starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(!verify("wrong".into(), Some(phc)).await.expect("verify"));
        assert!(!verify("anything".into(), None).await.expect("verify"));
    }
}
