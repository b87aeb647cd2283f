//! The audit port: an append-only, hash-chained log (docs/security.md, "Audit trail"). There is
//! no update or delete: the port offers none, the embedded file refuses them by trigger,
//! and whatever slips past (someone with raw database access) breaks the chain — sealed
//! with a key the store does not hold (`audit_sealer.rs`) — or disagrees with the signed
//! checkpoints kept outside the store (`audit_checkpoints.rs`), which [`verify_chain`] finds.

use crate::config::AuditConfig;
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

    /// Removes the events up to `through_seq` from the live log once an archive file
    /// holds them (`audit_archive.rs`), and only when event `through_seq` is still stored
    /// with `through_hash` (what the archive ends with) and a newer event exists: the
    /// live chain then always starts by linking to the archive's last hash, and appends
    /// go on from the live head. Returns how many events left the live log.
    async fn drop_archived_audit(&self, through_seq: u64, through_hash: &str) -> Result<u64>;

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
    /// The newest (seq, hash).
    pub head: Option<(u64, String)>,
    /// Checkpoints read from the sink (0 when none is configured).
    pub checkpoints: usize,
    pub faults: Vec<cw_core::audit::ChainFault>,
}

/// Reads the whole log in `seq` order and checks the chain with the keys of `cfg`, then
/// against its checkpoint sink (`cardiowatch audit verify`). Keyed events with no key
/// configured are faults (they cannot be checked).
pub async fn verify_chain(store: &dyn AuditStore, cfg: &AuditConfig) -> Result<ChainReport> {
    verify_chain_with(store, cfg, Vec::new()).await
}

/// [`verify_chain`] over the events of the archives (`audit_archive::read`, oldest
/// first) followed by the live log, as one chain.
pub async fn verify_chain_with(
    store: &dyn AuditStore,
    cfg: &AuditConfig,
    archived: Vec<AuditEvent>,
) -> Result<ChainReport> {
    let keys = cfg.keys()?;
    const PAGE: usize = 10_000;
    let mut from = archived.last().map_or(0, |e| e.seq + 1);
    let mut events = archived;
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
    let mut faults = cw_core::audit::verify(&events, keys.as_ref());
    let checkpoints = match cfg.checkpoint_sink() {
        Some(sink) => sink.read_all().await?,
        None => Vec::new(),
    };
    if let Some(keys) = &keys {
        faults.extend(cw_core::audit::verify_checkpoints(
            &events,
            &checkpoints,
            keys,
        ));
    }
    Ok(ChainReport {
        events: events.len() as u64,
        head: events.last().map(|e| (e.seq, e.hash.clone())),
        checkpoints: checkpoints.len(),
        faults,
    })
}
