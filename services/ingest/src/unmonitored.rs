//! The unmonitored-patient alarm (docs/architecture.md, "Shards"): a patient whose
//! device is streaming while no alert-engine holds the lease of the patient's shard for
//! more than `alarm_after_s` raises the "monitoring interrupted" technical alarm, which
//! clears once a lease is live again.
//!
//! Why ingest: the engine that died cannot say so, a surviving engine does not exist
//! when the last one died, and the notifier and api never see samples. Ingest acks every
//! frame, so it knows which patients stream right now, and it must be up for any of
//! them to stream at all; the lease table tells it whether anyone analyses them.

use crate::events::MonitoringInterrupted;
use crate::metrics::IngestMetrics;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{PatientId, shard_of};
use cw_runtime::InternalEvent;
use cw_storage::IngestRecords;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnmonitoredConfig {
    /// Seconds a streaming patient may go without an engine holding its shard before the
    /// high-priority "monitoring interrupted" alarm.
    pub alarm_after_s: u32,
    /// A patient counts as streaming while a block of theirs was stored this recently.
    pub streaming_within_s: u32,
    /// How often the lease table is checked.
    pub check_ms: u64,
}

impl Default for UnmonitoredConfig {
    fn default() -> Self {
        Self {
            alarm_after_s: 15,
            streaming_within_s: 5,
            check_ms: 1_000,
        }
    }
}

/// When each patient's last block was stored (fed by the pipeline).
#[derive(Default)]
pub struct Streaming(Mutex<HashMap<PatientId, Instant>>);

impl Streaming {
    pub fn stored(&self, patient: &PatientId) {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match seen.get_mut(patient) {
            Some(at) => *at = Instant::now(),
            None => {
                seen.insert(patient.clone(), Instant::now());
            }
        }
    }

    /// Patients heard within `within`; older ones are forgotten.
    fn recent(&self, within: Duration) -> Vec<PatientId> {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, at| at.elapsed() <= within);
        seen.keys().cloned().collect()
    }
}

pub struct UnmonitoredWatch {
    records: Arc<dyn IngestRecords>,
    streaming: Arc<Streaming>,
    cfg: UnmonitoredConfig,
    metrics: Arc<IngestMetrics>,
    /// Streaming patients nobody analyses, since when.
    since: HashMap<PatientId, Nanos>,
    /// Patients whose alarm is open.
    raised: HashSet<PatientId>,
}

impl UnmonitoredWatch {
    pub fn new(
        records: Arc<dyn IngestRecords>,
        streaming: Arc<Streaming>,
        cfg: UnmonitoredConfig,
        metrics: Arc<IngestMetrics>,
    ) -> Self {
        Self {
            records,
            streaming,
            cfg,
            metrics,
            since: HashMap::new(),
            raised: HashSet::new(),
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken) {
        // Alarms a previous run raised are ours to clear.
        match self.records.monitoring_interrupted().await {
            Ok(open) => self.raised.extend(open),
            Err(e) => tracing::warn!(error = %e, "open monitoring alarms unreadable"),
        }
        let mut tick = tokio::time::interval(Duration::from_millis(self.cfg.check_ms.max(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => self.round().await,
            }
        }
    }

    async fn round(&mut self) {
        let now = now_ns();
        let leases = match self.records.shard_leases().await {
            Ok(leases) => leases,
            Err(e) => {
                tracing::warn!(error = %e, "shard leases unreadable; unmonitored check skipped");
                return;
            }
        };
        let live: HashSet<u16> = leases
            .iter()
            .filter(|l| l.is_live(now))
            .map(|l| l.shard)
            .collect();
        let within = Duration::from_secs(u64::from(self.cfg.streaming_within_s));
        let streaming = self.streaming.recent(within);
        self.since.retain(|p, _| streaming.contains(p));
        for patient in streaming {
            let shard = shard_of(&patient);
            if live.contains(&shard) {
                self.since.remove(&patient);
                continue;
            }
            // Nobody analysed it since its last lease expired at the latest.
            let expired = leases
                .iter()
                .find(|l| l.shard == shard)
                .map(|l| l.expires_ns);
            self.since
                .entry(patient)
                .or_insert_with(|| expired.filter(|e| *e > 0).unwrap_or(now));
        }
        let limit = i64::from(self.cfg.alarm_after_s) * NANOS_PER_SEC;
        let due: Vec<(PatientId, Nanos)> = self
            .since
            .iter()
            .filter(|(p, since)| now - **since > limit && !self.raised.contains(*p))
            .map(|(p, since)| (p.clone(), *since))
            .collect();
        for (patient, since) in due {
            match self
                .records
                .raise_monitoring_interrupted(&patient, since, now)
                .await
            {
                Ok(alert) => {
                    MonitoringInterrupted {
                        alert: &alert.id,
                        patient: &patient,
                    }
                    .emit(&self.metrics);
                    self.raised.insert(patient);
                }
                Err(e) => {
                    tracing::error!(patient = %patient, error = %e, "monitoring-interrupted alarm not stored; retrying")
                }
            }
        }
        let resumed: Vec<PatientId> = self
            .raised
            .iter()
            .filter(|p| live.contains(&shard_of(p)))
            .cloned()
            .collect();
        for patient in resumed {
            match self
                .records
                .clear_monitoring_interrupted(&patient, now)
                .await
            {
                Ok(_) => {
                    tracing::info!(patient = %patient, "monitoring resumed; alarm cleared");
                    self.raised.remove(&patient);
                }
                Err(e) => {
                    tracing::warn!(patient = %patient, error = %e, "alarm not cleared; retrying")
                }
            }
        }
        let longest = self.since.values().map(|s| now - s).max().unwrap_or(0);
        self.metrics
            .unmonitored_patients
            .store(self.since.len() as u64, Ordering::Relaxed);
        self.metrics
            .unmonitored_longest_ms
            .store((longest / 1_000_000) as u64, Ordering::Relaxed);
    }
}
