use cw_core::secret::{self, SecretString};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bus sealing keys and how endpoints named by DNS are followed. The key itself comes
/// only from the environment (`CW_BUS__KEY_HEX`) or a file (`key_file`), never from a
/// checked-in config.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// Id of the key used to seal; receivers pick the key by the id in the header, so
    /// keys can be rotated by adding the new one to `previous_keys` everywhere first.
    pub key_id: u16,
    /// 32-byte key as 64 hex characters.
    #[serde(serialize_with = "secret::serialize_option")]
    pub key_hex: Option<SecretString>,
    /// File holding the 64 hex characters (whitespace ignored).
    pub key_file: Option<PathBuf>,
    /// Older keys still accepted when opening: `"<id>:<64 hex>"`.
    #[serde(serialize_with = "secret::serialize_all")]
    pub previous_keys: Vec<SecretString>,
    /// Envelope version to write (default: the newest, 2). Set 1 only while services
    /// that open only version 1 are still running during a rolling upgrade.
    pub seal_version: Option<u8>,
    /// Seconds between re-resolutions of an endpoint whose host is a DNS name (e.g. a
    /// Kubernetes headless Service): every address it resolves to is connected, and
    /// addresses that vanish are dropped (docs/architecture.md, "Discovery"). At least 1.
    pub discovery_interval_s: u64,
    /// DNS server (`"IP:port"`, e.g. `"10.96.0.10:53"`) asked for those names instead
    /// of the system resolver; default: the system resolver (`/etc/hosts`,
    /// `/etc/resolv.conf`).
    pub nameserver: Option<String>,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            key_id: 0,
            key_hex: None,
            key_file: None,
            previous_keys: Vec::new(),
            seal_version: None,
            discovery_interval_s: 10,
            nameserver: None,
        }
    }
}
