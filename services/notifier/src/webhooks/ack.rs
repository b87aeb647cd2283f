//! Acknowledging an alert from a channel: writes the store (the same transition the
//! api's REST ack makes), which stops escalation at the next sweep.

use crate::events::{AlertAcknowledged, WebhookRefusal, WebhookRejected};
use crate::metrics::NotifierMetrics;
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::delivery::{PAGE_CODE_ALPHABET, PAGE_CODE_LEN};
use cw_core::time::now_ns;
use cw_core::{Alert, AlertId, AlertState, Channel, DeliveryStatus, UserId};
use cw_runtime::InternalEvent;
use cw_storage::{NotifierRecords, StoreError};
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
    records: &dyn NotifierRecords,
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
    AlertAcknowledged {
        alert,
        by,
        via,
        seconds_to_ack: metrics
            .acks
            .claim(alert)
            .then(|| (at - acked.fired_ns).max(0) as f64 / 1e9),
    }
    .emit(metrics);
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

/// A page that reached a phone: an SMS or call the provider accepted for a firing alert.
#[derive(Clone, Debug)]
pub struct Page {
    pub alert: Alert,
    pub recipient: UserId,
    /// The code the page carried ([`cw_core::Delivery::page_code`]).
    pub code: String,
}

/// Pages of firing alerts texted or called to the user owning `phone`, newest alert
/// first. Only rows the provider accepted (`sent` or `delivered`) count: a reply can
/// answer only a page that went out before it. Read from the store only, so a reply
/// after a restart, or to another replica, still works.
pub async fn pages_to_phone(
    records: &dyn NotifierRecords,
    phone: &str,
) -> Result<Vec<Page>, StoreError> {
    let mut alerts = records.open_alerts().await?;
    alerts.retain(|a| a.state == AlertState::Firing);
    alerts.sort_by_key(|a| std::cmp::Reverse(a.fired_ns));
    let mut phones: HashMap<UserId, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for alert in alerts {
        let rows = records.deliveries_for_alert(&alert.id).await?;
        for row in rows.iter().filter(|d| {
            matches!(d.channel, Channel::Sms | Channel::Voice)
                && matches!(d.status, DeliveryStatus::Sent | DeliveryStatus::Delivered)
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
                out.push(Page {
                    alert: alert.clone(),
                    recipient: row.recipient.clone(),
                    code: row.page_code(),
                });
            }
        }
    }
    Ok(out)
}

/// The alerts a reply may mean, one entry (its first page) per alert, in `pages` order.
pub fn matching<'a>(pages: &'a [Page], reply: &Reply) -> Vec<&'a Page> {
    let mut out: Vec<&Page> = Vec::new();
    for page in pages {
        let named = match reply {
            Reply::Code(code) => page.code == *code,
            Reply::Bare => true,
            Reply::Other => false,
        };
        if named && !out.iter().any(|p| p.alert.id == page.alert.id) {
            out.push(page);
        }
    }
    out
}

/// Records a provider request id as used; `false` (and a denied audit record) when it
/// was used before: a captured, signed request posted again.
pub async fn first_use(
    records: &dyn NotifierRecords,
    metrics: &NotifierMetrics,
    via: Channel,
    request_id: &str,
) -> Result<bool, StoreError> {
    if records.first_use(request_id, now_ns()).await? {
        return Ok(true);
    }
    let mut entry = audit_entry(
        "anonymous",
        &format!("ack_by_{}", via.as_str()),
        "alerts",
        AuditOutcome::Denied,
        request_id,
    );
    entry.status = 409;
    entry.reason = "replayed provider request id".to_owned();
    records.append_audit(&entry).await?;
    WebhookRejected(WebhookRefusal::Replayed { via, request_id }).emit(metrics);
    Ok(false)
}

/// What an SMS reply asks for: a page code (`K7Q2MX`, `1 K7Q2MX`, `ACK K7Q2MX`; any
/// case) acknowledges that page's alert; a bare `1` or `ACK` the only open alert paged
/// to the phone, and with several it acknowledges none and lists their codes.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Bare,
    Code(String),
    Other,
}

pub fn parse_reply(body: &str) -> Reply {
    let words: Vec<&str> = body.split_whitespace().collect();
    let is_ack_word = |w: &str| w == "1" || w.eq_ignore_ascii_case("ack");
    let is_code = |w: &str| {
        w.len() == PAGE_CODE_LEN
            && w.bytes()
                .all(|b| PAGE_CODE_ALPHABET.contains(&b.to_ascii_uppercase()))
    };
    let code = match words.as_slice() {
        [w] if is_ack_word(w) => return Reply::Bare,
        [code] => code,
        [w, code] if is_ack_word(w) => code,
        _ => return Reply::Other,
    };
    if is_code(code) {
        Reply::Code(code.to_ascii_uppercase())
    } else {
        Reply::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replies() {
        assert_eq!(parse_reply(" 1 "), Reply::Bare);
        assert_eq!(parse_reply("ack"), Reply::Bare);
        assert_eq!(parse_reply("k7q2mx"), Reply::Code("K7Q2MX".into()));
        assert_eq!(parse_reply("1 K7Q2MX"), Reply::Code("K7Q2MX".into()));
        assert_eq!(parse_reply("ACK k7q2mx"), Reply::Code("K7Q2MX".into()));
        assert_eq!(parse_reply("ack 01j"), Reply::Other, "not a page code");
        assert_eq!(parse_reply("thanks K7Q2MX"), Reply::Other);
        assert_eq!(parse_reply("2"), Reply::Other);
        assert_eq!(parse_reply("thank you"), Reply::Other);
        assert_eq!(parse_reply("hello"), Reply::Other, "five letters");
        assert_eq!(parse_reply("LOUISE"), Reply::Other, "not Crockford base32");
    }
}
