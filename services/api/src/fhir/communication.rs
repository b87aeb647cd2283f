//! A delivery (one page of one alarm to one recipient on one channel: the notifier's
//! outbox row) as a FHIR `Communication`. Pure. Codes are listed in docs/integration.md.

use super::resources::{instant, patient_ref, tag};
use cw_core::time::Nanos;
use cw_core::{Alert, Channel, Delivery, DeliveryStatus, Priority};
use serde_json::{Value, json};

/// The outbox key of a delivery (`<alert>:<channel>:<recipient>:<attempt>`), as the
/// Communication's identifier.
pub const DELIVERY_SYSTEM: &str = "https://cardiowatch.example/fhir/NamingSystem/delivery";
const PARTICIPATION_MODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/communication-category";

/// The Communication's id: a tag of the outbox key, which holds `:` (not allowed in a
/// FHIR id) and may pass 64 characters.
pub fn id(d: &Delivery) -> String {
    format!("delivery-{}", tag(&d.idempotency_key()))
}

/// The row's status as Communication's (a required binding): queued is `preparation`,
/// with the provider `in-progress`, delivered `completed`; failed is `in-progress` while a
/// retry is due and `not-done` once the notifier gave up.
fn status(d: &Delivery) -> (&'static str, Option<&'static str>) {
    match d.status {
        DeliveryStatus::Queued => ("preparation", None),
        DeliveryStatus::Sent => ("in-progress", None),
        DeliveryStatus::Delivered => ("completed", None),
        DeliveryStatus::Failed if d.next_try_ns.is_some() => {
            ("in-progress", Some("failed; a retry is due"))
        }
        DeliveryStatus::Failed => ("not-done", Some("failed; not retried")),
    }
}

/// The channel as a v3 ParticipationMode.
fn medium(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Sms => ("SMSWRIT", "SMS written"),
        Channel::Voice => ("PHONE", "telephone"),
        Channel::Email => ("EMAILWRIT", "email"),
        Channel::InApp => ("ONLINEWRIT", "online written"),
        Channel::AlertManager => ("ELECTRONIC", "electronic data"),
    }
}

/// A delivery of `alert` as a Communication: `about` the alarm's DetectedIssue, `subject`
/// its patient, `recipient` the doctor (`Practitioner/<user id>`) or the alert manager by
/// name. `sent` is when the provider accepted the page (`Delivery::sent_ns`), kept once
/// it is `delivered` too; `received` is the time of the `delivered` status. The payload names the rule and priority
/// only: what was paged to a phone is not stored, and nothing here is PHI.
pub fn communication(d: &Delivery, alert: &Alert) -> Value {
    let (status, reason) = status(d);
    let (mode, mode_display) = medium(d.channel);
    let priority = match alert.priority {
        Priority::High => "stat",
        Priority::Medium => "urgent",
        Priority::Low => "routine",
    };
    let recipient = match d.channel {
        Channel::AlertManager => json!({"display": format!("alert manager {}", d.recipient)}),
        _ => json!({"reference": format!("Practitioner/{}", d.recipient)}),
    };
    let mut c = json!({
        "resourceType": "Communication",
        "id": id(d),
        "meta": {"lastUpdated": instant(d.updated_ns)},
        "identifier": [{"system": DELIVERY_SYSTEM, "value": d.idempotency_key()}],
        "status": status,
        "category": [{"coding": [{"system": CATEGORY, "code": "alert", "display": "Alert"}]}],
        "priority": priority,
        "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": mode, "display": mode_display}],
                    "text": d.channel.as_str()}],
        "subject": patient_ref(alert.patient.as_str()),
        "about": [{"reference": format!("DetectedIssue/{}", alert.id)}],
        "recipient": [recipient],
        "sender": {"display": "cardiowatch notifier"},
        "payload": [{"contentString": format!(
            "{} ({} priority alarm), page {}",
            alert.rule.describe(),
            alert.priority.as_str(),
            d.attempt
        )}],
    });
    if let Some(reason) = reason {
        c["statusReason"] = json!({"text": reason});
    }
    if let Some(at) = sent_ns(d) {
        c["sent"] = json!(instant(at));
    }
    if let Some(at) = received_ns(d) {
        c["received"] = json!(instant(at));
    }
    c
}

/// `sent`: when the provider accepted the page, as the notifier recorded it. A row
/// written before that was recorded has only the time of its latest status, which is
/// the acceptance while it is still `sent`.
pub fn sent_ns(d: &Delivery) -> Option<Nanos> {
    d.sent_ns
        .or_else(|| (d.status == DeliveryStatus::Sent).then_some(d.updated_ns))
}

/// `received`: the time a row was confirmed delivered.
pub fn received_ns(d: &Delivery) -> Option<Nanos> {
    (d.status == DeliveryStatus::Delivered).then_some(d.updated_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, RuleKind, UserId};

    #[test]
    fn a_delivered_sms_is_a_completed_communication_about_its_alarm() {
        let patient = PatientId::parse("p-1").expect("id");
        let alert = Alert::firing(patient, RuleKind::HrHigh, Priority::High, 1_000);
        let doctor = UserId::parse("dr-a").expect("user");
        let mut d = Delivery::claim(alert.id.clone(), Channel::Sms, doctor, 1, 2_000_000_000);
        let queued = communication(&d, &alert);
        assert_eq!(queued["status"], "preparation");
        assert!(queued.get("sent").is_none() && queued.get("received").is_none());
        // A row from before acceptance times were recorded: `sent` is its status time.
        d.status = DeliveryStatus::Sent;
        d.updated_ns = 2_500_000_000;
        assert_eq!(sent_ns(&d), Some(2_500_000_000));
        d.sent_ns = Some(2_400_000_000);
        d.status = DeliveryStatus::Delivered;
        d.updated_ns = 3_000_000_000;
        let c = communication(&d, &alert);
        assert_eq!(c["status"], "completed");
        assert_eq!(c["sent"], "1970-01-01T00:00:02.400Z");
        assert_eq!(c["received"], "1970-01-01T00:00:03.000Z");
        assert_eq!(
            (sent_ns(&d), received_ns(&d)),
            (Some(2_400_000_000), Some(3_000_000_000))
        );
        assert_eq!(c["medium"][0]["coding"][0]["code"], "SMSWRIT");
        assert_eq!(c["recipient"][0]["reference"], "Practitioner/dr-a");
        assert_eq!(
            c["about"][0]["reference"],
            format!("DetectedIssue/{}", alert.id)
        );
        assert_eq!(c["priority"], "stat");
        let id = c["id"].as_str().expect("id");
        assert!(id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        d.status = DeliveryStatus::Failed;
        assert_eq!(communication(&d, &alert)["status"], "not-done");
        d.next_try_ns = Some(4_000_000_000);
        assert_eq!(communication(&d, &alert)["status"], "in-progress");
    }
}
