//! Vital-sign numerics beside the ECG: what each one is, its unit, its plausible range and
//! whether a value is a reading at all. One table for the protocol (which refuses
//! implausible values), the stores and the rules (docs/ingest-protocol.md, "Numerics").

use crate::time::Nanos;
use crate::{DeviceId, PatientId};
use serde::{Deserialize, Serialize};

/// Which numeric a value is. The wire code (`code()`) is part of the gateway protocol and
/// never changes meaning; new kinds get new codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum VitalKind {
    /// Peripheral oxygen saturation, %.
    Spo2,
    /// Pulse rate from the pulse oximeter (or the BP cuff), /min.
    PulseRate,
    /// Respiration rate, breaths/min.
    RespirationRate,
    /// Seconds since the last detected breath (what apnea is judged on).
    SinceLastBreath,
    /// Body temperature, °C (site: skin or core).
    Temperature,
    /// Systolic blood pressure, mmHg (site: cuff or arterial).
    Systolic,
    /// Diastolic blood pressure, mmHg (site: cuff or arterial).
    Diastolic,
    /// Mean arterial pressure, mmHg (site: cuff or arterial).
    MeanBp,
    /// Body posture: a [`Posture`] code.
    Posture,
    /// Activity: an [`Activity`] code.
    Activity,
    /// A fall detected by the device (an event: value 1).
    Fall,
    /// Battery charge of the sensor or patch, %.
    Battery,
}

/// Where a value was measured; only some kinds have a site.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Site {
    #[default]
    Unspecified,
    /// Non-invasive blood pressure (cuff).
    Cuff,
    /// Invasive blood pressure (arterial line).
    Arterial,
    /// Skin temperature.
    Skin,
    /// Core temperature.
    Core,
}

/// The sensor's state when the value was taken: only `Valid` values are readings. A
/// probe off the finger or an electrode off the skin is a status, whatever number the
/// sensor puts beside it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum VitalStatus {
    #[default]
    Valid,
    /// Probe, electrode or line off or disconnected: there is no reading.
    SensorOff,
    /// The sensor is attached but says its value cannot be trusted (motion, low
    /// perfusion, calibration).
    Unreliable,
}

/// Which NEWS2 SpO2 band table applies (per patient): scale 2 is for patients with
/// hypercapnic respiratory failure whose prescribed target saturation is 88–92 %
/// (docs/vitals.md, "NEWS2").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Spo2Scale {
    #[default]
    Scale1,
    Scale2,
}

/// NEWS2's consciousness parameter: alert, or any of new confusion, voice, pain,
/// unresponsive (CVPU). A wearable cannot assess it; a clinician records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Consciousness {
    #[default]
    Alert,
    Cvpu,
}

/// Posture codes (the value of a [`VitalKind::Posture`] reading).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Posture {
    Upright = 1,
    Supine = 2,
    Prone = 3,
    LeftSide = 4,
    RightSide = 5,
}

/// Activity codes (the value of a [`VitalKind::Activity`] reading).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Resting = 1,
    Walking = 2,
    Running = 3,
    Other = 4,
}

/// What a kind's values must look like to be a plausible reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plausible {
    pub min: f32,
    pub max: f32,
    /// Codes and events are whole numbers.
    pub whole: bool,
}

impl VitalKind {
    pub const ALL: [VitalKind; 12] = [
        Self::Spo2,
        Self::PulseRate,
        Self::RespirationRate,
        Self::SinceLastBreath,
        Self::Temperature,
        Self::Systolic,
        Self::Diastolic,
        Self::MeanBp,
        Self::Posture,
        Self::Activity,
        Self::Fall,
        Self::Battery,
    ];

    /// The wire code (binary frame).
    pub fn code(self) -> u8 {
        match self {
            Self::Spo2 => 1,
            Self::PulseRate => 2,
            Self::RespirationRate => 3,
            Self::SinceLastBreath => 4,
            Self::Temperature => 5,
            Self::Systolic => 6,
            Self::Diastolic => 7,
            Self::MeanBp => 8,
            Self::Posture => 9,
            Self::Activity => 10,
            Self::Fall => 11,
            Self::Battery => 12,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The stable name (JSON, the store's tag, the api).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spo2 => "spo2",
            Self::PulseRate => "pulse_rate",
            Self::RespirationRate => "respiration_rate",
            Self::SinceLastBreath => "since_last_breath",
            Self::Temperature => "temperature",
            Self::Systolic => "systolic",
            Self::Diastolic => "diastolic",
            Self::MeanBp => "mean_bp",
            Self::Posture => "posture",
            Self::Activity => "activity",
            Self::Fall => "fall",
            Self::Battery => "battery",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn unit(self) -> &'static str {
        match self {
            Self::Spo2 | Self::Battery => "%",
            Self::PulseRate | Self::RespirationRate => "/min",
            Self::SinceLastBreath => "s",
            Self::Temperature => "°C",
            Self::Systolic | Self::Diastolic | Self::MeanBp => "mmHg",
            Self::Posture | Self::Activity | Self::Fall => "code",
        }
    }

    /// The range of a valid reading. Bounds are what a sensor can truly read on a living
    /// patient, wide on purpose: a reading inside them is stored and judged by the
    /// patient's rules; outside them it is a fault of the gateway (scaling, a sensor-off
    /// 0 sent as a reading) and is refused.
    pub fn plausible(self) -> Plausible {
        let range = |min: f32, max: f32| Plausible {
            min,
            max,
            whole: false,
        };
        let codes = |min: f32, max: f32| Plausible {
            min,
            max,
            whole: true,
        };
        match self {
            Self::Spo2 => range(20.0, 100.0),
            Self::PulseRate => range(15.0, 350.0),
            Self::RespirationRate => range(1.0, 150.0),
            Self::SinceLastBreath => range(0.0, 3600.0),
            Self::Temperature => range(25.0, 45.0),
            Self::Systolic => range(30.0, 300.0),
            Self::Diastolic => range(10.0, 250.0),
            Self::MeanBp => range(15.0, 280.0),
            Self::Posture => codes(1.0, 5.0),
            Self::Activity => codes(1.0, 4.0),
            Self::Fall => codes(1.0, 1.0),
            Self::Battery => range(0.0, 100.0),
        }
    }

    /// The sites a kind may name (always including `Unspecified`).
    pub fn allows_site(self, site: Site) -> bool {
        match site {
            Site::Unspecified => true,
            Site::Cuff | Site::Arterial => {
                matches!(self, Self::Systolic | Self::Diastolic | Self::MeanBp)
            }
            Site::Skin | Site::Core => self == Self::Temperature,
        }
    }
}

impl Site {
    pub const ALL: [Site; 5] = [
        Self::Unspecified,
        Self::Cuff,
        Self::Arterial,
        Self::Skin,
        Self::Core,
    ];

    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::Cuff => 1,
            Self::Arterial => 2,
            Self::Skin => 3,
            Self::Core => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Cuff => "cuff",
            Self::Arterial => "arterial",
            Self::Skin => "skin",
            Self::Core => "core",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl VitalStatus {
    pub const ALL: [VitalStatus; 3] = [Self::Valid, Self::SensorOff, Self::Unreliable];

    pub fn code(self) -> u8 {
        match self {
            Self::Valid => 0,
            Self::SensorOff => 1,
            Self::Unreliable => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::SensorOff => "sensor_off",
            Self::Unreliable => "unreliable",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One numeric at one time. `value` is None unless the status is `Valid`: a status
/// without a reading carries no number, so no store or rule can mistake it for one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VitalReading {
    pub time_ns: Nanos,
    pub kind: VitalKind,
    #[serde(default)]
    pub site: Site,
    #[serde(default)]
    pub status: VitalStatus,
    pub value: Option<f32>,
}

/// The numerics of one gateway frame, as ingest stores them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VitalBatch {
    pub patient: PatientId,
    pub device: DeviceId,
    pub seq: u64,
    pub readings: Vec<VitalReading>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_one_to_one() {
        for kind in VitalKind::ALL {
            assert_eq!(VitalKind::from_code(kind.code()), Some(kind));
            assert_eq!(VitalKind::parse(kind.as_str()), Some(kind));
            let p = kind.plausible();
            assert!(p.min <= p.max, "{kind:?}");
        }
        for site in Site::ALL {
            assert_eq!(Site::from_code(site.code()), Some(site));
            assert_eq!(Site::parse(site.as_str()), Some(site));
        }
        for status in VitalStatus::ALL {
            assert_eq!(VitalStatus::from_code(status.code()), Some(status));
            assert_eq!(VitalStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(VitalKind::from_code(0), None);
        assert_eq!(VitalKind::from_code(13), None);
    }

    #[test]
    fn serde_names_match_the_stable_names() {
        for kind in VitalKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).expect("serialises"),
                kind.as_str()
            );
        }
        for site in Site::ALL {
            assert_eq!(
                serde_json::to_value(site).expect("serialises"),
                site.as_str()
            );
        }
        for status in VitalStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).expect("serialises"),
                status.as_str()
            );
        }
    }

    #[test]
    fn sites_belong_to_their_kinds() {
        assert!(VitalKind::Systolic.allows_site(Site::Arterial));
        assert!(VitalKind::MeanBp.allows_site(Site::Cuff));
        assert!(VitalKind::Temperature.allows_site(Site::Core));
        assert!(!VitalKind::Spo2.allows_site(Site::Cuff));
        assert!(!VitalKind::Systolic.allows_site(Site::Skin));
        assert!(VitalKind::Fall.allows_site(Site::Unspecified));
    }

    #[test]
    fn posture_and_activity_codes_are_in_their_plausible_range() {
        for p in [
            Posture::Upright,
            Posture::Supine,
            Posture::Prone,
            Posture::LeftSide,
            Posture::RightSide,
        ] {
            let v = p as u8 as f32;
            let r = VitalKind::Posture.plausible();
            assert!((r.min..=r.max).contains(&v));
        }
        for a in [
            Activity::Resting,
            Activity::Walking,
            Activity::Running,
            Activity::Other,
        ] {
            let v = a as u8 as f32;
            let r = VitalKind::Activity.plausible();
            assert!((r.min..=r.max).contains(&v));
        }
    }
}
