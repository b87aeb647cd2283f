//! What happens inside the alert-engine, each event's log line and metric written once
//! (docs/architecture.md, "Internal events"). Logs name opaque ids and rule names only.

use crate::metrics::EngineMetrics;
use cw_core::{AlertId, PatientId, RuleKind};
use cw_runtime::InternalEvent;
use std::fmt::Display;

/// A sample block of a shard this engine holds was analysed.
pub struct BlockAnalysed {
    pub samples: u64,
}

impl InternalEvent<EngineMetrics> for BlockAnalysed {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.blocks.inc();
        metrics.samples.add(self.samples);
    }
}

/// Heart-rate readings (beats) a block produced.
pub struct BeatsRead {
    pub beats: u64,
}

impl InternalEvent<EngineMetrics> for BeatsRead {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.beats.add(self.beats);
    }
}

cw_runtime::counting_events! {
    EngineMetrics {
        /// A sample block of a shard another engine holds, dropped.
        pub struct ForeignBlockDropped => foreign_shard_blocks;
        /// A numerics batch of a shard another engine holds, dropped.
        pub struct ForeignVitalsDropped => foreign_shard_vitals;
        /// A shard this engine held is no longer analysed here.
        pub struct ShardLost => shards_lost;
    }
}

/// A numerics batch of a shard this engine holds was judged.
pub struct VitalsJudged {
    pub readings: u64,
}

impl InternalEvent<EngineMetrics> for VitalsJudged {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.vitals.add(self.readings);
    }
}

/// Stored blocks replayed to warm up the patients of a taken-over shard.
pub struct WarmupReplayed {
    pub blocks: u64,
}

impl InternalEvent<EngineMetrics> for WarmupReplayed {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.warmup_blocks.add(self.blocks);
    }
}

/// A new alert was stored (it is pushed next).
pub struct AlertFired<'a> {
    pub alert: &'a AlertId,
    pub patient: &'a PatientId,
    pub rule: RuleKind,
    pub value: f32,
}

impl InternalEvent<EngineMetrics> for AlertFired<'_> {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.alerts_fired.inc();
        tracing::info!(alert = %self.alert, patient = %self.patient, rule = self.rule.as_str(), value = self.value, "alert fired");
    }
}

/// An open alert was resolved in the store (it is pushed next).
pub struct AlertResolved<'a> {
    pub alert: &'a AlertId,
    pub patient: &'a PatientId,
    pub rule: RuleKind,
}

impl InternalEvent<EngineMetrics> for AlertResolved<'_> {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.alerts_resolved.inc();
        tracing::info!(alert = %self.alert, patient = %self.patient, rule = self.rule.as_str(), "alert resolved");
    }
}

/// A record-store call the engine needed failed; what follows depends on `failure`.
pub enum StoreFailure<'a> {
    /// Opening an alert: retried.
    OpenAlert {
        patient: &'a PatientId,
        rule: RuleKind,
    },
    /// Recording an alert's episode: the next episode carries it.
    Episode { alert: &'a AlertId },
    /// Resolving an alert: retried.
    Resolve { alert: &'a AlertId },
    /// Reading a shard's lease before a paging write: the write waits.
    LeaseRead { shard: u16 },
    /// A lease round (heartbeat, claim, renew): lapsed leases are dropped.
    LeaseRound,
    /// Reading the watchdog's pending probes: the next round reads them again.
    ProbeRead,
    /// Opening or recording a watchdog round's synthetic alert: the next round retries.
    Probe { patient: &'a PatientId },
}

/// A record-store call failed.
pub struct StoreFailed<'a> {
    pub failure: StoreFailure<'a>,
    pub error: &'a dyn Display,
}

impl InternalEvent<EngineMetrics> for StoreFailed<'_> {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.store_errors.inc();
        let error = self.error;
        match self.failure {
            StoreFailure::OpenAlert { patient, rule } => {
                tracing::error!(patient = %patient, rule = rule.as_str(), error = %error, "could not store alert; will retry")
            }
            StoreFailure::Episode { alert } => {
                tracing::warn!(alert = %alert, error = %error, "could not record the alert's episode; the next one carries it")
            }
            StoreFailure::Resolve { alert } => {
                tracing::error!(alert = %alert, error = %error, "could not resolve alert; will retry")
            }
            StoreFailure::LeaseRead { shard } => {
                tracing::warn!(shard, error = %error, "shard lease unreadable; the write waits")
            }
            StoreFailure::LeaseRound => {
                tracing::warn!(error = %error, "shard lease round failed")
            }
            StoreFailure::ProbeRead => {
                tracing::warn!(error = %error, "watchdog probes unreadable; read again next round")
            }
            StoreFailure::Probe { patient } => {
                tracing::warn!(patient = %patient, error = %error, "watchdog probe not answered; retried next round")
            }
        }
    }
}

/// A notifier watchdog round answered: its synthetic alert is open in the store (and
/// pushed, when this engine opened it) and recorded on the probe.
pub struct ProbeAnswered<'a> {
    pub patient: &'a PatientId,
    pub alert: &'a AlertId,
}

impl InternalEvent<EngineMetrics> for ProbeAnswered<'_> {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.watchdog_probes.inc();
        tracing::info!(patient = %self.patient, alert = %self.alert, "watchdog probe answered");
    }
}

/// A paging write was dropped because the shard's lease is not (or no longer) this
/// engine's. `shard` when the stored lease names another owner or epoch; `None` when the
/// local lease already lapsed (the keeper logged that when it dropped it).
pub struct WriteFenced {
    pub shard: Option<u16>,
}

impl InternalEvent<EngineMetrics> for WriteFenced {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.fenced_writes.inc();
        if let Some(shard) = self.shard {
            tracing::warn!(
                shard,
                "alert write dropped: the shard's lease is no longer ours"
            );
        }
    }
}

/// An alert event reached the notifier's socket.
pub struct AlertPushed {
    /// Sample received by ingest to the push.
    pub latency_s: f64,
}

impl InternalEvent<EngineMetrics> for AlertPushed {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.alert_latency.observe(self.latency_s);
    }
}

/// An alert event could not be pushed: the notifier reconciles it from the store.
pub struct AlertPushFailed<'a> {
    pub error: &'a dyn Display,
}

impl InternalEvent<EngineMetrics> for AlertPushFailed<'_> {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.push_failures.inc();
        tracing::warn!(error = %self.error, "alert event not pushed; the notifier will reconcile it from the store");
    }
}

/// NEWS2 scores stored in the trend.
pub struct News2Stored {
    pub scores: u64,
}

impl InternalEvent<EngineMetrics> for News2Stored {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.news2_stored.add(self.scores);
    }
}

/// NEWS2 scores not stored: the trend's queue was full (`error: None`), or the write
/// failed.
pub struct News2Dropped<'a> {
    pub scores: u64,
    pub failed_write: Option<(&'a PatientId, &'a dyn Display)>,
}

impl InternalEvent<EngineMetrics> for News2Dropped<'_> {
    fn emit(self, metrics: &EngineMetrics) {
        metrics.news2_dropped.add(self.scores);
        if let Some((patient, error)) = self.failed_write {
            tracing::warn!(patient = %patient, error = %error, "NEWS2 trend not stored");
        }
    }
}

/// A shard lease was taken (new, or over from an engine whose lease expired: epoch > 1).
pub struct ShardTaken {
    pub shard: u16,
    pub epoch: u64,
}

impl InternalEvent<EngineMetrics> for ShardTaken {
    fn emit(self, metrics: &EngineMetrics) {
        if self.epoch > 1 {
            metrics.shard_takeovers.inc();
        }
        tracing::info!(shard = self.shard, epoch = self.epoch, "shard lease taken");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Emit<'a> = Box<dyn Fn(&EngineMetrics) + 'a>;

    #[test]
    fn each_event_moves_its_metric() {
        let alert = AlertId::parse("a1").expect("valid");
        let patient = PatientId::parse("p1").expect("valid");
        let cases: Vec<(&str, Emit)> = vec![
            (
                "cw_engine_blocks_total 1",
                Box::new(|m| BlockAnalysed { samples: 250 }.emit(m)),
            ),
            (
                "cw_engine_samples_total 250",
                Box::new(|m| BlockAnalysed { samples: 250 }.emit(m)),
            ),
            (
                "cw_engine_heart_rate_readings_total 3",
                Box::new(|m| BeatsRead { beats: 3 }.emit(m)),
            ),
            (
                "cw_engine_foreign_shard_blocks_total 1",
                Box::new(|m| ForeignBlockDropped.emit(m)),
            ),
            (
                "cw_engine_vitals_total 4",
                Box::new(|m| VitalsJudged { readings: 4 }.emit(m)),
            ),
            (
                "cw_engine_foreign_shard_vitals_total 1",
                Box::new(|m| ForeignVitalsDropped.emit(m)),
            ),
            (
                "cw_engine_warmup_blocks_total 9",
                Box::new(|m| WarmupReplayed { blocks: 9 }.emit(m)),
            ),
            (
                "cw_engine_alerts_fired_total 1",
                Box::new(|m| {
                    AlertFired {
                        alert: &alert,
                        patient: &patient,
                        rule: RuleKind::Pause,
                        value: 3.1,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_engine_alerts_resolved_total 1",
                Box::new(|m| {
                    AlertResolved {
                        alert: &alert,
                        patient: &patient,
                        rule: RuleKind::Pause,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_engine_store_errors_total 1",
                Box::new(|m| {
                    StoreFailed {
                        failure: StoreFailure::LeaseRead { shard: 3 },
                        error: &"down",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_engine_fenced_writes_total 1",
                Box::new(|m| WriteFenced { shard: Some(3) }.emit(m)),
            ),
            (
                "cw_engine_alert_latency_seconds_count 1",
                Box::new(|m| AlertPushed { latency_s: 0.02 }.emit(m)),
            ),
            (
                "cw_engine_push_failures_total 1",
                Box::new(|m| {
                    AlertPushFailed {
                        error: &"no reader",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_engine_news2_stored_total 2",
                Box::new(|m| News2Stored { scores: 2 }.emit(m)),
            ),
            (
                "cw_engine_news2_dropped_total 2",
                Box::new(|m| {
                    News2Dropped {
                        scores: 2,
                        failed_write: Some((&patient, &"down")),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_engine_shard_takeovers_total 1",
                Box::new(|m| ShardTaken { shard: 3, epoch: 2 }.emit(m)),
            ),
            (
                "cw_engine_shard_takeovers_total 0",
                Box::new(|m| ShardTaken { shard: 3, epoch: 1 }.emit(m)),
            ),
            (
                "cw_engine_watchdog_probes_total 1",
                Box::new(|m| {
                    ProbeAnswered {
                        patient: &patient,
                        alert: &alert,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_engine_shards_lost_total 1",
                Box::new(|m| ShardLost.emit(m)),
            ),
        ];
        for (line, emit) in cases {
            let metrics = EngineMetrics::default();
            emit(&metrics);
            let text = metrics.render(0);
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn metrics_move_only_in_events() {
        cw_runtime::internal_event::assert_metrics_move_only_in_events(env!("CARGO_MANIFEST_DIR"));
    }
}
