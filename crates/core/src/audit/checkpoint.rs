//! Signed checkpoints of the chain's head, written to a sink outside the store
//! (`cw_storage::audit_checkpoints`). A checkpoint is the appender's statement "on
//! `at_ns` the chain reached `seq` with hash `hash`", MAC'd with the audit key. Whoever
//! cuts off the newest records, or rewrites the chain, cannot make the store agree with a
//! checkpoint again, nor forge one without the key.

use super::keys::AuditKeys;
use super::{AuditEvent, ChainFault};
use crate::time::Nanos;
use hmac::Mac;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    pub at_ns: Nanos,
    pub key_id: String,
    /// HMAC-SHA-256 (hex) of the fields above under `key_id`.
    pub mac: String,
}

impl Checkpoint {
    /// Signs the head `event` with the ring's current key.
    pub fn sign(event: &AuditEvent, at_ns: Nanos, keys: &AuditKeys) -> Self {
        let key_id = keys.current_id().to_owned();
        let mac = mac_hex(keys, &key_id, event.seq, &event.hash, at_ns).unwrap_or_default();
        Self {
            seq: event.seq,
            hash: event.hash.clone(),
            at_ns,
            key_id,
            mac,
        }
    }

    /// Whether the signature holds (`None`: the ring lacks its key).
    fn signature_holds(&self, keys: &AuditKeys) -> Option<bool> {
        let mut mac = keys.mac(&self.key_id)?;
        feed(&mut mac, &self.key_id, self.seq, &self.hash, self.at_ns);
        let given = hex::decode(&self.mac).ok()?;
        Some(mac.verify_slice(&given).is_ok())
    }
}

fn feed(mac: &mut super::keys::AuditMac, key_id: &str, seq: u64, hash: &str, at_ns: Nanos) {
    mac.update(b"cw-audit-checkpoint-v1");
    mac.update(&(key_id.len() as u32).to_be_bytes());
    mac.update(key_id.as_bytes());
    mac.update(&seq.to_be_bytes());
    mac.update(&(hash.len() as u32).to_be_bytes());
    mac.update(hash.as_bytes());
    mac.update(&at_ns.to_be_bytes());
}

fn mac_hex(keys: &AuditKeys, key_id: &str, seq: u64, hash: &str, at_ns: Nanos) -> Option<String> {
    let mut mac = keys.mac(key_id)?;
    feed(&mut mac, key_id, seq, hash, at_ns);
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// Compares the stored `events` (in `seq` order) with the checkpoints kept outside the
/// store. A checkpoint beyond the stored head is a truncation (reported once, for the
/// furthest one); a stored record whose hash is not the signed one is a rewrite. A
/// checkpoint whose record is missing inside the log is left to [`super::verify`] (a
/// deletion). Checkpoints under a key the ring lacks, or with a bad signature, count as
/// faults: they cannot vouch for anything.
pub fn verify_checkpoints(
    events: &[AuditEvent],
    checkpoints: &[Checkpoint],
    keys: &AuditKeys,
) -> Vec<ChainFault> {
    let by_seq: std::collections::HashMap<u64, &str> =
        events.iter().map(|e| (e.seq, e.hash.as_str())).collect();
    let head_seq = events.last().map_or(0, |e| e.seq);
    let mut faults = Vec::new();
    let mut furthest_beyond: Option<u64> = None;
    for cp in checkpoints {
        match cp.signature_holds(keys) {
            None => {
                faults.push(ChainFault::UnknownKey {
                    seq: cp.seq,
                    key_id: cp.key_id.clone(),
                });
                continue;
            }
            Some(false) => {
                faults.push(ChainFault::ForgedCheckpoint { seq: cp.seq });
                continue;
            }
            Some(true) => {}
        }
        if cp.seq > head_seq {
            furthest_beyond = furthest_beyond.max(Some(cp.seq));
        } else if let Some(stored) = by_seq.get(&cp.seq)
            && *stored != cp.hash
        {
            faults.push(ChainFault::Rewritten { seq: cp.seq });
        }
    }
    if let Some(checkpoint_seq) = furthest_beyond {
        faults.push(ChainFault::Truncated {
            checkpoint_seq,
            head_seq,
        });
    }
    faults
}
