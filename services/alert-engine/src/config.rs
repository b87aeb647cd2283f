use cw_bus::BusConfig;
use cw_storage::StorageConfig;
use cw_tls::TlsServerConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertEngineConfig {
    /// PUB endpoints of every ingest instance.
    pub sample_endpoints: Vec<String>,
    /// Optional pin: the only shards (0..64) this engine takes, leased like any other
    /// (so never two engines at once; it waits while another holds one). Empty (the
    /// default): the engines share the 64 shards through leases in the record store,
    /// each taking its fair share, and take over a dead engine's shards
    /// (docs/architecture.md, "Shards").
    pub shards: Vec<u16>,
    /// Shard leases: identity, lifetime, renewal and the warm-up of a taken-over shard.
    pub leases: LeaseConfig,
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
            shards: Vec::new(),
            leases: LeaseConfig::default(),
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

/// How this engine holds its shards (docs/architecture.md, "Shards").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaseConfig {
    /// This engine's name in the lease table, up to 64 characters (e.g. a StatefulSet
    /// pod name): a restart under the same name renews its live leases at once. Default:
    /// random per start (a restarted engine then waits for its old leases to expire).
    pub identity: Option<String>,
    /// Lifetime of a lease and of the engine's heartbeat. A dead engine's shards are
    /// taken over after at most this plus `renew_ms`.
    pub ttl_ms: u64,
    /// How often leases are renewed and the fair share re-planned.
    pub renew_ms: u64,
    /// Seconds of stored ECG a taken-over patient is analysed from before live blocks,
    /// so heart rate, rhythm and rule state resume without a blind window.
    pub warmup_s: u32,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            identity: None,
            ttl_ms: 5_000,
            renew_ms: 1_000,
            warmup_s: 60,
        }
    }
}
