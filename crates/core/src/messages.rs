//! Bodies of bus messages (the bus crate seals them; these say what they mean).

use crate::time::Nanos;
use crate::{PatientId, SampleBlock, VitalBatch};
use serde::{Deserialize, Deserializer, Serialize};

/// A block ingest stored durably and now shares with the alert-engines (topic: shard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplesStored {
    pub block: SampleBlock,
    /// When ingest received the frame, for end-to-end latency accounting.
    pub received_ns: Nanos,
}

/// Numerics ingest stored durably and now shares with the alert-engines (kind `Vitals`,
/// topic [`crate::vitals_topic`]). JSON on the bus, so fields may be added the tolerant way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VitalsStored {
    pub batch: VitalBatch,
    /// When ingest received the frame.
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
        #[serde(deserialize_with = "f32_null_as_nan")]
        average_bpm: f32,
        #[serde(deserialize_with = "f32_null_as_nan")]
        instant_bpm: f32,
        #[serde(deserialize_with = "f64_null_as_nan")]
        rr_s: f64,
    },
    /// An alert changed state (as stored after the change).
    Alert(crate::AlertEvent),
    /// The analysis of the patient's stream changed state (a technical state, not an
    /// alarm): `Learning` after the stream (re)started, `Analysing` once it has enough
    /// clean signal to decide. At `at_ns` (sample time).
    Analysis {
        patient: PatientId,
        at_ns: Nanos,
        state: AnalysisState,
    },
    /// NEWS2 after a batch of the patient's numerics (engines whose policy for the
    /// patient has NEWS2 escalation): `cw_analysis::news2_escalation::News2Assessment` as
    /// JSON, since this crate knows no analysis types; the api reads it back typed.
    News2 {
        patient: PatientId,
        assessment: serde_json::Value,
    },
}

/// Whether physiological alarms can fire yet for a stream (`cw_analysis::learning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisState {
    /// Not enough clean signal since the stream started: only asystole (no QRS energy on
    /// any lead) and technical alarms can fire.
    Learning,
    Analysing,
}

impl AnalysisState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Learning => "learning",
            Self::Analysing => "analysing",
        }
    }
}

impl LiveEvent {
    /// A [`LiveEvent::News2`] of `assessment` (a `News2Assessment`).
    pub fn news2(
        patient: &PatientId,
        assessment: &impl Serialize,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::News2 {
            patient: patient.clone(),
            assessment: serde_json::to_value(assessment)?,
        })
    }

    pub fn patient(&self) -> &PatientId {
        match self {
            LiveEvent::HeartRate { patient, .. } => patient,
            LiveEvent::Alert(event) => &event.alert.patient,
            LiveEvent::Analysis { patient, .. } => patient,
            LiveEvent::News2 { patient, .. } => patient,
        }
    }
}

/// The topic of a shard's live events: `l/007` (subscribers pick the shards they watch).
pub fn live_topic(shard: u16) -> String {
    format!("l/{shard:03}")
}

/// Floats of bus messages travel as JSON, which has no NaN or infinity: serde_json writes
/// them as `null`. Reading `null` back as NaN keeps the message (an alert whose value is
/// undefined is still an alert) instead of dropping it as malformed. Binary formats
/// (postcard, `is_human_readable() == false`) carry the float itself.
pub(crate) fn f32_null_as_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    if d.is_human_readable() {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
    } else {
        f32::deserialize(d)
    }
}

/// [`f32_null_as_nan`] for `f64`.
pub(crate) fn f64_null_as_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    if d.is_human_readable() {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    } else {
        f64::deserialize(d)
    }
}
