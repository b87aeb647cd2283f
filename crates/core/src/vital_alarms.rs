//! Settings of the two vital-sign alarms that are not a limit on a numeric (issue 18):
//! the fall alarm, raised by a fall event the device detected, and the technical
//! stale-numerics alarm, raised when a sensor that was reporting stops reporting. The
//! defaults, and why, are in docs/vitals.md ("Falls and stale numerics").

use crate::policy::{ValidationError, check};
use crate::rules::{RuleRow, Timing, seconds, within};
use crate::{Priority, VitalKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long a fall alert stays open after the last fall (a second fall meanwhile is
/// counted in it, not paged apart).
pub const DEFAULT_FALL_CLEAR_S: f32 = 300.0;

/// A sensor silent this long is stale: three reporting intervals of the slowest
/// continuous sender we carry (one reading a minute, the ICU record of docs/vitals.md).
pub const DEFAULT_STALE_AFTER_S: f32 = 180.0;

/// The range a stale-numerics limit may take (s).
const STALE_RANGE_S: (f32, f32) = (5.0, 3600.0);

fn high() -> Priority {
    Priority::High
}

fn low() -> Priority {
    Priority::Low
}

fn default_fall_clear_s() -> f32 {
    DEFAULT_FALL_CLEAR_S
}

fn default_stale_after_s() -> f32 {
    DEFAULT_STALE_AFTER_S
}

/// Fall detected: fires at a fall event from the device (no hold: the device already
/// decided it was a fall), high priority by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallRule {
    #[serde(default = "high")]
    pub priority: Priority,
    /// The alert resolves this long after the last fall, judged on the patient's later
    /// numerics.
    #[serde(default = "default_fall_clear_s")]
    pub clear_s: f32,
}

impl Default for FallRule {
    fn default() -> Self {
        Self {
            priority: high(),
            clear_s: DEFAULT_FALL_CLEAR_S,
        }
    }
}

impl FallRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: 0.0,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            within(self.clear_s, 0.0, 3600.0),
            "fall.clear_s",
            "must be between 0 and 3600 s",
        )
    }
}

/// Stale numerics (technical): a sensor that gave a valid reading stopped reporting
/// (no reading and no status) for `after_s`, or its kind's own limit in `kinds`. Clears
/// as soon as every such sensor reports again (after `clear_s`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaleNumericsRule {
    #[serde(default = "low")]
    pub priority: Priority,
    /// Seconds of silence after which a sensor is stale, for every kind not in `kinds`.
    #[serde(default = "default_stale_after_s")]
    pub after_s: f32,
    /// Per-kind limits (s) in place of `after_s`, e.g. `{"spo2": 30}`.
    #[serde(default)]
    pub kinds: BTreeMap<VitalKind, f32>,
    #[serde(default)]
    pub clear_s: f32,
}

impl Default for StaleNumericsRule {
    fn default() -> Self {
        Self {
            priority: low(),
            after_s: DEFAULT_STALE_AFTER_S,
            kinds: BTreeMap::new(),
            clear_s: 0.0,
        }
    }
}

impl StaleNumericsRule {
    /// Whether a sensor of `kind` is watched at all: a fall is an event, not a stream,
    /// so its silence means nothing.
    pub fn watches(kind: VitalKind) -> bool {
        kind != VitalKind::Fall
    }

    /// The silence after which a sensor of `kind` is stale.
    pub fn after_s(&self, kind: VitalKind) -> f32 {
        self.kinds.get(&kind).copied().unwrap_or(self.after_s)
    }

    /// The limit is the default silence; the silence itself is the hold.
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.after_s,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        let (lo, hi) = STALE_RANGE_S;
        let in_range = |s: f32| within(s, lo, hi);
        check(
            in_range(self.after_s),
            "stale_numerics.after_s",
            format!("must be between {lo} and {hi} s"),
        )?;
        for (kind, after_s) in &self.kinds {
            check(
                Self::watches(*kind),
                "stale_numerics.kinds",
                format!(
                    "`{}` is an event, not a stream: it cannot go stale",
                    kind.as_str()
                ),
            )?;
            check(
                in_range(*after_s),
                "stale_numerics.kinds",
                format!("{} must be between {lo} and {hi} s", kind.as_str()),
            )?;
        }
        seconds(self.clear_s, "stale_numerics.clear_s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_a_kind_may_have_its_own_limit() {
        assert_eq!(FallRule::default().validate(), Ok(()));
        let mut stale = StaleNumericsRule::default();
        assert_eq!(stale.validate(), Ok(()));
        stale.kinds.insert(VitalKind::Spo2, 30.0);
        assert_eq!(stale.validate(), Ok(()));
        assert_eq!(stale.after_s(VitalKind::Spo2), 30.0);
        assert_eq!(stale.after_s(VitalKind::RespirationRate), 180.0);
    }

    #[test]
    fn an_implausible_setting_names_its_field() {
        let field = |r: &StaleNumericsRule| r.validate().map_err(|e| e.field);
        let too_short = StaleNumericsRule {
            after_s: 1.0,
            ..StaleNumericsRule::default()
        };
        assert_eq!(field(&too_short), Err("stale_numerics.after_s"));
        let mut fall_stale = StaleNumericsRule::default();
        fall_stale.kinds.insert(VitalKind::Fall, 60.0);
        assert_eq!(field(&fall_stale), Err("stale_numerics.kinds"));
        let mut nan = StaleNumericsRule::default();
        nan.kinds.insert(VitalKind::Battery, f32::NAN);
        assert_eq!(field(&nan), Err("stale_numerics.kinds"));
        let fall = FallRule {
            clear_s: -1.0,
            ..FallRule::default()
        };
        assert_eq!(fall.validate().map_err(|e| e.field), Err("fall.clear_s"));
    }
}
