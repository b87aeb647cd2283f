//! Master keys held locally, from the environment or a file: the current one wraps, older
//! ones (by id) still unwrap until `cardiowatch keys rotate` has re-wrapped everything.

use crate::{KeyWrapper, PhiError, Result};
use async_trait::async_trait;
use cw_core::secret::{ExposeSecret, SecretString};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;

/// `[phi]` in the api config. Keys are 64 hex characters (32 bytes).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyConfig {
    /// Id stored with each record wrapped under `master_key_hex`.
    pub key_id: String,
    // Secrets are never serialised (serialising serves docs/config.md's defaults).
    #[serde(skip_serializing)]
    pub master_key_hex: Option<SecretString>,
    pub master_key_file: Option<PathBuf>,
    /// Older master keys still accepted for unwrapping: `"<id>:<64 hex>"`.
    #[serde(skip_serializing)]
    pub previous_keys: Vec<SecretString>,
    /// HMAC key for MRN lookup hashes. Separate from the master key so that rotating the
    /// master key does not change every lookup hash.
    #[serde(skip_serializing)]
    pub lookup_key_hex: Option<SecretString>,
    pub lookup_key_file: Option<PathBuf>,
}

impl KeyConfig {
    /// Whether any master key is configured at all.
    pub fn is_configured(&self) -> bool {
        self.master_key_hex.is_some() || self.master_key_file.is_some()
    }

    pub(crate) fn master_key(&self) -> Result<[u8; 32]> {
        read_key(
            &self.master_key_hex,
            &self.master_key_file,
            "phi.master_key",
        )
    }

    pub(crate) fn lookup_key(&self) -> Result<[u8; 32]> {
        read_key(
            &self.lookup_key_hex,
            &self.lookup_key_file,
            "phi.lookup_key",
        )
    }
}

fn read_key(
    hex_value: &Option<SecretString>,
    file: &Option<PathBuf>,
    name: &str,
) -> Result<[u8; 32]> {
    let raw = match (hex_value, file) {
        (Some(v), _) => v.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| {
                PhiError::Config(format!("cannot read {name}_file {}: {e}", path.display()))
            })?
            .into(),
        (None, None) => {
            return Err(PhiError::Config(format!(
                "{name}_hex or {name}_file is required"
            )));
        }
    };
    parse_key(raw.expose_secret())
        .ok_or_else(|| PhiError::Config(format!("{name} must be 64 hex characters")))
}

fn parse_key(raw: &str) -> Option<[u8; 32]> {
    hex::decode(raw.trim()).ok()?.try_into().ok()
}

/// The local [`KeyWrapper`]: AES-256-GCM with the master key, the key id as associated
/// data, stored as `nonce || ciphertext+tag`.
pub struct LocalKeyring {
    current_id: String,
    keys: HashMap<String, LessSafeKey>,
    rng: SystemRandom,
}

impl LocalKeyring {
    pub fn from_config(cfg: &KeyConfig) -> Result<Self> {
        if cfg.key_id.is_empty() {
            return Err(PhiError::Config("phi.key_id is required".into()));
        }
        let mut keys = HashMap::new();
        keys.insert(cfg.key_id.clone(), aead_key(&cfg.master_key()?)?);
        for entry in &cfg.previous_keys {
            let (id, hex_key) = entry.expose_secret().split_once(':').ok_or_else(|| {
                PhiError::Config("previous_keys entries are \"<id>:<hex>\"".into())
            })?;
            let key = parse_key(hex_key).ok_or_else(|| {
                PhiError::Config(format!("previous key {id:?} must be 64 hex characters"))
            })?;
            keys.entry(id.to_owned()).or_insert(aead_key(&key)?);
        }
        Ok(Self {
            current_id: cfg.key_id.clone(),
            keys,
            rng: SystemRandom::new(),
        })
    }
}

pub(crate) fn aead_key(bytes: &[u8]) -> Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| PhiError::Config("an AES-256 key is 32 bytes".into()))
}

/// AES-256-GCM seal with a random nonce: `nonce || ciphertext+tag`.
pub(crate) fn seal(
    key: &LessSafeKey,
    rng: &SystemRandom,
    aad: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| PhiError::Encrypt)?;
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| PhiError::Encrypt)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(out)
}

pub(crate) fn open(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return Err(PhiError::Decrypt);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| PhiError::Decrypt)?;
    let mut buf = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| PhiError::Decrypt)?;
    Ok(plain.to_vec())
}

#[async_trait]
impl KeyWrapper for LocalKeyring {
    fn current_key_id(&self) -> String {
        self.current_id.clone()
    }

    async fn wrap(&self, data_key: &[u8]) -> Result<(String, Vec<u8>)> {
        let key = self
            .keys
            .get(&self.current_id)
            .ok_or_else(|| PhiError::UnknownKey(self.current_id.clone()))?;
        Ok((
            self.current_id.clone(),
            seal(key, &self.rng, self.current_id.as_bytes(), data_key)?,
        ))
    }

    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| PhiError::UnknownKey(key_id.to_owned()))?;
        open(key, key_id.as_bytes(), wrapped)
    }
}
