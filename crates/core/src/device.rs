//! ECG gateways and how they prove who they are.

use crate::{DeviceId, PatientId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub patient: PatientId,
    /// Hex SHA-256 of the device bearer token; the token itself is never stored.
    pub token_sha256: String,
    pub revoked: bool,
    /// Hex SHA-256 of the DER of the device's TLS client certificate (mTLS), if it has
    /// one registered; the certificate itself is public and need not be stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
}

/// Hex SHA-256 of a device bearer token: what is stored and looked up, so a leaked
/// database does not leak usable tokens. Tokens are random 256-bit values, so a plain
/// hash (no salt, no stretching) is enough and keeps lookup by hash possible.
pub fn token_sha256(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}
