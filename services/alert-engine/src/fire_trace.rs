//! Where the time of each fired alert went, stage by stage (wall clock), so the alert
//! latency can be broken down instead of guessed: `cardiowatch bench alerts` prints
//! p50/p99 per stage from it. Bounded: the newest `KEPT` fires.

use cw_core::time::Nanos;
use cw_core::{AlertId, PatientId};
use std::collections::VecDeque;
use std::sync::Mutex;

const KEPT: usize = 16_384;

/// Wall-clock stamps of the block whose processing made a rule fire.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockStamps {
    /// Ingest received the block (before validating and writing it).
    pub received_ns: Nanos,
    /// Ingest published it on the bus (after the write was durable).
    pub published_ns: Nanos,
    /// The engine's loop took it off the bus.
    pub engine_ns: Nanos,
    /// Sample time of the block's end (its last frame), on the device's clock.
    pub block_end_ns: Nanos,
    /// The loop decided the rule event (and handed it to the writer).
    pub decided_ns: Nanos,
}

impl BlockStamps {
    /// A decision made on the wall clock (no-data), not on a block.
    pub fn clock(now: Nanos) -> Self {
        Self {
            received_ns: now,
            published_ns: now,
            engine_ns: now,
            block_end_ns: now,
            decided_ns: now,
        }
    }
}

/// One fired alert's way through the engine.
#[derive(Clone, Debug)]
pub struct FireTiming {
    pub patient: PatientId,
    pub alert: AlertId,
    /// Sample time of the beat or window that crossed the limit (device clock).
    pub sample_ns: Nanos,
    pub block: BlockStamps,
    /// The writer took the event / the alert was durable / the event was handed to PUSH.
    pub dequeued_ns: Nanos,
    pub stored_ns: Nanos,
    pub pushed_ns: Nanos,
}

#[derive(Default)]
pub struct FireTrace {
    fires: Mutex<VecDeque<FireTiming>>,
}

impl FireTrace {
    pub fn record(&self, timing: FireTiming) {
        // A poisoned lock only means another thread panicked mid-push: the data is fine.
        let mut fires = self.fires.lock().unwrap_or_else(|e| e.into_inner());
        if fires.len() == KEPT {
            fires.pop_front();
        }
        fires.push_back(timing);
    }

    /// The recorded fires, oldest first.
    pub fn snapshot(&self) -> Vec<FireTiming> {
        let fires = self.fires.lock().unwrap_or_else(|e| e.into_inner());
        fires.iter().cloned().collect()
    }
}
