//! What happens inside the notifier, each event's log line and metric written once
//! (docs/architecture.md, "Internal events"). Logs name opaque ids only: alert, patient
//! and user ids, never a phone number, an address or a message text.

use crate::acm::pcd05::AckCode;
use crate::metrics::NotifierMetrics;
use cw_core::{AlertId, Channel, PatientId, UserId};
use cw_runtime::InternalEvent;
use std::fmt::Display;

cw_runtime::counting_events! {
    NotifierMetrics {
        /// An alert event arrived on the bus.
        pub struct AlertEventReceived => alerts_received;
        /// The sweep drove an open alert read from the store.
        pub struct OpenAlertReconciled => reconciled;
        /// A new page went in-app only: the recipient's hourly budget was spent.
        pub struct RateLimited => rate_limited;
        /// A delivery another task or notifier already claimed: not sent a second time.
        pub struct DuplicateSkipped => skipped_duplicate;
        /// A page to a later doctor in the escalation chain was claimed.
        pub struct Escalated => escalations;
        /// A failed delivery is tried again.
        pub struct DeliveryRetried => retries;
        /// A provider (Twilio, SES, an alert manager) was called.
        pub struct ProviderCalled => attempts;
        /// A watchdog round's synthetic alert went through the outbox.
        pub struct WatchdogPassed => watchdog_ok;
    }
}

/// Why a planned page was not sent on its channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// The channel's provider (Twilio, SES) is not configured in this notifier.
    NotConfigured,
    /// The recipient has no phone number (SMS, voice) or email address.
    NoContact,
}

/// A page the routing asks for was skipped: its channel cannot reach the recipient here.
/// Counted per attempt, like `NoActiveDoctor` (every drive of the alert meets it again);
/// the other channels of the plan still page. Logged at debug for the same reason.
pub struct ChannelSkipped<'a> {
    pub alert: &'a AlertId,
    pub recipient: &'a UserId,
    pub channel: Channel,
    pub why: Unreachable,
}

impl InternalEvent<NotifierMetrics> for ChannelSkipped<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.skipped_unconfigured.inc();
        let why = match self.why {
            Unreachable::NotConfigured => "provider not configured",
            Unreachable::NoContact => "recipient has no contact on this channel",
        };
        tracing::debug!(alert = %self.alert, recipient = %self.recipient, channel = self.channel.as_str(), why, "page skipped on this channel");
    }
}

/// The sweep found an ack made elsewhere (REST api, another replica), not counted yet.
pub struct AckedElsewhere {
    /// Firing to the ack, when it is known.
    pub seconds_to_ack: Option<f64>,
}

impl InternalEvent<NotifierMetrics> for AckedElsewhere {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.acked_other.inc();
        if let Some(seconds) = self.seconds_to_ack {
            metrics.time_to_ack.observe(seconds);
        }
    }
}

/// An SMS reply or key press acknowledged an alert through this notifier's webhooks.
pub struct AlertAcknowledged<'a> {
    pub alert: &'a AlertId,
    pub by: &'a UserId,
    pub via: Channel,
    /// Firing to the ack, when this is the ack's first count (`ack_tally.rs`).
    pub seconds_to_ack: Option<f64>,
}

impl InternalEvent<NotifierMetrics> for AlertAcknowledged<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.acked(self.via).inc();
        if let Some(seconds) = self.seconds_to_ack {
            metrics.time_to_ack.observe(seconds);
        }
        tracing::info!(alert = %self.alert, by = %self.by, via = self.via.as_str(), "alert acknowledged");
    }
}

/// What the notifier did for an alert whose patient has no active assigned doctor.
pub enum Fallback {
    /// `routing.fallback` is paged instead.
    Paged,
    /// No fallback is configured (or none of it is active): nobody is paged.
    Nobody,
    /// The fallback could not be read; the store error goes to the caller.
    Unread,
}

/// An open alert's patient has no active assigned doctor (counted per attempt).
pub struct NoActiveDoctor<'a> {
    pub alert: &'a AlertId,
    pub patient: &'a PatientId,
    pub fallback: Fallback,
}

impl InternalEvent<NotifierMetrics> for NoActiveDoctor<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.no_recipient.inc();
        let (alert, patient) = (self.alert, self.patient);
        match self.fallback {
            Fallback::Paged => {
                tracing::warn!(alert = %alert, patient = %patient, "patient has no active assigned doctor; paging routing.fallback")
            }
            Fallback::Nobody => {
                tracing::error!(alert = %alert, patient = %patient, "patient has no active assigned doctor and no fallback is configured; nobody to notify")
            }
            Fallback::Unread => {
                tracing::warn!(alert = %alert, patient = %patient, "patient has no active assigned doctor; routing.fallback unreadable")
            }
        }
    }
}

/// A delivery's outcome was not recorded: its row moved on meanwhile (a status callback,
/// or another notifier that took it over), and that change stands.
pub struct OutcomeSuperseded<'a> {
    pub why: &'a str,
}

impl InternalEvent<NotifierMetrics> for OutcomeSuperseded<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.skipped_duplicate.inc();
        tracing::info!(why = %self.why, "outcome not recorded: the row moved on meanwhile");
    }
}

/// A claim left queued by a crash is sent again with the same idempotency key.
pub struct OrphanedClaimResent<'a> {
    pub alert: &'a AlertId,
    pub channel: Channel,
}

impl InternalEvent<NotifierMetrics> for OrphanedClaimResent<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.orphans_resent.inc();
        tracing::warn!(alert = %self.alert, channel = self.channel.as_str(), "claim orphaned by a crash; sending again with the same idempotency key");
    }
}

/// A delivery waits for its provider's open circuit, spending no try.
pub struct BreakerRejected<'a> {
    pub alert: &'a AlertId,
    pub channel: Channel,
    pub will_retry: bool,
}

impl InternalEvent<NotifierMetrics> for BreakerRejected<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.breaker_rejected.inc();
        tracing::warn!(alert = %self.alert, channel = self.channel.as_str(), will_retry = self.will_retry, "provider circuit open; delivery waits without spending a try");
    }
}

/// A page was accepted by its provider (or written in-app).
pub struct DeliverySent<'a> {
    pub alert: &'a AlertId,
    pub channel: Channel,
    pub recipient: &'a UserId,
    pub level: u32,
    pub tries: u32,
    /// Alert fired (sample time) to the provider's acceptance.
    pub seconds_since_fired: f64,
}

impl InternalEvent<NotifierMetrics> for DeliverySent<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.sent(self.channel).inc();
        metrics.time_to_deliver.observe(self.seconds_since_fired);
        tracing::info!(alert = %self.alert, channel = self.channel.as_str(), recipient = %self.recipient, level = self.level, tries = self.tries, "delivery sent");
    }
}

/// A page failed at its provider.
pub struct DeliveryFailed<'a> {
    pub alert: &'a AlertId,
    pub channel: Channel,
    pub retryable: bool,
    pub will_retry: bool,
    pub error: &'a dyn Display,
}

impl InternalEvent<NotifierMetrics> for DeliveryFailed<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.failed.inc();
        tracing::warn!(alert = %self.alert, channel = self.channel.as_str(), retryable = self.retryable, will_retry = self.will_retry, error = %self.error, "delivery failed");
    }
}

/// One row of a low-priority email digest, after the digest's one SES call (the digest
/// itself is logged once, not per row).
pub struct DigestRowOutcome {
    pub sent: bool,
}

impl InternalEvent<NotifierMetrics> for DigestRowOutcome {
    fn emit(self, metrics: &NotifierMetrics) {
        if self.sent {
            metrics.sent(Channel::Email).inc();
        } else {
            metrics.failed.inc();
        }
    }
}

/// An alert manager answered a PCD-04 report (or did not: `None`, the link failed). The
/// report is logged once with its resulting status by the caller's line.
pub struct AlertManagerAnswered {
    pub code: Option<AckCode>,
}

impl InternalEvent<NotifierMetrics> for AlertManagerAnswered {
    fn emit(self, metrics: &NotifierMetrics) {
        match self.code {
            Some(AckCode::Accept) => metrics.sent(Channel::AlertManager),
            Some(AckCode::Error) => &metrics.acm.errors,
            Some(AckCode::Reject) => &metrics.acm.rejected,
            None => &metrics.failed,
        }
        .inc();
    }
}

/// An alert manager link that was up went down.
pub struct AlertManagerLinkLost<'a> {
    pub manager: &'a UserId,
    pub address: &'a str,
    pub reason: &'a str,
}

impl InternalEvent<NotifierMetrics> for AlertManagerLinkLost<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.acm.links_lost.inc();
        tracing::error!(manager = %self.manager, address = %self.address, reason = %self.reason, "alert manager link lost: alarm reports wait in the outbox until it is back");
    }
}

/// A watchdog round failed (ops are paged next); `error` when the store did not answer.
pub struct WatchdogFailed<'a> {
    pub error: Option<&'a dyn Display>,
}

impl InternalEvent<NotifierMetrics> for WatchdogFailed<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.watchdog_failed.inc();
        if let Some(error) = self.error {
            tracing::error!(error = %error, "watchdog: store unavailable");
        }
    }
}

/// An email page goes without its ECG strip image.
pub struct StripMissing<'a> {
    pub alert: &'a AlertId,
    pub reason: &'a str,
}

impl InternalEvent<NotifierMetrics> for StripMissing<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.strip_missing.inc();
        tracing::warn!(alert = %self.alert, reason = %self.reason, "email page goes without its strip image");
    }
}

/// A provider's start-up check passed (`provider_check.rs`).
pub struct ProviderCheckPassed<'a> {
    pub provider: &'static str,
    /// The provider's URL without credentials.
    pub url: &'a str,
}

impl InternalEvent<NotifierMetrics> for ProviderCheckPassed<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.provider_check_ok.inc();
        tracing::info!(provider = self.provider, url = %self.url, "provider start-up check ok");
    }
}

/// A provider's start-up check failed; the notifier keeps running (`provider_check.rs`).
pub struct ProviderCheckFailed<'a> {
    pub provider: &'static str,
    /// The provider's URL without credentials.
    pub url: &'a str,
    /// What failed: "credentials rejected", "unreachable" or "unexpected answer".
    pub failure: &'static str,
    /// Rejected credentials are logged at error: they will not fix themselves.
    pub loud: bool,
    pub remedy: &'static str,
    pub error: &'a dyn Display,
}

impl InternalEvent<NotifierMetrics> for ProviderCheckFailed<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.provider_check_failed.inc();
        let (provider, url, failed, remedy, error) = (
            self.provider,
            self.url,
            self.failure,
            self.remedy,
            self.error,
        );
        if self.loud {
            tracing::error!(provider, url = %url, failed, remedy, error = %error, "provider start-up check failed: CREDENTIALS REJECTED; pages on this provider's channels will fail until fixed, the other channels still page");
        } else {
            tracing::warn!(provider, url = %url, failed, remedy, error = %error, "provider start-up check failed; the notifier keeps running and pages by its other channels meanwhile");
        }
    }
}

/// Why a Twilio webhook request was refused before it could act.
pub enum WebhookRefusal<'a> {
    NoSignature {
        path: &'a str,
    },
    BadSignature {
        path: &'a str,
    },
    /// A captured, signed request posted again.
    Replayed {
        via: Channel,
        request_id: &'a str,
    },
}

/// A Twilio webhook request was refused (signature missing or wrong, or a replay).
pub struct WebhookRejected<'a>(pub WebhookRefusal<'a>);

impl InternalEvent<NotifierMetrics> for WebhookRejected<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.webhook_rejected.inc();
        match self.0 {
            WebhookRefusal::NoSignature { path } => {
                tracing::warn!(path, "twilio webhook without a signature rejected")
            }
            WebhookRefusal::BadSignature { path } => {
                tracing::warn!(path, "twilio webhook with a bad signature rejected")
            }
            WebhookRefusal::Replayed { via, request_id } => {
                tracing::warn!(
                    via = via.as_str(),
                    request_id,
                    "replayed twilio request refused"
                )
            }
        }
    }
}

/// A provider status callback arrived, with the provider's raw status.
pub struct StatusCallback<'a> {
    pub raw: &'a str,
}

impl InternalEvent<NotifierMetrics> for StatusCallback<'_> {
    fn emit(self, metrics: &NotifierMetrics) {
        metrics.status(self.raw).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Emit<'a> = Box<dyn Fn(&NotifierMetrics) + 'a>;

    #[test]
    fn each_event_moves_its_metric() {
        let alert = AlertId::parse("a1").expect("valid");
        let user = UserId::parse("dr-1").expect("valid");
        let patient = PatientId::parse("p1").expect("valid");
        let cases: Vec<(&str, Emit)> = vec![
            (
                "cw_notifier_alert_events_total 1",
                Box::new(|m| AlertEventReceived.emit(m)),
            ),
            (
                "cw_notifier_reconciled_total 1",
                Box::new(|m| OpenAlertReconciled.emit(m)),
            ),
            (
                "cw_notifier_unconfigured_skipped_total 1",
                Box::new(|m| {
                    ChannelSkipped {
                        alert: &alert,
                        recipient: &user,
                        channel: Channel::Sms,
                        why: Unreachable::NotConfigured,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_acks_total{channel=\"other\"} 1",
                Box::new(|m| {
                    AckedElsewhere {
                        seconds_to_ack: Some(3.0),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_acks_total{channel=\"voice\"} 1",
                Box::new(|m| {
                    AlertAcknowledged {
                        alert: &alert,
                        by: &user,
                        via: Channel::Voice,
                        seconds_to_ack: Some(3.0),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_time_to_ack_seconds_count 1",
                Box::new(|m| {
                    AckedElsewhere {
                        seconds_to_ack: Some(3.0),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_alerts_without_recipient_total 1",
                Box::new(|m| {
                    NoActiveDoctor {
                        alert: &alert,
                        patient: &patient,
                        fallback: Fallback::Nobody,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_rate_limited_total 1",
                Box::new(|m| RateLimited.emit(m)),
            ),
            (
                "cw_notifier_duplicates_skipped_total 1",
                Box::new(|m| DuplicateSkipped.emit(m)),
            ),
            (
                "cw_notifier_duplicates_skipped_total 1",
                Box::new(|m| OutcomeSuperseded { why: "moved" }.emit(m)),
            ),
            (
                "cw_notifier_escalations_total 1",
                Box::new(|m| Escalated.emit(m)),
            ),
            (
                "cw_notifier_orphans_resent_total 1",
                Box::new(|m| {
                    OrphanedClaimResent {
                        alert: &alert,
                        channel: Channel::Sms,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_retries_total 1",
                Box::new(|m| DeliveryRetried.emit(m)),
            ),
            (
                "cw_notifier_breaker_rejected_total 1",
                Box::new(|m| {
                    BreakerRejected {
                        alert: &alert,
                        channel: Channel::Sms,
                        will_retry: true,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_attempts_total 1",
                Box::new(|m| ProviderCalled.emit(m)),
            ),
            (
                "cw_notifier_deliveries_sent_total{channel=\"sms\"} 1",
                Box::new(|m| {
                    DeliverySent {
                        alert: &alert,
                        channel: Channel::Sms,
                        recipient: &user,
                        level: 1,
                        tries: 1,
                        seconds_since_fired: 2.0,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_time_to_deliver_seconds_count 1",
                Box::new(|m| {
                    DeliverySent {
                        alert: &alert,
                        channel: Channel::InApp,
                        recipient: &user,
                        level: 1,
                        tries: 1,
                        seconds_since_fired: 2.0,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_deliveries_failed_total 1",
                Box::new(|m| {
                    DeliveryFailed {
                        alert: &alert,
                        channel: Channel::Email,
                        retryable: true,
                        will_retry: false,
                        error: &"timeout",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_deliveries_sent_total{channel=\"email\"} 1",
                Box::new(|m| DigestRowOutcome { sent: true }.emit(m)),
            ),
            (
                "cw_notifier_deliveries_failed_total 1",
                Box::new(|m| DigestRowOutcome { sent: false }.emit(m)),
            ),
            (
                "cw_notifier_alert_manager_replies_total{code=\"accept\"} 1",
                Box::new(|m| {
                    AlertManagerAnswered {
                        code: Some(AckCode::Accept),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_alert_manager_replies_total{code=\"error\"} 1",
                Box::new(|m| {
                    AlertManagerAnswered {
                        code: Some(AckCode::Error),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_alert_manager_replies_total{code=\"reject\"} 1",
                Box::new(|m| {
                    AlertManagerAnswered {
                        code: Some(AckCode::Reject),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_deliveries_failed_total 1",
                Box::new(|m| AlertManagerAnswered { code: None }.emit(m)),
            ),
            (
                "cw_notifier_alert_manager_link_lost_total 1",
                Box::new(|m| {
                    AlertManagerLinkLost {
                        manager: &user,
                        address: "127.0.0.1:2575",
                        reason: "eof",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_watchdog_rounds_total{outcome=\"ok\"} 1",
                Box::new(|m| WatchdogPassed.emit(m)),
            ),
            (
                "cw_notifier_watchdog_rounds_total{outcome=\"failed\"} 1",
                Box::new(|m| {
                    WatchdogFailed {
                        error: Some(&"down"),
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_email_strip_missing_total 1",
                Box::new(|m| {
                    StripMissing {
                        alert: &alert,
                        reason: "none stored",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_provider_checks_total{outcome=\"ok\"} 1",
                Box::new(|m| {
                    ProviderCheckPassed {
                        provider: "twilio",
                        url: "https://api.twilio.com/",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_provider_checks_total{outcome=\"failed\"} 1",
                Box::new(|m| {
                    ProviderCheckFailed {
                        provider: "ses",
                        url: "https://email.us-east-1.amazonaws.com",
                        failure: "unreachable",
                        loud: false,
                        remedy: "check ses.region",
                        error: &"connection refused",
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_webhook_rejected_total 1",
                Box::new(|m| {
                    WebhookRejected(WebhookRefusal::BadSignature { path: "/sms" }).emit(m)
                }),
            ),
            (
                "cw_notifier_webhook_rejected_total 1",
                Box::new(|m| {
                    WebhookRejected(WebhookRefusal::Replayed {
                        via: Channel::Sms,
                        request_id: "SM1",
                    })
                    .emit(m)
                }),
            ),
            (
                "cw_notifier_status_callbacks_total{status=\"failed\"} 1",
                Box::new(|m| StatusCallback { raw: "no-answer" }.emit(m)),
            ),
        ];
        for (line, emit) in cases {
            let metrics = NotifierMetrics::default();
            emit(&metrics);
            let text = metrics.render();
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn metrics_move_only_in_events() {
        cw_runtime::internal_event::assert_metrics_move_only_in_events(env!("CARGO_MANIFEST_DIR"));
    }
}
