//! What a doctor reads or hears. Only the opaque patient id, never PHI: SMS and email
//! cross networks we do not control.
//!
//! SMS and calls carry the page's code ([`cw_core::Delivery::page_code`]): a reply
//! acknowledges the page it names, never "the newest alert" (docs/security.md, Edge).

use cw_core::{Alert, Delivery};

pub fn subject(alert: &Alert) -> String {
    format!(
        "[cardiowatch {}] {} - patient {}",
        alert.priority.as_str().to_uppercase(),
        alert.rule.describe(),
        alert.patient
    )
}

/// The facts of an alert (email, digests): no reply instruction, since nobody replies
/// to an email.
/// A repeat or an escalation re-reads the alert, so it also says how many events the
/// alert has held since it fired ("17 pauses, longest 5.7 s").
pub fn text(alert: &Alert) -> String {
    let unit = alert.rule.unit();
    let episode = match alert.episode.summary(alert.rule) {
        Some(summary) if alert.episode.count > 1 => format!(" So far: {summary}."),
        _ => String::new(),
    };
    format!(
        "cardiowatch {} alert: {} for patient {}: {:.0} {unit} (limit {:.0}).{episode} Alert {}.",
        alert.priority.as_str().to_uppercase(),
        alert.rule.describe(),
        alert.patient,
        alert.value,
        alert.limit,
        alert.id
    )
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

/// An SMS page: the facts and the code to reply with.
pub fn sms_text(alert: &Alert, code: &str) -> String {
    format!("{} {REPLY_WITH}{code} to acknowledge.", text(alert))
}

/// What an alert call reads: the facts and the code spelt out, so the doctor can also
/// acknowledge the call's page by SMS.
pub fn call_text(alert: &Alert, code: &str) -> String {
    let spelt: Vec<String> = code.chars().map(String::from).collect();
    format!("{} Page code {}.", text(alert), spelt.join(" "))
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
        let sms = sms_text(&alert, "K7Q2MX");
        assert_eq!(code_in_sms(&sms), Some("K7Q2MX"), "{sms}");
        assert!(call_text(&alert, "K7Q2MX").contains("K 7 Q 2 M X"));
        assert_eq!(code_in_sms("no code here"), None);
    }

    #[test]
    fn a_page_says_how_many_events_the_alert_holds_once_there_are_more_than_one() {
        let mut alert = Alert::firing(PatientId::random(), RuleKind::Pause, Priority::Medium, 1);
        alert.episode = cw_core::Episode::first(1, 3.2);
        assert!(!text(&alert).contains("So far"), "{}", text(&alert));
        alert.episode.add(RuleKind::Pause, 2, 5.7);
        let sms = sms_text(&alert, "K7Q2MX");
        assert!(sms.contains("So far: 2 pauses, longest 5.7 s."), "{sms}");
        assert_eq!(code_in_sms(&sms), Some("K7Q2MX"), "{sms}");
    }
}
