use cw_bus::BusStats;
use cw_runtime::{Counter, Histogram, MetricsText};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct EngineMetrics {
    pub blocks: Counter,
    pub samples: Counter,
    pub beats: Counter,
    pub alerts_fired: Counter,
    pub alerts_resolved: Counter,
    pub store_errors: Counter,
    pub push_failures: Counter,
    pub foreign_shard_blocks: Counter,
    /// Numerics (readings and sensor statuses) received for owned patients.
    pub vitals: Counter,
    pub foreign_shard_vitals: Counter,
    /// NEWS2 scores stored as the trend, and dropped (queue full or write failed).
    pub news2_stored: Counter,
    pub news2_dropped: Counter,
    /// Shards this engine holds a lease on (`leases.rs`).
    pub shards_owned: AtomicU64,
    /// Shards nobody held a live lease on at the last lease round.
    pub shards_unowned: AtomicU64,
    /// Shards taken over from another engine (or re-taken after expiry).
    pub shard_takeovers: Counter,
    /// Shards given up, lost to another engine or lapsed.
    pub shards_lost: Counter,
    /// Alert writes refused because the shard's lease was no longer this engine's.
    pub fenced_writes: Counter,
    /// Stored blocks replayed to warm up taken-over patients.
    pub warmup_blocks: Counter,
    /// Notifier watchdog rounds answered with a synthetic alert (`watchdog_probes`).
    pub watchdog_probes: Counter,
    /// Sample received at ingest → alert stored and pushed.
    pub alert_latency: Histogram,
    pub samples_bus: Arc<BusStats>,
    pub vitals_bus: Arc<BusStats>,
    pub config_bus: Arc<BusStats>,
    pub alerts_bus: Arc<BusStats>,
    pub live_bus: Arc<BusStats>,
}

impl EngineMetrics {
    pub fn render(&self, patients: usize) -> String {
        MetricsText::default()
            .counter(
                "cw_engine_blocks_total",
                "Sample blocks analysed",
                self.blocks.get(),
            )
            .counter(
                "cw_engine_samples_total",
                "Frames analysed",
                self.samples.get(),
            )
            .counter(
                "cw_engine_heart_rate_readings_total",
                "Heart-rate readings (one per beat after the first)",
                self.beats.get(),
            )
            .counter(
                "cw_engine_alerts_fired_total",
                "Alerts stored and pushed",
                self.alerts_fired.get(),
            )
            .counter(
                "cw_engine_alerts_resolved_total",
                "Alerts resolved",
                self.alerts_resolved.get(),
            )
            .counter(
                "cw_engine_store_errors_total",
                "Record store failures",
                self.store_errors.get(),
            )
            .counter(
                "cw_engine_push_failures_total",
                "Alert events not pushed (notifier reconciles from the store)",
                self.push_failures.get(),
            )
            .counter(
                "cw_engine_foreign_shard_blocks_total",
                "Blocks of shards this engine does not own (ignored)",
                self.foreign_shard_blocks.get(),
            )
            .counter(
                "cw_engine_vitals_total",
                "Vital-sign numerics (readings and sensor statuses) received for owned patients",
                self.vitals.get(),
            )
            .counter(
                "cw_engine_foreign_shard_vitals_total",
                "Numerics batches of shards this engine does not own (ignored)",
                self.foreign_shard_vitals.get(),
            )
            .counter(
                "cw_engine_news2_stored_total",
                "NEWS2 scores stored as the trend",
                self.news2_stored.get(),
            )
            .counter(
                "cw_engine_news2_dropped_total",
                "NEWS2 trend scores dropped (queue full or write failed)",
                self.news2_dropped.get(),
            )
            .counter(
                "cw_engine_vitals_bus_lost_total",
                "Numerics batches lost on PUB/SUB (sequence gaps)",
                BusStats::get(&self.vitals_bus.lost),
            )
            .counter(
                "cw_engine_samples_bus_lost_total",
                "Sample blocks lost on PUB/SUB (sequence gaps)",
                BusStats::get(&self.samples_bus.lost),
            )
            .gauge(
                "cw_engine_samples_bus_peers",
                "Ingest PUB sockets connected (each address of a DNS-named endpoint counts)",
                BusStats::get(&self.samples_bus.peers) as f64,
            )
            .counter(
                "cw_engine_bus_resolve_failures_total",
                "Failed re-resolutions of bus endpoints named by DNS (last peers kept)",
                BusStats::get(&self.samples_bus.resolve_failed)
                    + BusStats::get(&self.vitals_bus.resolve_failed)
                    + BusStats::get(&self.config_bus.resolve_failed),
            )
            .counter(
                "cw_engine_bus_rejected_total",
                "Bus messages that failed to open",
                BusStats::get(&self.samples_bus.rejected)
                    + BusStats::get(&self.vitals_bus.rejected)
                    + BusStats::get(&self.config_bus.rejected),
            )
            .counter(
                "cw_engine_alert_push_failed_total",
                "Alert events the bus could not hand to a notifier",
                BusStats::get(&self.alerts_bus.send_failed),
            )
            .counter(
                "cw_engine_live_events_dropped_total",
                "Live events dropped because the events PUB queue was full",
                BusStats::get(&self.live_bus.send_failed),
            )
            .gauge(
                "cw_engine_shards_owned",
                "Shards this engine holds a lease on",
                self.shards_owned.load(Ordering::Relaxed) as f64,
            )
            .gauge(
                "cw_engine_shards_unowned",
                "Shards with no live lease at the last lease round (unmonitored)",
                self.shards_unowned.load(Ordering::Relaxed) as f64,
            )
            .counter(
                "cw_engine_shard_takeovers_total",
                "Shards taken over after another lease expired",
                self.shard_takeovers.get(),
            )
            .counter(
                "cw_engine_shards_lost_total",
                "Shards given up, lost to another engine, or lapsed",
                self.shards_lost.get(),
            )
            .counter(
                "cw_engine_fenced_writes_total",
                "Alert writes refused because the shard lease was no longer held",
                self.fenced_writes.get(),
            )
            .counter(
                "cw_engine_warmup_blocks_total",
                "Stored blocks replayed to warm up taken-over patients",
                self.warmup_blocks.get(),
            )
            .counter(
                "cw_engine_watchdog_probes_total",
                "Notifier watchdog rounds this engine answered with a synthetic alert",
                self.watchdog_probes.get(),
            )
            .gauge(
                "cw_engine_patients",
                "Patients with live state",
                patients as f64,
            )
            .histogram(
                "cw_engine_alert_latency_seconds",
                "Sample at ingest to alert pushed",
                &self.alert_latency,
            )
            .finish()
    }
}
