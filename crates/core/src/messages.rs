//! Bodies of bus messages (the bus crate seals them; these say what they mean).

use crate::time::Nanos;
use crate::{PatientId, SampleBlock};
use serde::{Deserialize, Serialize};

/// A block ingest stored durably and now shares with the alert-engines (topic: shard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplesStored {
    pub block: SampleBlock,
    /// When ingest received the frame, for end-to-end latency accounting.
    pub received_ns: Nanos,
}

/// Something an operator or doctor changed that running engines must pick up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConfigChange {
    /// A new policy version is in the store; reload it.
    Policy { patient: PatientId, version: u32 },
}

/// Topic of config changes on the config PUB socket.
pub const CONFIG_TOPIC: &str = "config";

/// What the alert-engine publishes for live views (events PUB, topic [`live_topic`]):
/// derived metrics and alert state. Best effort like every PUB/SUB message — a live view
/// reconciles alert state from the store, so a dropped event costs latency only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LiveEvent {
    /// A beat closed an RR interval: the heart rate after it. `at_ns` is the beat's
    /// sample time (reported up to the detector's look-ahead later).
    HeartRate {
        patient: PatientId,
        at_ns: Nanos,
        average_bpm: f32,
        instant_bpm: f32,
        rr_s: f64,
    },
    /// An alert changed state (as stored after the change).
    Alert(crate::AlertEvent),
}

impl LiveEvent {
    pub fn patient(&self) -> &PatientId {
        match self {
            LiveEvent::HeartRate { patient, .. } => patient,
            LiveEvent::Alert(event) => &event.alert.patient,
        }
    }
}

/// The topic of a shard's live events: `l/007` (subscribers pick the shards they watch).
pub fn live_topic(shard: u16) -> String {
    format!("l/{shard:03}")
}
