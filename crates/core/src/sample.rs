//! A block of ECG samples from one device: the unit the gateway sends, ingest stores
//! and the bus carries.

use crate::time::{NANOS_PER_SEC, Nanos};
use crate::{DeviceId, PatientId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleBlock {
    pub patient: PatientId,
    pub device: DeviceId,
    /// The device's own sequence number; (device, seq) identifies a block for resends.
    pub seq: u64,
    /// Time of the first sample.
    pub start_ns: Nanos,
    pub rate_hz: u32,
    pub leads: u8,
    /// Samples in microvolts, interleaved by lead: s0[0], s1[0], …, s0[1], s1[1], …
    pub samples_uv: Vec<i16>,
    /// The gateway reports an electrode off the skin.
    #[serde(default)]
    pub lead_off: bool,
}

impl SampleBlock {
    /// Samples per lead.
    pub fn frames(&self) -> usize {
        if self.leads == 0 {
            0
        } else {
            self.samples_uv.len() / usize::from(self.leads)
        }
    }

    /// Timestamp of frame `i`. Computed from the start time so a resent block yields the
    /// same timestamps (InfluxDB then overwrites instead of duplicating).
    pub fn time_of(&self, frame: usize) -> Nanos {
        self.start_ns + (frame as i64 * NANOS_PER_SEC) / i64::from(self.rate_hz.max(1))
    }

    /// One past the last frame's time.
    pub fn end_ns(&self) -> Nanos {
        self.time_of(self.frames())
    }

    /// The samples of frame `i`, one per lead.
    pub fn frame(&self, frame: usize) -> &[i16] {
        let leads = usize::from(self.leads);
        &self.samples_uv[frame * leads..(frame + 1) * leads]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> SampleBlock {
        SampleBlock {
            patient: PatientId::parse("p1").expect("valid"),
            device: DeviceId::parse("d1").expect("valid"),
            seq: 1,
            start_ns: 1_000,
            rate_hz: 250,
            leads: 2,
            samples_uv: vec![1, 2, 3, 4, 5, 6],
            lead_off: false,
        }
    }

    #[test]
    fn frames_are_interleaved_by_lead() {
        let b = block();
        assert_eq!(b.frames(), 3);
        assert_eq!(b.frame(1), &[3, 4]);
    }

    #[test]
    fn frame_times_follow_the_sampling_rate() {
        let b = block();
        assert_eq!(b.time_of(0), 1_000);
        assert_eq!(b.time_of(1), 1_000 + 4_000_000);
        assert_eq!(b.end_ns(), 1_000 + 12_000_000);
    }
}
