//! Sealing and opening patient PHI, re-wrapping on rotation, MRN lookup hashes.

use crate::keyring::{aead_key, open, seal};
use crate::{KeyConfig, KeyWrapper, LocalKeyring, PhiError, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use cw_core::PatientId;
use cw_core::phi::{PatientPhi, SealedPhi};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::Arc;

/// What the api holds: a key wrapper and the MRN lookup key.
#[derive(Clone)]
pub struct PhiVault {
    wrapper: Arc<dyn KeyWrapper>,
    lookup: hmac::Key,
    rng: SystemRandom,
}

impl PhiVault {
    pub fn new(wrapper: Arc<dyn KeyWrapper>, lookup_key: &[u8; 32]) -> Self {
        Self {
            wrapper,
            lookup: hmac::Key::new(hmac::HMAC_SHA256, lookup_key),
            rng: SystemRandom::new(),
        }
    }

    /// The local keyring and lookup key of a `[phi]` config section.
    pub fn from_config(cfg: &KeyConfig) -> Result<Self> {
        let keyring = LocalKeyring::from_config(cfg)?;
        Ok(Self::new(Arc::new(keyring), &cfg.lookup_key()?))
    }

    pub fn current_key_id(&self) -> String {
        self.wrapper.current_key_id()
    }

    /// Seals `phi` for `patient` under a fresh data key.
    pub async fn seal(&self, patient: &PatientId, phi: &PatientPhi) -> Result<SealedPhi> {
        let mut data_key = [0u8; 32];
        self.rng
            .fill(&mut data_key)
            .map_err(|_| PhiError::Encrypt)?;
        let plain = phi_bytes(phi)?;
        let sealed = seal(
            &aead_key(&data_key)?,
            &self.rng,
            patient.as_str().as_bytes(),
            &plain,
        );
        let (key_id, wrapped) = self.wrapper.wrap(&data_key).await?;
        data_key.fill(0);
        let sealed = sealed?;
        // One buffer holds nonce||ciphertext; store them apart so the format is explicit.
        let (nonce, ciphertext) = sealed.split_at(ring::aead::NONCE_LEN);
        Ok(SealedPhi {
            key_id,
            wrapped_key: B64.encode(wrapped),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        })
    }

    /// Opens what [`PhiVault::seal`] made for the same patient.
    pub async fn open(&self, patient: &PatientId, sealed: &SealedPhi) -> Result<PatientPhi> {
        let mut data_key = self.data_key(sealed).await?;
        let mut blob = decode(&sealed.nonce)?;
        blob.extend(decode(&sealed.ciphertext)?);
        let plain = open(&aead_key(&data_key)?, patient.as_str().as_bytes(), &blob);
        data_key.fill(0);
        let plain = plain?;
        parse_phi(&plain)
    }

    /// The same record with its data key wrapped under the current master key; the
    /// ciphertext is unchanged. Already current: returned as is.
    pub async fn rewrap(&self, sealed: &SealedPhi) -> Result<SealedPhi> {
        if sealed.key_id == self.wrapper.current_key_id() {
            return Ok(sealed.clone());
        }
        let mut data_key = self.data_key(sealed).await?;
        let wrapped = self.wrapper.wrap(&data_key).await;
        data_key.fill(0);
        let (key_id, wrapped) = wrapped?;
        Ok(SealedPhi {
            key_id,
            wrapped_key: B64.encode(wrapped),
            ..sealed.clone()
        })
    }

    /// Keyed hash of an MRN for lookups: equal MRNs (ignoring case and surrounding
    /// space) hash alike; without the key the hash reveals nothing and cannot be
    /// brute-forced over the small MRN space.
    pub fn mrn_hash(&self, mrn: &str) -> String {
        let normal = mrn.trim().to_uppercase();
        hex::encode(hmac::sign(&self.lookup, normal.as_bytes()).as_ref())
    }

    async fn data_key(&self, sealed: &SealedPhi) -> Result<Vec<u8>> {
        self.wrapper
            .unwrap(&sealed.key_id, &decode(&sealed.wrapped_key)?)
            .await
    }
}

fn decode(b64: &str) -> Result<Vec<u8>> {
    B64.decode(b64)
        .map_err(|e| PhiError::Malformed(e.to_string()))
}

/// PHI as the bytes that get sealed: a fixed, versioned field order (length-prefixed).
fn phi_bytes(phi: &PatientPhi) -> Result<Vec<u8>> {
    let mut out = vec![1u8];
    for field in [&phi.name, &phi.date_of_birth, &phi.mrn, &phi.contact] {
        let len = u32::try_from(field.len()).map_err(|_| PhiError::Encrypt)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    Ok(out)
}

fn parse_phi(bytes: &[u8]) -> Result<PatientPhi> {
    let malformed = || PhiError::Malformed("sealed PHI layout".into());
    let (&version, mut rest) = bytes.split_first().ok_or_else(malformed)?;
    if version != 1 {
        return Err(malformed());
    }
    let mut fields = Vec::with_capacity(4);
    for _ in 0..4 {
        let (len, tail) = rest.split_at_checked(4).ok_or_else(malformed)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| malformed())?) as usize;
        let (value, tail) = tail.split_at_checked(len).ok_or_else(malformed)?;
        fields.push(String::from_utf8(value.to_vec()).map_err(|_| malformed())?);
        rest = tail;
    }
    let [name, date_of_birth, mrn, contact]: [String; 4] =
        fields.try_into().map_err(|_| malformed())?;
    Ok(PatientPhi {
        name,
        date_of_birth,
        mrn,
        contact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(id: &str, key: u8, previous: &[(&str, u8)]) -> KeyConfig {
        KeyConfig {
            key_id: id.into(),
            master_key_hex: Some(hex::encode([key; 32]).into()),
            previous_keys: previous
                .iter()
                .map(|(id, k)| format!("{id}:{}", hex::encode([*k; 32])).into())
                .collect(),
            lookup_key_hex: Some(hex::encode([9u8; 32]).into()),
            ..KeyConfig::default()
        }
    }

    fn phi() -> PatientPhi {
        PatientPhi {
            name: "Zebulon Quartermaine".into(),
            date_of_birth: "1941-03-07".into(),
            mrn: "MRN-998877".into(),
            contact: "+15550001111".into(),
        }
    }

    #[tokio::test]
    async fn sealed_phi_opens_to_the_same_fields_and_hides_them() {
        let vault = PhiVault::from_config(&cfg("k1", 1, &[])).expect("vault");
        let patient = PatientId::random();
        let sealed = vault.seal(&patient, &phi()).await.expect("seal");
        assert_eq!(sealed.key_id, "k1");
        let stored = format!("{sealed:?}");
        for secret in ["Zebulon", "MRN-998877", "1941-03-07", "5550001111"] {
            assert!(!stored.contains(secret));
        }
        assert_eq!(vault.open(&patient, &sealed).await.expect("open"), phi());
    }

    #[tokio::test]
    async fn phi_sealed_for_one_patient_does_not_open_for_another() {
        let vault = PhiVault::from_config(&cfg("k1", 1, &[])).expect("vault");
        let sealed = vault
            .seal(&PatientId::random(), &phi())
            .await
            .expect("seal");
        assert!(matches!(
            vault.open(&PatientId::random(), &sealed).await,
            Err(PhiError::Decrypt)
        ));
    }

    #[tokio::test]
    async fn rewrap_moves_records_to_the_new_key_and_the_old_key_can_go() {
        let patient = PatientId::random();
        let old = PhiVault::from_config(&cfg("k1", 1, &[])).expect("vault");
        let sealed = old.seal(&patient, &phi()).await.expect("seal");
        let both = PhiVault::from_config(&cfg("k2", 2, &[("k1", 1)])).expect("vault");
        let rewrapped = both.rewrap(&sealed).await.expect("rewrap");
        assert_eq!(rewrapped.key_id, "k2");
        assert_eq!(rewrapped.ciphertext, sealed.ciphertext);
        let new_only = PhiVault::from_config(&cfg("k2", 2, &[])).expect("vault");
        assert_eq!(
            new_only.open(&patient, &rewrapped).await.expect("open"),
            phi()
        );
        assert!(matches!(
            new_only.open(&patient, &sealed).await,
            Err(PhiError::UnknownKey(_))
        ));
    }

    #[test]
    fn mrn_hash_is_keyed_and_normalised() {
        let a = PhiVault::from_config(&cfg("k1", 1, &[])).expect("vault");
        assert_eq!(a.mrn_hash("mrn-998877 "), a.mrn_hash("MRN-998877"));
        assert_ne!(a.mrn_hash("MRN-998877"), a.mrn_hash("MRN-998878"));
        let mut other = cfg("k1", 1, &[]);
        other.lookup_key_hex = Some(hex::encode([7u8; 32]).into());
        let b = PhiVault::from_config(&other).expect("vault");
        assert_ne!(a.mrn_hash("MRN-998877"), b.mrn_hash("MRN-998877"));
    }

    #[test]
    fn key_config_debug_shows_no_key() {
        let shown = format!("{:?}", cfg("k1", 1, &[("k0", 3)]));
        assert!(!shown.contains(&hex::encode([1u8; 32])));
        assert!(!shown.contains(&hex::encode([3u8; 32])));
    }
}
