//! Settings of the rhythm and technical rules of a [`crate::ThresholdPolicy`] (docs/clinical-performance.md),
//! beside the heart-rate limits. Every field has a serde default so a policy stored before
//! a setting existed still loads; a rule that is `None` in the policy never fires.

use crate::Priority;
use crate::policy::{ValidationError, check};
use serde::{Deserialize, Serialize};

fn default_clear_s() -> f32 {
    10.0
}

/// How long a rule's condition must hold before it fires (onset delay), and stay clear
/// before its alert resolves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    pub for_s: f32,
    pub clear_s: f32,
}

impl Timing {
    /// Fires as soon as the condition is seen (the rule's own threshold is the delay).
    pub fn immediate(clear_s: f32) -> Self {
        Self {
            for_s: 0.0,
            clear_s,
        }
    }
}

/// One rule's row of the rule table ([`crate::ThresholdPolicy::rule`]): what every rule
/// has, whatever its own settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleRow {
    pub priority: Priority,
    /// The limit an alert records (bpm, seconds, or the irregularity index); 0 for a rule
    /// that is a condition without a number (NaN would not survive JSON).
    pub limit: f32,
    pub timing: Timing,
}

fn high() -> Priority {
    Priority::High
}

fn medium() -> Priority {
    Priority::Medium
}

fn low() -> Priority {
    Priority::Low
}

/// Pause: one RR interval longer than `rr_s` (reported at the beat that ends it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PauseRule {
    pub rr_s: f32,
    #[serde(default = "medium")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

/// Asystole: no beat for `after_s` while the signal is analysable the whole time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AsystoleRule {
    pub after_s: f32,
    #[serde(default = "high")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

/// Brady or tachy run: `beats` consecutive beats whose beat-to-beat rate is beyond `bpm`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRule {
    pub bpm: f32,
    pub beats: u8,
    #[serde(default = "medium")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

/// Atrial fibrillation: over the last `window_beats` RR intervals between two conducted
/// (N) beats, the median (over beats) of the smallest difference between an interval and
/// any of the 3 before it, relative to the mean RR, exceeds `irregularity`. Intervals
/// touching a ventricular or supraventricular ectopic beat are left out, so sinus rhythm
/// with ectopy, bigeminy and trigeminy stay low; AF, irregularly irregular, does not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AfRule {
    #[serde(default = "default_af_window")]
    pub window_beats: u16,
    #[serde(default = "default_af_irregularity")]
    pub irregularity: f32,
    #[serde(default = "medium")]
    pub priority: Priority,
    #[serde(default = "default_af_for_s")]
    pub for_s: f32,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

/// Short enough that a paroxysm of 30 s is alarmed inside it (window plus `for_s`,
/// docs/clinical-performance.md, "AF robust to ectopy").
fn default_af_window() -> u16 {
    24
}

fn default_af_irregularity() -> f32 {
    0.06
}

fn default_af_for_s() -> f32 {
    15.0
}

/// Ventricular tachycardia (IEC 60601-2-27): at least `beats` consecutive ventricular
/// beats (the beat classifier's V) at a rate of at least `bpm`, from the first to the
/// last beat of the run. VT that lasts `sustained_s` raises a second alarm at once, even
/// while the VT alert is open (`RuleKind::SustainedVt`, always high priority).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VtRule {
    #[serde(default = "default_vt_bpm")]
    pub bpm: f32,
    #[serde(default = "default_vt_beats")]
    pub beats: u8,
    #[serde(default = "default_vt_sustained_s")]
    pub sustained_s: f32,
    #[serde(default = "high")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

fn default_vt_bpm() -> f32 {
    100.0
}

fn default_vt_beats() -> u8 {
    3
}

fn default_vt_sustained_s() -> f32 {
    30.0
}

impl Default for VtRule {
    fn default() -> Self {
        Self {
            bpm: default_vt_bpm(),
            beats: default_vt_beats(),
            sustained_s: default_vt_sustained_s(),
            priority: high(),
            clear_s: default_clear_s(),
        }
    }
}

/// Couplet: two consecutive ventricular beats between non-ventricular ones (a longer run
/// is a ventricular run, [`NsvtRule`], or VT). Judged at the beat that closes the pair.
/// The ventricular-ectopy rules (this, bigeminy, trigeminy, PVCs per minute, non-sustained
/// runs) are off unless set, and low priority by default: they inform, they do not call
/// someone to the bedside (docs/clinical-performance.md, "Ventricular ectopy rules").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoupletRule {
    #[serde(default = "low")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

impl Default for CoupletRule {
    fn default() -> Self {
        Self {
            priority: low(),
            clear_s: default_clear_s(),
        }
    }
}

/// Ventricular bigeminy (V, N, V, N …) or trigeminy (V, N, N …): the last `cycles`
/// whole cycles of beats follow the pattern (N standing for any supraventricular beat).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatternRule {
    #[serde(default = "default_pattern_cycles")]
    pub cycles: u8,
    #[serde(default = "low")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

fn default_pattern_cycles() -> u8 {
    4
}

impl Default for PatternRule {
    fn default() -> Self {
        Self {
            cycles: default_pattern_cycles(),
            priority: low(),
            clear_s: default_clear_s(),
        }
    }
}

/// PVCs per minute: at least `limit` ventricular beats in the last 60 s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PvcRateRule {
    #[serde(default = "default_pvc_limit")]
    pub limit: u16,
    #[serde(default = "low")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

fn default_pvc_limit() -> u16 {
    10
}

impl Default for PvcRateRule {
    fn default() -> Self {
        Self {
            limit: default_pvc_limit(),
            priority: low(),
            clear_s: default_clear_s(),
        }
    }
}

/// Non-sustained ventricular run: a run of at least `beats` consecutive ventricular beats
/// that ended before it became sustained (VT's `sustained_s`, 30 s by default), whatever
/// its rate; reported when it ends, with its length in beats. A run at VT rate has
/// already raised VT at its onset; one below it (idioventricular) raises only this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NsvtRule {
    #[serde(default = "default_vt_beats")]
    pub beats: u8,
    #[serde(default = "medium")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

impl Default for NsvtRule {
    fn default() -> Self {
        Self {
            beats: default_vt_beats(),
            priority: medium(),
            clear_s: default_clear_s(),
        }
    }
}

/// A rule that is a condition with an onset delay and a clear time (ventricular
/// flutter/fibrillation, lead-off, flat line, saturation, noise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConditionRule {
    pub priority: Priority,
    #[serde(default)]
    pub for_s: f32,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

/// No data from the gateway for `after_s` of wall-clock time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoDataRule {
    pub after_s: f32,
    #[serde(default = "low")]
    pub priority: Priority,
    #[serde(default = "default_clear_s")]
    pub clear_s: f32,
}

/// Flapping: a rule that fired `fires` times within `window_s` keeps its next alert open
/// until it has been clear for the whole window, instead of resolving and re-firing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flapping {
    #[serde(default = "default_flap_fires")]
    pub fires: u8,
    #[serde(default = "default_flap_window_s")]
    pub window_s: f32,
}

fn default_flap_fires() -> u8 {
    3
}

fn default_flap_window_s() -> f32 {
    600.0
}

impl Default for Flapping {
    fn default() -> Self {
        Self {
            fires: default_flap_fires(),
            window_s: default_flap_window_s(),
        }
    }
}

pub(crate) fn within(x: f32, lo: f32, hi: f32) -> bool {
    x.is_finite() && (lo..=hi).contains(&x)
}

pub(crate) fn seconds(x: f32, field: &'static str) -> Result<(), ValidationError> {
    check(within(x, 0.0, 600.0), field, "must be between 0 and 600 s")
}

impl PauseRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.rr_s,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            within(self.rr_s, 1.0, 10.0),
            "pause.rr_s",
            "must be between 1 and 10 s",
        )?;
        seconds(self.clear_s, "pause.clear_s")
    }
}

impl AsystoleRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.after_s,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            within(self.after_s, 2.0, 20.0),
            "asystole.after_s",
            "must be between 2 and 20 s",
        )?;
        seconds(self.clear_s, "asystole.clear_s")
    }
}

/// Field names of a run rule, so errors point at the exact field.
pub(crate) struct RunFields {
    pub bpm: &'static str,
    pub beats: &'static str,
    pub clear_s: &'static str,
}

impl RunRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.bpm,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self, f: &RunFields, lo: f32, hi: f32) -> Result<(), ValidationError> {
        check(
            within(self.bpm, lo, hi),
            f.bpm,
            format!("must be between {lo} and {hi} bpm"),
        )?;
        check(
            (2..=50).contains(&self.beats),
            f.beats,
            "must be between 2 and 50 beats",
        )?;
        seconds(self.clear_s, f.clear_s)
    }
}

impl AfRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.irregularity,
            timing: Timing {
                for_s: self.for_s,
                clear_s: self.clear_s,
            },
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            (8..=128).contains(&self.window_beats),
            "af.window_beats",
            "must be between 8 and 128 beats",
        )?;
        check(
            within(self.irregularity, 0.02, 0.5),
            "af.irregularity",
            "must be between 0.02 and 0.5",
        )?;
        seconds(self.for_s, "af.for_s")?;
        seconds(self.clear_s, "af.clear_s")
    }
}

impl VtRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.bpm,
            timing: Timing::immediate(self.clear_s),
        }
    }

    /// Sustained VT escalates: always high priority, whatever VT's own.
    pub fn sustained_row(&self) -> RuleRow {
        RuleRow {
            priority: Priority::High,
            limit: self.sustained_s,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            within(self.bpm, 60.0, 300.0),
            "vt.bpm",
            "must be between 60 and 300 bpm",
        )?;
        check(
            (3..=50).contains(&self.beats),
            "vt.beats",
            "must be between 3 and 50 beats",
        )?;
        check(
            within(self.sustained_s, 10.0, 600.0),
            "vt.sustained_s",
            "must be between 10 and 600 s",
        )?;
        seconds(self.clear_s, "vt.clear_s")
    }
}

impl CoupletRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: 2.0,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        seconds(self.clear_s, "couplet.clear_s")
    }
}

/// Field names of a pattern rule, so errors point at the exact field.
pub(crate) struct PatternFields {
    pub cycles: &'static str,
    pub clear_s: &'static str,
}

impl PatternRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: f32::from(self.cycles),
            timing: Timing::immediate(self.clear_s),
        }
    }

    /// At most 20 cycles: the analysis keeps the classes of the last 64 beats, and 20
    /// trigeminy cycles are 60 of them.
    pub(crate) fn validate(&self, f: &PatternFields) -> Result<(), ValidationError> {
        check(
            (2..=20).contains(&self.cycles),
            f.cycles,
            "must be between 2 and 20 cycles",
        )?;
        seconds(self.clear_s, f.clear_s)
    }
}

impl PvcRateRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: f32::from(self.limit),
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            (1..=100).contains(&self.limit),
            "pvc_per_minute.limit",
            "must be between 1 and 100 beats a minute",
        )?;
        seconds(self.clear_s, "pvc_per_minute.clear_s")
    }
}

impl NsvtRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: f32::from(self.beats),
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            (3..=50).contains(&self.beats),
            "nsvt.beats",
            "must be between 3 and 50 beats",
        )?;
        seconds(self.clear_s, "nsvt.clear_s")
    }
}

impl ConditionRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: 0.0,
            timing: Timing {
                for_s: self.for_s,
                clear_s: self.clear_s,
            },
        }
    }

    pub(crate) fn validate(
        &self,
        for_field: &'static str,
        clear_field: &'static str,
    ) -> Result<(), ValidationError> {
        seconds(self.for_s, for_field)?;
        seconds(self.clear_s, clear_field)
    }
}

impl NoDataRule {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.after_s,
            timing: Timing::immediate(self.clear_s),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            within(self.after_s, 2.0, 600.0),
            "no_data.after_s",
            "must be between 2 and 600 s",
        )?;
        seconds(self.clear_s, "no_data.clear_s")
    }
}

impl Flapping {
    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check(
            (2..=8).contains(&self.fires),
            "flapping.fires",
            "must be between 2 and 8",
        )?;
        check(
            within(self.window_s, 10.0, 3600.0),
            "flapping.window_s",
            "must be between 10 and 3600 s",
        )
    }
}
