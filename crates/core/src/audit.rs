//! The audit trail (DESIGN §3 `AuditEvent`): who did what to which patient's data, and
//! whether it was allowed. Events form a SHA-256 hash chain — each hash covers the
//! event's canonical encoding and the previous event's hash — so an edited, deleted or
//! reordered record is detectable by [`verify`] without trusting the store.

use crate::PatientId;
use crate::time::Nanos;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a request ended, as far as access to data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
pub struct AuditEvent {
    pub seq: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// Seals `entry` as event `seq` after the event whose hash is `prev_hash`.
    pub fn seal(entry: AuditEntry, seq: u64, prev_hash: &str) -> Self {
        let hash = chain_hash(&entry, seq, prev_hash);
        Self {
            seq,
            entry,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// The hash this event's contents and link call for (differs from `hash` if edited).
    pub fn expected_hash(&self) -> String {
        chain_hash(&self.entry, self.seq, &self.prev_hash)
    }
}

/// SHA-256 over the canonical encoding of (seq, entry) followed by the previous hash.
/// Canonical: every field in a fixed order, each length-prefixed (u32 BE), integers as
/// big-endian bytes, so no two different events encode alike (no JSON key-order or
/// whitespace ambiguity).
pub fn chain_hash(entry: &AuditEntry, seq: u64, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"cw-audit-v1");
    h.update(seq.to_be_bytes());
    h.update(entry.at_ns.to_be_bytes());
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
        h.update((field.len() as u32).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.update(entry.status.to_be_bytes());
    h.update(prev_hash.as_bytes());
    hex::encode(h.finalize())
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
}

impl std::fmt::Display for ChainFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq } => write!(f, "record {seq} was edited (hash mismatch)"),
            Self::Deleted { before_seq } => {
                write!(f, "a record before {before_seq} was deleted")
            }
            Self::Reordered { seq } => write!(f, "record {seq} was moved (chain out of order)"),
        }
    }
}

/// How far from its stored seq a moved record is looked for.
const MOVE_WINDOW: u64 = 1_000;

/// Checks events read in `seq` order (as stored). Returns every fault found; empty means
/// the chain is intact. Truncating the newest records is not detectable from the chain
/// alone: compare the head (`seq`, `hash`) with one kept elsewhere.
pub fn verify(events: &[AuditEvent]) -> Vec<ChainFault> {
    let known: std::collections::HashSet<&str> = events.iter().map(|e| e.hash.as_str()).collect();
    let mut moved_hashes = std::collections::HashSet::new();
    let mut faults = Vec::new();
    let mut prev: Option<&AuditEvent> = None;
    for event in events {
        let (expected_seq, expected_prev) = match prev {
            Some(p) => (p.seq + 1, p.hash.as_str()),
            None => (1, GENESIS_HASH),
        };
        if event.expected_hash() != event.hash {
            // A record whose seq was changed to move it still seals correctly under the
            // seq it was written with: that is a move, not an edit of its contents.
            let moved = (event.seq.saturating_sub(MOVE_WINDOW).max(1)..=event.seq + MOVE_WINDOW)
                .any(|s| {
                    s != event.seq && chain_hash(&event.entry, s, &event.prev_hash) == event.hash
                });
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
        prev = Some(event);
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

    fn chain(n: u16) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 1..=n {
            let prev = out
                .last()
                .map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone());
            out.push(AuditEvent::seal(entry(i), u64::from(i), &prev));
        }
        out
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
        events[1].hash = events[1].expected_hash();
        assert_eq!(verify(&events), vec![ChainFault::Deleted { before_seq: 3 }]);
    }
}
