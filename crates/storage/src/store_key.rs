//! The embedded store's encryption key (docs/operations.md, "Encryption at rest"): 32
//! bytes, as 64 hex characters, from `CW_STORAGE__KEY_HEX` or the file `storage.key_file`
//! — the way the audit key comes. SQLCipher uses it as the raw key (no passphrase
//! derivation), so every connection opens at the same cost as a clear file.

use crate::config::StorageConfig;
use crate::ports::{Result, StoreError};
use cw_core::secret::{ExposeSecret, SecretString};

/// A validated key and where it came from (the source is named in start-up errors; the
/// key never is: `Debug` prints `[REDACTED]`).
#[derive(Clone, Debug)]
pub struct StoreKey {
    hex: SecretString,
    source: String,
}

impl StoreKey {
    /// `text`: 64 hex characters (surrounding whitespace ignored). `source` names where
    /// it came from, for errors.
    pub fn from_hex(text: &str, source: impl Into<String>) -> Result<Self> {
        let source = source.into();
        let text = text.trim();
        if text.len() != 64 || hex::decode(text).is_err() {
            return Err(StoreError::Unavailable(format!(
                "the embedded store's key from {source} is not 32 bytes as 64 hex characters; \
                 remedy: {MAKE_KEY}"
            )));
        }
        Ok(Self {
            hex: text.to_ascii_lowercase().into(),
            source,
        })
    }

    /// Where the key came from (`storage.key_file /path`, or the variable).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `PRAGMA key` with the raw key: `x'…'` tells SQLCipher to skip PBKDF2. The hex was
    /// validated, so nothing else reaches the statement.
    pub(crate) fn pragma(&self) -> SecretString {
        format!("PRAGMA key = \"x'{}'\";", self.hex.expose_secret()).into()
    }

    /// The same key as an `ATTACH … KEY` argument.
    pub(crate) fn attach_argument(&self) -> SecretString {
        format!("x'{}'", self.hex.expose_secret()).into()
    }
}

/// How an operator makes a key (printed in every key error).
const MAKE_KEY: &str = "make one with `head -c 32 /dev/urandom | od -An -tx1 -v | tr -d ' \\n' > \
     store.key && chmod 600 store.key`, keep it off the store's disk and in your secret \
     manager, and point storage.key_file (CW_STORAGE__KEY_FILE) at it";

impl StorageConfig {
    /// The embedded store's key: `key_hex` (`CW_STORAGE__KEY_HEX`) or `key_file`. The
    /// embedded store is always encrypted, so no key is an error naming the remedy.
    pub fn store_key(&self) -> Result<StoreKey> {
        match (&self.key_hex, &self.key_file) {
            (Some(hex), _) => {
                StoreKey::from_hex(hex.expose_secret(), "CW_STORAGE__KEY_HEX (storage.key_hex)")
            }
            (None, Some(path)) => {
                let text: SecretString = std::fs::read_to_string(path)
                    .map_err(|e| {
                        StoreError::Unavailable(format!(
                            "cannot read the embedded store's key file storage.key_file {}: {e}; \
                             remedy: give the file the store was created with (or, for a new \
                             store, {MAKE_KEY})",
                            path.display()
                        ))
                    })?
                    .into();
                StoreKey::from_hex(
                    text.expose_secret(),
                    format!("storage.key_file {}", path.display()),
                )
            }
            (None, None) => Err(StoreError::Unavailable(format!(
                "the embedded store at {} is encrypted and no key is configured; remedy: \
                 {MAKE_KEY} (or set CW_STORAGE__KEY_HEX); `cardiowatch demo` and the CLI's \
                 --data-dir make DIR/store.key themselves",
                self.path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

    #[test]
    fn a_key_is_64_hex_characters_and_never_printed() {
        let key = StoreKey::from_hex(&format!(" {KEY}\n"), "test").expect("valid");
        assert!(!format!("{key:?}").contains("aabbcc"), "{key:?}");
        assert!(
            key.pragma()
                .expose_secret()
                .contains(&KEY.to_ascii_lowercase())
        );
        for bad in ["", "abc", &KEY[..62], &format!("{}zz", &KEY[..62])] {
            let err = StoreKey::from_hex(bad, "storage.key_file /k").expect_err(bad);
            assert!(err.to_string().contains("storage.key_file /k"), "{err}");
        }
    }

    #[test]
    fn no_key_or_an_unreadable_file_names_the_remedy() {
        let none = StorageConfig::default().store_key().expect_err("no key");
        assert!(none.to_string().contains("CW_STORAGE__KEY_FILE"), "{none}");
        let missing = StorageConfig {
            key_file: Some("/nonexistent/store.key".into()),
            ..StorageConfig::default()
        }
        .store_key()
        .expect_err("missing file");
        assert!(
            missing.to_string().contains("/nonexistent/store.key"),
            "{missing}"
        );
    }
}
