use crate::providers::ses::SesConfig;
use crate::providers::twilio::TwilioConfig;
use cw_bus::BusConfig;
use cw_core::{Channel, Priority};
use cw_storage::StorageConfig;
use cw_tls::TlsServerConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct NotifierConfig {
    /// PUSH endpoints of every alert-engine.
    pub alert_endpoints: Vec<String>,
    /// Open alerts are re-read from the store this often, so an alert whose bus event was
    /// lost (or that fired while the notifier was down) is still delivered.
    pub reconcile_interval_s: u64,
    /// How often the outbox is swept (orphaned claims, due retries, escalation) in
    /// milliseconds; the bus event path is the fast path, the sweep the safety net.
    pub sweep_interval_ms: u64,
    /// Channels per alarm priority. High priority goes to every channel at once.
    pub routing: Routing,
    /// Retries, deadlines, escalation and circuit breakers.
    pub reliability: Reliability,
    /// Inbound Twilio webhooks (status callbacks, SMS replies, key presses); off when absent.
    pub webhooks: Option<WebhookConfig>,
    /// Self-watchdog (synthetic alert through the outbox; pages ops when it is lost).
    pub watchdog: Option<crate::watchdog::WatchdogConfig>,
    /// Fault injection for crash-safety tests; never set in production.
    pub faults: Faults,
    /// Hospital alert managers (IHE PCD ACM): every alarm state change goes to each as
    /// PCD-04 over MLLP (docs/integration.md, "Alert managers"). None by default.
    pub alert_managers: Vec<crate::acm::mllp::AlertManagerConfig>,
    /// Twilio (SMS and voice); disabled when absent.
    pub twilio: Option<TwilioConfig>,
    /// SES v2 (email); disabled when absent.
    pub ses: Option<SesConfig>,
    /// The clinician's console as doctors reach it, e.g.
    /// `https://cardiowatch.hospital.org:8444/console/`: SMS and email pages link to the
    /// alert under it (`#/patient/{id}/alert/{id}`, opaque ids only; sign-in first).
    /// https only. Absent or empty: pages go without a link (docs/console.md).
    pub console_url: Option<String>,
    pub admin_listen: String,
    pub admin_tls: TlsServerConfig,
    pub storage: StorageConfig,
    pub bus: BusConfig,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            alert_endpoints: vec!["tcp://127.0.0.1:5560".into()],
            reconcile_interval_s: 10,
            sweep_interval_ms: 1000,
            routing: Routing::default(),
            reliability: Reliability::default(),
            webhooks: None,
            watchdog: None,
            faults: Faults::default(),
            alert_managers: Vec::new(),
            twilio: None,
            ses: None,
            console_url: None,
            admin_listen: "0.0.0.0:9103".into(),
            admin_tls: TlsServerConfig {
                cert_path: "certs/server.pem".into(),
                key_path: "certs/server-key.pem".into(),
                insecure_plaintext: false,
                connections: Default::default(),
            },
            storage: StorageConfig::default(),
            bus: BusConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    #[serde(deserialize_with = "page_channels")]
    pub high: Vec<Channel>,
    #[serde(deserialize_with = "page_channels")]
    pub medium: Vec<Channel>,
    #[serde(deserialize_with = "page_channels")]
    pub low: Vec<Channel>,
    /// Who is paged, in escalation order, for a patient with no active assigned doctor
    /// (none assigned, or all disabled): e.g. the on-call physician or charge nurse.
    /// Empty: nobody — logged and counted in `cw_notifier_alerts_without_recipient_total`.
    pub fallback: Vec<cw_core::UserId>,
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            high: vec![Channel::Sms, Channel::Voice, Channel::Email, Channel::InApp],
            medium: vec![Channel::Sms, Channel::Email, Channel::InApp],
            low: vec![Channel::Email, Channel::InApp],
            fallback: Vec::new(),
        }
    }
}

/// The channels that reach a person. `alert_manager` is not one of them: the hospital's
/// alert managers get every alarm from `[[alert_managers]]` (docs/integration.md, "Alert
/// managers"), so routing does not accept it and docs/config.md does not list it.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PageChannel {
    Sms,
    Voice,
    Email,
    InApp,
}

impl From<PageChannel> for Channel {
    fn from(channel: PageChannel) -> Self {
        match channel {
            PageChannel::Sms => Self::Sms,
            PageChannel::Voice => Self::Voice,
            PageChannel::Email => Self::Email,
            PageChannel::InApp => Self::InApp,
        }
    }
}

fn page_channels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Channel>, D::Error> {
    let channels = Vec::<PageChannel>::deserialize(d)?;
    Ok(channels.into_iter().map(Channel::from).collect())
}

impl Routing {
    pub fn channels(&self, priority: Priority) -> &[Channel] {
        match priority {
            Priority::High => &self.high,
            Priority::Medium => &self.medium,
            Priority::Low => &self.low,
        }
    }
}

/// Seconds per alarm priority.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerPriority {
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl PerPriority {
    pub fn get(&self, priority: Priority) -> u64 {
        match priority {
            Priority::High => self.high,
            Priority::Medium => self.medium,
            Priority::Low => self.low,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reliability {
    /// First retry delay; doubles per try up to `retry_max_ms`, with jitter.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Provider calls per delivery row before giving up on that channel; 0 (the
    /// default) = no count limit, retries run to `deadline_s`. A call the open circuit
    /// breaker kept back is not a try.
    pub max_tries: u32,
    /// Clinical deadline after the alert fired: no retry is scheduled past it (the
    /// escalation chain and the other channels take over).
    pub deadline_s: PerPriority,
    /// Unacknowledged this long after firing, the alert goes to the next doctor in the
    /// chain (and by voice); 0 = never escalate that priority.
    pub ack_deadline_s: PerPriority,
    /// A `queued` row older than this was claimed by a notifier that died mid-send; it is
    /// sent again with the same idempotency key. Must exceed the providers' timeouts.
    pub claim_lease_ms: u64,
    /// Consecutive failures that open a provider's circuit, and how long it stays open.
    pub breaker_failures: u32,
    pub breaker_open_ms: u64,
    /// New medium/low pages on SMS, voice or email per recipient per hour; past it they
    /// go in-app only (alarm fatigue). High priority is never limited.
    pub rate_limit_per_hour: u32,
    /// Longest snooze honoured; a user's snooze ending later than this from now is
    /// ignored, so a silence always has an end.
    pub max_snooze_s: u64,
    /// Low-priority email goes as one digest per doctor this often (s); 0 = one email per
    /// alert. In-app is immediate either way.
    pub low_digest_s: u64,
}

impl Default for Reliability {
    fn default() -> Self {
        Self {
            retry_base_ms: 1_000,
            retry_max_ms: 30_000,
            max_tries: 0,
            deadline_s: PerPriority {
                high: 300,
                medium: 900,
                low: 3_600,
            },
            ack_deadline_s: PerPriority {
                high: 120,
                medium: 600,
                low: 0,
            },
            claim_lease_ms: 15_000,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            rate_limit_per_hour: 20,
            max_snooze_s: 4 * 3_600,
            low_digest_s: 0,
        }
    }
}

/// The notifier's own TLS listener for Twilio's requests.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub listen: String,
    pub tls: TlsServerConfig,
    /// The https URL Twilio reaches this listener at (scheme, host, port); signatures
    /// are computed over it, so it must be exactly what Twilio calls.
    pub public_url: String,
    /// Used `MessageSid` / `CallSid`s are remembered this long (a replay within it is
    /// refused), then forgotten so the replay guard stays bounded
    /// (`webhooks/replay_pruning.rs`).
    #[serde(default = "default_replay_retention_days")]
    pub replay_retention_days: u64,
}

/// `webhooks.replay_retention_days` when the file does not say.
pub const DEFAULT_REPLAY_RETENTION_DAYS: u64 = 30;

fn default_replay_retention_days() -> u64 {
    DEFAULT_REPLAY_RETENTION_DAYS
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Aborts the process right after a provider accepted a message and before the
    /// outcome is recorded: the crash window the outbox must survive without a duplicate.
    pub abort_after_provider_accept: bool,
}

#[cfg(test)]
mod tests {
    use super::Routing;
    use cw_core::Channel;

    #[test]
    fn routing_takes_the_channels_of_people_and_refuses_alert_manager() {
        let routing: Routing =
            serde_json::from_str(r#"{"high": ["sms", "in_app"]}"#).expect("routing");
        assert_eq!(routing.high, [Channel::Sms, Channel::InApp]);
        let err = serde_json::from_str::<Routing>(r#"{"high": ["sms", "alert_manager"]}"#)
            .expect_err("alert_manager is no channel to a person")
            .to_string();
        assert!(err.contains("unknown variant `alert_manager`"), "{err}");
    }
}
