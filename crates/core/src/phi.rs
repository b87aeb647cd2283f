//! Protected health information of a patient: the plaintext form (only ever in memory)
//! and the sealed form that is stored (PHI is stored encrypted: docs/architecture.md, "API security"). Sealing and key
//! handling live in `cw-phi`; here is only the data.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Name, date of birth, MRN and contact. `Debug` shows none of it, so a stray `{:?}` in
/// a log line cannot leak PHI.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientPhi {
    pub name: String,
    /// ISO 8601 date, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Medical record number (the hospital's id).
    pub mrn: String,
    /// Phone, e-mail or postal address.
    #[serde(default)]
    pub contact: String,
}

impl fmt::Debug for PatientPhi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PatientPhi(<redacted>)")
    }
}

/// [`PatientPhi`] as stored: AES-256-GCM under a random per-record data key, which is
/// itself wrapped by the master key `key_id` (envelope encryption). Base64 fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedPhi {
    /// Which master key wrapped `wrapped_key` (rotation re-wraps under the new one).
    pub key_id: String,
    pub wrapped_key: String,
    pub nonce: String,
    pub ciphertext: String,
}
