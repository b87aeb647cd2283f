//! A patient's threshold policy: the limits *their* doctor set. Versioned; every change
//! is validated here so the API, the CLI and the engine agree on what is plausible.

use crate::rules::{
    AfRule, AsystoleRule, ConditionRule, CoupletRule, Flapping, NoDataRule, NsvtRule,
    PatternFields, PatternRule, PauseRule, PvcRateRule, RuleRow, RunFields, RunRule, Timing,
    VtRule,
};
use crate::vital_alarms::{FallRule, StaleNumericsRule};
use crate::vital_rules::{DEFAULT_HOLD_S, News2Rule, VITAL_LIMITS, VitalLimit, VitalLimitRule};
use crate::{PatientId, Priority, RuleKind};
use serde::{Deserialize, Serialize};

/// One heart-rate limit and how the alarm behaves around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl HrLimit {
    pub fn row(&self) -> RuleRow {
        RuleRow {
            priority: self.priority,
            limit: self.bpm,
            timing: Timing {
                for_s: self.for_s,
                clear_s: self.clear_s,
            },
        }
    }
}

fn default_hysteresis_bpm() -> f32 {
    5.0
}

fn default_clear_s() -> f32 {
    10.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThresholdPolicy {
    pub patient: PatientId,
    /// Bumped by the store on every change; alerts record the version that raised them.
    #[serde(default)]
    pub version: u32,
    pub hr_high: Option<HrLimit>,
    pub hr_low: Option<HrLimit>,
    /// RR intervals behind the displayed and evaluated heart rate. The engine takes their
    /// interquartile (trimmed) mean, so 8 rejects single ectopic or missed beats as well as
    /// a plain mean of ~12 does and answers a rate step sooner.
    #[serde(default = "default_average_beats")]
    pub hr_average_beats: u8,
    /// Rhythm rules (docs/clinical-performance.md); `None` means the rule is off.
    #[serde(default)]
    pub pause: Option<PauseRule>,
    #[serde(default)]
    pub asystole: Option<AsystoleRule>,
    #[serde(default)]
    pub brady_run: Option<RunRule>,
    #[serde(default)]
    pub tachy_run: Option<RunRule>,
    #[serde(default)]
    pub af: Option<AfRule>,
    /// Ventricular flutter/fibrillation (the detector's flutter flag).
    #[serde(default)]
    pub vf: Option<ConditionRule>,
    /// Ventricular tachycardia from the beat classes, and its sustained escalation.
    #[serde(default)]
    pub vt: Option<VtRule>,
    /// Ventricular ectopy from the beat classes (lower priority than VT; off unless set).
    #[serde(default)]
    pub nsvt: Option<NsvtRule>,
    #[serde(default)]
    pub couplet: Option<CoupletRule>,
    #[serde(default)]
    pub bigeminy: Option<PatternRule>,
    #[serde(default)]
    pub trigeminy: Option<PatternRule>,
    #[serde(default)]
    pub pvc_per_minute: Option<PvcRateRule>,
    /// Technical alarms: the gateway's lead-off flag, and per-lead signal quality.
    #[serde(default)]
    pub lead_off: Option<ConditionRule>,
    #[serde(default)]
    pub flat_line: Option<ConditionRule>,
    #[serde(default)]
    pub saturation: Option<ConditionRule>,
    #[serde(default)]
    pub noise: Option<ConditionRule>,
    #[serde(default)]
    pub no_data: Option<NoDataRule>,
    #[serde(default)]
    pub flapping: Flapping,
    /// Vital-sign limits (docs/vitals.md, "Rules"); `None` means the rule is off.
    #[serde(default)]
    pub spo2_low: Option<VitalLimit>,
    #[serde(default)]
    pub respiration_low: Option<VitalLimit>,
    #[serde(default)]
    pub respiration_high: Option<VitalLimit>,
    #[serde(default)]
    pub systolic_low: Option<VitalLimit>,
    #[serde(default)]
    pub systolic_high: Option<VitalLimit>,
    #[serde(default)]
    pub temperature_high: Option<VitalLimit>,
    #[serde(default)]
    pub temperature_low: Option<VitalLimit>,
    #[serde(default)]
    pub apnea: Option<VitalLimit>,
    /// Technical: a sensor's battery below its limit.
    #[serde(default)]
    pub battery_low: Option<VitalLimit>,
    /// Technical: a vital-sign sensor that gave readings reports itself off.
    #[serde(default)]
    pub sensor_off: Option<ConditionRule>,
    /// NEWS2 escalation from the latest numerics (docs/vitals.md, "NEWS2 escalation").
    #[serde(default)]
    pub news2: Option<News2Rule>,
    /// A fall the device detected (docs/vitals.md, "Falls and stale numerics").
    #[serde(default)]
    pub fall: Option<FallRule>,
    /// Technical: a vital-sign sensor that was reporting stopped reporting.
    #[serde(default)]
    pub stale_numerics: Option<StaleNumericsRule>,
}

fn default_average_beats() -> u8 {
    8
}

/// A policy that is not physiologically plausible or not consistent; names the field so
/// the API can answer 422 with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

pub(crate) fn check(
    ok: bool,
    field: &'static str,
    message: impl Into<String>,
) -> Result<(), ValidationError> {
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
            pause: None,
            asystole: None,
            brady_run: None,
            tachy_run: None,
            af: None,
            vf: None,
            vt: None,
            nsvt: None,
            couplet: None,
            bigeminy: None,
            trigeminy: None,
            pvc_per_minute: None,
            lead_off: None,
            flat_line: None,
            saturation: None,
            noise: None,
            no_data: None,
            flapping: Flapping::default(),
            spo2_low: None,
            respiration_low: None,
            respiration_high: None,
            systolic_low: None,
            systolic_high: None,
            temperature_high: None,
            temperature_low: None,
            apnea: None,
            battery_low: None,
            sensor_off: None,
            news2: None,
            fall: None,
            stale_numerics: None,
        }
    }

    /// This policy with every vital-sign rule at its shipped default (docs/vitals.md,
    /// "Rules"): the limits of [`VITAL_LIMITS`], medium priority, the hold, the
    /// sensor-off alarm at low priority after the same hold, NEWS2 escalation, the fall
    /// alarm and the stale-numerics alarm.
    pub fn with_recommended_vitals(mut self) -> Self {
        for limit in &VITAL_LIMITS {
            *self.vital_limit_mut(limit.rule) = Some(limit.recommended());
        }
        self.sensor_off = Some(ConditionRule {
            priority: Priority::Low,
            for_s: DEFAULT_HOLD_S,
            clear_s: 10.0,
        });
        self.news2 = Some(News2Rule::default());
        self.fall = Some(FallRule::default());
        self.stale_numerics = Some(StaleNumericsRule::default());
        self
    }

    /// Sets the hold of every vital-sign limit that is on and held by default (not apnea
    /// or battery, whose numerics are durations or do not flicker), and NEWS2's
    /// (measurements compare holds).
    pub fn set_vital_hold_s(&mut self, hold_s: f32) {
        for limit in VITAL_LIMITS.iter().filter(|l| l.default_hold_s > 0.0) {
            if let Some(setting) = self.vital_limit_mut(limit.rule) {
                setting.hold_s = hold_s;
            }
        }
        if let Some(news2) = self.news2.as_mut() {
            news2.hold_s = hold_s;
        }
    }

    /// The setting of a vital-sign limit rule; None when it is off or not such a rule.
    pub fn vital_limit(&self, rule: RuleKind) -> Option<&VitalLimit> {
        match rule {
            RuleKind::Spo2Low => self.spo2_low.as_ref(),
            RuleKind::RespirationLow => self.respiration_low.as_ref(),
            RuleKind::RespirationHigh => self.respiration_high.as_ref(),
            RuleKind::SystolicLow => self.systolic_low.as_ref(),
            RuleKind::SystolicHigh => self.systolic_high.as_ref(),
            RuleKind::TemperatureHigh => self.temperature_high.as_ref(),
            RuleKind::TemperatureLow => self.temperature_low.as_ref(),
            RuleKind::Apnea => self.apnea.as_ref(),
            RuleKind::BatteryLow => self.battery_low.as_ref(),
            _ => None,
        }
    }

    fn vital_limit_mut(&mut self, rule: RuleKind) -> &mut Option<VitalLimit> {
        match rule {
            RuleKind::RespirationLow => &mut self.respiration_low,
            RuleKind::RespirationHigh => &mut self.respiration_high,
            RuleKind::SystolicLow => &mut self.systolic_low,
            RuleKind::SystolicHigh => &mut self.systolic_high,
            RuleKind::TemperatureHigh => &mut self.temperature_high,
            RuleKind::TemperatureLow => &mut self.temperature_low,
            RuleKind::Apnea => &mut self.apnea,
            RuleKind::BatteryLow => &mut self.battery_low,
            _ => &mut self.spo2_low,
        }
    }

    /// The rule table: each rule's priority, limit and timing in this policy, read off
    /// its settings; None when the rule is off. The only place a rule's settings are
    /// mapped to what the engine, the backtest and the alerts need.
    pub fn rule(&self, rule: RuleKind) -> Option<RuleRow> {
        match rule {
            RuleKind::HrHigh => self.hr_high.as_ref().map(HrLimit::row),
            RuleKind::HrLow => self.hr_low.as_ref().map(HrLimit::row),
            RuleKind::Pause => self.pause.as_ref().map(PauseRule::row),
            RuleKind::Asystole => self.asystole.as_ref().map(AsystoleRule::row),
            RuleKind::BradyRun => self.brady_run.as_ref().map(RunRule::row),
            RuleKind::TachyRun => self.tachy_run.as_ref().map(RunRule::row),
            RuleKind::AtrialFibrillation => self.af.as_ref().map(AfRule::row),
            RuleKind::VentricularFibrillation => self.vf.as_ref().map(ConditionRule::row),
            RuleKind::VentricularTachycardia => self.vt.as_ref().map(VtRule::row),
            RuleKind::SustainedVt => self.vt.as_ref().map(VtRule::sustained_row),
            RuleKind::Nsvt => self.nsvt.as_ref().map(NsvtRule::row),
            RuleKind::Couplet => self.couplet.as_ref().map(CoupletRule::row),
            RuleKind::Bigeminy => self.bigeminy.as_ref().map(PatternRule::row),
            RuleKind::Trigeminy => self.trigeminy.as_ref().map(PatternRule::row),
            RuleKind::PvcPerMinute => self.pvc_per_minute.as_ref().map(PvcRateRule::row),
            RuleKind::LeadOff => self.lead_off.as_ref().map(ConditionRule::row),
            RuleKind::FlatLine => self.flat_line.as_ref().map(ConditionRule::row),
            RuleKind::Saturation => self.saturation.as_ref().map(ConditionRule::row),
            RuleKind::Noise => self.noise.as_ref().map(ConditionRule::row),
            RuleKind::NoData => self.no_data.as_ref().map(NoDataRule::row),
            // Raised by ingest for every streaming patient, whatever the policy.
            RuleKind::MonitoringInterrupted => None,
            RuleKind::Spo2Low
            | RuleKind::RespirationLow
            | RuleKind::RespirationHigh
            | RuleKind::SystolicLow
            | RuleKind::SystolicHigh
            | RuleKind::TemperatureHigh
            | RuleKind::TemperatureLow
            | RuleKind::Apnea
            | RuleKind::BatteryLow => self.vital_limit(rule).map(VitalLimit::row),
            RuleKind::SensorOff => self.sensor_off.as_ref().map(ConditionRule::row),
            RuleKind::News2Urgent => self.news2.as_ref().map(|n| n.row(false)),
            RuleKind::News2Emergency => self.news2.as_ref().map(|n| n.row(true)),
            RuleKind::Fall => self.fall.as_ref().map(FallRule::row),
            RuleKind::StaleNumerics => self.stale_numerics.as_ref().map(StaleNumericsRule::row),
        }
    }

    /// True when no rule is on: the policy raises no alarm at all for its patient.
    pub fn raises_nothing(&self) -> bool {
        RuleKind::ALL.iter().all(|&rule| self.rule(rule).is_none())
    }

    /// The priority the policy gives a rule (High when the rule is not in the policy: an
    /// alert the engine adopted from an older policy must not be understated).
    pub fn priority_of(&self, rule: RuleKind) -> Priority {
        self.rule(rule).map_or(Priority::High, |r| r.priority)
    }

    /// The limit an alert of this rule records (see [`RuleRow::limit`]); 0 when off.
    pub fn limit_of(&self, rule: RuleKind) -> f32 {
        self.rule(rule).map_or(0.0, |r| r.limit)
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
        )?;
        self.validate_rhythm_rules()
    }

    fn validate_rhythm_rules(&self) -> Result<(), ValidationError> {
        if let Some(r) = &self.pause {
            r.validate()?;
        }
        if let Some(r) = &self.asystole {
            r.validate()?;
            if let Some(p) = &self.pause {
                check(
                    p.rr_s < r.after_s,
                    "pause.rr_s",
                    "must be shorter than asystole.after_s",
                )?;
            }
        }
        if let Some(r) = &self.brady_run {
            r.validate(&BRADY_RUN_FIELDS, 20.0, 80.0)?;
        }
        if let Some(r) = &self.tachy_run {
            r.validate(&TACHY_RUN_FIELDS, 80.0, 300.0)?;
        }
        if let Some(r) = &self.af {
            r.validate()?;
        }
        if let Some(r) = &self.vt {
            r.validate()?;
        }
        if let Some(r) = &self.nsvt {
            r.validate()?;
        }
        if let Some(r) = &self.couplet {
            r.validate()?;
        }
        if let Some(r) = &self.bigeminy {
            r.validate(&BIGEMINY_FIELDS)?;
        }
        if let Some(r) = &self.trigeminy {
            r.validate(&TRIGEMINY_FIELDS)?;
        }
        if let Some(r) = &self.pvc_per_minute {
            r.validate()?;
        }
        let conditions = [
            (&self.vf, "vf.for_s", "vf.clear_s"),
            (&self.lead_off, "lead_off.for_s", "lead_off.clear_s"),
            (&self.flat_line, "flat_line.for_s", "flat_line.clear_s"),
            (&self.saturation, "saturation.for_s", "saturation.clear_s"),
            (&self.noise, "noise.for_s", "noise.clear_s"),
        ];
        for (rule, for_field, clear_field) in conditions {
            if let Some(r) = rule {
                r.validate(for_field, clear_field)?;
            }
        }
        if let Some(r) = &self.no_data {
            r.validate()?;
        }
        self.validate_vital_rules()?;
        self.flapping.validate()
    }

    fn validate_vital_rules(&self) -> Result<(), ValidationError> {
        for limit in &VITAL_LIMITS {
            if let Some(setting) = self.vital_limit(limit.rule) {
                setting.validate(limit)?;
            }
        }
        let pairs = [
            (RuleKind::RespirationLow, RuleKind::RespirationHigh),
            (RuleKind::SystolicLow, RuleKind::SystolicHigh),
            (RuleKind::TemperatureLow, RuleKind::TemperatureHigh),
        ];
        for (low, high) in pairs {
            if let (Some(l), Some(h), Some(info)) = (
                self.vital_limit(low),
                self.vital_limit(high),
                VitalLimitRule::of(low),
            ) {
                check(
                    l.limit < h.limit,
                    info.field,
                    "limit must be below the high limit of the same numeric",
                )?;
            }
        }
        if let Some(r) = &self.sensor_off {
            r.validate("sensor_off.for_s", "sensor_off.clear_s")?;
        }
        if let Some(r) = &self.news2 {
            r.validate()?;
        }
        if let Some(r) = &self.fall {
            r.validate()?;
        }
        if let Some(r) = &self.stale_numerics {
            r.validate()?;
        }
        Ok(())
    }
}

/// Field names of one limit's settings, for errors that point at the exact field.
struct LimitFields {
    for_s: &'static str,
    hysteresis_bpm: &'static str,
    clear_s: &'static str,
}

const BRADY_RUN_FIELDS: RunFields = RunFields {
    bpm: "brady_run.bpm",
    beats: "brady_run.beats",
    clear_s: "brady_run.clear_s",
};

const TACHY_RUN_FIELDS: RunFields = RunFields {
    bpm: "tachy_run.bpm",
    beats: "tachy_run.beats",
    clear_s: "tachy_run.clear_s",
};

const BIGEMINY_FIELDS: PatternFields = PatternFields {
    cycles: "bigeminy.cycles",
    clear_s: "bigeminy.clear_s",
};

const TRIGEMINY_FIELDS: PatternFields = PatternFields {
    cycles: "trigeminy.cycles",
    clear_s: "trigeminy.clear_s",
};

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
    fn a_policy_stored_before_the_rhythm_rules_still_loads() {
        let old = r#"{"patient":"p","version":3,"hr_high":null,"hr_low":null}"#;
        let p: ThresholdPolicy = serde_json::from_str(old).expect("old policy loads");
        assert_eq!(p.asystole, None);
        assert_eq!(p.vt, None);
        assert_eq!(p.flapping, Flapping::default());
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn implausible_rhythm_settings_name_their_field() {
        let mut p = policy();
        p.asystole = Some(AsystoleRule {
            after_s: 1.0,
            priority: Priority::High,
            clear_s: 5.0,
        });
        assert_eq!(p.validate().map_err(|e| e.field), Err("asystole.after_s"));
        p.asystole = None;
        p.tachy_run = Some(RunRule {
            bpm: 150.0,
            beats: 1,
            priority: Priority::Medium,
            clear_s: 5.0,
        });
        assert_eq!(p.validate().map_err(|e| e.field), Err("tachy_run.beats"));
        p.tachy_run = None;
        p.noise = Some(ConditionRule {
            priority: Priority::Low,
            for_s: f32::NAN,
            clear_s: 5.0,
        });
        assert_eq!(p.validate().map_err(|e| e.field), Err("noise.for_s"));
    }

    #[test]
    fn vt_takes_its_defaults_and_implausible_vt_settings_name_their_field() {
        let p: ThresholdPolicy =
            serde_json::from_str(r#"{"patient":"p","hr_high":null,"hr_low":null,"vt":{}}"#)
                .expect("vt with defaults loads");
        assert_eq!(p.vt, Some(VtRule::default()));
        assert_eq!(p.rule(RuleKind::SustainedVt).map(|r| r.limit), Some(30.0));
        assert_eq!(p.validate(), Ok(()));
        let invalid = [
            (
                VtRule {
                    beats: 2,
                    ..VtRule::default()
                },
                "vt.beats",
            ),
            (
                VtRule {
                    bpm: 30.0,
                    ..VtRule::default()
                },
                "vt.bpm",
            ),
            (
                VtRule {
                    sustained_s: f32::NAN,
                    ..VtRule::default()
                },
                "vt.sustained_s",
            ),
            (
                VtRule {
                    clear_s: -1.0,
                    ..VtRule::default()
                },
                "vt.clear_s",
            ),
        ];
        for (vt, field) in invalid {
            let p = ThresholdPolicy {
                vt: Some(vt),
                ..policy()
            };
            assert_eq!(p.validate().map_err(|e| e.field), Err(field));
        }
    }

    #[test]
    fn ectopy_rules_take_their_defaults_and_implausible_settings_name_their_field() {
        let p: ThresholdPolicy = serde_json::from_str(
            r#"{"patient":"p","hr_high":null,"hr_low":null,"nsvt":{},"couplet":{},
                "bigeminy":{},"trigeminy":{"cycles":3},"pvc_per_minute":{}}"#,
        )
        .expect("ectopy rules with defaults load");
        assert_eq!(p.validate(), Ok(()));
        let row = |rule| p.rule(rule).map(|r| (r.priority, r.limit));
        assert_eq!(row(RuleKind::Nsvt), Some((Priority::Medium, 3.0)));
        assert_eq!(row(RuleKind::Couplet), Some((Priority::Low, 2.0)));
        assert_eq!(row(RuleKind::Bigeminy), Some((Priority::Low, 4.0)));
        assert_eq!(row(RuleKind::Trigeminy), Some((Priority::Low, 3.0)));
        assert_eq!(row(RuleKind::PvcPerMinute), Some((Priority::Low, 10.0)));
        type Spoil = fn(&mut ThresholdPolicy);
        let invalid: [(Spoil, &str); 6] = [
            (
                |p| {
                    p.nsvt = Some(NsvtRule {
                        beats: 2,
                        ..p.nsvt.clone().expect("on")
                    })
                },
                "nsvt.beats",
            ),
            (
                |p| {
                    p.couplet = Some(CoupletRule {
                        clear_s: f32::NAN,
                        ..p.couplet.clone().expect("on")
                    })
                },
                "couplet.clear_s",
            ),
            (
                |p| {
                    p.bigeminy = Some(PatternRule {
                        cycles: 1,
                        ..p.bigeminy.clone().expect("on")
                    })
                },
                "bigeminy.cycles",
            ),
            (
                |p| {
                    p.trigeminy = Some(PatternRule {
                        cycles: 21,
                        ..p.trigeminy.clone().expect("on")
                    })
                },
                "trigeminy.cycles",
            ),
            (
                |p| {
                    p.trigeminy = Some(PatternRule {
                        clear_s: -1.0,
                        ..p.trigeminy.clone().expect("on")
                    })
                },
                "trigeminy.clear_s",
            ),
            (
                |p| {
                    p.pvc_per_minute = Some(PvcRateRule {
                        limit: 0,
                        ..p.pvc_per_minute.clone().expect("on")
                    })
                },
                "pvc_per_minute.limit",
            ),
        ];
        for (spoil, field) in invalid {
            let mut q = p.clone();
            spoil(&mut q);
            assert_eq!(q.validate().map_err(|e| e.field), Err(field));
        }
    }

    #[test]
    fn a_pause_longer_than_asystole_is_inconsistent() {
        let mut p = policy();
        p.pause = Some(PauseRule {
            rr_s: 6.0,
            priority: Priority::Medium,
            clear_s: 5.0,
        });
        p.asystole = Some(AsystoleRule {
            after_s: 4.0,
            priority: Priority::High,
            clear_s: 5.0,
        });
        assert_eq!(p.validate().map_err(|e| e.field), Err("pause.rr_s"));
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
