//! Counters a service exports as metrics: what the bus dropped and why. Only the bus's
//! events (`events.rs`) move them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct BusStats {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    /// Messages that failed to open (wrong key, tampered, malformed body, an envelope
    /// version this build does not know): dropped.
    pub rejected: AtomicU64,
    /// Gaps in a publisher's sequence numbers: PUB/SUB dropped them (slow subscriber).
    pub lost: AtomicU64,
    /// Already-seen message ids (a PUSH resent after a timeout): dropped.
    pub duplicates: AtomicU64,
    /// PUSH with no reader: the caller keeps the message (the store is the source of truth).
    pub send_failed: AtomicU64,
    /// Re-resolutions of an endpoint's DNS name that failed; its last peers were kept.
    pub resolve_failed: AtomicU64,
    /// Peers connected now, a gauge (`Links`): summed over the sockets sharing these stats.
    pub peers: AtomicU64,
}

impl BusStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
