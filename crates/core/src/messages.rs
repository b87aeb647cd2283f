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
