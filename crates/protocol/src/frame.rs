//! The binary sample frame: one block of samples from one device.
//!
//! All integers little-endian:
//! ```text
//! offset size field
//!  0     1    version (1)
//!  1     1    encoding: 1 = i16 microvolts, 2 = f32 millivolts
//!  2     1    lead count (1..=12)
//!  3     1    flags: bit 0 = lead off
//!  4     8    device sequence number (u64)
//! 12     8    start time, ns since the Unix epoch (i64)
//! 20     4    sampling rate, Hz (u32)
//! 24     4    samples per lead (u32)
//! 28     …    samples, interleaved by lead (frame 0 lead 0, frame 0 lead 1, …)
//! ```
//! The same block may be POSTed as JSON ([`Frame`] serialises with serde).

use serde::{Deserialize, Serialize};

pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 28;
/// Larger frames are refused before they are read into memory.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    I16Microvolts,
    F32Millivolts,
}

/// A decoded frame, values as sent (not yet validated against the limits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub seq: u64,
    pub start_ns: i64,
    pub rate_hz: u32,
    pub leads: u8,
    #[serde(default)]
    pub lead_off: bool,
    /// Samples in millivolts, interleaved by lead. Binary frames with i16 µV decode into
    /// this too, so validation sees one representation.
    pub samples_mv: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is {0} bytes; the limit is {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    #[error("frame is shorter than its {HEADER_LEN}-byte header")]
    Truncated,
    #[error("unsupported frame version {0}")]
    Version(u8),
    #[error("unknown sample encoding {0}")]
    Encoding(u8),
    #[error("header announces {expected} payload bytes, frame has {actual}")]
    Length { expected: usize, actual: usize },
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

impl Frame {
    /// Decodes a binary frame. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, FrameError> {
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(FrameError::TooLarge(bytes.len()));
        }
        if bytes.len() < HEADER_LEN {
            return Err(FrameError::Truncated);
        }
        if bytes[0] != VERSION {
            return Err(FrameError::Version(bytes[0]));
        }
        let width = match bytes[1] {
            1 => 2usize,
            2 => 4usize,
            other => return Err(FrameError::Encoding(other)),
        };
        let leads = bytes[2];
        let per_lead = u32_at(bytes, 24) as usize;
        let expected = per_lead
            .saturating_mul(usize::from(leads))
            .saturating_mul(width);
        let payload = &bytes[HEADER_LEN..];
        if payload.len() != expected {
            return Err(FrameError::Length {
                expected,
                actual: payload.len(),
            });
        }
        let samples_mv = if width == 2 {
            payload
                .chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 1000.0)
                .collect()
        } else {
            payload
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        Ok(Self {
            seq: u64_at(bytes, 4),
            start_ns: u64_at(bytes, 12) as i64,
            rate_hz: u32_at(bytes, 20),
            leads,
            lead_off: bytes[3] & 1 == 1,
            samples_mv,
        })
    }

    /// Encodes as a binary frame with i16 microvolt samples (what gateways send).
    pub fn encode_i16(
        seq: u64,
        start_ns: i64,
        rate_hz: u32,
        leads: u8,
        lead_off: bool,
        samples_uv: &[i16],
    ) -> Vec<u8> {
        let per_lead = if leads == 0 {
            0
        } else {
            samples_uv.len() / usize::from(leads)
        };
        let mut out = Vec::with_capacity(HEADER_LEN + samples_uv.len() * 2);
        out.extend_from_slice(&[VERSION, 1, leads, u8::from(lead_off)]);
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&start_ns.to_le_bytes());
        out.extend_from_slice(&rate_hz.to_le_bytes());
        out.extend_from_slice(&(per_lead as u32).to_le_bytes());
        for s in samples_uv {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// Samples per lead.
    pub fn frames(&self) -> usize {
        if self.leads == 0 {
            0
        } else {
            self.samples_mv.len() / usize::from(self.leads)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encoded_i16_frame_decodes_to_millivolts() {
        let bytes = Frame::encode_i16(
            9,
            1_700_000_000_000_000_000,
            360,
            2,
            true,
            &[1000, -500, 20, 30],
        );
        let frame = Frame::decode(&bytes).expect("decodes");
        assert_eq!(frame.seq, 9);
        assert_eq!(frame.rate_hz, 360);
        assert_eq!(frame.leads, 2);
        assert!(frame.lead_off);
        assert_eq!(frame.samples_mv, vec![1.0, -0.5, 0.02, 0.03]);
        assert_eq!(frame.frames(), 2);
    }

    #[test]
    fn length_mismatch_is_reported() {
        let mut bytes = Frame::encode_i16(1, 0, 250, 1, false, &[1, 2, 3]);
        bytes.pop();
        assert!(matches!(
            Frame::decode(&bytes),
            Err(FrameError::Length { .. })
        ));
    }

    #[test]
    fn oversized_frame_is_refused() {
        let bytes = vec![0u8; MAX_FRAME_BYTES + 1];
        assert_eq!(
            Frame::decode(&bytes),
            Err(FrameError::TooLarge(MAX_FRAME_BYTES + 1))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Frame::decode(&bytes);
        }

        #[test]
        fn i16_frames_round_trip(seq in any::<u64>(), start in any::<i64>(), rate in 1u32..5000,
                                 leads in 1u8..=12, n in 0usize..40, seed in any::<i16>()) {
            let samples: Vec<i16> = (0..n * usize::from(leads)).map(|i| seed.wrapping_add(i as i16)).collect();
            let frame = Frame::decode(&Frame::encode_i16(seq, start, rate, leads, false, &samples)).expect("decodes");
            prop_assert_eq!(frame.seq, seq);
            prop_assert_eq!(frame.start_ns, start);
            prop_assert_eq!(frame.rate_hz, rate);
            prop_assert_eq!(frame.frames(), n);
            let back: Vec<i16> = frame.samples_mv.iter().map(|mv| (mv * 1000.0).round() as i16).collect();
            prop_assert_eq!(back, samples);
        }

        #[test]
        fn arbitrary_json_never_panics(text in ".{0,256}") {
            let _ = serde_json::from_str::<Frame>(&text);
        }

        #[test]
        fn json_with_arbitrary_field_values_never_panics(seq in any::<i128>(), start in any::<f64>(),
                                                         rate in any::<i64>(), leads in any::<i32>(),
                                                         samples in proptest::collection::vec(any::<f64>(), 0..16)) {
            let text = format!(
                r#"{{"seq":{seq},"start_ns":{start},"rate_hz":{rate},"leads":{leads},"samples_mv":{samples:?}}}"#
            );
            let _ = serde_json::from_str::<Frame>(&text);
        }

        #[test]
        fn json_frames_round_trip(seq in any::<u64>(), start in any::<i64>(), rate in any::<u32>(),
                                  leads in any::<u8>(), lead_off in any::<bool>(),
                                  samples in proptest::collection::vec(-20.0f32..20.0, 0..64)) {
            let frame = Frame { seq, start_ns: start, rate_hz: rate, leads, lead_off, samples_mv: samples };
            let text = serde_json::to_string(&frame).expect("serialises");
            prop_assert_eq!(serde_json::from_str::<Frame>(&text).expect("parses"), frame);
        }

        #[test]
        fn f32_frames_decode_exactly(seq in any::<u64>(), leads in 1u8..=12, n in 0usize..20,
                                     samples in proptest::collection::vec(-20.0f32..20.0, 240)) {
            let samples = &samples[..n * usize::from(leads)];
            let mut bytes = Frame::encode_i16(seq, 0, 250, leads, false, &[]);
            bytes[1] = 2; // f32 millivolts
            bytes[24..28].copy_from_slice(&(n as u32).to_le_bytes());
            for s in samples {
                bytes.extend_from_slice(&s.to_le_bytes());
            }
            let frame = Frame::decode(&bytes).expect("decodes");
            prop_assert_eq!(frame.samples_mv.as_slice(), samples);
            prop_assert_eq!(frame.frames(), n);
        }
    }
}
