//! Which frame a gateway sent: the ECG sample frame or the numerics frame. Old gateways
//! send only sample frames, which read exactly as before (docs/ingest-protocol.md,
//! "Numerics").

use crate::frame::{Frame, FrameError};
use crate::numerics::{self, NumericsDecodeError, NumericsFrame};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq)]
pub enum AnyFrame {
    Samples(Frame),
    Numerics(NumericsFrame),
}

/// Why a binary frame of either type cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnyFrameError {
    #[error(transparent)]
    Samples(#[from] FrameError),
    #[error(transparent)]
    Numerics(#[from] NumericsDecodeError),
}

impl AnyFrameError {
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Self::Samples(FrameError::TooLarge(_))
                | Self::Numerics(NumericsDecodeError::TooLarge(_))
        )
    }
}

/// Decodes a binary frame by its first byte: 2 is a numerics frame, anything else is read
/// (and refused, if need be) as a sample frame, as before numerics existed.
pub fn decode_binary(bytes: &[u8]) -> Result<AnyFrame, AnyFrameError> {
    if bytes.first() == Some(&numerics::FRAME_TYPE) {
        Ok(AnyFrame::Numerics(NumericsFrame::decode(bytes)?))
    } else {
        Ok(AnyFrame::Samples(Frame::decode(bytes)?))
    }
}

/// The JSON form: `"type": "numerics"` is a numerics frame; no `type` (what old gateways
/// send) or `"type": "samples"` is a sample frame.
pub fn parse_json(body: &[u8]) -> Result<AnyFrame, serde_json::Error> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(rename = "type", default)]
        kind: Option<String>,
    }
    let peek: Peek = serde_json::from_slice(body)?;
    match peek.kind.as_deref() {
        Some("numerics") => Ok(AnyFrame::Numerics(serde_json::from_slice(body)?)),
        None | Some("samples") => Ok(AnyFrame::Samples(serde_json::from_slice(body)?)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "unknown frame type `{other}` (expected `samples` or `numerics`)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_json_frame_still_reads_as_samples() {
        let body = br#"{"seq": 7, "start_ns": 1, "rate_hz": 360, "leads": 1, "samples_mv": [0.1]}"#;
        assert!(matches!(parse_json(body), Ok(AnyFrame::Samples(f)) if f.seq == 7));
    }

    #[test]
    fn a_json_numerics_frame_reads_as_numerics() {
        let body = br#"{"type": "numerics", "seq": 8, "start_ns": 1, "numerics": [
            {"kind": "spo2", "value": 97.5},
            {"kind": "systolic", "site": "cuff", "value": 120, "offset_ms": -500},
            {"kind": "respiration_rate", "status": "sensor_off"}]}"#;
        let Ok(AnyFrame::Numerics(f)) = parse_json(body) else {
            panic!("not numerics");
        };
        assert_eq!(f.seq, 8);
        assert_eq!(f.numerics.len(), 3);
        assert_eq!(f.numerics[1].site, cw_core::Site::Cuff);
        assert_eq!(f.numerics[2].status, cw_core::VitalStatus::SensorOff);
    }

    #[test]
    fn unknown_types_kinds_and_fields_are_errors() {
        assert!(parse_json(br#"{"type": "x", "seq": 1}"#).is_err());
        assert!(
            parse_json(br#"{"type": "numerics", "seq": 1, "start_ns": 1, "numerics": [{"kind": "glucose", "value": 5}]}"#)
                .is_err()
        );
        assert!(
            parse_json(br#"{"type": "numerics", "seq": 1, "start_ns": 1, "numerics": [{"kind": "spo2", "valu": 5}]}"#)
                .is_err()
        );
    }

    #[test]
    fn binary_frames_go_by_their_first_byte() {
        let samples = Frame::encode_i16(1, 0, 250, 1, false, &[1, 2]);
        assert!(matches!(decode_binary(&samples), Ok(AnyFrame::Samples(_))));
        let numerics = NumericsFrame {
            seq: 2,
            start_ns: 0,
            numerics: vec![],
        }
        .encode();
        assert!(matches!(
            decode_binary(&numerics),
            Ok(AnyFrame::Numerics(_))
        ));
        assert!(matches!(
            decode_binary(&[9; 40]),
            Err(AnyFrameError::Samples(FrameError::Version(9)))
        ));
    }
}
