use cw_bus::BusStats;
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
    /// Alert fired (sample time) → provider accepted.
    pub time_to_deliver: Histogram,
    pub bus: std::sync::Arc<BusStats>,
}

impl NotifierMetrics {
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
                "cw_notifier_bus_duplicates_total",
                "Alert events received twice (dropped)",
                BusStats::get(&self.bus.duplicates),
            )
            .counter(
                "cw_notifier_bus_rejected_total",
                "Alert events that failed to open",
                BusStats::get(&self.bus.rejected),
            )
            .histogram(
                "cw_notifier_time_to_deliver_seconds",
                "Alert fired to provider accepted",
                &self.time_to_deliver,
            )
            .finish()
    }
}
