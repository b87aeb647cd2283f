//! Alerts: one episode per (patient, rule), from firing to resolved.

use crate::time::Nanos;
use crate::{AlertId, PatientId};
use serde::{Deserialize, Serialize};

/// The rule that raised an alert. Technical rules (signal, data) are kept apart from
/// physiological ones so noise never masquerades as a clinical event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RuleKind {
    HrHigh,
    HrLow,
    Pause,
    Asystole,
    BradyRun,
    TachyRun,
    AtrialFibrillation,
    VentricularFibrillation,
    VentricularTachycardia,
    SustainedVt,
    Nsvt,
    Couplet,
    Bigeminy,
    Trigeminy,
    PvcPerMinute,
    LeadOff,
    FlatLine,
    Saturation,
    Noise,
    NoData,
    /// The device streams but no alert-engine analyses the patient (raised by ingest,
    /// docs/architecture.md "Shards"); in no policy, always high priority.
    MonitoringInterrupted,
    /// Vital-sign limits (issue 18; `cw_core::vital_rules`).
    Spo2Low,
    RespirationLow,
    RespirationHigh,
    SystolicLow,
    SystolicHigh,
    TemperatureHigh,
    TemperatureLow,
    /// A vital-sign sensor that gave readings now reports itself off (probe off the
    /// finger, cuff or line disconnected).
    SensorOff,
    /// NEWS2 of the latest numerics at the RCP's urgent response (5–6, or a 3 in one
    /// parameter) and emergency response (7 or more).
    News2Urgent,
    News2Emergency,
    /// No breath for longer than the limit (the time since the last breath).
    Apnea,
    /// Technical: a sensor's or patch's battery below the limit.
    BatteryLow,
    /// The device detected a fall (a `fall` event in the numerics).
    Fall,
    /// Technical: a vital-sign sensor that was reporting stopped reporting.
    StaleNumerics,
}

impl RuleKind {
    pub const ALL: [RuleKind; 35] = [
        Self::HrHigh,
        Self::HrLow,
        Self::Pause,
        Self::Asystole,
        Self::BradyRun,
        Self::TachyRun,
        Self::AtrialFibrillation,
        Self::VentricularFibrillation,
        Self::VentricularTachycardia,
        Self::SustainedVt,
        Self::Nsvt,
        Self::Couplet,
        Self::Bigeminy,
        Self::Trigeminy,
        Self::PvcPerMinute,
        Self::LeadOff,
        Self::FlatLine,
        Self::Saturation,
        Self::Noise,
        Self::NoData,
        Self::MonitoringInterrupted,
        Self::Spo2Low,
        Self::RespirationLow,
        Self::RespirationHigh,
        Self::SystolicLow,
        Self::SystolicHigh,
        Self::TemperatureHigh,
        Self::TemperatureLow,
        Self::SensorOff,
        Self::News2Urgent,
        Self::News2Emergency,
        Self::Apnea,
        Self::BatteryLow,
        Self::Fall,
        Self::StaleNumerics,
    ];

    /// Everything fixed about a rule, in one row per rule: adding a rule is one arm here
    /// (plus its settings in the policy's rule table, `ThresholdPolicy::rule`).
    pub const fn info(self) -> RuleInfo {
        use AlarmKind::{Physiological, Technical};
        let (name, describe, kind, unit) = match self {
            Self::HrHigh => ("hr_high", "heart rate above limit", Physiological, "bpm"),
            Self::HrLow => ("hr_low", "heart rate below limit", Physiological, "bpm"),
            Self::Pause => ("pause", "pause", Physiological, "s"),
            Self::Asystole => ("asystole", "asystole", Physiological, "s"),
            Self::BradyRun => ("brady_run", "bradycardia run", Physiological, "bpm"),
            Self::TachyRun => ("tachy_run", "tachycardia run", Physiological, "bpm"),
            Self::AtrialFibrillation => (
                "atrial_fibrillation",
                "atrial fibrillation",
                Physiological,
                "RR irregularity",
            ),
            Self::VentricularFibrillation => (
                "ventricular_fibrillation",
                "ventricular flutter or fibrillation",
                Physiological,
                "",
            ),
            Self::VentricularTachycardia => (
                "ventricular_tachycardia",
                "ventricular tachycardia",
                Physiological,
                "bpm",
            ),
            Self::SustainedVt => (
                "sustained_vt",
                "sustained ventricular tachycardia",
                Physiological,
                "s",
            ),
            Self::Nsvt => (
                "nsvt",
                "non-sustained ventricular run",
                Physiological,
                "beats",
            ),
            Self::Couplet => ("couplet", "ventricular couplet", Physiological, "beats"),
            Self::Bigeminy => ("bigeminy", "ventricular bigeminy", Physiological, "cycles"),
            Self::Trigeminy => (
                "trigeminy",
                "ventricular trigeminy",
                Physiological,
                "cycles",
            ),
            Self::PvcPerMinute => (
                "pvc_per_minute",
                "ventricular beats per minute above limit",
                Physiological,
                "per min",
            ),
            Self::LeadOff => ("lead_off", "technical: lead off", Technical, ""),
            Self::FlatLine => ("flat_line", "technical: flat line", Technical, ""),
            Self::Saturation => ("saturation", "technical: signal saturated", Technical, ""),
            Self::Noise => (
                "noise",
                "technical: signal too noisy to analyse",
                Technical,
                "",
            ),
            Self::NoData => (
                "no_data",
                "technical: no data from the gateway",
                Technical,
                "s",
            ),
            Self::MonitoringInterrupted => (
                "monitoring_interrupted",
                "technical: monitoring interrupted, no analysis running",
                Technical,
                "s",
            ),
            Self::Spo2Low => ("spo2_low", "SpO2 below limit", Physiological, "%"),
            Self::RespirationLow => (
                "respiration_low",
                "respiration rate below limit",
                Physiological,
                "/min",
            ),
            Self::RespirationHigh => (
                "respiration_high",
                "respiration rate above limit",
                Physiological,
                "/min",
            ),
            Self::SystolicLow => (
                "systolic_low",
                "systolic blood pressure below limit",
                Physiological,
                "mmHg",
            ),
            Self::SystolicHigh => (
                "systolic_high",
                "systolic blood pressure above limit",
                Physiological,
                "mmHg",
            ),
            Self::TemperatureHigh => (
                "temperature_high",
                "temperature above limit",
                Physiological,
                "°C",
            ),
            Self::TemperatureLow => (
                "temperature_low",
                "temperature below limit",
                Physiological,
                "°C",
            ),
            Self::SensorOff => (
                "sensor_off",
                "technical: vital-sign sensor off",
                Technical,
                "sensors",
            ),
            Self::News2Urgent => (
                "news2_urgent",
                "NEWS2 urgent review (score 5-6 or a 3 in one parameter)",
                Physiological,
                "points",
            ),
            Self::News2Emergency => (
                "news2_emergency",
                "NEWS2 emergency response (score 7 or more)",
                Physiological,
                "points",
            ),
            Self::Apnea => ("apnea", "apnea (no breath)", Physiological, "s"),
            Self::BatteryLow => (
                "battery_low",
                "technical: sensor battery low",
                Technical,
                "%",
            ),
            Self::Fall => ("fall", "fall detected", Physiological, ""),
            Self::StaleNumerics => (
                "stale_numerics",
                "technical: vital-sign sensor stopped reporting",
                Technical,
                "s",
            ),
        };
        // How an episode's summary names its events and their worst value (None where
        // the value means nothing to a reader: AF's irregularity, a lead index).
        let (event, worst) = match self {
            Self::HrHigh => (
                ("high heart rate episode", "high heart rate episodes"),
                Some("fastest"),
            ),
            Self::HrLow => (
                ("low heart rate episode", "low heart rate episodes"),
                Some("slowest"),
            ),
            Self::Pause => (("pause", "pauses"), Some("longest")),
            Self::Asystole => (("asystole", "asystoles"), Some("longest")),
            Self::BradyRun => (("bradycardia run", "bradycardia runs"), Some("slowest")),
            Self::TachyRun => (("tachycardia run", "tachycardia runs"), Some("fastest")),
            Self::AtrialFibrillation => (("AF episode", "AF episodes"), None),
            Self::VentricularFibrillation => (("VF/VFL episode", "VF/VFL episodes"), None),
            Self::VentricularTachycardia => (("VT run", "VT runs"), Some("fastest")),
            Self::SustainedVt => (("sustained VT", "sustained VTs"), Some("longest")),
            Self::Nsvt => (("ventricular run", "ventricular runs"), Some("longest")),
            Self::Couplet => (("couplet", "couplets"), None),
            Self::Bigeminy => (("bigeminy episode", "bigeminy episodes"), None),
            Self::Trigeminy => (("trigeminy episode", "trigeminy episodes"), None),
            Self::PvcPerMinute => (
                ("frequent-PVC episode", "frequent-PVC episodes"),
                Some("most"),
            ),
            Self::LeadOff => (("lead-off", "lead-offs"), None),
            Self::FlatLine => (("flat line", "flat lines"), None),
            Self::Saturation => (("saturation", "saturations"), None),
            Self::Noise => (("noisy spell", "noisy spells"), None),
            Self::NoData => (("data gap", "data gaps"), Some("longest")),
            Self::MonitoringInterrupted => (("interruption", "interruptions"), Some("longest")),
            Self::Spo2Low => (("desaturation", "desaturations"), Some("lowest")),
            Self::RespirationLow => (
                ("slow-breathing episode", "slow-breathing episodes"),
                Some("slowest"),
            ),
            Self::RespirationHigh => (
                ("fast-breathing episode", "fast-breathing episodes"),
                Some("fastest"),
            ),
            Self::SystolicLow => (
                ("hypotension episode", "hypotension episodes"),
                Some("lowest"),
            ),
            Self::SystolicHigh => (
                ("hypertension episode", "hypertension episodes"),
                Some("highest"),
            ),
            Self::TemperatureHigh => (("fever episode", "fever episodes"), Some("highest")),
            Self::TemperatureLow => (
                ("hypothermia episode", "hypothermia episodes"),
                Some("lowest"),
            ),
            Self::SensorOff => (("sensor-off", "sensors-off"), None),
            Self::News2Urgent | Self::News2Emergency => {
                (("NEWS2 escalation", "NEWS2 escalations"), Some("highest"))
            }
            Self::Apnea => (("apnea", "apneas"), Some("longest")),
            Self::BatteryLow => (("low-battery spell", "low-battery spells"), Some("lowest")),
            Self::Fall => (("fall", "falls"), None),
            Self::StaleNumerics => (("silent sensor", "silent sensors"), Some("longest")),
        };
        RuleInfo {
            name,
            describe,
            technical: matches!(kind, AlarmKind::Technical),
            unit,
            // The policy's condition rules (`ConditionRule`: on or off, no number) and the
            // monitoring alarm ingest raises whatever the policy; their alerts' `limit` is 0.
            limited: !matches!(
                self,
                Self::VentricularFibrillation
                    | Self::LeadOff
                    | Self::FlatLine
                    | Self::Saturation
                    | Self::Noise
                    | Self::SensorOff
                    | Self::MonitoringInterrupted
                    | Self::Fall
            ),
            lower_is_worse: matches!(
                self,
                Self::HrLow
                    | Self::BradyRun
                    | Self::Spo2Low
                    | Self::RespirationLow
                    | Self::SystolicLow
                    | Self::TemperatureLow
                    | Self::BatteryLow
            ),
            event,
            worst,
            held_open_when_flapping: !matches!(
                self,
                Self::VentricularTachycardia | Self::SustainedVt | Self::VentricularFibrillation
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    /// What a doctor reads in an SMS or hears on a call.
    pub fn describe(self) -> &'static str {
        self.info().describe
    }

    /// Technical alarms are about the equipment or the signal, not the patient
    /// (IEC 60601-1-8 keeps the two apart).
    pub fn is_technical(self) -> bool {
        self.info().technical
    }

    /// Unit of the alert's `value` and `limit`.
    pub fn unit(self) -> &'static str {
        self.info().unit
    }

    /// A value of this rule as a doctor reads it: seconds and °C to a tenth (a pause of
    /// 3.2 s vs 3.0 s matters), everything else to the unit ("150 bpm"); a rule without a
    /// unit gives the bare number.
    pub fn reading(self, value: f32) -> String {
        match self.unit() {
            "" => format!("{value:.0}"),
            unit @ ("s" | "°C") => format!("{value:.1} {unit}"),
            unit => format!("{value:.0} {unit}"),
        }
    }
}

/// Whether an alarm is about the patient or the equipment (IEC 60601-1-8).
enum AlarmKind {
    Physiological,
    Technical,
}

/// A rule's fixed facts: [`RuleKind::info`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// Its name in JSON, the dedup key and the policy.
    pub name: &'static str,
    /// What a doctor reads in an SMS or hears on a call.
    pub describe: &'static str,
    pub technical: bool,
    /// Unit of the alert's `value` and `limit`.
    pub unit: &'static str,
    /// The policy sets a numeric limit for it, so its alerts' `limit` means something
    /// (pages say "limit 120"); false for rules that are only on or off.
    pub limited: bool,
    /// The episode's worst value is its lowest (slow rates), not its highest.
    pub lower_is_worse: bool,
    /// One event and several, as an episode's summary names them ("pause", "pauses").
    pub event: (&'static str, &'static str),
    /// The summary's word for the worst value ("longest"), if it is worth saying.
    pub worst: Option<&'static str>,
    /// A rule that keeps firing has its next alert held open (the policy's `flapping`).
    /// Not ventricular tachycardia or fibrillation: each VT, or VF after organised rhythm
    /// returned, that begins after the last one cleared is a new life-threatening alarm,
    /// never a count inside an old alert (docs/clinical-performance.md, "VT: the
    /// classifier and re-alarming", "When VF is a new alarm").
    pub held_open_when_flapping: bool,
}

/// Alarm priority after IEC 60601-1-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    High,
    Medium,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertState {
    Firing,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "firing" => Some(Self::Firing),
            "acknowledged" => Some(Self::Acknowledged),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }

    /// Open alerts hold the (patient, rule) dedup key.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Resolved)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub id: AlertId,
    pub patient: PatientId,
    pub rule: RuleKind,
    pub priority: Priority,
    pub state: AlertState,
    /// When the condition began (start of the pending period).
    pub started_ns: Nanos,
    /// When the alert fired (after the onset delay).
    pub fired_ns: Nanos,
    pub acked_ns: Option<Nanos>,
    pub acked_by: Option<String>,
    pub resolved_ns: Option<Nanos>,
    /// The value that crossed the limit (bpm for HR rules). JSON `null` (how serde_json
    /// writes NaN) reads back as NaN.
    #[serde(deserialize_with = "crate::messages::f32_null_as_nan")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f32>))]
    pub value: f32,
    /// The limit in force, and the policy version it came from.
    #[serde(deserialize_with = "crate::messages::f32_null_as_nan")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f32>))]
    pub limit: f32,
    pub policy_version: u32,
    /// ECG window for the strip shown with the alert.
    pub window_start_ns: Nanos,
    pub window_end_ns: Nanos,
    /// A doctor's bounded silence of this alert (`POST /v1/alerts/{id}/snooze`). Boxed:
    /// rare, and alerts travel by value.
    #[serde(default)]
    pub snooze: Option<Box<crate::snooze::AlertSnooze>>,
    /// Every qualifying event while the alert was open ("17 pauses, longest 5.7 s"), so
    /// events inside an open alert are never lost. Alerts stored before episodes load
    /// with an empty one (count 0: not recorded).
    #[serde(default)]
    pub episode: crate::Episode,
    /// A clinician's verdict on the alarm (`POST /v1/alerts/{id}/triage`): confirmed,
    /// artifact or false, with a note. Boxed: most alerts have none.
    #[serde(default)]
    pub triage: Option<Box<crate::triage::Triage>>,
    /// The latest "escalate now" (`POST /v1/alerts/{id}/escalate`): the notifier pages
    /// that step of the chain at once. Boxed: most alerts have none.
    #[serde(default)]
    pub escalation: Option<Box<crate::escalation::EscalationRequest>>,
}

impl Alert {
    /// A new firing alert (fresh id) that began and fired at `fired_ns`, with no value,
    /// limit, policy version or strip window beyond that instant: callers set what they
    /// know with struct update syntax, so a field added here is added in one place.
    pub fn firing(patient: PatientId, rule: RuleKind, priority: Priority, fired_ns: Nanos) -> Self {
        Self {
            id: AlertId::random(),
            patient,
            rule,
            priority,
            state: AlertState::Firing,
            started_ns: fired_ns,
            fired_ns,
            acked_ns: None,
            acked_by: None,
            resolved_ns: None,
            value: 0.0,
            limit: 0.0,
            policy_version: 0,
            window_start_ns: fired_ns,
            window_end_ns: fired_ns,
            snooze: None,
            episode: crate::Episode::first(fired_ns, 0.0),
            triage: None,
            escalation: None,
        }
    }

    /// At most one open alert exists per key (a unique index enforces it in each store).
    pub fn dedup_key(&self) -> String {
        dedup_key(&self.patient, self.rule)
    }
}

pub fn dedup_key(patient: &PatientId, rule: RuleKind) -> String {
    format!("{patient}:{}", rule.as_str())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertEventKind {
    Fired,
    Acknowledged,
    Resolved,
}

/// What the alert-engine PUSHes to the notifier: the alert as stored after the change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub kind: AlertEventKind,
    pub alert: Alert,
    /// When the triggering sample reached ingest, for end-to-end latency accounting.
    pub sample_received_ns: Option<Nanos>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_stored_before_episodes_loads_with_an_empty_one() {
        let p = PatientId::parse("p").expect("valid");
        let mut old = serde_json::to_value(Alert::firing(p, RuleKind::Pause, Priority::Medium, 7))
            .expect("serialises");
        old.as_object_mut().expect("object").remove("episode");
        let alert: Alert = serde_json::from_value(old).expect("old alert loads");
        assert_eq!(alert.episode, crate::Episode::default());
    }
}
