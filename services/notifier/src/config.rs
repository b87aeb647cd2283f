use crate::providers::ses::SesConfig;
use crate::providers::twilio::TwilioConfig;
use cw_bus::BusConfig;
use cw_core::{Channel, Priority};
use cw_storage::StorageConfig;
use cw_tls::TlsServerConfig;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct NotifierConfig {
    /// PUSH endpoints of every alert-engine.
    pub alert_endpoints: Vec<String>,
    /// Open alerts are re-read from the store this often, so an alert whose bus event was
    /// lost (or that fired while the notifier was down) is still delivered.
    pub reconcile_interval_s: u64,
    /// Channels per alarm priority. High priority goes to every channel at once.
    pub routing: Routing,
    /// Twilio (SMS and voice); disabled when absent.
    pub twilio: Option<TwilioConfig>,
    /// SES v2 (email); disabled when absent.
    pub ses: Option<SesConfig>,
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
            routing: Routing::default(),
            twilio: None,
            ses: None,
            admin_listen: "0.0.0.0:9103".into(),
            admin_tls: TlsServerConfig {
                cert_path: "certs/server.pem".into(),
                key_path: "certs/server-key.pem".into(),
                insecure_plaintext: false,
            },
            storage: StorageConfig::default(),
            bus: BusConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    pub high: Vec<Channel>,
    pub medium: Vec<Channel>,
    pub low: Vec<Channel>,
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            high: vec![Channel::Sms, Channel::Voice, Channel::Email, Channel::InApp],
            medium: vec![Channel::Sms, Channel::Email, Channel::InApp],
            low: vec![Channel::Email, Channel::InApp],
        }
    }
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
