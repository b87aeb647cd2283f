//! Turns a decoded frame into a sample block, or says which limit it broke.

use crate::config::Limits;
use cw_core::{Device, SampleBlock};
use cw_protocol::{Frame, HEADER_LEN, MAX_FRAME_BYTES, NackCode};

/// The most i16 samples a binary frame of `MAX_FRAME_BYTES` holds.
const MAX_SAMPLES: usize = (MAX_FRAME_BYTES - HEADER_LEN) / 2;

pub struct Rejection {
    pub code: NackCode,
    pub message: String,
}

fn reject(code: NackCode, message: String) -> Result<SampleBlock, Rejection> {
    Err(Rejection { code, message })
}

pub fn validate(
    frame: Frame,
    device: &Device,
    limits: &Limits,
    now_ns: i64,
) -> Result<SampleBlock, Rejection> {
    // A JSON frame is not bounded by the binary header: hold it to what a binary frame
    // of at most 64 KiB can carry (i16 samples), and to whole sample instants.
    if frame.samples_mv.len() > MAX_SAMPLES {
        return reject(
            NackCode::TooLarge,
            format!(
                "{} samples; the limit is {MAX_SAMPLES} per frame",
                frame.samples_mv.len()
            ),
        );
    }
    if !(limits.min_rate_hz..=limits.max_rate_hz).contains(&frame.rate_hz) {
        return reject(
            NackCode::RateOutOfRange,
            format!(
                "rate {} Hz is outside {}-{} Hz",
                frame.rate_hz, limits.min_rate_hz, limits.max_rate_hz
            ),
        );
    }
    if frame.leads == 0 || frame.leads > limits.max_leads {
        return reject(
            NackCode::LeadsOutOfRange,
            format!("{} leads is outside 1-{}", frame.leads, limits.max_leads),
        );
    }
    if !frame
        .samples_mv
        .len()
        .is_multiple_of(usize::from(frame.leads))
    {
        return reject(
            NackCode::BadFrame,
            format!(
                "{} samples is not a whole number of {}-lead instants",
                frame.samples_mv.len(),
                frame.leads
            ),
        );
    }
    // An empty block stores nothing, so an ack would vouch for nothing, and a gateway
    // that sends them has an encoder bug worth seeing (docs/ingest-protocol.md).
    if frame.samples_mv.is_empty() {
        return reject(
            NackCode::BadFrame,
            "the frame carries no samples (0 per lead)".into(),
        );
    }
    let skew_s = (frame.start_ns.saturating_sub(now_ns)).unsigned_abs() / 1_000_000_000;
    if skew_s > limits.max_clock_skew_s {
        return reject(
            NackCode::ClockSkew,
            format!(
                "start time is {skew_s} s from the server clock (limit {} s)",
                limits.max_clock_skew_s
            ),
        );
    }
    if let Some(index) = frame
        .samples_mv
        .iter()
        .position(|v| !v.is_finite() || v.abs() > limits.max_abs_mv)
    {
        return reject(
            NackCode::ValueOutOfRange,
            format!(
                "sample {index} is not finite or beyond ±{} mV",
                limits.max_abs_mv
            ),
        );
    }
    let samples_uv = frame
        .samples_mv
        .iter()
        .map(|mv| (mv * 1000.0).round() as i16)
        .collect();
    Ok(SampleBlock {
        patient: device.patient.clone(),
        device: device.id.clone(),
        seq: frame.seq,
        start_ns: frame.start_ns,
        rate_hz: frame.rate_hz,
        leads: frame.leads,
        samples_uv,
        lead_off: frame.lead_off,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{DeviceId, PatientId};

    const NOW: i64 = 1_700_000_000_000_000_000;

    fn device() -> Device {
        Device {
            id: DeviceId::parse("d1").expect("valid"),
            patient: PatientId::parse("p1").expect("valid"),
            token_sha256: String::new(),
            revoked: false,
            cert_sha256: None,
        }
    }

    fn frame() -> Frame {
        Frame {
            seq: 1,
            start_ns: NOW,
            rate_hz: 360,
            leads: 2,
            lead_off: false,
            samples_mv: vec![0.5, -0.25, 1.0, 2.0],
        }
    }

    fn code(frame: Frame) -> Option<NackCode> {
        validate(frame, &device(), &Limits::default(), NOW)
            .err()
            .map(|r| r.code)
    }

    #[test]
    fn a_valid_frame_becomes_a_block_of_the_devices_patient() {
        let block = validate(frame(), &device(), &Limits::default(), NOW)
            .ok()
            .expect("valid");
        assert_eq!(block.patient.as_str(), "p1");
        assert_eq!(block.samples_uv, vec![500, -250, 1000, 2000]);
    }

    #[test]
    fn each_limit_has_its_own_nack_code() {
        assert_eq!(
            code(Frame {
                rate_hz: 10,
                ..frame()
            }),
            Some(NackCode::RateOutOfRange)
        );
        assert_eq!(
            code(Frame {
                leads: 13,
                ..frame()
            }),
            Some(NackCode::LeadsOutOfRange)
        );
        assert_eq!(
            code(Frame {
                start_ns: NOW + 600_000_000_000,
                ..frame()
            }),
            Some(NackCode::ClockSkew)
        );
        assert_eq!(
            code(Frame {
                samples_mv: vec![0.0, f32::NAN, 0.0, 0.0],
                ..frame()
            }),
            Some(NackCode::ValueOutOfRange)
        );
        assert_eq!(
            code(Frame {
                samples_mv: vec![0.0, 25.0, 0.0, 0.0],
                ..frame()
            }),
            Some(NackCode::ValueOutOfRange)
        );
        assert_eq!(
            code(Frame {
                samples_mv: vec![0.0; 3],
                ..frame()
            }),
            Some(NackCode::BadFrame)
        );
        assert_eq!(
            code(Frame {
                samples_mv: vec![],
                ..frame()
            }),
            Some(NackCode::BadFrame),
            "0 samples per lead"
        );
        assert_eq!(
            code(Frame {
                samples_mv: vec![0.0; MAX_SAMPLES + 2],
                ..frame()
            }),
            Some(NackCode::TooLarge)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_frame_is_refused_or_becomes_an_in_range_block(
            seq in proptest::prelude::any::<u64>(),
            offset_s in -600i64..600,
            rate in proptest::prelude::any::<u32>(),
            leads in proptest::prelude::any::<u8>(),
            samples in proptest::collection::vec(proptest::prelude::any::<f32>(), 0..64),
        ) {
            let frame = Frame {
                seq,
                start_ns: NOW + offset_s * 1_000_000_000,
                rate_hz: rate,
                leads,
                lead_off: false,
                samples_mv: samples.clone(),
            };
            if let Ok(block) = validate(frame, &device(), &Limits::default(), NOW) {
                proptest::prop_assert!((50..=2000).contains(&block.rate_hz));
                proptest::prop_assert!((1..=12).contains(&block.leads));
                proptest::prop_assert_eq!(block.samples_uv.len(), samples.len());
                proptest::prop_assert!(!block.samples_uv.is_empty());
                proptest::prop_assert!(block.samples_uv.len().is_multiple_of(usize::from(block.leads)));
                proptest::prop_assert!(block.samples_uv.iter().all(|uv| uv.unsigned_abs() <= 20_000));
            }
        }
    }
}
