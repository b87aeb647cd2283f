//! The audit trail (docs/security.md, "Audit trail"): who did what to which patient's data, and
//! whether it was allowed. Events form a hash chain — each hash covers the event's
//! canonical encoding and the previous event's hash — so an edited, deleted or reordered
//! record is detectable by [`verify`] without trusting the store.
//!
//! Two seals exist (`docs/security.md`, "Audit trail"):
//! * `cw-audit-v1`, plain SHA-256 — the chains written before keyed sealing. Anyone who
//!   can write the store can recompute it, so v1 records still verify as what they are,
//!   but a v1 record *after* a keyed one is a downgrade and a fault.
//! * `cw-audit-v2`, HMAC-SHA-256 under an [`AuditKeys`] key named in the record
//!   (`key_id`). Without the key an edit cannot be re-sealed.
//!
//! Truncating the newest records leaves a valid chain; signed [`Checkpoint`]s of the
//! head, kept outside the store, make it visible ([`verify_checkpoints`]).

mod checkpoint;
mod keys;

pub use checkpoint::{Checkpoint, verify_checkpoints};
pub use keys::{AuditKeyError, AuditKeys};

use crate::PatientId;
use crate::time::Nanos;
use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a request ended, as far as access to data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditOutcome {
    /// Recorded before a change is made, so no write happens unaudited.
    Attempt,
    Allowed,
    /// Authentication or authorization refused the request.
    Denied,
    /// The request was allowed but failed (bad input, store error).
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attempt => "attempt",
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// What the caller records; the store assigns `seq` and links the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub at_ns: Nanos,
    /// User id, or `anonymous` when no valid token was presented.
    pub actor: String,
    /// `doctor`, `admin`, `ops` or empty when unauthenticated.
    pub role: String,
    /// The operation, e.g. `GET /v1/patients/{id}/thresholds` or `break_glass`.
    pub action: String,
    /// The concrete resource, e.g. the request path.
    pub resource: String,
    pub patient: Option<PatientId>,
    pub outcome: AuditOutcome,
    /// HTTP status (0 for an `attempt`).
    pub status: u16,
    /// Peer address of the request.
    pub source: String,
    pub request_id: String,
    /// Why (break-glass access); empty otherwise.
    #[serde(default)]
    pub reason: String,
}

/// An entry as stored: its place in the chain and the hashes that seal it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub seq: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The key that sealed it (`cw-audit-v2`); absent on `cw-audit-v1` records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// Seals `entry` as event `seq` after the event whose hash is `prev_hash`, with the
    /// ring's current key.
    pub fn seal(entry: AuditEntry, seq: u64, prev_hash: &str, keys: &AuditKeys) -> Self {
        let key_id = keys.current_id().to_owned();
        let hash = keyed_hash(keys, &key_id, &entry, seq, prev_hash)
            .unwrap_or_else(|| unreachable_current_key(&key_id));
        Self {
            seq,
            entry,
            key_id: Some(key_id),
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// The hash this event's contents and link call for if it were at `seq` (differs
    /// from `hash` if edited). `Err(key id)` when it was sealed with a key `keys` lacks.
    fn hash_at(&self, seq: u64, keys: Option<&AuditKeys>) -> Result<String, String> {
        match &self.key_id {
            None => Ok(chain_hash(&self.entry, seq, &self.prev_hash)),
            Some(id) => keys
                .and_then(|k| keyed_hash(k, id, &self.entry, seq, &self.prev_hash))
                .ok_or_else(|| id.clone()),
        }
    }
}

/// `AuditKeys` always holds its current key; an id it lacks cannot be constructed.
fn unreachable_current_key(id: &str) -> String {
    panic!("audit key ring lacks its own current key {id:?}")
}

/// Feeds the canonical encoding of (seq, entry): every field in a fixed order, each
/// length-prefixed (u32 BE), integers as big-endian bytes, so no two different events
/// encode alike (no JSON key-order or whitespace ambiguity).
fn encode(h: &mut impl sha2::digest::Update, entry: &AuditEntry, seq: u64) {
    h.update(&seq.to_be_bytes());
    h.update(&entry.at_ns.to_be_bytes());
    for field in [
        entry.actor.as_str(),
        entry.role.as_str(),
        entry.action.as_str(),
        entry.resource.as_str(),
        entry.patient.as_ref().map(|p| p.as_str()).unwrap_or(""),
        entry.outcome.as_str(),
        entry.source.as_str(),
        entry.request_id.as_str(),
        entry.reason.as_str(),
    ] {
        h.update(&(field.len() as u32).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.update(&entry.status.to_be_bytes());
}

/// The `cw-audit-v1` hash: SHA-256 over "cw-audit-v1", the canonical encoding and the
/// previous hash. Unkeyed — kept to verify chains written before keyed sealing.
pub fn chain_hash(entry: &AuditEntry, seq: u64, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    Digest::update(&mut h, b"cw-audit-v1");
    encode(&mut h, entry, seq);
    Digest::update(&mut h, prev_hash.as_bytes());
    hex::encode(h.finalize())
}

/// The `cw-audit-v2` hash: HMAC-SHA-256 under key `key_id` over "cw-audit-v2", the key
/// id (length-prefixed), the canonical encoding and the previous hash. `None` when the
/// ring lacks the key.
fn keyed_hash(
    keys: &AuditKeys,
    key_id: &str,
    entry: &AuditEntry,
    seq: u64,
    prev_hash: &str,
) -> Option<String> {
    let mut mac = keys.mac(key_id)?;
    mac.update(b"cw-audit-v2");
    mac.update(&(key_id.len() as u32).to_be_bytes());
    mac.update(key_id.as_bytes());
    encode(&mut mac, entry, seq);
    mac.update(prev_hash.as_bytes());
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// One way the chain was tampered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainFault {
    /// The record's contents no longer match its hash.
    Edited { seq: u64 },
    /// A record is missing before `seq` (a gap in the sequence, or a link to nothing).
    Deleted { before_seq: u64 },
    /// The record at `seq` was moved: it links to a record that is not its predecessor.
    Reordered { seq: u64 },
    /// An unkeyed (`cw-audit-v1`) record after a keyed one: re-sealed by someone without
    /// the key.
    Unkeyed { seq: u64 },
    /// Sealed with a key the verifier was not given: it cannot be checked.
    UnknownKey { seq: u64, key_id: String },
    /// A checkpoint names a head the store no longer reaches: the newest records were cut off.
    Truncated { checkpoint_seq: u64, head_seq: u64 },
    /// The stored record at a checkpoint's seq is not the one the checkpoint signed:
    /// the chain was rewritten and re-sealed.
    Rewritten { seq: u64 },
    /// A checkpoint whose signature does not verify (forged or edited).
    ForgedCheckpoint { seq: u64 },
}

impl std::fmt::Display for ChainFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq } => write!(f, "record {seq} was edited (hash mismatch)"),
            Self::Deleted { before_seq } => {
                write!(f, "a record before {before_seq} was deleted")
            }
            Self::Reordered { seq } => write!(f, "record {seq} was moved (chain out of order)"),
            Self::Unkeyed { seq } => write!(
                f,
                "record {seq} is unkeyed after keyed records (re-sealed without the audit key)"
            ),
            Self::UnknownKey { seq, key_id } => write!(
                f,
                "record {seq} is sealed with audit key {key_id:?}, which is not configured \
                 (add it to storage.audit.previous_keys)"
            ),
            Self::Truncated {
                checkpoint_seq,
                head_seq,
            } => write!(
                f,
                "a checkpoint names record {checkpoint_seq} but the log ends at {head_seq} \
                 (the newest records were cut off)"
            ),
            Self::Rewritten { seq } => write!(
                f,
                "record {seq} differs from the one its checkpoint signed (chain rewritten)"
            ),
            Self::ForgedCheckpoint { seq } => {
                write!(f, "the checkpoint of record {seq} has an invalid signature")
            }
        }
    }
}

/// How far from its stored seq a moved record is looked for.
const MOVE_WINDOW: u64 = 1_000;

/// Checks events read in `seq` order (as stored), keyed records against `keys`. Returns
/// every fault found; empty means the chain is intact. Truncating the newest records is
/// not detectable from the chain alone: see [`verify_checkpoints`].
pub fn verify(events: &[AuditEvent], keys: Option<&AuditKeys>) -> Vec<ChainFault> {
    let known: std::collections::HashSet<&str> = events.iter().map(|e| e.hash.as_str()).collect();
    let mut moved_hashes = std::collections::HashSet::new();
    let mut faults = Vec::new();
    let mut prev: Option<&AuditEvent> = None;
    let mut keyed_seen = false;
    for event in events {
        let (expected_seq, expected_prev) = match prev {
            Some(p) => (p.seq + 1, p.hash.as_str()),
            None => (1, GENESIS_HASH),
        };
        prev = Some(event);
        if event.key_id.is_some() {
            keyed_seen = true;
        } else if keyed_seen {
            faults.push(ChainFault::Unkeyed { seq: event.seq });
            continue;
        }
        let expected = match event.hash_at(event.seq, keys) {
            Ok(hash) => hash,
            Err(key_id) => {
                faults.push(ChainFault::UnknownKey {
                    seq: event.seq,
                    key_id,
                });
                continue;
            }
        };
        if expected != event.hash {
            // A record whose seq was changed to move it still seals correctly under the
            // seq it was written with: that is a move, not an edit of its contents.
            let moved = (event.seq.saturating_sub(MOVE_WINDOW).max(1)..=event.seq + MOVE_WINDOW)
                .any(|s| s != event.seq && event.hash_at(s, keys).as_ref() == Ok(&event.hash));
            if moved {
                moved_hashes.insert(event.hash.as_str());
            }
            faults.push(if moved {
                ChainFault::Reordered { seq: event.seq }
            } else {
                ChainFault::Edited { seq: event.seq }
            });
        } else if event.seq == expected_seq && moved_hashes.contains(event.prev_hash.as_str()) {
            // Its predecessor was moved away and is reported already.
        } else if event.prev_hash != expected_prev || event.seq != expected_seq {
            let links_to_known =
                event.prev_hash == GENESIS_HASH || known.contains(event.prev_hash.as_str());
            if event.seq > expected_seq || !links_to_known {
                faults.push(ChainFault::Deleted {
                    before_seq: event.seq,
                });
            } else {
                faults.push(ChainFault::Reordered { seq: event.seq });
            }
        }
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u16) -> AuditEntry {
        AuditEntry {
            at_ns: 1_700_000_000_000_000_000 + i64::from(n),
            actor: "dr-1".into(),
            role: "doctor".into(),
            action: "GET /v1/patients/{id}/thresholds".into(),
            resource: format!("/v1/patients/p-{n}/thresholds"),
            patient: Some(PatientId::parse(&format!("p-{n}")).expect("valid id")),
            outcome: AuditOutcome::Allowed,
            status: 200,
            source: "127.0.0.1:5000".into(),
            request_id: format!("req-{n}"),
            reason: String::new(),
        }
    }

    fn keys() -> AuditKeys {
        AuditKeys::new("k1", &[7; 32]).expect("keys")
    }

    fn chain(n: u16) -> Vec<AuditEvent> {
        chain_with(n, &keys())
    }

    fn chain_with(n: u16, keys: &AuditKeys) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 1..=n {
            let prev = out
                .last()
                .map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone());
            out.push(AuditEvent::seal(entry(i), u64::from(i), &prev, keys));
        }
        out
    }

    /// A chain as written before keyed sealing (`cw-audit-v1`).
    fn unkeyed_chain(n: u16) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 1..=n {
            let prev = out
                .last()
                .map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone());
            let hash = chain_hash(&entry(i), u64::from(i), &prev);
            out.push(AuditEvent {
                seq: u64::from(i),
                entry: entry(i),
                key_id: None,
                prev_hash: prev,
                hash,
            });
        }
        out
    }

    fn verify(events: &[AuditEvent]) -> Vec<ChainFault> {
        super::verify(events, Some(&keys()))
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert!(verify(&chain(5)).is_empty());
    }

    #[test]
    fn an_edited_field_is_found() {
        let mut events = chain(5);
        events[2].entry.actor = "someone-else".into();
        assert_eq!(verify(&events), vec![ChainFault::Edited { seq: 3 }]);
    }

    #[test]
    fn a_deleted_record_is_found() {
        let mut events = chain(5);
        events.remove(2);
        assert_eq!(verify(&events), vec![ChainFault::Deleted { before_seq: 4 }]);
    }

    #[test]
    fn two_swapped_records_are_found_as_moved() {
        let mut events = chain(5);
        // Swap the seq numbers of records 2 and 3, then read in seq order again.
        events[1].seq = 3;
        events[2].seq = 2;
        events.sort_by_key(|e| e.seq);
        let faults = verify(&events);
        assert!(
            faults.contains(&ChainFault::Reordered { seq: 2 }),
            "{faults:?}"
        );
        assert!(
            faults.contains(&ChainFault::Reordered { seq: 3 }),
            "{faults:?}"
        );
        assert!(
            !faults
                .iter()
                .any(|f| matches!(f, ChainFault::Edited { .. })),
            "{faults:?}"
        );
    }

    #[test]
    fn recomputing_a_hash_after_an_edit_still_breaks_the_next_link() {
        let mut events = chain(4);
        events[1].entry.outcome = AuditOutcome::Denied;
        events[1].hash = events[1].hash_at(2, Some(&keys())).expect("key");
        assert_eq!(verify(&events), vec![ChainFault::Deleted { before_seq: 3 }]);
    }

    #[test]
    fn an_unkeyed_chain_written_before_keys_still_verifies_as_v1() {
        assert!(verify(&unkeyed_chain(5)).is_empty());
        assert!(super::verify(&unkeyed_chain(5), None).is_empty());
    }

    #[test]
    fn keyed_events_may_follow_an_unkeyed_chain() {
        let mut events = unkeyed_chain(3);
        let prev = events[2].hash.clone();
        events.push(AuditEvent::seal(entry(4), 4, &prev, &keys()));
        assert!(verify(&events).is_empty());
    }

    #[test]
    fn an_edit_re_sealed_without_the_key_is_found() {
        let mut events = chain(5);
        events[2].entry.outcome = AuditOutcome::Denied;
        // The insider knows the algorithm but not the key: a wrong key, or no key at all.
        let guess = AuditKeys::new("k1", &[8; 32]).expect("keys");
        let prev = events[1].hash.clone();
        events[2] = AuditEvent::seal(events[2].entry.clone(), 3, &prev, &guess);
        assert_eq!(
            verify(&events),
            vec![
                ChainFault::Edited { seq: 3 },
                ChainFault::Deleted { before_seq: 4 }
            ]
        );

        let mut downgraded = chain(5);
        for i in 2..5 {
            let prev = downgraded[i - 1].hash.clone();
            let e = &mut downgraded[i];
            e.key_id = None;
            e.prev_hash = prev;
            e.hash = chain_hash(&e.entry, e.seq, &e.prev_hash);
        }
        assert_eq!(
            verify(&downgraded),
            vec![
                ChainFault::Unkeyed { seq: 3 },
                ChainFault::Unkeyed { seq: 4 },
                ChainFault::Unkeyed { seq: 5 }
            ]
        );
    }

    #[test]
    fn events_sealed_before_a_rotation_verify_with_the_previous_key() {
        let old = keys();
        let mut events = chain_with(3, &old);
        let new = AuditKeys::new("k2", &[9; 32])
            .and_then(|k| k.with_previous("k1", &[7; 32]))
            .expect("keys");
        let prev = events[2].hash.clone();
        events.push(AuditEvent::seal(entry(4), 4, &prev, &new));
        assert_eq!(events[3].key_id.as_deref(), Some("k2"));
        assert!(super::verify(&events, Some(&new)).is_empty());
        let without_old = AuditKeys::new("k2", &[9; 32]).expect("keys");
        assert_eq!(
            super::verify(&events, Some(&without_old))[0],
            ChainFault::UnknownKey {
                seq: 1,
                key_id: "k1".into()
            }
        );
    }

    #[test]
    fn a_checkpoint_beyond_the_stored_head_reveals_a_truncation() {
        let events = chain(6);
        let checkpoints = [
            Checkpoint::sign(&events[2], 1, &keys()),
            Checkpoint::sign(&events[4], 2, &keys()),
        ];
        assert!(verify_checkpoints(&events, &checkpoints, &keys()).is_empty());
        assert_eq!(
            verify_checkpoints(&events[..3], &checkpoints, &keys()),
            vec![ChainFault::Truncated {
                checkpoint_seq: 5,
                head_seq: 3
            }]
        );
    }

    #[test]
    fn a_rewritten_chain_disagrees_with_its_checkpoints() {
        let events = chain(4);
        let checkpoints = [Checkpoint::sign(&events[3], 1, &keys())];
        let rewritten = unkeyed_chain(4);
        assert!(
            verify(&rewritten).is_empty(),
            "the rewrite is a valid v1 chain"
        );
        assert_eq!(
            verify_checkpoints(&rewritten, &checkpoints, &keys()),
            vec![ChainFault::Rewritten { seq: 4 }]
        );
    }

    #[test]
    fn a_checkpoint_forged_without_the_key_is_found() {
        let events = chain(4);
        let mut forged = Checkpoint::sign(&events[1], 1, &keys());
        forged.seq = 9;
        assert_eq!(
            verify_checkpoints(&events, &[forged], &keys()),
            vec![ChainFault::ForgedCheckpoint { seq: 9 }]
        );
    }
}
