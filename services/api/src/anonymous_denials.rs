//! Anonymous refusals, aggregated in the audit chain (issue 13 #9, docs/security.md).
//!
//! Every audit record is an fsync'd append, so an unauthenticated client could make the
//! api write one per request (100 requests made 201 records). A request that presents no
//! valid identity and is refused (401/403, or fails: 404, 422 …) is therefore recorded
//! per source address per window: the first one at once, as itself (so the refusal is
//! visible immediately), and the rest of the window as one summary record with their
//! count when the window ends. Authenticated denials are never aggregated: each names its
//! actor. Sources are bounded: beyond `max_sources` new addresses share one tally.
//!
//! The count is the first word of each record's `reason` (`1 anonymous request denied …`,
//! `37 anonymous requests denied …`): the sum over a source's records is exact.

use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::time::now_ns;
use cw_storage::ApiRecords;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The action of a summary record.
pub const SUMMARY_ACTION: &str = "anonymous_requests_summary";
/// The source of the tally shared by sources beyond `max_sources`.
pub const OTHER_SOURCES: &str = "other";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnonymousDenialsConfig {
    /// Length of a source's window; 0 records every anonymous refusal one by one.
    pub window_s: u64,
    /// Source addresses tallied at once; more share one tally (source `other`).
    pub max_sources: usize,
}

impl Default for AnonymousDenialsConfig {
    fn default() -> Self {
        Self {
            window_s: 60,
            max_sources: 10_000,
        }
    }
}

/// (source address without port, outcome).
type Key = (String, &'static str);

struct Tally {
    /// Refusals after the first in this window, not yet recorded.
    more: u64,
    outcome: AuditOutcome,
    /// The last one's action and status, named in the summary.
    last_action: String,
    last_status: u16,
}

pub struct AnonymousDenials {
    cfg: AnonymousDenialsConfig,
    tallies: Mutex<HashMap<Key, Tally>>,
}

impl AnonymousDenials {
    /// Starts the task that writes each window's summaries (and, at shutdown, the last).
    pub fn start(
        cfg: AnonymousDenialsConfig,
        records: Arc<dyn ApiRecords>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let denials = Arc::new(Self {
            cfg,
            tallies: Mutex::new(HashMap::new()),
        });
        if denials.cfg.window_s > 0 {
            let task = denials.clone();
            tokio::spawn(async move {
                let window = Duration::from_secs(task.cfg.window_s);
                let mut tick =
                    tokio::time::interval_at(tokio::time::Instant::now() + window, window);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    let last = tokio::select! {
                        _ = shutdown.cancelled() => true,
                        _ = tick.tick() => false,
                    };
                    task.flush(records.as_ref()).await;
                    if last {
                        return;
                    }
                }
            });
        }
        denials
    }

    /// Whether `entry` (an anonymous request's outcome, `Denied` or `Failed`) is written
    /// now: the first of its source's window is, with its count in `reason`; later ones
    /// are only counted, for the window's summary.
    pub fn admit(&self, entry: &mut AuditEntry) -> bool {
        if self.cfg.window_s == 0 {
            return true;
        }
        let mut tallies = self.lock();
        let mut key = (address(&entry.source).to_owned(), entry.outcome.as_str());
        if !tallies.contains_key(&key) && tallies.len() >= self.cfg.max_sources {
            key.0 = OTHER_SOURCES.to_owned();
        }
        if let Some(tally) = tallies.get_mut(&key) {
            tally.more += 1;
            tally.last_action.clone_from(&entry.action);
            tally.last_status = entry.status;
            return false;
        }
        tallies.insert(
            key,
            Tally {
                more: 0,
                outcome: entry.outcome,
                last_action: entry.action.clone(),
                last_status: entry.status,
            },
        );
        entry.reason = format!(
            "1 anonymous request {} from this source; more within {} s are summarised",
            entry.outcome.as_str(),
            self.cfg.window_s
        );
        true
    }

    /// Writes one summary per tally with refusals still unrecorded, and ends every
    /// window. A summary that cannot be written is kept (and retried next window).
    async fn flush(&self, records: &dyn ApiRecords) {
        let ended: Vec<(Key, Tally)> = self.lock().drain().collect();
        for ((source, outcome), tally) in ended {
            if tally.more == 0 {
                continue;
            }
            let entry = AuditEntry {
                at_ns: now_ns(),
                actor: "anonymous".into(),
                role: String::new(),
                action: SUMMARY_ACTION.into(),
                resource: String::new(),
                patient: None,
                outcome: tally.outcome,
                status: tally.last_status,
                source: source.clone(),
                request_id: String::new(),
                reason: format!(
                    "{} anonymous requests {outcome} from this source in {} s after the first; last: {} {}",
                    tally.more, self.cfg.window_s, tally.last_action, tally.last_status
                ),
            };
            if let Err(e) = records.append_audit(&entry).await {
                tracing::error!(error = %e, "audit write failed for an anonymous-refusal summary; kept for the next window");
                let more = tally.more;
                self.lock()
                    .entry((source, outcome))
                    .and_modify(|t| t.more += more)
                    .or_insert(tally);
            } else {
                tracing::warn!(source = %source, count = tally.more, outcome, "anonymous requests refused (summary)");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Tally>> {
        self.tallies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The address of a `ip:port` source (`[v6]:port` too); the whole string otherwise.
fn address(source: &str) -> &str {
    source
        .parse::<std::net::SocketAddr>()
        .map(|_| source.rsplit_once(':').map_or(source, |(ip, _)| ip))
        .unwrap_or(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(source: &str, outcome: AuditOutcome) -> AuditEntry {
        AuditEntry {
            at_ns: 0,
            actor: "anonymous".into(),
            role: String::new(),
            action: "GET /v1/patients".into(),
            resource: "/v1/patients".into(),
            patient: None,
            outcome,
            status: 401,
            source: source.into(),
            request_id: "r".into(),
            reason: String::new(),
        }
    }

    fn denials(window_s: u64, max_sources: usize) -> AnonymousDenials {
        AnonymousDenials {
            cfg: AnonymousDenialsConfig {
                window_s,
                max_sources,
            },
            tallies: Mutex::new(HashMap::new()),
        }
    }

    #[test]
    fn the_first_refusal_of_a_source_is_written_and_the_rest_counted() {
        let d = denials(60, 10);
        let mut first = refused("10.0.0.1:5000", AuditOutcome::Denied);
        assert!(d.admit(&mut first));
        assert!(first.reason.starts_with("1 "), "{}", first.reason);
        // Another port of the same address is the same source.
        assert!(!d.admit(&mut refused("10.0.0.1:5001", AuditOutcome::Denied)));
        assert!(d.admit(&mut refused("10.0.0.1:5001", AuditOutcome::Failed)));
        assert!(d.admit(&mut refused("[::1]:5001", AuditOutcome::Denied)));
        assert_eq!(d.lock()[&("10.0.0.1".to_owned(), "denied")].more, 1);
    }

    #[test]
    fn sources_beyond_the_bound_share_one_tally() {
        let d = denials(60, 2);
        assert!(d.admit(&mut refused("10.0.0.1:1", AuditOutcome::Denied)));
        assert!(d.admit(&mut refused("10.0.0.2:1", AuditOutcome::Denied)));
        assert!(d.admit(&mut refused("10.0.0.3:1", AuditOutcome::Denied)));
        assert!(!d.admit(&mut refused("10.0.0.4:1", AuditOutcome::Denied)));
        assert_eq!(d.lock().len(), 3);
        assert_eq!(d.lock()[&(OTHER_SOURCES.to_owned(), "denied")].more, 1);
    }

    #[test]
    fn a_window_of_zero_writes_each_refusal() {
        let d = denials(0, 10);
        for _ in 0..3 {
            assert!(d.admit(&mut refused("10.0.0.1:1", AuditOutcome::Denied)));
        }
    }
}
