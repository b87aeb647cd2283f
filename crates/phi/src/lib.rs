//! PHI at rest (docs/architecture.md, "API security"): envelope encryption of patient PHI fields.
//!
//! Each record gets a fresh random 256-bit data key; the PHI is sealed with it
//! (AES-256-GCM, the patient id as associated data so a sealed blob cannot be moved to
//! another patient), and the data key is wrapped by a master key behind [`KeyWrapper`] —
//! a local key from a file or the environment ([`LocalKeyring`]) or a KMS. Each record
//! names its master key id, so rotation re-wraps data keys without touching ciphertext.
//! MRN lookups use a keyed hash (HMAC-SHA-256), never the MRN itself.

mod keyring;
mod vault;

pub use keyring::{KeyConfig, LocalKeyring};
pub use vault::PhiVault;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum PhiError {
    #[error("PHI key configuration: {0}")]
    Config(String),
    #[error("unknown master key id {0:?}")]
    UnknownKey(String),
    /// Wrong key, or the stored blob was altered.
    #[error("PHI could not be decrypted (wrong key or tampered record)")]
    Decrypt,
    #[error("PHI could not be encrypted")]
    Encrypt,
    #[error("stored PHI is malformed: {0}")]
    Malformed(String),
}

pub type Result<T> = std::result::Result<T, PhiError>;

/// Wraps and unwraps data keys with a master key. Implement it over a KMS
/// (encrypt/decrypt by key id) to keep master keys out of the process.
#[async_trait]
pub trait KeyWrapper: Send + Sync {
    /// The key id new records are wrapped under.
    fn current_key_id(&self) -> String;
    /// Wraps `data_key` under the current master key: (key id, wrapped bytes).
    async fn wrap(&self, data_key: &[u8]) -> Result<(String, Vec<u8>)>;
    /// Unwraps with the master key `key_id` (current or an older one kept for rotation).
    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>>;
}
