//! What happens inside ingest, each event's log line and metric written once
//! (docs/architecture.md, "Internal events"). Logs name opaque ids only, never PHI or
//! sample values.

use crate::metrics::IngestMetrics;
use cw_core::{AlertId, DeviceId, PatientId, shard_of};
use cw_protocol::NackCode;
use cw_runtime::InternalEvent;
use std::time::Duration;

cw_runtime::counting_events! {
    IngestMetrics {
        /// A frame arrived from an authenticated device (binary, JSON or a refused text message).
        pub struct FrameReceived => frames;
        /// A frame was acked after its durable write.
        pub struct FrameAcked => acks;
        /// Missing, unknown or revoked device credentials (the refusal itself is audited).
        pub struct DeviceCredentialsRefused => auth_failures;
    }
}

/// A frame was nacked with a typed code.
pub struct FrameRefused<'a> {
    pub device: &'a DeviceId,
    pub seq: Option<u64>,
    pub code: NackCode,
    pub message: &'a str,
}

impl InternalEvent<IngestMetrics> for FrameRefused<'_> {
    fn emit(self, metrics: &IngestMetrics) {
        let Self {
            device,
            seq,
            code,
            message,
        } = self;
        metrics.nacks(code).inc();
        tracing::info!(device = %device, seq, code = code.as_str(), %message, "frame refused");
    }
}

/// A coalesced batch of sample blocks was written to sample-store node `node` (0-based).
pub struct SamplesWritten {
    pub node: usize,
    pub samples: u64,
    pub elapsed: Duration,
}

impl InternalEvent<IngestMetrics> for SamplesWritten {
    fn emit(self, metrics: &IngestMetrics) {
        metrics.write_latency.observe(self.elapsed.as_secs_f64());
        metrics.batches_written.inc();
        metrics.samples_stored.add(self.samples);
        if let Some(node) = metrics.node(self.node) {
            node.batches_written.inc();
        }
    }
}

/// A coalesced batch of numerics frames was written to sample-store node `node`.
pub struct VitalsWritten {
    pub node: usize,
    pub numerics: u64,
}

impl InternalEvent<IngestMetrics> for VitalsWritten {
    fn emit(self, metrics: &IngestMetrics) {
        metrics.vitals_batches_written.inc();
        metrics.vitals_stored.add(self.numerics);
        if let Some(node) = metrics.node(self.node) {
            node.batches_written.inc();
        }
    }
}

/// A batch write (samples or numerics) to sample-store node `node` failed; each of its
/// frames is nacked `retry_later`. Only that node's patients are in the batch.
pub struct BatchWriteFailed<'a> {
    pub node: usize,
    pub items: usize,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent<IngestMetrics> for BatchWriteFailed<'_> {
    fn emit(self, metrics: &IngestMetrics) {
        metrics.store_errors.inc();
        if let Some(node) = metrics.node(self.node) {
            node.write_failures.inc();
        }
        // The error names the node and its URL (cw_storage); the frames are resent.
        tracing::warn!(node = self.node + 1, items = self.items, error = %self.error, "batch write to a sample-store node failed; its patients' frames are nacked retry_later");
    }
}

/// The "monitoring interrupted" alarm was raised for a streaming patient nobody analyses.
pub struct MonitoringInterrupted<'a> {
    pub alert: &'a AlertId,
    pub patient: &'a PatientId,
}

impl InternalEvent<IngestMetrics> for MonitoringInterrupted<'_> {
    fn emit(self, metrics: &IngestMetrics) {
        metrics.monitoring_alarms.inc();
        tracing::error!(alert = %self.alert, patient = %self.patient, shard = shard_of(self.patient), "monitoring interrupted: no engine analyses a streaming patient");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Emit<'a> = Box<dyn Fn(&IngestMetrics) + 'a>;

    fn rendered(emit: impl FnOnce(&IngestMetrics)) -> String {
        let metrics = IngestMetrics::default();
        emit(&metrics);
        metrics.render()
    }

    #[test]
    fn each_event_moves_its_metric() {
        let device = DeviceId::parse("d1").expect("valid");
        let patient = PatientId::parse("p1").expect("valid");
        let alert = AlertId::parse("01m98").expect("valid");
        let cases: [(&str, Emit); 10] = [
            (
                "cw_ingest_frames_total 1",
                Box::new(|m| FrameReceived.emit(m)),
            ),
            ("cw_ingest_acks_total 1", Box::new(|m| FrameAcked.emit(m))),
            (
                "cw_ingest_nacks_total{code=\"stale_seq\"} 1",
                Box::new(|m| {
                    FrameRefused {
                        device: &device,
                        seq: Some(7),
                        code: NackCode::StaleSeq,
                        message: "old",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_ingest_auth_failures_total 1",
                Box::new(|m| DeviceCredentialsRefused.emit(m)),
            ),
            (
                "cw_ingest_samples_stored_total 12",
                Box::new(|m| {
                    SamplesWritten {
                        node: 0,
                        samples: 12,
                        elapsed: Duration::from_millis(3),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_ingest_vitals_stored_total 4",
                Box::new(|m| {
                    VitalsWritten {
                        node: 0,
                        numerics: 4,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_ingest_store_errors_total 1",
                Box::new(|m| {
                    BatchWriteFailed {
                        node: 0,
                        items: 2,
                        error: &"down",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_ingest_node_write_failures_total{node=\"2\"} 1",
                Box::new(|m| {
                    m.count_nodes(2);
                    BatchWriteFailed {
                        node: 1,
                        items: 2,
                        error: &"down",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_ingest_node_batches_written_total{node=\"2\"} 1",
                Box::new(|m| {
                    m.count_nodes(2);
                    VitalsWritten {
                        node: 1,
                        numerics: 4,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_ingest_monitoring_alarms_total 1",
                Box::new(|m| {
                    MonitoringInterrupted {
                        alert: &alert,
                        patient: &patient,
                    }
                    .emit(m)
                }),
            ),
        ];
        for (line, emit) in cases {
            let text = rendered(|m| emit(m));
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        let both = rendered(|m| {
            SamplesWritten {
                node: 0,
                samples: 1,
                elapsed: Duration::from_millis(3),
            }
            .emit(m)
        });
        assert!(both.contains("cw_ingest_batches_written_total 1"), "{both}");
        assert!(both.contains("cw_ingest_write_seconds_count 1"), "{both}");
    }

    #[test]
    fn metrics_move_only_in_events() {
        cw_runtime::internal_event::assert_metrics_move_only_in_events(env!("CARGO_MANIFEST_DIR"));
    }
}
