//! Indexes declared in code and created at start (creating an existing index with the
//! same definition is a no-op, so every replica may run this).

use super::map_err;
use crate::ports::Result;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

pub(super) const PATIENTS: &str = "patients";
pub(super) const USERS: &str = "users";
pub(super) const DEVICES: &str = "devices";
pub(super) const POLICIES: &str = "policies";
pub(super) const ALERTS: &str = "alerts";
pub(super) const OPEN_ALERTS: &str = "open_alerts";
pub(super) const DELIVERIES: &str = "deliveries";
pub(super) const AUDIT: &str = "audit_events";
pub(super) const SEEN_REQUESTS: &str = "seen_requests";
/// Per-day report summaries, `_id` = `<patient>:<day_ns>` (`report_days.rs`).
pub(super) const REPORT_DAYS: &str = "report_days";
pub(super) const REFRESH_TOKENS: &str = "refresh_tokens";
/// The field MongoDB's TTL monitor deletes a document by, once its date has passed
/// (docs/operations.md, "Data lifecycle"); a document without it never expires.
pub(super) const EXPIRE_AT: &str = "expire_at";
/// One lease per shard, `_id` = shard (`shard_leases.rs`); no index beyond `_id`.
pub(super) const SHARD_LEASES: &str = "shard_leases";
/// Alert-engine heartbeats, `_id` = engine identity.
pub(super) const ENGINES: &str = "engines";
/// The watchdog's probes, `_id` = synthetic patient (`watchdog_probes.rs`); one row per
/// notifier identity, so no index beyond `_id`.
pub(super) const WATCHDOG_PROBES: &str = "watchdog_probes";

/// (collection, keys, unique). `open_alerts` and `deliveries` need none beyond `_id`:
/// their `_id` is the dedup / idempotency key.
fn declared() -> Vec<(&'static str, Document, bool)> {
    vec![
        // Device auth looks a device up by its token's hash.
        (DEVICES, doc! { "token_sha256": 1 }, false),
        // A doctor's patient list (multikey over the doctors array).
        (PATIENTS, doc! { "doctors": 1 }, false),
        // One document per policy version; the current one is the highest.
        (POLICIES, doc! { "patient": 1, "version": -1 }, true),
        // A patient's alerts, newest first.
        (ALERTS, doc! { "patient": 1, "fired_ns": -1 }, false),
        // Open alerts at engine start and notifier reconcile.
        (ALERTS, doc! { "state": 1 }, false),
        // Alerts resolved since a time, at notifier start (`alerts_resolved_since`).
        (ALERTS, doc! { "state": 1, "resolved_ns": 1 }, false),
        (DELIVERIES, doc! { "alert": 1 }, false),
        // Lookup by the keyed hash of the MRN.
        (PATIENTS, doc! { "mrn_hash": 1 }, false),
        // Pruning the replay guard by age.
        (SEEN_REQUESTS, doc! { "at_ns": 1 }, false),
        // A report's days of one patient.
        (REPORT_DAYS, doc! { "patient": 1, "day_ns": 1 }, false),
        // Break-glass grants: an actor's newest action on a patient.
        (
            AUDIT,
            doc! { "actor": 1, "action": 1, "patient": 1, "at_ns": -1 },
            false,
        ),
    ]
}

/// Collections whose documents expire at their own [`EXPIRE_AT`] (a TTL index with
/// `expireAfterSeconds: 0`): the expiry is computed per document from the config, so a
/// changed retention needs no index change.
const EXPIRING: [&str; 2] = [REFRESH_TOKENS, DELIVERIES];

pub(super) async fn create(db: &Database) -> Result<()> {
    for collection in EXPIRING {
        let model = IndexModel::builder()
            .keys(doc! { EXPIRE_AT: 1 })
            .options(
                IndexOptions::builder()
                    .expire_after(std::time::Duration::ZERO)
                    .build(),
            )
            .build();
        db.collection::<Document>(collection)
            .create_index(model)
            .await
            .map_err(map_err)?;
    }
    for (collection, keys, unique) in declared() {
        let model = IndexModel::builder()
            .keys(keys)
            .options(IndexOptions::builder().unique(unique).build())
            .build();
        db.collection::<Document>(collection)
            .create_index(model)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}
