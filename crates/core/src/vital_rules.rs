//! Settings of the vital-sign rules of a [`crate::ThresholdPolicy`] (issue 18): a limit on
//! one numeric (SpO2 low, respiration low/high, systolic BP low/high, temperature
//! high/low) and the technical sensor-off alarm. The defaults, and why, are in
//! docs/vitals.md ("Rules"); [`VITAL_LIMITS`] is the one table of which rule watches which
//! numeric in which direction.

use crate::policy::{ValidationError, check};
use crate::rules::{RuleRow, Timing};
use crate::vitals::{Consciousness, Spo2Scale};
use crate::{Priority, RuleKind, VitalKind};
use serde::{Deserialize, Serialize};

/// The hold against momentary dips (docs/vitals.md, "Hold"): a vital-sign limit fires only
/// once its numeric stayed beyond it this long. 15 s is the desaturation delay bedside
/// oximeters ship with; a probe shifting on a finger or a cough lasts less.
pub const DEFAULT_HOLD_S: f32 = 15.0;

/// How long a vital sign must be back inside its limit (past the hysteresis) before the
/// alert resolves.
pub const DEFAULT_VITAL_CLEAR_S: f32 = 30.0;

fn default_hold_s() -> f32 {
    DEFAULT_HOLD_S
}

fn default_clear_s() -> f32 {
    DEFAULT_VITAL_CLEAR_S
}

fn medium() -> Priority {
    Priority::Medium
}

/// A limit on one vital sign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VitalLimit {
    /// In the numeric's unit (`VitalKind::unit`).
    pub limit: f32,
    #[serde(default = "medium")]
    pub priority: Priority,
    /// Hold: the numeric must stay beyond the limit this long before the alert fires
    /// (not for cuff blood pressure, an intermittent measurement: each reading counts).
    #[serde(default = "default_hold_s")]
    pub hold_s: f32,
    /// The value must come back this far inside the limit to count as clear; None: the
    /// rule's default ([`VitalLimitRule::hysteresis`]).
    #[serde(default)]
    pub hysteresis: Option<f32>,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

/// Which way a limit is crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Below,
    Above,
}

/// One vital-sign limit rule: the numeric it watches, the direction, and its shipped
/// default limit and hysteresis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VitalLimitRule {
    pub rule: RuleKind,
    pub kind: VitalKind,
    pub direction: Direction,
    /// The policy field (also the validation error's field prefix).
    pub field: &'static str,
    pub default_limit: f32,
    pub hysteresis: f32,
    /// The shipped hold (0 where the numeric is itself a duration, or an event) and
    /// priority.
    pub default_hold_s: f32,
    pub default_priority: Priority,
}

/// Every vital-sign limit rule (docs/vitals.md, "Rules", gives the sources of the limits).
pub const VITAL_LIMITS: [VitalLimitRule; 9] = [
    VitalLimitRule {
        rule: RuleKind::Spo2Low,
        kind: VitalKind::Spo2,
        direction: Direction::Below,
        field: "spo2_low",
        default_limit: 90.0,
        hysteresis: 2.0,
        default_hold_s: DEFAULT_HOLD_S,
        default_priority: Priority::Medium,
    },
    VitalLimitRule {
        rule: RuleKind::RespirationLow,
        kind: VitalKind::RespirationRate,
        direction: Direction::Below,
        field: "respiration_low",
        default_limit: 8.0,
        hysteresis: 2.0,
        default_hold_s: DEFAULT_HOLD_S,
        default_priority: Priority::Medium,
    },
    VitalLimitRule {
        rule: RuleKind::RespirationHigh,
        kind: VitalKind::RespirationRate,
        direction: Direction::Above,
        field: "respiration_high",
        default_limit: 30.0,
        hysteresis: 2.0,
        default_hold_s: DEFAULT_HOLD_S,
        default_priority: Priority::Medium,
    },
    VitalLimitRule {
        rule: RuleKind::SystolicLow,
        kind: VitalKind::Systolic,
        direction: Direction::Below,
        field: "systolic_low",
        default_limit: 90.0,
        hysteresis: 5.0,
        default_hold_s: DEFAULT_HOLD_S,
        default_priority: Priority::Medium,
    },
    VitalLimitRule {
        rule: RuleKind::SystolicHigh,
        kind: VitalKind::Systolic,
        direction: Direction::Above,
        field: "systolic_high",
        default_limit: 180.0,
        hysteresis: 5.0,
        default_hold_s: DEFAULT_HOLD_S,
        default_priority: Priority::Medium,
    },
    VitalLimitRule {
        rule: RuleKind::TemperatureHigh,
        kind: VitalKind::Temperature,
        direction: Direction::Above,
        field: "temperature_high",
        default_limit: 39.0,
        hysteresis: 0.3,
        default_hold_s: DEFAULT_HOLD_S,
        default_priority: Priority::Medium,
    },
    VitalLimitRule {
        rule: RuleKind::TemperatureLow,
        kind: VitalKind::Temperature,
        direction: Direction::Below,
        field: "temperature_low",
        default_limit: 35.0,
        hysteresis: 0.3,
        default_hold_s: DEFAULT_HOLD_S,
        default_priority: Priority::Medium,
    },
    // Apnea: the numeric is already the time without a breath, so no hold; 20 s is the
    // usual apnea definition and monitor default.
    VitalLimitRule {
        rule: RuleKind::Apnea,
        kind: VitalKind::SinceLastBreath,
        direction: Direction::Above,
        field: "apnea",
        default_limit: 20.0,
        hysteresis: 15.0,
        default_hold_s: 0.0,
        default_priority: Priority::High,
    },
    // Technical: the patch will stop soon; a battery gauge does not flicker.
    VitalLimitRule {
        rule: RuleKind::BatteryLow,
        kind: VitalKind::Battery,
        direction: Direction::Below,
        field: "battery_low",
        default_limit: 20.0,
        hysteresis: 5.0,
        default_hold_s: 0.0,
        default_priority: Priority::Low,
    },
];

impl VitalLimitRule {
    /// The row of `rule`, if it is a vital-sign limit rule.
    pub fn of(rule: RuleKind) -> Option<&'static VitalLimitRule> {
        VITAL_LIMITS.iter().find(|r| r.rule == rule)
    }

    /// The shipped default setting of this rule.
    pub fn recommended(&self) -> VitalLimit {
        VitalLimit {
            limit: self.default_limit,
            priority: self.default_priority,
            hold_s: self.default_hold_s,
            hysteresis: None,
            clear_s: DEFAULT_VITAL_CLEAR_S,
        }
    }

    /// Whether `value` crosses `setting`'s limit, and whether it is clear (back inside
    /// past the hysteresis band).
    pub fn judge(&self, setting: &VitalLimit, value: f32) -> (bool, bool) {
        let band = setting.hysteresis.unwrap_or(self.hysteresis);
        match self.direction {
            Direction::Below => (value < setting.limit, value >= setting.limit + band),
            Direction::Above => (value > setting.limit, value <= setting.limit - band),
        }
    }
}

impl VitalLimit {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.limit,
            timing: Timing {
                for_s: self.hold_s,
                clear_s: self.clear_s,
            },
        }
    }

    pub(crate) fn validate(&self, rule: &VitalLimitRule) -> Result<(), ValidationError> {
        let range = rule.kind.plausible();
        check(
            self.limit.is_finite() && (range.min..=range.max).contains(&self.limit),
            rule.field,
            format!(
                "limit must be between {} and {} {}",
                range.min,
                range.max,
                rule.kind.unit()
            ),
        )?;
        check(
            (0.0..=600.0).contains(&self.hold_s),
            rule.field,
            "hold_s must be between 0 and 600 s",
        )?;
        check(
            (0.0..=600.0).contains(&self.clear_s),
            rule.field,
            "clear_s must be between 0 and 600 s",
        )?;
        let span = range.max - range.min;
        check(
            self.hysteresis
                .is_none_or(|h| h.is_finite() && (0.0..=span / 4.0).contains(&h)),
            rule.field,
            format!("hysteresis must be between 0 and {}", span / 4.0),
        )
    }
}

/// NEWS2 escalation (docs/vitals.md, "NEWS2 escalation"): the score of the latest valid
/// numerics raises `news2_urgent` (aggregate 5–6, or a 3 in one parameter; medium) and
/// `news2_emergency` (7 or more; high).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct News2Rule {
    #[serde(default)]
    pub spo2_scale: Spo2Scale,
    /// Supplemental oxygen as a clinician recorded it; None: not recorded, scored as room
    /// air (0 points) and reported as assumed.
    #[serde(default)]
    pub on_oxygen: Option<bool>,
    /// ACVPU as a clinician recorded it; None: not recorded, scored as alert (0 points)
    /// and reported as assumed.
    #[serde(default)]
    pub consciousness: Option<Consciousness>,
    /// A numeric older than this no longer counts (the parameter is missing).
    #[serde(default = "default_news2_max_age_s")]
    pub max_age_s: f32,
    /// The response must hold this long before its alert fires.
    #[serde(default = "default_hold_s")]
    pub hold_s: f32,
    #[serde(default = "default_news2_clear_s")]
    pub clear_s: f32,
}

/// 30 min: a cuff reading every 15–30 min still counts; an SpO2 from before a probe came
/// off half an hour ago does not.
fn default_news2_max_age_s() -> f32 {
    1800.0
}

fn default_news2_clear_s() -> f32 {
    60.0
}

impl Default for News2Rule {
    fn default() -> Self {
        Self {
            spo2_scale: Spo2Scale::default(),
            on_oxygen: None,
            consciousness: None,
            max_age_s: default_news2_max_age_s(),
            hold_s: DEFAULT_HOLD_S,
            clear_s: default_news2_clear_s(),
        }
    }
}

impl News2Rule {
    /// The row of `news2_urgent` (medium) or `news2_emergency` (high); the limit is the
    /// aggregate that raises it.
    pub fn row(&self, emergency: bool) -> RuleRow {
        RuleRow {
            priority: if emergency {
                Priority::High
            } else {
                Priority::Medium
            },
            limit: if emergency { 7.0 } else { 5.0 },
            timing: Timing {
                for_s: self.hold_s,
                clear_s: self.clear_s,
            },
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            self.max_age_s.is_finite() && (60.0..=86_400.0).contains(&self.max_age_s),
            "news2.max_age_s",
            "must be between 60 and 86400 s",
        )?;
        check(
            (0.0..=600.0).contains(&self.hold_s),
            "news2.hold_s",
            "must be between 0 and 600 s",
        )?;
        check(
            (0.0..=3600.0).contains(&self.clear_s),
            "news2.clear_s",
            "must be between 0 and 3600 s",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_is_in_the_table_once_and_its_default_is_plausible() {
        for r in VITAL_LIMITS {
            assert_eq!(VitalLimitRule::of(r.rule), Some(&r));
            assert!(r.recommended().validate(&r).is_ok(), "{:?}", r.rule);
            assert!(r.rule.info().name == r.field, "{:?}", r.rule);
        }
    }

    #[test]
    fn crossing_and_clearing_follow_the_direction_and_the_hysteresis() {
        let spo2 = VitalLimitRule::of(RuleKind::Spo2Low).expect("in the table");
        let s = spo2.recommended();
        assert_eq!(spo2.judge(&s, 89.0), (true, false));
        assert_eq!(spo2.judge(&s, 90.0), (false, false), "in the band");
        assert_eq!(spo2.judge(&s, 92.0), (false, true));
        let rr = VitalLimitRule::of(RuleKind::RespirationHigh).expect("in the table");
        let s = VitalLimit {
            hysteresis: Some(5.0),
            ..rr.recommended()
        };
        assert_eq!(rr.judge(&s, 31.0), (true, false));
        assert_eq!(rr.judge(&s, 26.0), (false, false));
        assert_eq!(rr.judge(&s, 25.0), (false, true));
    }

    #[test]
    fn an_implausible_limit_names_its_field() {
        let spo2 = VitalLimitRule::of(RuleKind::Spo2Low).expect("in the table");
        let bad = VitalLimit {
            limit: 120.0,
            ..spo2.recommended()
        };
        assert_eq!(
            bad.validate(spo2).map_err(|e| e.field),
            Err("spo2_low"),
            "SpO2 above 100 %"
        );
        let bad = VitalLimit {
            hold_s: -1.0,
            ..spo2.recommended()
        };
        assert!(bad.validate(spo2).is_err());
    }
}
