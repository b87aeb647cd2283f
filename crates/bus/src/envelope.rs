//! The sealed envelope every bus message travels in.
//!
//! ```text
//! byte 0      version (2; see below)
//! byte 1      kind (samples, alert event, live event, config change, vitals)
//! bytes 2..4  key id (u16, big-endian)
//! bytes 4..28 XChaCha20 nonce (random per message)
//! bytes 28..  XChaCha20-Poly1305 ciphertext of the plaintext of that version
//! ```
//! The header and the ZeroMQ topic are authenticated as associated data, so a message
//! cannot be replayed under another kind or onto another shard's topic. The plaintext of
//! each version and each kind's body encoding are in [`crate::codec`].
//!
//! Versions, for rolling upgrades (several releases live on the bus at once):
//! * A change a reader of the current version tolerates needs no new version: adding an
//!   `Option` or `#[serde(default)]` field to a JSON-encoded body (alert events, live
//!   events, config changes). Readers ignore fields they do not know.
//! * Anything else is incompatible and gets a new version byte: the envelope's own
//!   fields, a kind's encoding, the frozen postcard layout of samples, or removing or
//!   retyping a field readers need. (A new enum variant in a JSON body is rejected by
//!   readers that do not know it: release the readers first, as below.)
//! * A reader drops a message whose version it does not know (`unknown version`) and the
//!   socket counts it in `BusStats::rejected`, like every message that does not open.
//! * Rolling out version N+1: (1) release readers that open N and N+1 and still write N;
//!   (2) once every service runs it, switch writers to N+1 (`bus.seal_version`, then the
//!   default of the next release); (3) a later release stops opening N. Version 2 is in
//!   step (1)→(2) now: it opens 1 and 2 and writes 2 unless `bus.seal_version = 1`.

use crate::{BusConfig, BusError, codec};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use cw_core::secret::ExposeSecret;
use rand::RngCore;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::HashMap;

/// The version written unless `bus.seal_version` says otherwise.
pub const VERSION: u8 = 2;
/// Versions this build opens.
pub const READABLE_VERSIONS: [u8; 2] = [1, 2];
const HEADER_LEN: usize = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Sample blocks, ingest → alert-engine and api (PUB/SUB, topic `s/{shard}`).
    Samples = 1,
    /// Alert lifecycle events, alert-engine → notifier (PUSH/PULL).
    AlertEvent = 2,
    /// Derived metrics and alert state for live views, alert-engine → api (PUB/SUB).
    LiveEvent = 3,
    /// Threshold and routing changes, api → alert-engine and notifier (PUB/SUB).
    ConfigChange = 4,
    /// Vital-sign numerics ingest stored, ingest → alert-engine (PUB/SUB on ingest's
    /// sample socket, topic `v/{shard}`: readers of `s/` never receive them).
    Vitals = 5,
}

/// What every message carries besides its body. (Serde derives are for version 1 only.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Random per message; consumers dedupe on it.
    pub id: u128,
    /// Random per publishing socket instance.
    pub publisher: u64,
    /// Per publisher, from 1, for loss counting on PUB/SUB.
    pub seq: u64,
    pub sent_ns: i64,
    pub body: T,
}

/// Seals and opens envelopes with the configured keys.
#[derive(Clone)]
pub struct Sealer {
    current: u16,
    /// The envelope version this sealer writes.
    version: u8,
    keys: HashMap<u16, XChaCha20Poly1305>,
}

fn parse_key(hex_text: &str) -> Result<XChaCha20Poly1305, BusError> {
    let bytes = hex::decode(hex_text.trim()).map_err(|_| BusError::Key("key is not hex".into()))?;
    if bytes.len() != 32 {
        return Err(BusError::Key(format!(
            "key must be 32 bytes, got {}",
            bytes.len()
        )));
    }
    XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| BusError::Key("invalid key".into()))
}

impl Sealer {
    pub fn from_config(cfg: &BusConfig) -> Result<Self, BusError> {
        let current_hex = match (&cfg.key_hex, &cfg.key_file) {
            (Some(hex), _) => hex.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| BusError::Key(format!("cannot read {}: {e}", path.display())))?
                .into(),
            (None, None) => {
                return Err(BusError::Key(
                    "no bus key: set CW_BUS__KEY_HEX or bus.key_file (64 hex characters)".into(),
                ));
            }
        };
        let mut keys = HashMap::new();
        keys.insert(cfg.key_id, parse_key(current_hex.expose_secret())?);
        for entry in &cfg.previous_keys {
            let (id, hex) = entry
                .expose_secret()
                .split_once(':')
                .ok_or_else(|| BusError::Key("previous_keys entries are \"<id>:<hex>\"".into()))?;
            let id: u16 = id
                .parse()
                .map_err(|_| BusError::Key("previous key id is not a number".into()))?;
            keys.entry(id).or_insert(parse_key(hex)?);
        }
        let version = cfg.seal_version.unwrap_or(VERSION);
        if !READABLE_VERSIONS.contains(&version) {
            return Err(BusError::Config(format!(
                "bus.seal_version {version} is not one this build writes ({READABLE_VERSIONS:?})"
            )));
        }
        Ok(Self {
            current: cfg.key_id,
            version,
            keys,
        })
    }

    /// A fresh random key as hex, for dev setups and tests.
    pub fn generate_key_hex() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    pub fn seal<T: Serialize>(
        &self,
        kind: Kind,
        topic: &[u8],
        envelope: &Envelope<T>,
    ) -> Result<Vec<u8>, BusError> {
        let cipher = self
            .keys
            .get(&self.current)
            .ok_or_else(|| BusError::Key("current key missing".into()))?;
        let plain = match self.version {
            1 => codec::encode_v1(envelope)?,
            2 => codec::encode_v2(kind, envelope)?,
            other => {
                return Err(BusError::Config(format!(
                    "no encoder for envelope version {other}"
                )));
            }
        };
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + 16);
        out.push(self.version);
        out.push(kind as u8);
        out.extend_from_slice(&self.current.to_be_bytes());
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        out.extend_from_slice(&nonce);
        let aad = associated_data(&out, topic);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| BusError::Encode("encryption failed".into()))?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a message of the expected kind; anything else is `Rejected`.
    pub fn open<T: DeserializeOwned>(
        &self,
        expected: Kind,
        topic: &[u8],
        message: &[u8],
    ) -> Result<Envelope<T>, BusError> {
        if message.len() < HEADER_LEN + 16 {
            return Err(BusError::Rejected("too short"));
        }
        let (header, sealed) = message.split_at(HEADER_LEN);
        let version = header[0];
        if !READABLE_VERSIONS.contains(&version) {
            return Err(BusError::Rejected("unknown version"));
        }
        if header[1] != expected as u8 {
            return Err(BusError::Rejected("unexpected kind"));
        }
        let key_id = u16::from_be_bytes([header[2], header[3]]);
        let cipher = self
            .keys
            .get(&key_id)
            .ok_or(BusError::Rejected("unknown key id"))?;
        let aad = associated_data(header, topic);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&header[4..HEADER_LEN]),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| BusError::Rejected("authentication failed"))?;
        match version {
            1 => codec::decode_v1(&plain),
            2 => codec::decode_v2(expected, &plain),
            _ => Err(BusError::Rejected("unknown version")),
        }
    }
}

fn associated_data(header: &[u8], topic: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_LEN + topic.len());
    aad.extend_from_slice(&header[..HEADER_LEN.min(header.len())]);
    aad.extend_from_slice(topic);
    aad
}

/// A random u64 / u128 (publisher ids, message ids).
pub fn random_u64() -> u64 {
    rand::rng().next_u64()
}

pub fn random_id() -> u128 {
    (u128::from(rand::rng().next_u64()) << 64) | u128::from(rand::rng().next_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(key_id: u16, hex: &str) -> Sealer {
        Sealer::from_config(&BusConfig {
            key_id,
            key_hex: Some(hex.into()),
            ..BusConfig::default()
        })
        .expect("valid key")
    }

    fn envelope() -> Envelope<String> {
        Envelope {
            id: 7,
            publisher: 1,
            seq: 1,
            sent_ns: 5,
            body: "hello".into(),
        }
    }

    #[test]
    fn sealed_message_opens_with_the_same_key() {
        let s = sealer(1, &Sealer::generate_key_hex());
        let sealed = s.seal(Kind::Samples, b"s/001", &envelope()).expect("seals");
        let opened: Envelope<String> = s.open(Kind::Samples, b"s/001", &sealed).expect("opens");
        assert_eq!(opened, envelope());
    }

    #[test]
    fn body_is_not_readable_on_the_wire() {
        let s = sealer(1, &Sealer::generate_key_hex());
        let sealed = s.seal(Kind::Samples, b"t", &envelope()).expect("seals");
        assert!(!sealed.windows(5).any(|w| w == b"hello"));
    }

    #[test]
    fn wrong_key_tampering_topic_or_kind_are_rejected() {
        let s = sealer(1, &Sealer::generate_key_hex());
        let other = sealer(1, &Sealer::generate_key_hex());
        let sealed = s.seal(Kind::Samples, b"s/001", &envelope()).expect("seals");
        assert!(
            other
                .open::<String>(Kind::Samples, b"s/001", &sealed)
                .is_err()
        );
        assert!(s.open::<String>(Kind::Samples, b"s/002", &sealed).is_err());
        assert!(
            s.open::<String>(Kind::AlertEvent, b"s/001", &sealed)
                .is_err()
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(
            s.open::<String>(Kind::Samples, b"s/001", &tampered)
                .is_err()
        );
        assert!(
            s.open::<String>(Kind::Samples, b"s/001", &sealed[..10])
                .is_err()
        );
    }

    #[test]
    fn previous_keys_still_open_during_rotation() {
        let old_hex = Sealer::generate_key_hex();
        let old = sealer(1, &old_hex);
        let rotated = Sealer::from_config(&BusConfig {
            key_id: 2,
            key_hex: Some(Sealer::generate_key_hex().into()),
            previous_keys: vec![format!("1:{old_hex}").into()],
            ..BusConfig::default()
        })
        .expect("valid keys");
        let sealed = old
            .seal(Kind::ConfigChange, b"c", &envelope())
            .expect("seals");
        assert!(
            rotated
                .open::<String>(Kind::ConfigChange, b"c", &sealed)
                .is_ok()
        );
    }

    fn rejection(result: Result<Envelope<String>, BusError>) -> &'static str {
        match result {
            Err(BusError::Rejected(why)) => why,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn new_messages_carry_version_2() {
        let s = sealer(1, &Sealer::generate_key_hex());
        let sealed = s.seal(Kind::AlertEvent, b"", &envelope()).expect("seals");
        assert_eq!(sealed[0], 2);
        assert_eq!(VERSION, 2);
    }

    #[test]
    fn a_version_this_build_does_not_know_is_rejected() {
        let s = sealer(1, &Sealer::generate_key_hex());
        let sealed = s.seal(Kind::AlertEvent, b"", &envelope()).expect("seals");
        for unknown in [0u8, 3, 255] {
            let mut future = sealed.clone();
            future[0] = unknown;
            assert_eq!(
                rejection(s.open(Kind::AlertEvent, b"", &future)),
                "unknown version"
            );
        }
        // The version byte is authenticated: relabelling a version-2 message as 1 (to
        // have it read with the old layout) fails.
        let mut relabelled = sealed.clone();
        relabelled[0] = 1;
        assert_eq!(
            rejection(s.open(Kind::AlertEvent, b"", &relabelled)),
            "authentication failed"
        );
    }

    #[test]
    fn wrong_kind_and_tampered_body_are_rejected_with_their_reason() {
        let s = sealer(1, &Sealer::generate_key_hex());
        let sealed = s
            .seal(Kind::LiveEvent, b"l/001", &envelope())
            .expect("seals");
        assert_eq!(
            rejection(s.open(Kind::ConfigChange, b"l/001", &sealed)),
            "unexpected kind"
        );
        let mut tampered = sealed.clone();
        tampered[HEADER_LEN + 3] ^= 0x20;
        assert_eq!(
            rejection(s.open(Kind::LiveEvent, b"l/001", &tampered)),
            "authentication failed"
        );
    }

    /// A rolling upgrade from version 1: this build opens what old services write, and
    /// with `seal_version = 1` writes what they open.
    #[test]
    fn version_1_messages_still_open_and_can_still_be_written() {
        let hex = Sealer::generate_key_hex();
        let old_writer = Sealer::from_config(&BusConfig {
            key_id: 1,
            key_hex: Some(hex.clone().into()),
            seal_version: Some(1),
            ..BusConfig::default()
        })
        .expect("valid config");
        let reader = sealer(1, &hex);
        for kind in [
            Kind::Samples,
            Kind::AlertEvent,
            Kind::LiveEvent,
            Kind::ConfigChange,
        ] {
            let sealed = old_writer.seal(kind, b"t", &envelope()).expect("seals");
            assert_eq!(sealed[0], 1);
            let opened: Envelope<String> = reader.open(kind, b"t", &sealed).expect("opens");
            assert_eq!(opened, envelope(), "{kind:?}");
            let by_hand = sealed_as_version_1_did(&hex, kind, b"t");
            let opened: Envelope<String> = reader.open(kind, b"t", &by_hand).expect("opens");
            assert_eq!(opened, envelope(), "{kind:?}");
        }
    }

    /// A message built the way the version-1 release sealed, without this build's code.
    fn sealed_as_version_1_did(key_hex: &str, kind: Kind, topic: &[u8]) -> Vec<u8> {
        let cipher = parse_key(key_hex).expect("valid key");
        let mut out = vec![1, kind as u8, 0, 1];
        out.extend_from_slice(&[9u8; 24]);
        let mut aad = out.clone();
        aad.extend_from_slice(topic);
        let plain = postcard::to_stdvec(&envelope()).expect("encodes");
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&[9u8; 24]),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .expect("encrypts");
        out.extend_from_slice(&sealed);
        out
    }

    #[test]
    fn a_seal_version_this_build_cannot_write_is_a_config_error() {
        let err = Sealer::from_config(&BusConfig {
            key_id: 1,
            key_hex: Some(Sealer::generate_key_hex().into()),
            seal_version: Some(3),
            ..BusConfig::default()
        })
        .err()
        .expect("fails");
        assert!(err.to_string().contains("seal_version 3"), "{err}");
    }

    #[test]
    fn missing_key_is_a_clear_error() {
        let err = Sealer::from_config(&BusConfig::default())
            .err()
            .expect("fails");
        assert!(err.to_string().contains("CW_BUS__KEY_HEX"));
    }
}
