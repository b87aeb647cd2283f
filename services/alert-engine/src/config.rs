use cw_bus::BusConfig;
use cw_core::SHARD_COUNT;
use cw_storage::StorageConfig;
use cw_tls::TlsServerConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertEngineConfig {
    /// PUB endpoints of every ingest instance.
    pub sample_endpoints: Vec<String>,
    /// Shards this engine owns (0..64). Engines must own disjoint sets that together
    /// cover all shards. Default: all of them (one engine).
    pub shards: Vec<u16>,
    /// PUSH endpoint the notifiers connect to for alert events.
    pub alert_push_endpoint: String,
    /// PUB endpoint of the api, for threshold changes.
    pub config_endpoints: Vec<String>,
    /// Events PUB for live views (heart rate per beat, alert state); the api connects.
    pub live_publish_endpoint: String,
    /// RR intervals behind heart rate (their trimmed mean, `rate.rs`) when a policy does
    /// not say.
    pub hr_average_beats: u8,
    /// Seconds of ECG before and after an alert kept as its strip window.
    pub strip_padding_s: u32,
    /// Health and metrics listener.
    pub admin_listen: String,
    pub admin_tls: TlsServerConfig,
    pub storage: StorageConfig,
    pub bus: BusConfig,
}

impl Default for AlertEngineConfig {
    fn default() -> Self {
        Self {
            sample_endpoints: vec!["tcp://127.0.0.1:5550".into()],
            shards: (0..SHARD_COUNT).collect(),
            alert_push_endpoint: "tcp://0.0.0.0:5560".into(),
            config_endpoints: vec!["tcp://127.0.0.1:5570".into()],
            live_publish_endpoint: "tcp://0.0.0.0:5580".into(),
            hr_average_beats: 8,
            strip_padding_s: 10,
            admin_listen: "0.0.0.0:9102".into(),
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
