//! A patient's threshold policy: the limits *their* doctor set. Versioned; every change
//! is validated here so the API, the CLI and the engine agree on what is plausible.

use crate::{PatientId, Priority};
use serde::{Deserialize, Serialize};

/// One heart-rate limit and how the alarm behaves around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HrLimit {
    /// The limit in beats per minute.
    pub bpm: f32,
    pub priority: Priority,
    /// How long the limit must be crossed before the alert fires (onset delay).
    #[serde(default)]
    pub for_s: f32,
    /// The rate must come back this far inside the limit to count as clear.
    #[serde(default = "default_hysteresis_bpm")]
    pub hysteresis_bpm: f32,
    /// …and stay clear this long before the alert resolves.
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

fn default_hysteresis_bpm() -> f32 {
    5.0
}

fn default_clear_s() -> f32 {
    10.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdPolicy {
    pub patient: PatientId,
    /// Bumped by the store on every change; alerts record the version that raised them.
    #[serde(default)]
    pub version: u32,
    pub hr_high: Option<HrLimit>,
    pub hr_low: Option<HrLimit>,
    /// Beats averaged for the displayed and evaluated heart rate (monitors use ~12).
    #[serde(default = "default_average_beats")]
    pub hr_average_beats: u8,
}

fn default_average_beats() -> u8 {
    12
}

/// A policy that is not physiologically plausible or not consistent; names the field so
/// the API can answer 422 with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

fn check(ok: bool, field: &'static str, message: impl Into<String>) -> Result<(), ValidationError> {
    if ok {
        Ok(())
    } else {
        Err(ValidationError {
            field,
            message: message.into(),
        })
    }
}

impl ThresholdPolicy {
    /// A policy with no limits (nothing can fire).
    pub fn empty(patient: PatientId) -> Self {
        Self {
            patient,
            version: 0,
            hr_high: None,
            hr_low: None,
            hr_average_beats: default_average_beats(),
        }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(high) = &self.hr_high {
            check(
                (40.0..=300.0).contains(&high.bpm),
                "hr_high.bpm",
                "must be between 40 and 300 bpm",
            )?;
            validate_limit(high, &HR_HIGH_FIELDS)?;
        }
        if let Some(low) = &self.hr_low {
            check(
                (20.0..=200.0).contains(&low.bpm),
                "hr_low.bpm",
                "must be between 20 and 200 bpm",
            )?;
            validate_limit(low, &HR_LOW_FIELDS)?;
        }
        if let (Some(high), Some(low)) = (&self.hr_high, &self.hr_low) {
            check(
                low.bpm + low.hysteresis_bpm < high.bpm - high.hysteresis_bpm,
                "hr_low.bpm",
                "must be below hr_high.bpm, with room for both hysteresis bands",
            )?;
        }
        check(
            (1..=64).contains(&self.hr_average_beats),
            "hr_average_beats",
            "must be between 1 and 64 beats",
        )
    }
}

/// Field names of one limit's settings, for errors that point at the exact field.
struct LimitFields {
    for_s: &'static str,
    hysteresis_bpm: &'static str,
    clear_s: &'static str,
}

const HR_HIGH_FIELDS: LimitFields = LimitFields {
    for_s: "hr_high.for_s",
    hysteresis_bpm: "hr_high.hysteresis_bpm",
    clear_s: "hr_high.clear_s",
};

const HR_LOW_FIELDS: LimitFields = LimitFields {
    for_s: "hr_low.for_s",
    hysteresis_bpm: "hr_low.hysteresis_bpm",
    clear_s: "hr_low.clear_s",
};

fn validate_limit(limit: &HrLimit, fields: &LimitFields) -> Result<(), ValidationError> {
    check(
        limit.for_s.is_finite() && (0.0..=600.0).contains(&limit.for_s),
        fields.for_s,
        "must be between 0 and 600 s",
    )?;
    check(
        limit.hysteresis_bpm.is_finite() && (0.0..=30.0).contains(&limit.hysteresis_bpm),
        fields.hysteresis_bpm,
        "must be between 0 and 30 bpm",
    )?;
    check(
        limit.clear_s.is_finite() && (0.0..=600.0).contains(&limit.clear_s),
        fields.clear_s,
        "must be between 0 and 600 s",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(bpm: f32) -> HrLimit {
        HrLimit {
            bpm,
            priority: Priority::High,
            for_s: 5.0,
            hysteresis_bpm: 5.0,
            clear_s: 10.0,
        }
    }

    fn policy() -> ThresholdPolicy {
        ThresholdPolicy {
            hr_high: Some(limit(120.0)),
            hr_low: Some(limit(45.0)),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        }
    }

    #[test]
    fn plausible_policy_is_valid() {
        assert_eq!(policy().validate(), Ok(()));
    }

    #[test]
    fn implausible_high_limit_names_its_field() {
        let mut p = policy();
        p.hr_high = Some(limit(900.0));
        assert_eq!(p.validate().map_err(|e| e.field), Err("hr_high.bpm"));
    }

    #[test]
    fn low_above_high_is_inconsistent() {
        let mut p = policy();
        p.hr_low = Some(limit(130.0));
        assert_eq!(p.validate().map_err(|e| e.field), Err("hr_low.bpm"));
    }

    #[test]
    fn nan_onset_delay_is_rejected() {
        let mut p = policy();
        p.hr_low = Some(HrLimit {
            for_s: f32::NAN,
            ..limit(40.0)
        });
        assert_eq!(p.validate().map_err(|e| e.field), Err("hr_low.for_s"));
    }
}
