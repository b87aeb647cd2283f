//! What ingest counts, exported at `/metrics`.

use cw_bus::BusStats;
use cw_protocol::NackCode;
use cw_runtime::{Counter, Histogram, MetricsText};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// What is counted per sample-store node (label `node`, 1 to at most 64: bounded).
#[derive(Default)]
pub struct NodeMetrics {
    pub batches_written: Counter,
    pub write_failures: Counter,
}

#[derive(Default)]
pub struct IngestMetrics {
    /// Per sample-store node, by node (0-based); sized when the writers start.
    nodes: OnceLock<Box<[NodeMetrics]>>,
    pub frames: Counter,
    pub acks: Counter,
    pub samples_stored: Counter,
    pub vitals_stored: Counter,
    pub nacks_bad_frame: Counter,
    pub nacks_too_large: Counter,
    pub nacks_rate: Counter,
    pub nacks_leads: Counter,
    pub nacks_value: Counter,
    pub nacks_implausible: Counter,
    pub nacks_clock: Counter,
    pub nacks_stale: Counter,
    pub nacks_seq_range: Counter,
    pub nacks_retry: Counter,
    pub auth_failures: Counter,
    pub store_errors: Counter,
    pub write_latency: Histogram,
    /// Blocks waiting in the writer's queue (a gauge).
    pub queue_depth: AtomicU64,
    pub batches_written: Counter,
    /// Numerics frames waiting in the numerics writer's queue (a gauge).
    pub vitals_queue_depth: AtomicU64,
    pub vitals_batches_written: Counter,
    /// Streaming patients whose shard no engine holds (`unmonitored.rs`; gauges).
    pub unmonitored_patients: AtomicU64,
    pub unmonitored_longest_ms: AtomicU64,
    /// "Monitoring interrupted" alarms raised.
    pub monitoring_alarms: Counter,
    pub bus: std::sync::Arc<BusStats>,
}

impl IngestMetrics {
    /// Sizes the per-node counters for a store of `nodes` nodes (the first call wins:
    /// the sample and numerics writers share one store).
    pub fn count_nodes(&self, nodes: usize) {
        self.nodes
            .get_or_init(|| (0..nodes).map(|_| NodeMetrics::default()).collect());
    }

    /// The counters of node `node` (0-based), once sized.
    pub fn node(&self, node: usize) -> Option<&NodeMetrics> {
        self.nodes.get()?.get(node)
    }

    /// (label, value) of `counter` for every node, labelled from 1 as the docs count.
    fn per_node(&self, counter: fn(&NodeMetrics) -> &Counter) -> Vec<(String, u64)> {
        self.nodes
            .get()
            .map(|nodes| {
                nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| ((i + 1).to_string(), counter(n).get()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The counter of nacks with `code`.
    pub fn nacks(&self, code: NackCode) -> &Counter {
        match code {
            NackCode::BadFrame => &self.nacks_bad_frame,
            NackCode::TooLarge => &self.nacks_too_large,
            NackCode::RateOutOfRange => &self.nacks_rate,
            NackCode::LeadsOutOfRange => &self.nacks_leads,
            NackCode::ValueOutOfRange => &self.nacks_value,
            NackCode::ImplausibleValue => &self.nacks_implausible,
            NackCode::ClockSkew => &self.nacks_clock,
            NackCode::StaleSeq => &self.nacks_stale,
            NackCode::SeqOutOfRange => &self.nacks_seq_range,
            NackCode::RetryLater => &self.nacks_retry,
        }
    }

    pub fn render(&self) -> String {
        let batches = self.per_node(|n| &n.batches_written);
        let failures = self.per_node(|n| &n.write_failures);
        MetricsText::default()
            .labelled_counters(
                "cw_ingest_node_batches_written_total",
                "Batches (samples and numerics) written, by sample-store node (1-based, in the order of storage.influx.nodes)",
                "node",
                &labelled(&batches),
            )
            .labelled_counters(
                "cw_ingest_node_write_failures_total",
                "Batch writes that failed, by sample-store node; that node's patients' frames were nacked retry_later",
                "node",
                &labelled(&failures),
            )
            .gauge(
                "cw_ingest_unmonitored_patients",
                "Streaming patients whose shard no alert-engine holds",
                self.unmonitored_patients.load(Ordering::Relaxed) as f64,
            )
            .gauge(
                "cw_ingest_unmonitored_longest_seconds",
                "Longest time a streaming patient has been without analysis, now",
                self.unmonitored_longest_ms.load(Ordering::Relaxed) as f64 / 1e3,
            )
            .counter(
                "cw_ingest_monitoring_alarms_total",
                "Monitoring-interrupted alarms raised",
                self.monitoring_alarms.get(),
            )
            .counter(
                "cw_ingest_frames_total",
                "Frames received",
                self.frames.get(),
            )
            .counter(
                "cw_ingest_acks_total",
                "Frames acknowledged after a durable write",
                self.acks.get(),
            )
            .counter(
                "cw_ingest_samples_stored_total",
                "Samples (all leads) written",
                self.samples_stored.get(),
            )
            .counter(
                "cw_ingest_vitals_stored_total",
                "Vital-sign numerics (readings and sensor statuses) written",
                self.vitals_stored.get(),
            )
            .labelled_counters(
                "cw_ingest_nacks_total",
                "Frames refused, by code",
                "code",
                &[
                    ("bad_frame", self.nacks_bad_frame.get()),
                    ("too_large", self.nacks_too_large.get()),
                    ("rate_out_of_range", self.nacks_rate.get()),
                    ("leads_out_of_range", self.nacks_leads.get()),
                    ("value_out_of_range", self.nacks_value.get()),
                    ("implausible_value", self.nacks_implausible.get()),
                    ("clock_skew", self.nacks_clock.get()),
                    ("stale_seq", self.nacks_stale.get()),
                    ("seq_out_of_range", self.nacks_seq_range.get()),
                    ("retry_later", self.nacks_retry.get()),
                ],
            )
            .counter(
                "cw_ingest_auth_failures_total",
                "Rejected device credentials",
                self.auth_failures.get(),
            )
            .counter(
                "cw_ingest_store_errors_total",
                "Sample store batch write failures (InfluxDB errors)",
                self.store_errors.get(),
            )
            .histogram(
                "cw_ingest_write_seconds",
                "Sample store write latency, per coalesced batch",
                &self.write_latency,
            )
            .counter(
                "cw_ingest_batches_written_total",
                "Coalesced batches written to the sample store",
                self.batches_written.get(),
            )
            .gauge(
                "cw_ingest_queue_depth",
                "Blocks waiting for the sample writer",
                self.queue_depth.load(Ordering::Relaxed) as f64,
            )
            .counter(
                "cw_ingest_vitals_batches_written_total",
                "Coalesced numerics batches written to the store",
                self.vitals_batches_written.get(),
            )
            .gauge(
                "cw_ingest_vitals_queue_depth",
                "Numerics frames waiting for the numerics writer",
                self.vitals_queue_depth.load(Ordering::Relaxed) as f64,
            )
            .counter(
                "cw_ingest_bus_sent_total",
                "Sample blocks published",
                BusStats::get(&self.bus.sent),
            )
            .counter(
                "cw_ingest_bus_dropped_total",
                "Sample blocks not published (bus queue full)",
                BusStats::get(&self.bus.send_failed),
            )
            .finish()
    }
}

/// `(label, value)` pairs as [`MetricsText::labelled_counters`] takes them.
fn labelled(values: &[(String, u64)]) -> Vec<(&str, u64)> {
    values.iter().map(|(l, v)| (l.as_str(), *v)).collect()
}
