//! The events PUB (docs/live.md): heart rate per beat, NEWS2 per batch of numerics and alert
//! state changes for live views (the api subscribes and forwards them to doctors'
//! WebSockets). Fire and forget: the publisher never waits (a full queue drops and
//! counts), and nothing depends on these messages arriving — alerts live in the store and
//! reach the notifier by PUSH.

use cw_analysis::news2_escalation::News2Assessment;
use cw_bus::{BusStats, Kind, Publisher, Sealer};
use cw_core::messages::{AnalysisState, LiveEvent, live_topic};
use cw_core::time::Nanos;
use cw_core::{AlertEvent, PatientId, shard_of};
use cw_detect::HrReading;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct LiveEvents {
    publisher: Publisher,
}

impl LiveEvents {
    /// Binds the events PUB socket; returns it and the endpoint actually bound.
    pub async fn bind(
        endpoint: &str,
        sealer: Sealer,
        stats: Arc<BusStats>,
        shutdown: CancellationToken,
    ) -> Result<(Self, String), cw_bus::BusError> {
        let (publisher, bound) =
            Publisher::bind(endpoint, Kind::LiveEvent, sealer, stats, shutdown).await?;
        Ok((Self { publisher }, bound))
    }

    /// Readiness of the events PUB socket.
    pub fn probe(&self) -> Result<(), String> {
        self.publisher.probe()
    }

    /// One beat's reading; `at_ns` is the beat's sample time.
    pub fn heart_rate(&self, patient: &PatientId, reading: &HrReading, at_ns: Nanos) {
        self.publish(&LiveEvent::HeartRate {
            patient: patient.clone(),
            at_ns,
            average_bpm: reading.average_bpm,
            instant_bpm: reading.instant_bpm,
            rr_s: reading.rr_s,
        });
    }

    /// The analysis state of the patient's stream (learning or analysing), at sample time.
    pub fn analysis(&self, patient: &PatientId, at_ns: Nanos, state: AnalysisState) {
        self.publish(&LiveEvent::Analysis {
            patient: patient.clone(),
            at_ns,
            state,
        });
    }

    /// NEWS2 after a batch of numerics, with each component (docs/live.md, `news2`).
    pub fn news2(&self, patient: &PatientId, assessment: &News2Assessment) {
        match LiveEvent::news2(patient, assessment) {
            Ok(event) => self.publish(&event),
            Err(e) => tracing::debug!(error = %e, "NEWS2 not published"),
        }
    }

    /// An alert fired or resolved (as stored).
    pub fn alert(&self, event: &AlertEvent) {
        self.publish(&LiveEvent::Alert(event.clone()));
    }

    fn publish(&self, event: &LiveEvent) {
        let topic = live_topic(shard_of(event.patient()));
        if let Err(e) = self.publisher.publish(&topic, event) {
            tracing::debug!(error = %e, "live event not published");
        }
    }
}
