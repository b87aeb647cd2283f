//! Acknowledging an alert from a channel: writes the store (the same transition the
//! api's REST ack makes), which stops escalation at the next sweep.

use crate::metrics::NotifierMetrics;
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::time::now_ns;
use cw_core::{AlertId, AlertState, Channel, DeliveryStatus, UserId};
use cw_storage::{RecordStore, StoreError};
use std::collections::HashMap;

/// What became of an acknowledgement from a phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// This call acknowledged the alert.
    Acknowledged,
    /// It was acknowledged (or resolved) before.
    AlreadyDone,
    /// The phone's user is disabled: a disabled account (a departed doctor, a stolen
    /// phone) must not be able to silence an alarm. Audited as denied; the alert stays
    /// firing and keeps escalating.
    AccountDisabled,
}

/// Acks `alert` on behalf of `by`. Audited like the api's REST ack: an `attempt` before
/// the change (no audit, no ack), the outcome after. `request_id` is Twilio's
/// Message/Call SID.
pub async fn acknowledge(
    records: &dyn RecordStore,
    metrics: &NotifierMetrics,
    alert: &AlertId,
    by: &UserId,
    via: Channel,
    request_id: &str,
) -> Result<AckOutcome, StoreError> {
    let mut entry = audit_entry(
        by.as_str(),
        &format!("ack_by_{}", via.as_str()),
        &format!("alerts/{alert}"),
        AuditOutcome::Attempt,
        request_id,
    );
    entry.patient = records.get_alert(alert).await.ok().map(|a| a.patient);
    let disabled = match records.user(by).await {
        Ok(user) => user.is_disabled(),
        Err(StoreError::NotFound) => false,
        Err(e) => return Err(e),
    };
    if disabled {
        entry.outcome = AuditOutcome::Denied;
        entry.status = 403;
        entry.reason = "account disabled".to_owned();
        records.append_audit(&entry).await?;
        tracing::warn!(alert = %alert, by = %by, via = via.as_str(), "ack from a disabled account refused");
        return Ok(AckOutcome::AccountDisabled);
    }
    records.append_audit(&entry).await?;
    let at = now_ns();
    let acked = records.acknowledge_alert(alert, by.as_str(), at).await?;
    entry.at_ns = now_ns();
    entry.outcome = AuditOutcome::Allowed;
    entry.status = 200;
    records.append_audit(&entry).await?;
    let ours = acked.state == AlertState::Acknowledged && acked.acked_ns == Some(at);
    if !ours {
        return Ok(AckOutcome::AlreadyDone);
    }
    metrics.count_ack(via);
    if metrics.acks.claim(alert) {
        metrics
            .time_to_ack
            .observe((at - acked.fired_ns).max(0) as f64 / 1e9);
    }
    tracing::info!(alert = %alert, by = %by, via = via.as_str(), "alert acknowledged");
    Ok(AckOutcome::Acknowledged)
}

/// An audit record of something Twilio asked the notifier to do.
pub fn audit_entry(
    actor: &str,
    action: &str,
    resource: &str,
    outcome: AuditOutcome,
    request_id: &str,
) -> AuditEntry {
    AuditEntry {
        at_ns: now_ns(),
        actor: actor.to_owned(),
        role: if actor == "anonymous" { "" } else { "doctor" }.to_owned(),
        action: action.to_owned(),
        resource: resource.to_owned(),
        patient: None,
        outcome,
        status: 0,
        source: "twilio-webhook".to_owned(),
        request_id: request_id.to_owned(),
        reason: String::new(),
    }
}

/// Firing alerts that were texted or called to the user owning `phone`, newest first,
/// with that user. Read from the store only, so a reply after a restart still works.
pub async fn alerts_paged_to_phone(
    records: &dyn RecordStore,
    phone: &str,
) -> Result<Vec<(AlertId, UserId)>, StoreError> {
    let mut alerts = records.open_alerts().await?;
    alerts.retain(|a| a.state == AlertState::Firing);
    alerts.sort_by_key(|a| std::cmp::Reverse(a.fired_ns));
    let mut phones: HashMap<UserId, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for alert in alerts {
        let rows = records.deliveries_for_alert(&alert.id).await?;
        for row in rows.iter().filter(|d| {
            matches!(d.channel, Channel::Sms | Channel::Voice) && d.status != DeliveryStatus::Queued
        }) {
            if !phones.contains_key(&row.recipient) {
                let user_phone = match records.user(&row.recipient).await {
                    Ok(user) => user.phone,
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e),
                };
                phones.insert(row.recipient.clone(), user_phone);
            }
            if phones.get(&row.recipient).and_then(Option::as_deref) == Some(phone) {
                out.push((alert.id.clone(), row.recipient.clone()));
                break;
            }
        }
    }
    Ok(out)
}

/// What an SMS reply asks for: `1` acks the newest alert paged to the sender,
/// `ACK <code>` the alert whose id starts with `code` (case-insensitive, ≥ 6 chars).
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Newest,
    Code(String),
    Other,
}

pub fn parse_reply(body: &str) -> Reply {
    let body = body.trim();
    if body == "1" {
        return Reply::Newest;
    }
    let mut words = body.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(w), Some(code), None) if w.eq_ignore_ascii_case("ack") && code.len() >= 6 => {
            Reply::Code(code.to_ascii_lowercase())
        }
        (Some(w), None, None) if w.eq_ignore_ascii_case("ack") => Reply::Newest,
        _ => Reply::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replies() {
        assert_eq!(parse_reply(" 1 "), Reply::Newest);
        assert_eq!(parse_reply("ack"), Reply::Newest);
        assert_eq!(
            parse_reply("ACK 01jabcdef"),
            Reply::Code("01jabcdef".into())
        );
        assert_eq!(
            parse_reply("ack 01j"),
            Reply::Other,
            "code too short to be unique"
        );
        assert_eq!(parse_reply("2"), Reply::Other);
        assert_eq!(parse_reply("thanks"), Reply::Other);
    }
}
