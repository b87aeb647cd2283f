//! The audit key ring: HMAC-SHA-256 keys by id. The key is what an insider with write
//! access to the store does not have (it is loaded from the environment or a file by
//! `cw_storage::config::AuditConfig`, never stored beside the events), so they cannot
//! re-seal an edited chain. New events are sealed with the current key; older keys stay
//! in the ring so the events they sealed keep verifying after a rotation.

use crate::secret::{ExposeSecret, SecretBox};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) type AuditMac = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditKeyError {
    #[error("audit key id must be non-empty and without ':' (got {0:?})")]
    BadId(String),
    #[error("audit key {0:?} must be 32 bytes")]
    BadKey(String),
}

/// Keys by id; `current` seals. `Debug` shows the ids, each key `[REDACTED]`. Clones
/// share the keys (`Arc`) rather than copy them.
#[derive(Clone, Debug)]
pub struct AuditKeys {
    current: String,
    keys: BTreeMap<String, Arc<SecretBox<[u8; 32]>>>,
}

impl AuditKeys {
    /// A ring whose current key is `key` under `id`.
    pub fn new(id: &str, key: &[u8]) -> Result<Self, AuditKeyError> {
        let mut keys = Self {
            current: id.to_owned(),
            keys: BTreeMap::new(),
        };
        keys.insert(id, key)?;
        Ok(keys)
    }

    /// Adds an older key, still accepted for verification (never for sealing).
    pub fn with_previous(mut self, id: &str, key: &[u8]) -> Result<Self, AuditKeyError> {
        if id != self.current {
            self.insert(id, key)?;
        }
        Ok(self)
    }

    fn insert(&mut self, id: &str, key: &[u8]) -> Result<(), AuditKeyError> {
        if id.is_empty() || id.contains(':') {
            return Err(AuditKeyError::BadId(id.to_owned()));
        }
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| AuditKeyError::BadKey(id.to_owned()))?;
        self.keys
            .insert(id.to_owned(), Arc::new(SecretBox::new(Box::new(key))));
        Ok(())
    }

    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// A MAC under key `id`, `None` when the ring does not hold it.
    pub(crate) fn mac(&self, id: &str) -> Option<AuditMac> {
        let key = self.keys.get(id)?;
        // HMAC takes a key of any length, so this cannot fail.
        AuditMac::new_from_slice(key.expose_secret()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_ids_not_keys() {
        let keys = AuditKeys::new("k2", &[0xab; 32])
            .and_then(|k| k.with_previous("k1", &[0xcd; 32]))
            .expect("keys");
        let shown = format!("{keys:?}");
        assert!(shown.contains("k1") && shown.contains("k2"), "{shown}");
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("abab"),
            "{shown}"
        );
    }

    #[test]
    fn ids_and_lengths_are_checked() {
        assert_eq!(
            AuditKeys::new("a:b", &[0; 32]).err(),
            Some(AuditKeyError::BadId("a:b".into()))
        );
        assert_eq!(
            AuditKeys::new("k1", &[0; 16]).err(),
            Some(AuditKeyError::BadKey("k1".into()))
        );
    }
}
