//! The numerics frame: vital-sign values (SpO2, pulse, respiration, temperature, blood
//! pressure, posture, activity, falls, battery), each with its own time, site and sensor
//! status. It shares the sample frame's first 12 bytes (type byte, seq at 4..12), so one
//! socket carries both and a refused frame is still named by its seq.
//!
//! All integers little-endian:
//! ```text
//! offset size field
//!  0     1    frame type: 2 = numerics (1 is the ECG sample frame)
//!  1     1    numerics format (1)
//!  2     2    item count (u16, 1..=MAX_ITEMS)
//!  4     8    device sequence number (u64, the device's one counter for all frames)
//! 12     8    base time, ns since the Unix epoch (i64)
//! 20     12×n items:
//!        +0 u8  kind code (cw_core::VitalKind::code)
//!        +1 u8  site code (cw_core::Site::code)
//!        +2 u8  status code (cw_core::VitalStatus::code)
//!        +3 u8  reserved, 0
//!        +4 i32 time offset from the base time, ms
//!        +8 f32 value (read only when the status is valid)
//! ```
//! docs/ingest-protocol.md ("Numerics") is the prose, with every code, unit and limit.

use cw_core::time::Nanos;
use cw_core::{Site, VitalKind, VitalReading, VitalStatus};
use serde::{Deserialize, Serialize};

use crate::frame::MAX_FRAME_BYTES;
use crate::reply::NackCode;

/// The frame type byte of a numerics frame.
pub const FRAME_TYPE: u8 = 2;
/// The numerics format this release reads and writes.
pub const FORMAT: u8 = 1;
pub const HEADER_LEN: usize = 20;
pub const ITEM_LEN: usize = 12;
/// Items in one frame: a minute of 1 Hz values of a dozen kinds fits in a few frames.
pub const MAX_ITEMS: usize = 1024;

/// One item as sent: codes already known to this release, values not yet judged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub kind: VitalKind,
    #[serde(default)]
    pub site: Site,
    #[serde(default)]
    pub status: VitalStatus,
    /// Milliseconds after the frame's `start_ns` (may be negative).
    #[serde(default)]
    pub offset_ms: i32,
    /// Required when the status is valid; ignored otherwise.
    #[serde(default)]
    pub value: Option<f32>,
}

/// A decoded numerics frame (binary, or the JSON form with `"type":"numerics"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericsFrame {
    pub seq: u64,
    pub start_ns: Nanos,
    pub numerics: Vec<Item>,
}

/// Why a numerics frame cannot be read at all (answered `bad_frame` / `too_large`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NumericsDecodeError {
    #[error("numerics frame is {0} bytes; the limit is {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    #[error("numerics frame is shorter than its {HEADER_LEN}-byte header")]
    Truncated,
    #[error("not a numerics frame (type byte {0})")]
    Type(u8),
    #[error("unsupported numerics format {0}")]
    Format(u8),
    #[error("header announces {expected} item bytes, frame has {actual}")]
    Length { expected: usize, actual: usize },
    #[error("item {item}: unknown {field} code {code}")]
    UnknownCode {
        item: usize,
        field: &'static str,
        code: u8,
    },
}

/// Why a readable numerics frame is refused; each maps to one nack code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NumericsRejection {
    #[error("the frame carries no numerics")]
    Empty,
    #[error("{0} numerics; the limit is {MAX_ITEMS} per frame")]
    TooMany(usize),
    #[error("item {item}: {kind} cannot have site {site}")]
    Site {
        item: usize,
        kind: &'static str,
        site: &'static str,
    },
    #[error("item {item}: {kind} is valid but has no value")]
    MissingValue { item: usize, kind: &'static str },
    /// The message names the item and the range, never the value: nacks are logged, and
    /// a vital sign is health data.
    #[error(
        "item {item}: {kind} is implausible (valid readings are {min}–{max} {unit}{whole}); send a sensor-off status instead of a number when the sensor reads nothing"
    )]
    Implausible {
        item: usize,
        kind: &'static str,
        unit: &'static str,
        min: f32,
        max: f32,
        whole: &'static str,
    },
    #[error("item {item}: time is {skew_s} s from the server clock (limit {limit_s} s)")]
    ClockSkew {
        item: usize,
        skew_s: u64,
        limit_s: u64,
    },
}

impl NumericsRejection {
    /// The nack code a gateway acts on.
    pub fn code(&self) -> NackCode {
        match self {
            Self::Empty | Self::MissingValue { .. } => NackCode::BadFrame,
            Self::TooMany(_) => NackCode::TooLarge,
            Self::Site { .. } | Self::Implausible { .. } => NackCode::ImplausibleValue,
            Self::ClockSkew { .. } => NackCode::ClockSkew,
        }
    }
}

impl NumericsFrame {
    /// Decodes a binary numerics frame. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, NumericsDecodeError> {
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(NumericsDecodeError::TooLarge(bytes.len()));
        }
        if bytes.len() < HEADER_LEN {
            return Err(NumericsDecodeError::Truncated);
        }
        if bytes[0] != FRAME_TYPE {
            return Err(NumericsDecodeError::Type(bytes[0]));
        }
        if bytes[1] != FORMAT {
            return Err(NumericsDecodeError::Format(bytes[1]));
        }
        let count = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
        let payload = &bytes[HEADER_LEN..];
        let expected = count * ITEM_LEN;
        if payload.len() != expected {
            return Err(NumericsDecodeError::Length {
                expected,
                actual: payload.len(),
            });
        }
        let mut numerics = Vec::with_capacity(count);
        for (item, b) in payload.chunks_exact(ITEM_LEN).enumerate() {
            let unknown = |field, code| NumericsDecodeError::UnknownCode { item, field, code };
            let kind = VitalKind::from_code(b[0]).ok_or(unknown("kind", b[0]))?;
            let site = Site::from_code(b[1]).ok_or(unknown("site", b[1]))?;
            let status = VitalStatus::from_code(b[2]).ok_or(unknown("status", b[2]))?;
            let offset_ms = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            let value = f32::from_le_bytes([b[8], b[9], b[10], b[11]]);
            numerics.push(Item {
                kind,
                site,
                status,
                offset_ms,
                value: (status == VitalStatus::Valid).then_some(value),
            });
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&bytes[4..12]);
        let mut start = [0u8; 8];
        start.copy_from_slice(&bytes[12..20]);
        Ok(Self {
            seq: u64::from_le_bytes(seq),
            start_ns: i64::from_le_bytes(start),
            numerics,
        })
    }

    /// Encodes as a binary numerics frame (what gateways send). A status other than valid
    /// is sent with a NaN value, so a receiver that ignored the status would still not
    /// read a number. More than `u16::MAX` items cannot be encoded: the count saturates
    /// and the receiver refuses the length.
    pub fn encode(&self) -> Vec<u8> {
        let count = u16::try_from(self.numerics.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(HEADER_LEN + self.numerics.len() * ITEM_LEN);
        out.extend_from_slice(&[FRAME_TYPE, FORMAT]);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.start_ns.to_le_bytes());
        for item in &self.numerics {
            out.extend_from_slice(&[item.kind.code(), item.site.code(), item.status.code(), 0]);
            out.extend_from_slice(&item.offset_ms.to_le_bytes());
            let value = match item.status {
                VitalStatus::Valid => item.value.unwrap_or(f32::NAN),
                _ => f32::NAN,
            };
            out.extend_from_slice(&value.to_le_bytes());
        }
        out
    }

    /// Judges every item against its kind's plausible range and the clock; the readings
    /// to store, or the first item that broke a limit. Order: count, then per item site,
    /// clock, value.
    pub fn validate(
        &self,
        now_ns: Nanos,
        max_clock_skew_s: u64,
    ) -> Result<Vec<VitalReading>, NumericsRejection> {
        if self.numerics.is_empty() {
            return Err(NumericsRejection::Empty);
        }
        if self.numerics.len() > MAX_ITEMS {
            return Err(NumericsRejection::TooMany(self.numerics.len()));
        }
        self.numerics
            .iter()
            .enumerate()
            .map(|(item, it)| judge(item, it, self.start_ns, now_ns, max_clock_skew_s))
            .collect()
    }
}

fn judge(
    item: usize,
    it: &Item,
    start_ns: Nanos,
    now_ns: Nanos,
    max_clock_skew_s: u64,
) -> Result<VitalReading, NumericsRejection> {
    let kind = it.kind.as_str();
    if !it.kind.allows_site(it.site) {
        return Err(NumericsRejection::Site {
            item,
            kind,
            site: it.site.as_str(),
        });
    }
    let time_ns = start_ns.saturating_add(i64::from(it.offset_ms) * 1_000_000);
    let skew_s = time_ns.saturating_sub(now_ns).unsigned_abs() / 1_000_000_000;
    if skew_s > max_clock_skew_s {
        return Err(NumericsRejection::ClockSkew {
            item,
            skew_s,
            limit_s: max_clock_skew_s,
        });
    }
    let value = match it.status {
        VitalStatus::Valid => {
            let value = it
                .value
                .ok_or(NumericsRejection::MissingValue { item, kind })?;
            let p = it.kind.plausible();
            let in_range = value.is_finite() && (p.min..=p.max).contains(&value);
            if !in_range || (p.whole && value.fract() != 0.0) {
                return Err(NumericsRejection::Implausible {
                    item,
                    kind,
                    unit: it.kind.unit(),
                    min: p.min,
                    max: p.max,
                    whole: if p.whole { ", whole numbers" } else { "" },
                });
            }
            Some(value)
        }
        // A status is stored as a status: whatever number came with it is dropped.
        VitalStatus::SensorOff | VitalStatus::Unreliable => None,
    };
    Ok(VitalReading {
        time_ns,
        kind: it.kind,
        site: it.site,
        status: it.status,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000_000_000;

    fn item(kind: VitalKind, value: f32) -> Item {
        Item {
            kind,
            site: Site::Unspecified,
            status: VitalStatus::Valid,
            offset_ms: 0,
            value: Some(value),
        }
    }

    fn frame(numerics: Vec<Item>) -> NumericsFrame {
        NumericsFrame {
            seq: 5,
            start_ns: NOW,
            numerics,
        }
    }

    #[test]
    fn a_frame_round_trips_through_the_binary_form() {
        let f = frame(vec![
            item(VitalKind::Spo2, 97.0),
            Item {
                site: Site::Arterial,
                offset_ms: -250,
                ..item(VitalKind::Systolic, 121.0)
            },
            Item {
                status: VitalStatus::SensorOff,
                value: None,
                ..item(VitalKind::RespirationRate, 0.0)
            },
        ]);
        let bytes = f.encode();
        assert_eq!(bytes.len(), HEADER_LEN + 3 * ITEM_LEN);
        assert_eq!(NumericsFrame::decode(&bytes), Ok(f));
    }

    #[test]
    fn a_sensor_off_item_carries_no_value_whatever_was_sent() {
        let mut bytes = frame(vec![item(VitalKind::Spo2, 0.0)]).encode();
        bytes[HEADER_LEN + 2] = VitalStatus::SensorOff.code();
        let f = NumericsFrame::decode(&bytes).expect("decodes");
        assert_eq!(f.numerics[0].value, None);
        let readings = f.validate(NOW, 300).expect("valid");
        assert_eq!(readings[0].status, VitalStatus::SensorOff);
        assert_eq!(readings[0].value, None);
    }

    #[test]
    fn unreadable_frames_say_why() {
        let good = frame(vec![item(VitalKind::Spo2, 97.0)]).encode();
        assert_eq!(
            NumericsFrame::decode(&good[..10]),
            Err(NumericsDecodeError::Truncated)
        );
        let mut bad = good.clone();
        bad[1] = 9;
        assert_eq!(
            NumericsFrame::decode(&bad),
            Err(NumericsDecodeError::Format(9))
        );
        let mut bad = good.clone();
        bad.pop();
        assert!(matches!(
            NumericsFrame::decode(&bad),
            Err(NumericsDecodeError::Length { .. })
        ));
        let mut bad = good.clone();
        bad[HEADER_LEN] = 200;
        assert_eq!(
            NumericsFrame::decode(&bad),
            Err(NumericsDecodeError::UnknownCode {
                item: 0,
                field: "kind",
                code: 200
            })
        );
        let mut bad = good;
        bad[HEADER_LEN + 1] = 77;
        assert!(matches!(
            NumericsFrame::decode(&bad),
            Err(NumericsDecodeError::UnknownCode { field: "site", .. })
        ));
    }

    #[test]
    fn every_kind_is_refused_just_outside_its_range_and_accepted_at_its_edges() {
        for kind in VitalKind::ALL {
            let p = kind.plausible();
            for edge in [p.min, p.max] {
                assert!(
                    frame(vec![item(kind, edge)]).validate(NOW, 300).is_ok(),
                    "{kind:?} {edge}"
                );
            }
            for outside in [p.min - 1.0, p.max + 1.0, f32::NAN, f32::INFINITY] {
                assert!(
                    matches!(
                        frame(vec![item(kind, outside)]).validate(NOW, 300),
                        Err(NumericsRejection::Implausible { .. })
                    ),
                    "{kind:?} {outside}"
                );
            }
        }
    }

    #[test]
    fn a_zero_spo2_sent_as_a_reading_is_implausible() {
        let err = frame(vec![item(VitalKind::Spo2, 0.0)])
            .validate(NOW, 300)
            .expect_err("refused");
        assert!(err.to_string().contains("sensor-off"), "{err}");
    }

    #[test]
    fn codes_must_be_whole_numbers() {
        assert!(matches!(
            frame(vec![item(VitalKind::Posture, 2.5)]).validate(NOW, 300),
            Err(NumericsRejection::Implausible { .. })
        ));
    }

    #[test]
    fn other_limits_have_their_own_rejection() {
        assert_eq!(
            frame(vec![]).validate(NOW, 300),
            Err(NumericsRejection::Empty)
        );
        assert!(matches!(
            frame(vec![item(VitalKind::Spo2, 97.0); MAX_ITEMS + 1]).validate(NOW, 300),
            Err(NumericsRejection::TooMany(_))
        ));
        assert!(matches!(
            frame(vec![Item {
                site: Site::Cuff,
                ..item(VitalKind::Spo2, 97.0)
            }])
            .validate(NOW, 300),
            Err(NumericsRejection::Site { .. })
        ));
        assert!(matches!(
            frame(vec![Item {
                value: None,
                ..item(VitalKind::Spo2, 97.0)
            }])
            .validate(NOW, 300),
            Err(NumericsRejection::MissingValue { .. })
        ));
        assert!(matches!(
            frame(vec![Item {
                offset_ms: 400_000,
                ..item(VitalKind::Spo2, 97.0)
            }])
            .validate(NOW, 300),
            Err(NumericsRejection::ClockSkew { item: 0, .. })
        ));
    }

    #[test]
    fn each_item_keeps_its_own_time() {
        let readings = frame(vec![
            item(VitalKind::Spo2, 97.0),
            Item {
                offset_ms: 1500,
                ..item(VitalKind::Spo2, 96.0)
            },
        ])
        .validate(NOW, 300)
        .expect("valid");
        assert_eq!(readings[0].time_ns, NOW);
        assert_eq!(readings[1].time_ns, NOW + 1_500_000_000);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(f) = NumericsFrame::decode(&bytes) {
                let _ = f.validate(NOW, 300);
            }
        }

        #[test]
        fn arbitrary_items_never_panic(kind in 1u8..=12, site in 0u8..=4, status in 0u8..=2,
                                       offset in any::<i32>(), value in any::<f32>(),
                                       start in any::<i64>()) {
            let mut bytes = NumericsFrame { seq: 1, start_ns: start, numerics: vec![] }.encode();
            bytes[2] = 1;
            bytes.extend_from_slice(&[kind, site, status, 0]);
            bytes.extend_from_slice(&offset.to_le_bytes());
            bytes.extend_from_slice(&value.to_le_bytes());
            let f = NumericsFrame::decode(&bytes).expect("decodes");
            if let Ok(readings) = f.validate(NOW, 300) {
                let r = readings[0];
                prop_assert_eq!(r.value.is_some(), r.status == VitalStatus::Valid);
                if let Some(v) = r.value {
                    let p = r.kind.plausible();
                    prop_assert!((p.min..=p.max).contains(&v));
                }
            }
        }
    }
}
