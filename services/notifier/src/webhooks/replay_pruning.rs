//! Forgetting old provider request ids, so the replay guard (`seen_requests`,
//! `cw_storage::ReplayGuard`) cannot grow without bound: once an hour, ids first used
//! more than `webhooks.replay_retention_days` ago are deleted.
//!
//! What that leaves open (docs/security.md, finding 1): Twilio's signed requests carry no
//! time, so a captured reply replayed after the retention is fresh again. It still
//! acknowledges only an alert paged to the same phone that its words name — a code names
//! one page, long resolved by then; a bare `1` only the phone's single open alert.

use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_storage::NotifierRecords;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_secs(3600);

pub fn spawn(records: Arc<dyn NotifierRecords>, retention_days: u64, shutdown: CancellationToken) {
    let retention_ns = i64::try_from(retention_days.saturating_mul(86_400))
        .unwrap_or(i64::MAX)
        .saturating_mul(NANOS_PER_SEC);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let before = now_ns().saturating_sub(retention_ns);
            match records.forget_used_before(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    forgotten = n,
                    retention_days,
                    "old provider request ids forgotten"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "pruning the replay guard failed; next hour retries")
                }
            }
        }
    });
}
