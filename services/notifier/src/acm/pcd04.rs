//! PCD-04 Report Alert: one HL7 v2.6 `ORU^R40^ORU_R40` per alarm state change, as the
//! IHE PCD Alert Communication Management profile lays it out (PCD TF-2, "PCD-04"):
//! MSH with the ACM profile in MSH-21, PID (the opaque patient id only: no PHI leaves
//! for a system we do not control), one OBR for the alarm (OBR-3 the alarm's id, the same
//! on every message of it, so the alert manager ties start, updates and end together)
//! and the alarm's facets as OBX segments, told apart by OBX-4's last component:
//!
//! | facet | OBX-3 | OBX-5 |
//! | --- | --- | --- |
//! | 1 alarm type | `196616^MDC_EVT_ALARM^MDC` | the event (MDC where one exists, else `99CW` local); OBX-8 priority `PH`/`PM`/`PL` and kind `SP`/`ST` |
//! | 2 source | the measured parameter (`NM`, value, unit, OBX-7 the limit) or `68480^MDC_ATTR_ALERT_SOURCE^MDC` | |
//! | 3 phase | `68481^MDC_ATTR_EVENT_PHASE^MDC` | `start`, `escalate`, `update`, `end` |
//! | 4 state | `68482^MDC_ATTR_ALARM_STATE^MDC` | `active`, `inactive` |
//! | 5 inactivation | `68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC` | `enabled`, `alert-acknowledged` |
//! | 6 priority | `68484^MDC_ATTR_ALARM_PRIORITY^MDC` | `PH`, `PM`, `PL` |
//! | 7 kind | `68485^MDC_ATTR_ALERT_TYPE^MDC` | `SP` physiological, `ST` technical |
//! | 8 text | `68546^MDC_ATTR_ALERT_TEXT^MDC` | what a nurse reads, escaped |
//!
//! Pure: no I/O, no clock. The transport is `mllp.rs`; docs/integration.md ("Alert
//! managers") has a whole message.

use super::hl7::{ENCODING_CHARACTERS, dtm, escape, segment};
use cw_core::time::Nanos;
use cw_core::{Alert, AlertState, Priority, RuleKind};

/// MSH-21: the IHE PCD ACM message profile.
pub const ACM_PROFILE: &str = "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO";
/// Our local coding system (HL7 reserves `99zzz` names for local tables): the rule names
/// of the REST api (`hr_high`, `pause`, …) where MDC has no code.
pub const LOCAL_SYSTEM: &str = "99CW";
/// OBX-4 prefix: the alarm is reported at the monitoring system's top level (MDS 1).
const CONTAINMENT: &str = "1.0.0.0";

/// MSH-3 to MSH-6, from the alert manager's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parties {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
}

/// An alarm state change reported to the alert manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Start,
    /// Unacknowledged past an ack deadline: the notifier paged the next doctor (level ≥ 2).
    Escalate {
        level: u32,
    },
    /// One more event inside the open alarm (`Alert.episode`), `events` in all.
    Update {
        events: u32,
    },
    Acknowledge,
    End,
}

const ESCALATE_BASE: u32 = 100;
const UPDATE_BASE: u32 = 10_000;
const ACKNOWLEDGE: u32 = 4_000_000_000;
const END: u32 = 4_100_000_000;

impl Change {
    /// The number of this change in the outbox (`Delivery.attempt` of the alert
    /// manager's row): the same change of the same alarm always gets the same row, so
    /// a restart or a second notifier never reports it twice, and rows sort in the order
    /// they are sent.
    pub fn sequence(self) -> u32 {
        match self {
            Self::Start => 1,
            Self::Escalate { level } => ESCALATE_BASE + level.min(UPDATE_BASE - ESCALATE_BASE - 1),
            Self::Update { events } => UPDATE_BASE + events.min(ACKNOWLEDGE - UPDATE_BASE - 1),
            Self::Acknowledge => ACKNOWLEDGE,
            Self::End => END,
        }
    }

    pub fn from_sequence(n: u32) -> Option<Self> {
        match n {
            1 => Some(Self::Start),
            ACKNOWLEDGE => Some(Self::Acknowledge),
            END => Some(Self::End),
            n if (ESCALATE_BASE + 2..UPDATE_BASE).contains(&n) => Some(Self::Escalate {
                level: n - ESCALATE_BASE,
            }),
            n if (UPDATE_BASE + 2..ACKNOWLEDGE).contains(&n) => Some(Self::Update {
                events: n - UPDATE_BASE,
            }),
            _ => None,
        }
    }

    /// OBX facet 3, MDC_ATTR_EVENT_PHASE.
    pub fn phase(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Escalate { .. } => "escalate",
            Self::Update { .. } | Self::Acknowledge => "update",
            Self::End => "end",
        }
    }
}

/// The changes an alert has gone through so far, in the order they are reported:
/// every alert started; `level` is how far its escalation went (1: not escalated); each
/// event count above one is an update; then the acknowledgement and the end.
pub fn changes(alert: &Alert, level: u32) -> Vec<Change> {
    let mut out = vec![Change::Start];
    out.extend((2..=level).map(|level| Change::Escalate { level }));
    if alert.episode.count > 1 {
        out.push(Change::Update {
            events: alert.episode.count,
        });
    }
    if alert.acked_ns.is_some() {
        out.push(Change::Acknowledge);
    }
    if alert.state == AlertState::Resolved {
        out.push(Change::End);
    }
    out
}

/// MSH-10 of a change's message: the same on every send of it (a re-send after a crash
/// too), so the alert manager can drop a repeat by control id.
pub fn control_id(alert: &Alert, change: Change) -> String {
    format!("{}.{}", alert.id, change.sequence())
}

/// OBX-8 and facet 6: IEC 60601-1-8 priority as ACM's high, medium, low.
pub fn priority_code(priority: Priority) -> &'static str {
    match priority {
        Priority::High => "PH",
        Priority::Medium => "PM",
        Priority::Low => "PL",
    }
}

/// OBX-8 and facet 7: physiological or technical source.
pub fn kind_code(rule: RuleKind) -> &'static str {
    if rule.is_technical() { "ST" } else { "SP" }
}

/// The MDC event code of a rule where ISO/IEEE 11073-10101 has one, as HL7 `CWE`
/// (context-free code = partition 3 (events) × 65536 + term code, reference id, `MDC`);
/// the others go as local codes. Sources per code in docs/integration.md ("MDC event
/// codes"). Exhaustive on purpose: a new rule decides here.
fn mdc_event(rule: RuleKind) -> Option<&'static str> {
    use RuleKind::*;
    match rule {
        HrHigh | RespirationHigh | SystolicHigh | TemperatureHigh => Some("196648^MDC_EVT_HI^MDC"),
        HrLow | Spo2Low | RespirationLow | SystolicLow | TemperatureLow => {
            Some("196670^MDC_EVT_LO^MDC")
        }
        LeadOff => Some("196680^MDC_EVT_LEAD_OFF^MDC"),
        Asystole => Some("199684^MDC_EVT_ECG_ASYSTOLE^MDC"),
        Pause => Some("199716^MDC_EVT_ECG_PAUSE^MDC"),
        AtrialFibrillation => Some("199736^MDC_EVT_ECG_ATR_FIB^MDC"),
        VentricularTachycardia | SustainedVt => Some("199832^MDC_EVT_ECG_V_TACHY^MDC"),
        Nsvt => Some("199834^MDC_EVT_ECG_V_TACHY_NON_SUST^MDC"),
        BradyRun => Some("199692^MDC_EVT_ECG_SINUS_BRADY^MDC"),
        Couplet => Some("199818^MDC_EVT_ECG_V_P_C_PAIR^MDC"),
        Bigeminy => Some("199690^MDC_EVT_ECG_BIGEM^MDC"),
        Trigeminy => Some("199844^MDC_EVT_ECG_V_TRIGEM^MDC"),
        PvcPerMinute => Some("199860^MDC_EVT_ECG_V_P_C_RATE^MDC"),
        Apnea => Some("199680^MDC_EVT_APNEA^MDC"),
        // No standard code found: VF has only a manufacturer-private one (VF/VT combined,
        // above 0xF000), and the only tachycardia event is sinus tachycardia, which a
        // rate run does not establish.
        VentricularFibrillation
        | TachyRun
        | FlatLine
        | Saturation
        | Noise
        | NoData
        | MonitoringInterrupted
        | SensorOff
        | News2Urgent
        | News2Emergency
        | BatteryLow
        | Fall
        | StaleNumerics => None,
    }
}

/// The measured parameter and its MDC unit, where the alert's value is one.
fn mdc_parameter(rule: RuleKind) -> Option<(&'static str, &'static str)> {
    use RuleKind::*;
    const HEART_RATE: (&str, &str) = (
        "147842^MDC_ECG_HEART_RATE^MDC",
        "264864^MDC_DIM_BEAT_PER_MIN^MDC",
    );
    match rule {
        HrHigh | HrLow | BradyRun | TachyRun | VentricularTachycardia => Some(HEART_RATE),
        Spo2Low => Some((
            "150456^MDC_PULS_OXIM_SAT_O2^MDC",
            "262688^MDC_DIM_PERCENT^MDC",
        )),
        _ => None,
    }
}

/// The rule as a local code with its words: `hr_high^heart rate above limit^99CW`.
fn local_code(rule: RuleKind) -> String {
    format!(
        "{}^{}^{LOCAL_SYSTEM}",
        rule.as_str(),
        escape(rule.describe())
    )
}

/// A value as HL7 `NM`: no exponent, at most one decimal.
fn number(v: f32) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// What a nurse reads on the alert manager's display.
fn alert_text(alert: &Alert) -> String {
    let mut text = alert.rule.describe().to_owned();
    if alert.value.is_finite() && !alert.rule.unit().is_empty() {
        text.push_str(&format!(
            ": {} {} (limit {})",
            number(alert.value),
            alert.rule.unit(),
            number(alert.limit)
        ));
    }
    if alert.episode.count > 1
        && let Some(summary) = alert.episode.summary(alert.rule)
    {
        text.push_str(&format!("; so far {summary}"));
    }
    text
}

fn msh(parties: &Parties, control_id: &str, at: Nanos) -> String {
    let time = dtm(at);
    // MSH-1 is the field separator itself, so the fields below start at MSH-2.
    segment(
        "MSH",
        &[
            ENCODING_CHARACTERS,
            &escape(&parties.sending_application),
            &escape(&parties.sending_facility),
            &escape(&parties.receiving_application),
            &escape(&parties.receiving_facility),
            &time,
            "",
            "ORU^R40^ORU_R40",
            &escape(control_id),
            "P",
            "2.6",
            "",
            "",
            // Accept acknowledgement always, application acknowledgement never (ACM).
            "AL",
            "NE",
            "",
            "UNICODE UTF-8",
            "",
            "",
            ACM_PROFILE,
        ],
    )
}

/// One facet OBX: set id, value type, identifier, the facet number, value and the rest
/// from OBX-6 on.
struct Obx<'a> {
    value_type: &'a str,
    identifier: &'a str,
    facet: u32,
    value: &'a str,
    units: &'a str,
    range: &'a str,
    flags: &'a str,
    time: &'a str,
}

impl Obx<'_> {
    fn render(&self, set_id: usize) -> String {
        let set_id = set_id.to_string();
        let sub_id = format!("{CONTAINMENT}.{}", self.facet);
        segment(
            "OBX",
            &[
                &set_id,
                self.value_type,
                self.identifier,
                &sub_id,
                self.value,
                self.units,
                self.range,
                self.flags,
                "",
                "",
                // OBX-11: final.
                "F",
                "",
                "",
                self.time,
            ],
        )
    }
}

/// The `ORU^R40` of one change of `alert`, sent at `at`; segments end with CR.
pub fn oru_r40(parties: &Parties, alert: &Alert, change: Change, at: Nanos) -> String {
    let app = escape(&parties.sending_application);
    let control = control_id(alert, change);
    let pid3 = format!("{}^^^{app}^PI", escape(alert.patient.as_str()));
    let obr3 = format!("{}^{app}", escape(&alert.id.to_string()));
    let fired = dtm(alert.fired_ns);
    let ended = alert.resolved_ns.map(dtm).unwrap_or_default();
    let obr = segment(
        "OBR",
        &[
            "1",
            "",
            &obr3,
            "196616^MDC_EVT_ALARM^MDC",
            "",
            "",
            &fired,
            &ended,
        ],
    );
    let event = match mdc_event(alert.rule) {
        Some(mdc) => format!(
            "{mdc}^{}^{}^{LOCAL_SYSTEM}",
            alert.rule.as_str(),
            escape(alert.rule.describe())
        ),
        None => local_code(alert.rule),
    };
    let priority = priority_code(alert.priority);
    let kind = kind_code(alert.rule);
    let flags = format!("{priority}~{kind}");
    let changed = dtm(at);
    let local_parameter = local_code(alert.rule);
    let local_unit = format!("^{}^{LOCAL_SYSTEM}", escape(alert.rule.unit()));
    let (parameter, unit) = mdc_parameter(alert.rule)
        .map(|(p, u)| (p.to_owned(), u.to_owned()))
        .unwrap_or((local_parameter, local_unit));
    let value = number(alert.value);
    let range = if !alert.limit.is_finite() {
        String::new()
    } else if alert.rule.info().lower_is_worse {
        format!(">{}", number(alert.limit))
    } else {
        format!("<{}", number(alert.limit))
    };
    let source_code = local_code(alert.rule);
    let source = if alert.value.is_finite() && !alert.rule.unit().is_empty() {
        Obx {
            value_type: "NM",
            identifier: &parameter,
            facet: 2,
            value: &value,
            units: &unit,
            range: &range,
            flags: "",
            time: &changed,
        }
    } else {
        Obx {
            value_type: "CWE",
            identifier: "68480^MDC_ATTR_ALERT_SOURCE^MDC",
            facet: 2,
            value: &source_code,
            units: "",
            range: "",
            flags: "",
            time: "",
        }
    };
    let (state, inactivation) = match (alert.state, alert.acked_ns.is_some()) {
        (AlertState::Resolved, true) => ("inactive", "alert-acknowledged"),
        (AlertState::Resolved, false) => ("inactive", "enabled"),
        (_, true) => ("active", "alert-acknowledged"),
        (_, false) => ("active", "enabled"),
    };
    let text = escape(&alert_text(alert));
    let facet = |facet, identifier, value| Obx {
        value_type: "ST",
        identifier,
        facet,
        value,
        units: "",
        range: "",
        flags: "",
        time: "",
    };
    let obx = [
        Obx {
            value_type: "CWE",
            identifier: "196616^MDC_EVT_ALARM^MDC",
            facet: 1,
            value: &event,
            units: "",
            range: "",
            flags: &flags,
            time: &changed,
        },
        source,
        facet(3, "68481^MDC_ATTR_EVENT_PHASE^MDC", change.phase()),
        facet(4, "68482^MDC_ATTR_ALARM_STATE^MDC", state),
        facet(
            5,
            "68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC",
            inactivation,
        ),
        facet(6, "68484^MDC_ATTR_ALARM_PRIORITY^MDC", priority),
        facet(7, "68485^MDC_ATTR_ALERT_TYPE^MDC", kind),
        facet(8, "68546^MDC_ATTR_ALERT_TEXT^MDC", &text),
    ];
    let mut segments = vec![
        msh(parties, &control, at),
        segment("PID", &["", "", &pid3]),
        obr,
    ];
    segments.extend(obx.iter().enumerate().map(|(i, o)| o.render(i + 1)));
    let mut message = segments.join("\r");
    message.push('\r');
    message
}

/// The keep-alive: an `ORU^R40` that reports no alarm (local event `keep_alive`, no
/// priority `PN`, advisory `SA`, phase `present`), so the alert manager answers it like
/// any PCD-04 and each side learns the link works while no alarm is going.
pub fn keep_alive(parties: &Parties, control_id: &str, at: Nanos) -> String {
    let app = escape(&parties.sending_application);
    let time = dtm(at);
    let obr3 = format!("{}^{app}", escape(control_id));
    let event = format!("keep_alive^link keep-alive^{LOCAL_SYSTEM}");
    let segments = [
        msh(parties, control_id, at),
        segment(
            "OBR",
            &["1", "", &obr3, "196616^MDC_EVT_ALARM^MDC", "", "", &time],
        ),
        Obx {
            value_type: "CWE",
            identifier: "196616^MDC_EVT_ALARM^MDC",
            facet: 1,
            value: &event,
            units: "",
            range: "",
            flags: "PN~SA",
            time: &time,
        }
        .render(1),
        Obx {
            value_type: "ST",
            identifier: "68481^MDC_ATTR_EVENT_PHASE^MDC",
            facet: 3,
            value: "present",
            units: "",
            range: "",
            flags: "",
            time: "",
        }
        .render(2),
    ];
    let mut message = segments.join("\r");
    message.push('\r');
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{Episode, PatientId};

    fn parties() -> Parties {
        Parties {
            sending_application: "CARDIOWATCH".into(),
            sending_facility: "HOSP".into(),
            receiving_application: "ACM".into(),
            receiving_facility: "WARD|3".into(),
        }
    }

    /// A field of a segment as a reader counts it (MSH-1 is the separator).
    fn field<'a>(message: &'a str, id: &str, nth: usize, n: usize) -> &'a str {
        let seg = message
            .split('\r')
            .filter(|s| s.starts_with(id))
            .nth(nth)
            .unwrap_or_else(|| panic!("no {id} #{nth} in {message}"));
        let fields: Vec<&str> = seg.split('|').collect();
        let i = if id == "MSH" { n - 1 } else { n };
        fields.get(i).copied().unwrap_or("")
    }

    fn hr_alert() -> Alert {
        Alert {
            value: 152.0,
            limit: 120.0,
            policy_version: 1,
            ..Alert::firing(PatientId::random(), RuleKind::HrHigh, Priority::High, 0)
        }
    }

    #[test]
    fn start_carries_the_profile_the_alarm_and_every_facet() {
        let alert = hr_alert();
        let at = 1_796_652_916 * 1_000_000_000;
        let m = oru_r40(&parties(), &alert, Change::Start, at);
        assert!(m.ends_with('\r') && !m.contains('\n'));
        assert_eq!(field(&m, "MSH", 0, 2), "^~\\&");
        assert_eq!(field(&m, "MSH", 0, 5), "ACM");
        assert_eq!(field(&m, "MSH", 0, 6), "WARD\\F\\3", "escaped");
        assert_eq!(field(&m, "MSH", 0, 7), "20261207141516+0000");
        assert_eq!(field(&m, "MSH", 0, 9), "ORU^R40^ORU_R40");
        assert_eq!(field(&m, "MSH", 0, 10), format!("{}.1", alert.id));
        assert_eq!(field(&m, "MSH", 0, 12), "2.6");
        assert_eq!(
            (field(&m, "MSH", 0, 15), field(&m, "MSH", 0, 16)),
            ("AL", "NE")
        );
        assert_eq!(field(&m, "MSH", 0, 21), ACM_PROFILE);
        assert_eq!(
            field(&m, "PID", 0, 3),
            format!("{}^^^CARDIOWATCH^PI", alert.patient)
        );
        assert_eq!(field(&m, "OBR", 0, 3), format!("{}^CARDIOWATCH", alert.id));
        assert_eq!(field(&m, "OBR", 0, 4), "196616^MDC_EVT_ALARM^MDC");
        assert_eq!(field(&m, "OBR", 0, 8), "", "no end yet");
        let obx: Vec<&str> = m.split('\r').filter(|s| s.starts_with("OBX")).collect();
        assert_eq!(obx.len(), 8);
        for (i, _) in obx.iter().enumerate() {
            assert_eq!(field(&m, "OBX", i, 1), (i + 1).to_string());
            assert_eq!(field(&m, "OBX", i, 4), format!("1.0.0.0.{}", i + 1));
            assert_eq!(field(&m, "OBX", i, 11), "F");
        }
        assert_eq!(
            field(&m, "OBX", 0, 5),
            "196648^MDC_EVT_HI^MDC^hr_high^heart rate above limit^99CW"
        );
        assert_eq!(field(&m, "OBX", 0, 8), "PH~SP");
        assert_eq!(field(&m, "OBX", 1, 3), "147842^MDC_ECG_HEART_RATE^MDC");
        assert_eq!(field(&m, "OBX", 1, 2), "NM");
        assert_eq!(field(&m, "OBX", 1, 5), "152");
        assert_eq!(field(&m, "OBX", 1, 6), "264864^MDC_DIM_BEAT_PER_MIN^MDC");
        assert_eq!(field(&m, "OBX", 1, 7), "<120");
        let facets: Vec<(&str, &str)> = (2..8)
            .map(|i| (field(&m, "OBX", i, 3), field(&m, "OBX", i, 5)))
            .collect();
        assert_eq!(
            facets,
            [
                ("68481^MDC_ATTR_EVENT_PHASE^MDC", "start"),
                ("68482^MDC_ATTR_ALARM_STATE^MDC", "active"),
                ("68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC", "enabled"),
                ("68484^MDC_ATTR_ALARM_PRIORITY^MDC", "PH"),
                ("68485^MDC_ATTR_ALERT_TYPE^MDC", "SP"),
                (
                    "68546^MDC_ATTR_ALERT_TEXT^MDC",
                    "heart rate above limit: 152 bpm (limit 120)"
                ),
            ]
        );
    }

    #[test]
    fn technical_alarm_without_mdc_code_goes_local_with_its_source() {
        let alert = Alert {
            value: f32::NAN,
            limit: f32::NAN,
            ..Alert::firing(PatientId::random(), RuleKind::Noise, Priority::Low, 0)
        };
        let m = oru_r40(&parties(), &alert, Change::Start, 0);
        assert_eq!(
            field(&m, "OBX", 0, 5),
            "noise^technical: signal too noisy to analyse^99CW"
        );
        assert_eq!(field(&m, "OBX", 0, 8), "PL~ST");
        assert_eq!(field(&m, "OBX", 1, 3), "68480^MDC_ATTR_ALERT_SOURCE^MDC");
        assert_eq!(field(&m, "OBX", 6, 5), "ST");
    }

    #[test]
    fn acknowledge_and_end_change_state_and_inactivation() {
        let mut alert = hr_alert();
        alert.acked_ns = Some(5);
        alert.state = AlertState::Acknowledged;
        let ack = oru_r40(&parties(), &alert, Change::Acknowledge, 5);
        assert_eq!(field(&ack, "OBX", 2, 5), "update");
        assert_eq!(field(&ack, "OBX", 3, 5), "active");
        assert_eq!(field(&ack, "OBX", 4, 5), "alert-acknowledged");
        alert.state = AlertState::Resolved;
        alert.resolved_ns = Some(1_796_652_916 * 1_000_000_000);
        let end = oru_r40(&parties(), &alert, Change::End, 9);
        assert_eq!(field(&end, "OBX", 2, 5), "end");
        assert_eq!(field(&end, "OBX", 3, 5), "inactive");
        assert_eq!(field(&end, "OBR", 0, 8), "20261207141516+0000");
        assert_ne!(field(&ack, "MSH", 0, 10), field(&end, "MSH", 0, 10));
    }

    #[test]
    fn changes_follow_the_alert_and_their_rows_sort_in_sending_order() {
        let mut alert = hr_alert();
        assert_eq!(changes(&alert, 1), [Change::Start]);
        alert.episode = Episode {
            count: 3,
            ..alert.episode
        };
        alert.acked_ns = Some(1);
        alert.state = AlertState::Resolved;
        let all = changes(&alert, 3);
        assert_eq!(
            all,
            [
                Change::Start,
                Change::Escalate { level: 2 },
                Change::Escalate { level: 3 },
                Change::Update { events: 3 },
                Change::Acknowledge,
                Change::End
            ]
        );
        let sequences: Vec<u32> = all.iter().map(|c| c.sequence()).collect();
        assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
        for c in all {
            assert_eq!(Change::from_sequence(c.sequence()), Some(c));
        }
        assert_eq!(Change::from_sequence(0), None);
        assert_eq!(Change::from_sequence(101), None, "level 1 is the start");
    }

    /// The arrhythmia rules carry their ISO/IEEE 11073-10101 event: each code is the
    /// partition-3 term code the sources give (docs/integration.md, "MDC event codes")
    /// plus 3 × 65536, and the rules without one stay local.
    #[test]
    fn arrhythmia_rules_carry_their_mdc_event_and_the_others_stay_local() {
        const EVENTS: u32 = 3 << 16;
        let table = [
            (RuleKind::Asystole, 3076, "MDC_EVT_ECG_ASYSTOLE"),
            (RuleKind::Pause, 3108, "MDC_EVT_ECG_PAUSE"),
            (RuleKind::AtrialFibrillation, 3128, "MDC_EVT_ECG_ATR_FIB"),
            (
                RuleKind::VentricularTachycardia,
                3224,
                "MDC_EVT_ECG_V_TACHY",
            ),
            (RuleKind::SustainedVt, 3224, "MDC_EVT_ECG_V_TACHY"),
            (RuleKind::Nsvt, 3226, "MDC_EVT_ECG_V_TACHY_NON_SUST"),
            (RuleKind::BradyRun, 3084, "MDC_EVT_ECG_SINUS_BRADY"),
            (RuleKind::Couplet, 3210, "MDC_EVT_ECG_V_P_C_PAIR"),
            (RuleKind::Bigeminy, 3082, "MDC_EVT_ECG_BIGEM"),
            (RuleKind::Trigeminy, 3236, "MDC_EVT_ECG_V_TRIGEM"),
            (RuleKind::PvcPerMinute, 3252, "MDC_EVT_ECG_V_P_C_RATE"),
            (RuleKind::Apnea, 3072, "MDC_EVT_APNEA"),
            (RuleKind::HrHigh, 40, "MDC_EVT_HI"),
            (RuleKind::HrLow, 62, "MDC_EVT_LO"),
            (RuleKind::LeadOff, 72, "MDC_EVT_LEAD_OFF"),
        ];
        for (rule, term, name) in table {
            assert_eq!(
                mdc_event(rule),
                Some(format!("{}^{name}^MDC", EVENTS + term).as_str()),
                "{rule:?}"
            );
        }
        for rule in [
            RuleKind::VentricularFibrillation,
            RuleKind::TachyRun,
            RuleKind::Noise,
        ] {
            assert_eq!(mdc_event(rule), None, "{rule:?}");
        }
        let alert = Alert {
            value: 4.2,
            limit: 3.0,
            ..Alert::firing(PatientId::random(), RuleKind::Asystole, Priority::High, 0)
        };
        let m = oru_r40(&parties(), &alert, Change::Start, 0);
        assert_eq!(
            field(&m, "OBX", 0, 5),
            "199684^MDC_EVT_ECG_ASYSTOLE^MDC^asystole^asystole^99CW",
            "the MDC event first, our rule as the alternate code"
        );
        let vf = Alert {
            value: f32::NAN,
            limit: f32::NAN,
            ..Alert::firing(
                PatientId::random(),
                RuleKind::VentricularFibrillation,
                Priority::High,
                0,
            )
        };
        let m = oru_r40(&parties(), &vf, Change::Start, 0);
        assert!(
            field(&m, "OBX", 0, 5).starts_with("ventricular_fibrillation^"),
            "{m}"
        );
    }

    #[test]
    fn keep_alive_is_a_pcd04_without_alarm_priority() {
        let m = keep_alive(&parties(), "ka.7", 0);
        assert_eq!(field(&m, "MSH", 0, 10), "ka.7");
        assert_eq!(field(&m, "MSH", 0, 21), ACM_PROFILE);
        assert_eq!(field(&m, "OBX", 0, 8), "PN~SA");
        assert_eq!(field(&m, "OBX", 1, 5), "present");
    }
}
