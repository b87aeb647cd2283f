//! One attempt to reach one recipient on one channel about one alert.

use crate::time::Nanos;
use crate::{AlertId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    Sms,
    Voice,
    Email,
    InApp,
    /// A hospital alert manager (IHE PCD ACM, PCD-04 over MLLP): the row's recipient
    /// names the configured manager and its attempt the alarm state change reported
    /// (docs/integration.md, "Alert managers"). Not a person's channel.
    AlertManager,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::Email => "email",
            Self::InApp => "in_app",
            Self::AlertManager => "alert_manager",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "queued" => Some(Self::Queued),
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub alert: AlertId,
    pub channel: Channel,
    pub recipient: UserId,
    /// The attempt *group*: the escalation level that paged this recipient (1 = first
    /// page). Retries within a group reuse the row and its idempotency key, so a retry
    /// of a request the provider did accept can never send a second message.
    pub attempt: u32,
    pub status: DeliveryStatus,
    /// Twilio SID or SES MessageId once the provider accepted it.
    pub provider_id: Option<String>,
    /// When the provider accepted the message (Twilio/SES answered with its id, the
    /// alert manager with an accept, an in-app page was stored): recorded by the
    /// notifier, kept through later status changes (`updated_ns` moves on with each).
    /// `None` until then, and on rows written before it was recorded.
    #[serde(default)]
    pub sent_ns: Option<Nanos>,
    pub error: Option<String>,
    pub updated_ns: Nanos,
    /// Provider calls made for this row so far (0 for rows written before retries).
    #[serde(default)]
    pub tries: u32,
    /// When a `Failed` row is due for another try; `None` on a failed row means the
    /// notifier gave up on it (not retryable, or past the alert's deadline).
    #[serde(default)]
    pub next_try_ns: Option<Nanos>,
    /// How many times the row was changed since its claim (0): every change is a
    /// compare-and-set on it (`DeliveryStore::update_delivery`), so of N notifiers acting
    /// on one snapshot of a row exactly one moves it on.
    #[serde(default)]
    pub version: u32,
}

impl Delivery {
    /// A new outbox row, `queued` at `now`: what a notifier claims before the send.
    pub fn claim(
        alert: AlertId,
        channel: Channel,
        recipient: UserId,
        attempt: u32,
        now: Nanos,
    ) -> Self {
        Self {
            alert,
            channel,
            recipient,
            attempt,
            status: DeliveryStatus::Queued,
            provider_id: None,
            sent_ns: None,
            error: None,
            updated_ns: now,
            tries: 0,
            next_try_ns: None,
            version: 0,
        }
    }

    /// Unique per (alert, channel, recipient, attempt group): the outbox key that stops a
    /// restart from sending twice.
    pub fn idempotency_key(&self) -> String {
        idempotency_key(&self.alert, self.channel, &self.recipient, self.attempt)
    }

    /// The short code this page carries (SMS text, spoken on the call): a reply names
    /// the page it answers by it, so it can acknowledge only an alert that was paged to
    /// that phone, never "whatever is newest" (docs/security.md, Edge).
    pub fn page_code(&self) -> String {
        page_code(&self.idempotency_key())
    }
}

/// Characters of a page code: Crockford base32 (no I, L, O, U), easy to read and type.
pub const PAGE_CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 6 characters, 30 bits: codes of the few open pages to one phone do not collide in
/// practice; if two did, a reply with it is ambiguous and answered with the list.
pub const PAGE_CODE_LEN: usize = 6;

/// [`Delivery::page_code`] of an idempotency key. Derived, not stored, so every notifier
/// replica and every restart computes the same code for the same page. Not a secret:
/// what makes a reply genuine is Twilio's signature; the code only says *which* page.
pub fn page_code(idempotency_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let bits = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    (0..PAGE_CODE_LEN)
        .map(|i| char::from(PAGE_CODE_ALPHABET[((bits >> (59 - 5 * i)) & 31) as usize]))
        .collect()
}

pub fn idempotency_key(
    alert: &AlertId,
    channel: Channel,
    recipient: &UserId,
    attempt: u32,
) -> String {
    format!("{alert}:{}:{recipient}:{attempt}", channel.as_str())
}

/// How a user wants to be reached. Everything is optional (`#[serde(default)]`), so
/// users stored before preferences existed keep the service's routing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotifyPreferences {
    /// Channels per priority, replacing the service's routing for this user. High
    /// priority always goes to every routed channel as well: a preference may add to a
    /// critical page, never quieten it.
    pub high: Option<Vec<Channel>>,
    pub medium: Option<Vec<Channel>>,
    pub low: Option<Vec<Channel>>,
    /// Daily quiet hours (minutes after midnight UTC, `start` to `end`, may wrap past
    /// midnight): medium and low alerts go in-app only. Never applies to high.
    pub quiet_hours: Option<QuietHours>,
    /// Medium and low alerts go in-app only until then. Bounded by the notifier (a snooze
    /// always ends); never applies to high.
    pub snooze_until_ns: Option<Nanos>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuietHours {
    pub start_min_utc: u16,
    pub end_min_utc: u16,
}

impl QuietHours {
    /// Whether `minute_of_day` (0..1440, UTC) falls in the quiet window.
    pub fn contains(&self, minute_of_day: u16) -> bool {
        let (s, e) = (self.start_min_utc, self.end_min_utc);
        if s <= e {
            (s..e).contains(&minute_of_day)
        } else {
            minute_of_day >= s || minute_of_day < e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_stored_before_acceptance_times_reads_with_none() {
        let old = r#"{"alert":"01J0000000000000000000000A","channel":"sms","recipient":"dr-a",
            "attempt":1,"status":"sent","provider_id":"SM1","error":null,"updated_ns":5}"#;
        let row: Delivery = serde_json::from_str(old).expect("an old row reads");
        assert_eq!((row.sent_ns, row.tries, row.version), (None, 0, 0));
        let mut row = row;
        row.sent_ns = Some(4);
        let back: Delivery =
            serde_json::from_str(&serde_json::to_string(&row).expect("json")).expect("reads");
        assert_eq!(back.sent_ns, Some(4));
    }

    #[test]
    fn quiet_hours_wrap_past_midnight() {
        let night = QuietHours {
            start_min_utc: 22 * 60,
            end_min_utc: 6 * 60,
        };
        assert!(night.contains(23 * 60));
        assert!(night.contains(60));
        assert!(!night.contains(12 * 60));
        let lunch = QuietHours {
            start_min_utc: 12 * 60,
            end_min_utc: 13 * 60,
        };
        assert!(lunch.contains(12 * 60 + 30));
        assert!(!lunch.contains(13 * 60));
    }

    #[test]
    fn users_without_preferences_still_parse() {
        let prefs: NotifyPreferences = serde_json::from_str("{}").expect("empty prefs");
        assert_eq!(prefs, NotifyPreferences::default());
    }
}
