use cw_bus::BusStats;
use cw_core::Channel;
use cw_runtime::{Counter, Histogram, MetricsText};

#[derive(Default)]
pub struct NotifierMetrics {
    pub alerts_received: Counter,
    pub reconciled: Counter,
    pub sent_sms: Counter,
    pub sent_voice: Counter,
    pub sent_email: Counter,
    pub sent_in_app: Counter,
    pub failed: Counter,
    pub skipped_duplicate: Counter,
    pub skipped_unconfigured: Counter,
    /// Drives of an open alert whose patient has no active assigned doctor.
    pub no_recipient: Counter,
    /// Provider calls made (first tries, retries and re-sends of orphaned claims).
    pub attempts: Counter,
    pub retries: Counter,
    pub orphans_resent: Counter,
    /// Pages to a later doctor in the chain.
    pub escalations: Counter,
    pub breaker_rejected: Counter,
    pub rate_limited: Counter,
    /// Email pages sent without their strip image (no ECG stored around the onset, or
    /// the sample store did not answer).
    pub strip_missing: Counter,
    pub provider_check_ok: Counter,
    pub provider_check_failed: Counter,
    pub watchdog_ok: Counter,
    pub watchdog_failed: Counter,
    pub webhook_rejected: Counter,
    pub acked_sms: Counter,
    pub acked_voice: Counter,
    /// Acks the sweep found in the store (REST api, another replica's webhooks).
    pub acked_other: Counter,
    pub status_delivered: Counter,
    pub status_failed: Counter,
    pub status_other: Counter,
    /// Alert fired (sample time) → provider accepted.
    pub time_to_deliver: Histogram,
    /// Alert fired → acknowledged, every ack once (`ack_tally.rs`).
    pub time_to_ack: Histogram,
    pub acks: crate::ack_tally::AckTally,
    pub bus: std::sync::Arc<BusStats>,
    pub acm: crate::acm::AcmMetrics,
}

impl NotifierMetrics {
    /// The counter of deliveries the provider accepted on `channel`.
    pub fn sent(&self, channel: Channel) -> &Counter {
        match channel {
            Channel::Sms => &self.sent_sms,
            Channel::Voice => &self.sent_voice,
            Channel::Email => &self.sent_email,
            Channel::InApp => &self.sent_in_app,
            Channel::AlertManager => &self.acm.accepted,
        }
    }

    /// The counter of webhook acks made on `channel`.
    pub fn acked(&self, channel: Channel) -> &Counter {
        match channel {
            Channel::Voice => &self.acked_voice,
            _ => &self.acked_sms,
        }
    }

    /// The counter of status callbacks whose provider status is `raw`.
    pub fn status(&self, raw: &str) -> &Counter {
        match raw {
            "delivered" | "completed" | "read" => &self.status_delivered,
            "failed" | "undelivered" | "busy" | "no-answer" | "canceled" => &self.status_failed,
            _ => &self.status_other,
        }
    }

    pub fn render(&self) -> String {
        MetricsText::default()
            .counter(
                "cw_notifier_alert_events_total",
                "Alert events received on the bus",
                self.alerts_received.get(),
            )
            .counter(
                "cw_notifier_reconciled_total",
                "Open alerts re-checked from the store",
                self.reconciled.get(),
            )
            .labelled_counters(
                "cw_notifier_deliveries_sent_total",
                "Deliveries accepted by the provider, by channel",
                "channel",
                &[
                    ("sms", self.sent_sms.get()),
                    ("voice", self.sent_voice.get()),
                    ("email", self.sent_email.get()),
                    ("in_app", self.sent_in_app.get()),
                ],
            )
            .counter(
                "cw_notifier_deliveries_failed_total",
                "Delivery attempts that failed",
                self.failed.get(),
            )
            .counter(
                "cw_notifier_duplicates_skipped_total",
                "Deliveries already claimed (no second send)",
                self.skipped_duplicate.get(),
            )
            .counter(
                "cw_notifier_unconfigured_skipped_total",
                "Deliveries skipped: channel not configured or no contact",
                self.skipped_unconfigured.get(),
            )
            .counter(
                "cw_notifier_alerts_without_recipient_total",
                "Open alerts found with no active assigned doctor (counted per attempt; routing.fallback is paged instead when set; alert on any increase)",
                self.no_recipient.get(),
            )
            .counter(
                "cw_notifier_bus_duplicates_total",
                "Alert events received twice (dropped)",
                BusStats::get(&self.bus.duplicates),
            )
            .counter(
                "cw_notifier_bus_rejected_total",
                "Alert events that failed to open",
                BusStats::get(&self.bus.rejected),
            )
            .gauge(
                "cw_notifier_bus_peers",
                "Alert-engine PUSH sockets connected (each address of a DNS-named endpoint counts)",
                BusStats::get(&self.bus.peers) as f64,
            )
            .counter(
                "cw_notifier_bus_resolve_failures_total",
                "Failed re-resolutions of alert endpoints named by DNS (last peers kept)",
                BusStats::get(&self.bus.resolve_failed),
            )
            .counter(
                "cw_notifier_attempts_total",
                "Provider calls made",
                self.attempts.get(),
            )
            .counter(
                "cw_notifier_retries_total",
                "Provider calls that retried a failed delivery",
                self.retries.get(),
            )
            .counter(
                "cw_notifier_orphans_resent_total",
                "Claims left queued by a crash, sent again with the same key",
                self.orphans_resent.get(),
            )
            .counter(
                "cw_notifier_escalations_total",
                "Pages to a later doctor in the escalation chain",
                self.escalations.get(),
            )
            .counter(
                "cw_notifier_breaker_rejected_total",
                "Provider calls not made because the provider's circuit was open",
                self.breaker_rejected.get(),
            )
            .labelled_counters(
                "cw_notifier_provider_checks_total",
                "Start-up checks of the configured providers (Twilio, SES), by outcome",
                "outcome",
                &[
                    ("ok", self.provider_check_ok.get()),
                    ("failed", self.provider_check_failed.get()),
                ],
            )
            .labelled_counters(
                "cw_notifier_watchdog_rounds_total",
                "Synthetic alerts sent through the outbox, by outcome",
                "outcome",
                &[
                    ("ok", self.watchdog_ok.get()),
                    ("failed", self.watchdog_failed.get()),
                ],
            )
            .counter(
                "cw_notifier_email_strip_missing_total",
                "Email pages sent without their ECG strip image (no samples stored around the onset, or the sample store failed)",
                self.strip_missing.get(),
            )
            .counter(
                "cw_notifier_rate_limited_total",
                "New pages sent in-app only because the recipient's hourly budget was spent",
                self.rate_limited.get(),
            )
            .counter(
                "cw_notifier_webhook_rejected_total",
                "Webhook requests whose X-Twilio-Signature did not verify",
                self.webhook_rejected.get(),
            )
            .labelled_counters(
                "cw_notifier_acks_total",
                "Alert acknowledgements seen, by channel (other: found in the store — REST api or another notifier replica)",
                "channel",
                &[
                    ("sms", self.acked_sms.get()),
                    ("voice", self.acked_voice.get()),
                    ("other", self.acked_other.get()),
                ],
            )
            .labelled_counters(
                "cw_notifier_status_callbacks_total",
                "Provider status callbacks, by resulting status",
                "status",
                &[
                    ("delivered", self.status_delivered.get()),
                    ("failed", self.status_failed.get()),
                    ("other", self.status_other.get()),
                ],
            )
            .labelled_counters(
                "cw_notifier_alert_manager_replies_total",
                "Answers of alert managers to our PCD-04 messages, by MSA-1 (accept AA/CA, error AE/CE, reject AR/CR)",
                "code",
                &[
                    ("accept", self.acm.accepted.get()),
                    ("error", self.acm.errors.get()),
                    ("reject", self.acm.rejected.get()),
                ],
            )
            .counter(
                "cw_notifier_alert_manager_link_lost_total",
                "Alert manager links lost (connect failed, no answer in time, keep-alive unanswered)",
                self.acm.links_lost.get(),
            )
            .gauge(
                "cw_notifier_alert_managers_down",
                "Configured alert managers whose MLLP link is down now (alert on > 0: alarms do not reach the hospital's alert manager)",
                self.acm.down.load(std::sync::atomic::Ordering::Relaxed) as f64,
            )
            .histogram(
                "cw_notifier_time_to_deliver_seconds",
                "Alert fired to provider accepted",
                &self.time_to_deliver,
            )
            .histogram(
                "cw_notifier_time_to_ack_seconds",
                "Alert fired to acknowledged, by any channel (SMS, call, REST api), each ack once",
                &self.time_to_ack,
            )
            .finish()
    }
}
