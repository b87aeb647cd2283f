//! What a doctor reads or hears. Only the opaque patient id, never PHI: SMS and email
//! cross networks we do not control.
//!
//! SMS and calls carry the page's code ([`cw_core::Delivery::page_code`]): a reply
//! acknowledges the page it names, never "the newest alert" (docs/security.md, Edge).

use crate::console_link::ConsoleLinks;
use cw_core::{Alert, Delivery};

pub fn subject(alert: &Alert) -> String {
    format!(
        "[cardiowatch {}] {} - patient {}",
        alert.priority.as_str().to_uppercase(),
        alert.rule.describe(),
        alert.patient
    )
}

/// "cardiowatch HIGH alert: heart rate above limit".
fn headline(alert: &Alert) -> String {
    format!(
        "cardiowatch {} alert: {}",
        alert.priority.as_str().to_uppercase(),
        alert.rule.describe()
    )
}

/// ": 150 bpm (limit 120)", in the rule's unit; no limit for a rule the policy only
/// turns on or off (it is stored as 0 and meant nothing: "(limit 0)"), and no value for
/// a rule without a unit (lead off, VF: the alert itself is the fact).
fn reading(alert: &Alert) -> String {
    let info = alert.rule.info();
    if info.unit.is_empty() || !alert.value.is_finite() {
        return String::new();
    }
    let value = alert.rule.reading(alert.value);
    if info.limited && alert.limit.is_finite() {
        format!(": {value} (limit {})", alert.rule.reading(alert.limit))
    } else {
        format!(": {value}")
    }
}

/// " So far: 17 pauses, longest 5.7 s." once the alert holds more than one event: a
/// repeat or an escalation re-reads the alert, so later pages carry the latest count.
fn so_far(alert: &Alert) -> String {
    match alert.episode.summary(alert.rule) {
        Some(summary) if alert.episode.count > 1 => format!(" So far: {summary}."),
        _ => String::new(),
    }
}

/// The facts of an alert (email, digests): no reply instruction, since nobody replies
/// to an email.
pub fn text(alert: &Alert) -> String {
    format!(
        "{} for patient {}{}.{} Alert {}.",
        headline(alert),
        alert.patient,
        reading(alert),
        so_far(alert),
        alert.id
    )
}

/// [`text`] and, when the console's URL is configured, the link to the alert in it.
pub fn text_with_link(alert: &Alert, links: Option<&ConsoleLinks>) -> String {
    match links {
        Some(links) => format!("{} Open it: {}", text(alert), links.alert(alert)),
        None => text(alert),
    }
}

/// An email page: [`text_with_link`], and a line saying what the strip image under it
/// shows, or that there is none, so a missing picture is never mistaken for a flat line.
pub fn email_text(alert: &Alert, links: Option<&ConsoleLinks>, with_strip: bool) -> String {
    let strip = if with_strip {
        format!(
            "The ECG strip below runs from {} s before the onset (dashed line) at 25 mm/s, 10 mm/mV.",
            crate::strip_image::BEFORE_ONSET_S
        )
    } else {
        "No ECG strip: no samples were stored around the onset.".to_owned()
    };
    format!("{}\n\n{strip}", text_with_link(alert, links))
}

/// The `Message-ID` (without brackets) of the email of one page, the same for every
/// send of it — a re-send after a crash included — so a mail client can collapse a
/// duplicate; and the `References` id shared by every email of the alert, so the
/// duplicate at least lands in the alert's thread where a relay rewrites `Message-ID`
/// (SES does). Ids are `[A-Za-z0-9_-]`, valid on the left of a msg-id's `@`.
pub fn email_ids(delivery: &Delivery, from_address: &str) -> (String, String) {
    let domain = from_address
        .rsplit_once('@')
        .map_or("cardiowatch.invalid", |(_, d)| d);
    (
        format!(
            "{}.{}.{}@{domain}",
            delivery.alert, delivery.recipient, delivery.attempt
        ),
        format!("{}@{domain}", delivery.alert),
    )
}

/// The words before the code in an SMS; [`code_in_sms`] reads the code after them.
const REPLY_WITH: &str = "Reply ";

/// The most an SMS page may take: two concatenated GSM-7 segments of 153 characters.
/// More is split into more parts, which carriers deliver out of order or not at all.
pub const SMS_MAX_CHARS: usize = 2 * 153;

/// An SMS page: the facts, the link to the alert in the console (when configured) and
/// the code to reply with. With the link, the ids are in it and not repeated; if the
/// text still runs over [`SMS_MAX_CHARS`] the episode summary goes first — the link and
/// the code never do.
pub fn sms_text(alert: &Alert, code: &str, links: Option<&ConsoleLinks>) -> String {
    let Some(links) = links else {
        return format!("{} {REPLY_WITH}{code} to acknowledge.", text(alert));
    };
    let link = links.alert(alert);
    let with = |so_far: &str| {
        format!(
            "{}{}.{so_far} {link} {REPLY_WITH}{code} to acknowledge.",
            headline(alert),
            reading(alert)
        )
    };
    let full = with(&so_far(alert));
    if full.chars().count() <= SMS_MAX_CHARS {
        full
    } else {
        with("")
    }
}

/// What an alert call reads: the facts and the code spelt out, so the doctor can also
/// acknowledge the call's page by SMS. A URL read aloud is of no use, so with the
/// console configured the call says where the link is instead.
pub fn call_text(alert: &Alert, code: &str, links: Option<&ConsoleLinks>) -> String {
    let spelt: Vec<String> = code.chars().map(String::from).collect();
    let pointer = match links {
        Some(_) => {
            " The link to its strip is in the console worklist and in the text and email pages."
        }
        None => "",
    };
    format!("{} Page code {}.{pointer}", text(alert), spelt.join(" "))
}

/// The page code an SMS of [`sms_text`] carries (what a phone replies with).
pub fn code_in_sms(body: &str) -> Option<&str> {
    let after = &body[body.rfind(REPLY_WITH)? + REPLY_WITH.len()..];
    after.split_whitespace().next()
}

/// One line per alert for a reply that did not say which page it answers.
pub fn which_one(choices: &[(String, &Alert)]) -> String {
    let listed: Vec<String> = choices
        .iter()
        .map(|(code, alert)| {
            format!(
                "{code} ({} patient {})",
                alert.rule.describe(),
                alert.patient
            )
        })
        .collect();
    format!(
        "{} open alerts were paged to this phone; nothing was acknowledged. Reply with the code of the one you mean: {}.",
        choices.len(),
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, Priority, RuleKind};

    #[test]
    fn an_sms_carries_its_code_where_the_phone_finds_it() {
        let alert = Alert::firing(PatientId::random(), RuleKind::HrHigh, Priority::High, 1);
        let sms = sms_text(&alert, "K7Q2MX", None);
        assert_eq!(code_in_sms(&sms), Some("K7Q2MX"), "{sms}");
        assert!(call_text(&alert, "K7Q2MX", None).contains("K 7 Q 2 M X"));
        assert_eq!(code_in_sms("no code here"), None);
    }

    #[test]
    fn a_page_says_how_many_events_the_alert_holds_once_there_are_more_than_one() {
        let mut alert = Alert::firing(PatientId::random(), RuleKind::Pause, Priority::Medium, 1);
        alert.episode = cw_core::Episode::first(1, 3.2);
        assert!(!text(&alert).contains("So far"), "{}", text(&alert));
        alert.episode.add(RuleKind::Pause, 2, 5.7);
        let sms = sms_text(&alert, "K7Q2MX", None);
        assert!(sms.contains("So far: 2 pauses, longest 5.7 s."), "{sms}");
        assert_eq!(code_in_sms(&sms), Some("K7Q2MX"), "{sms}");
    }

    fn links(base: &str) -> ConsoleLinks {
        ConsoleLinks::from_config(Some(base))
            .expect("valid")
            .expect("set")
    }

    #[test]
    fn an_sms_with_the_console_carries_the_link_and_the_code_and_not_the_ids_twice() {
        let alert = Alert {
            value: 150.0,
            limit: 120.0,
            ..Alert::firing(PatientId::random(), RuleKind::HrHigh, Priority::High, 1)
        };
        let links = links("https://cw.hospital.test/console/");
        let sms = sms_text(&alert, "K7Q2MX", Some(&links));
        assert_eq!(
            sms,
            format!(
                "cardiowatch HIGH alert: heart rate above limit: 150 bpm (limit 120 bpm). {} Reply K7Q2MX to acknowledge.",
                links.alert(&alert)
            )
        );
        assert_eq!(code_in_sms(&sms), Some("K7Q2MX"));
        assert_eq!(sms.matches(alert.patient.as_str()).count(), 1, "{sms}");
        let email = text_with_link(&alert, Some(&links));
        assert!(email.ends_with(&links.alert(&alert)), "{email}");
        assert!(call_text(&alert, "K7Q2MX", Some(&links)).contains("console"));
    }

    #[test]
    fn a_rule_without_a_numeric_limit_says_no_limit() {
        let lead_off = Alert::firing(PatientId::random(), RuleKind::LeadOff, Priority::Low, 1);
        assert!(!text(&lead_off).contains("limit"), "{}", text(&lead_off));
        let vf = Alert {
            value: 1.0,
            ..Alert::firing(
                PatientId::random(),
                RuleKind::VentricularFibrillation,
                Priority::High,
                1,
            )
        };
        assert!(!text(&vf).contains("limit"), "{}", text(&vf));
        let sensors = Alert {
            value: 2.0,
            ..Alert::firing(PatientId::random(), RuleKind::SensorOff, Priority::Low, 1)
        };
        assert!(
            text(&sensors).contains(": 2 sensors."),
            "{}",
            text(&sensors)
        );
        let pause = Alert {
            value: 3.4,
            limit: 3.0,
            ..Alert::firing(PatientId::random(), RuleKind::Pause, Priority::Medium, 1)
        };
        assert!(
            text(&pause).contains(": 3.4 s (limit 3.0 s)."),
            "{}",
            text(&pause)
        );
    }

    #[test]
    fn the_longest_sms_stays_within_two_segments_keeping_link_and_code() {
        let longest_rule = RuleKind::ALL
            .iter()
            .copied()
            .max_by_key(|r| r.describe().len())
            .expect("rules");
        // Ids as the api and the engine make them (ULIDs, 26 characters).
        let mut alert = Alert {
            value: 150.0,
            limit: 120.0,
            ..Alert::firing(PatientId::random(), longest_rule, Priority::High, 1)
        };
        for at in 2..40 {
            alert.episode.add(longest_rule, at, 1e6);
        }
        let links =
            links("https://cardiowatch-console.cardiology.example-hospital.org:8444/console/");
        let sms = sms_text(&alert, "K7Q2MX", Some(&links));
        assert!(
            sms.chars().count() <= SMS_MAX_CHARS,
            "{} chars: {sms}",
            sms.len()
        );
        assert!(sms.contains(&links.alert(&alert)), "{sms}");
        assert_eq!(code_in_sms(&sms), Some("K7Q2MX"), "{sms}");
    }
}
