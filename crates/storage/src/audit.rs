//! The audit port: an append-only, hash-chained log (DESIGN §3 `AuditEvent`). There is
//! no update or delete: the port offers none, the embedded file refuses them by trigger,
//! and whatever slips past (someone with raw database access) breaks the chain, which
//! `cw_core::audit::verify` finds.

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::audit::{AuditEntry, AuditEvent};
use cw_core::time::Nanos;

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `entry` as the next event of the chain (next `seq`, linked to the last
    /// event's hash) and returns it sealed. Safe against concurrent appenders in other
    /// processes: exactly one event gets each `seq`.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditEvent>;

    /// Up to `limit` events with `seq >= from_seq`, in `seq` order.
    async fn audit_events(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditEvent>>;

    /// The newest `allowed` event of `actor` doing `action` on `patient` at or after
    /// `since` (break-glass grants are looked up this way).
    async fn latest_audit(
        &self,
        actor: &str,
        action: &str,
        patient: &PatientId,
        since: Nanos,
    ) -> Result<Option<AuditEvent>>;
}

/// What [`verify_chain`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainReport {
    pub events: u64,
    /// The newest (seq, hash): keep it elsewhere to detect truncation later.
    pub head: Option<(u64, String)>,
    pub faults: Vec<cw_core::audit::ChainFault>,
}

/// Reads the whole log in `seq` order and checks the chain (`cardiowatch audit verify`).
pub async fn verify_chain(store: &dyn AuditStore) -> Result<ChainReport> {
    const PAGE: usize = 10_000;
    let mut events = Vec::new();
    let mut from = 0;
    loop {
        let page = store.audit_events(from, PAGE).await?;
        let full = page.len() == PAGE;
        if let Some(last) = page.last() {
            from = last.seq + 1;
        }
        events.extend(page);
        if !full {
            break;
        }
    }
    Ok(ChainReport {
        events: events.len() as u64,
        head: events.last().map(|e| (e.seq, e.hash.clone())),
        faults: cw_core::audit::verify(&events),
    })
}
