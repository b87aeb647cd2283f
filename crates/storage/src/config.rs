//! Which storage backs the ports, and how to reach it. Every key has a default so an
//! empty config runs the embedded store with no server at all.

use cw_core::secret::{self, SecretString};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// One local SQLite file holds samples and records.
    #[default]
    Embedded,
    /// InfluxDB for samples, MongoDB for records.
    Servers,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: Backend,
    /// The embedded store's file (its directory is created when missing). It is always
    /// encrypted (SQLCipher) with the key below (`docs/operations.md`, "Encryption at
    /// rest").
    pub path: PathBuf,
    /// The embedded store's key, 32 bytes as 64 hex characters; prefer `key_file`.
    #[serde(serialize_with = "secret::serialize_option")]
    pub key_hex: Option<SecretString>,
    /// File holding the embedded store's key (64 hex characters, whitespace ignored),
    /// kept off the store's disk. `cardiowatch demo` makes `DIR/store.key`.
    pub key_file: Option<PathBuf>,
    pub influx: InfluxConfig,
    pub mongo: MongoConfig,
    /// The audit chain's key and checkpoint sink (`docs/security.md`, "Audit trail").
    pub audit: AuditConfig,
    /// How long samples and their downsampled series are kept (`docs/operations.md`,
    /// "Data lifecycle", has the clinical and legal reasoning for the defaults).
    pub retention: RetentionConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Embedded,
            path: PathBuf::from(".cw-data/cardiowatch.sqlite"),
            key_hex: None,
            key_file: None,
            influx: InfluxConfig::default(),
            mongo: MongoConfig::default(),
            audit: AuditConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

/// `[storage.retention]`: raw ECG and vitals are kept `raw_days`; before they go, they
/// are downsampled (ECG: min/max per lead per `ecg_interval_ms`; vitals: mean/min/max
/// per `vitals_interval_s`) into series kept `downsampled_days`. InfluxDB does it with a
/// retention policy and continuous queries, the embedded file with a sweep.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days raw ECG and vitals are kept; 0 keeps them forever.
    pub raw_days: u32,
    /// Days the downsampled series are kept; 0 keeps them forever.
    pub downsampled_days: u32,
    /// ECG downsampling interval: one min and one max per lead per interval.
    pub ecg_interval_ms: u32,
    /// Vitals downsampling interval: mean, min and max per kind and site.
    pub vitals_interval_s: u32,
    /// How often the downsampling runs.
    pub every_s: u32,
    /// How far back each run recomputes, so data a gateway resends late (after a
    /// reconnect) still reaches the downsampled series.
    pub late_s: u32,
    /// Days a delivery row (a page, SMS, call, e-mail) is kept after its last change.
    pub delivery_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            raw_days: 90,
            downsampled_days: 0,
            ecg_interval_ms: 1000,
            vitals_interval_s: 60,
            every_s: 60,
            late_s: 600,
            delivery_days: 2190,
        }
    }
}

/// `[storage.audit]`: the HMAC key that seals the audit chain and where signed
/// checkpoints of its head go. The key comes only from the environment
/// (`CW_STORAGE__AUDIT__KEY_HEX`) or a file (`key_file`) — never from the store it
/// protects, nor from a backup of it. Every process that appends audit events (api,
/// ingest, notifier, `cardiowatch user …`) and `cardiowatch audit verify` need it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Id of the current key, stored in each event it seals and in each checkpoint.
    pub key_id: String,
    /// 32-byte key as 64 hex characters.
    #[serde(serialize_with = "secret::serialize_option")]
    pub key_hex: Option<SecretString>,
    /// File holding the 64 hex characters (whitespace ignored).
    pub key_file: Option<PathBuf>,
    /// Older keys, still accepted when verifying: `"<id>:<64 hex>"`. Keep every key that
    /// sealed events you still must verify.
    #[serde(serialize_with = "secret::serialize_all")]
    pub previous_keys: Vec<SecretString>,
    /// Append-only file of signed head checkpoints, outside the store (another disk,
    /// host or WORM mount in production). Without it, cutting off the newest events is
    /// not detectable.
    pub checkpoint_file: Option<PathBuf>,
    /// A checkpoint is written once this many events were appended since the last one…
    pub checkpoint_every_events: u64,
    /// …or when this much time passed since the last one and an event is appended.
    pub checkpoint_every_s: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            key_id: "1".to_owned(),
            key_hex: None,
            key_file: None,
            previous_keys: Vec::new(),
            checkpoint_file: None,
            checkpoint_every_events: 100,
            checkpoint_every_s: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InfluxConfig {
    /// Base URL; `https://` for TLS to InfluxDB. One node, or a cluster behind one URL
    /// (InfluxDB Enterprise, Cloud, 3). Leave it out when `nodes` is set.
    pub url: String,
    /// Several InfluxDB nodes, patients spread over them by shard: node `i` of `n` holds
    /// the shards `s` with `⌊s·n/64⌋ = i` (2 nodes: shards 0–31 and 32–63;
    /// docs/operations.md, "Several InfluxDB nodes"). The order is the mapping: changing
    /// it, or the number of nodes, is a migration. Empty: the one node at `url`.
    pub nodes: Vec<InfluxNodeConfig>,
    /// Database (1.x) or DBRP-mapped database name (2.x / 3.x v1 API).
    pub database: String,
    /// Sent as `Authorization: Token …` (2.x / 3.x, or 1.x with a token proxy).
    #[serde(serialize_with = "secret::serialize_option")]
    pub token: Option<SecretString>,
    /// 1.x user/password auth, used only when no token is set.
    pub username: Option<String>,
    #[serde(serialize_with = "secret::serialize_option")]
    pub password: Option<SecretString>,
    /// Lines per `/write` request (InfluxDB recommends 5,000).
    pub batch_lines: usize,
    /// Compress `/write` bodies (line protocol shrinks ~5–10×). None: only to a node
    /// that is not on this host (a loopback URL gets plain bodies: there gzip costs both
    /// processes CPU and saves no link; docs/benchmarks.md, "gzip only where the link
    /// needs it"). A node's own `gzip` wins.
    pub gzip: Option<bool>,
    /// Per-request timeout.
    pub timeout_ms: u64,
}

/// `[[storage.influx.nodes]]`: one node of a sharded sample store. Its credentials come
/// from files (a list cannot be set per item from the environment); without them the
/// node uses the shared `token` / `username` / `password` of `[storage.influx]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InfluxNodeConfig {
    /// Base URL of this node.
    pub url: String,
    /// 1.x user on this node; none: the shared `username`.
    pub username: Option<String>,
    /// File holding this node's password (one trailing newline dropped).
    pub password_file: Option<PathBuf>,
    /// File holding this node's token (one trailing newline dropped).
    pub token_file: Option<PathBuf>,
    /// Compress `/write` bodies to this node; none: the shared `gzip`.
    pub gzip: Option<bool>,
}

/// The default `url`: set and different from it, `url` and `nodes` conflict.
pub(crate) const DEFAULT_INFLUX_URL: &str = "http://127.0.0.1:8086";

impl Default for InfluxConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_INFLUX_URL.to_owned(),
            nodes: Vec::new(),
            database: "cardiowatch".to_owned(),
            token: None,
            username: None,
            password: None,
            batch_lines: 5000,
            gzip: None,
            timeout_ms: 10_000,
        }
    }
}

/// `[storage.mongo]`. In a deployment each service signs in as its own user
/// (`username`, password from `CW_STORAGE__MONGO__PASSWORD_FILE`) over TLS (`tls=true` and
/// `tlsCAFile=…` in the URI); docs/operations.md, "MongoDB users and TLS".
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MongoConfig {
    /// Connection string; may embed credentials (`user:password@`), so it is a secret.
    #[serde(serialize_with = "secret::serialize")]
    pub uri: SecretString,
    pub database: String,
    /// User to authenticate as (SCRAM-SHA-256); none: what the URI says, if anything.
    pub username: Option<String>,
    /// That user's password (from a file in a deployment, never in the TOML).
    #[serde(serialize_with = "secret::serialize_option")]
    pub password: Option<SecretString>,
    /// Database the user is defined in; none: `database` (where `cardiowatch
    /// mongo-users` creates the services' users).
    pub auth_source: Option<String>,
}

impl Default for MongoConfig {
    fn default() -> Self {
        Self {
            uri: "mongodb://127.0.0.1:27017".into(),
            database: "cardiowatch".to_owned(),
            username: None,
            password: None,
            auth_source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let cfg = StorageConfig {
            influx: InfluxConfig {
                token: Some("tok-secret".into()),
                username: Some("ops".into()),
                password: Some("pw-secret".into()),
                ..InfluxConfig::default()
            },
            mongo: MongoConfig {
                uri: "mongodb://u:mongo-secret@host/".into(),
                username: Some("cw_api".into()),
                password: Some("mongo-pw-secret".into()),
                ..MongoConfig::default()
            },
            key_hex: Some("store-key-secret".into()),
            audit: AuditConfig {
                key_hex: Some("audit-secret".into()),
                previous_keys: vec!["0:old-audit-secret".into()],
                ..AuditConfig::default()
            },
            ..StorageConfig::default()
        };
        let shown = format!("{cfg:?}");
        for secret in [
            "tok-secret",
            "pw-secret",
            "mongo-secret",
            "mongo-pw-secret",
            "audit-secret",
            "store-key-secret",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(
            shown.contains("ops"),
            "non-secret fields stay visible: {shown}"
        );
    }

    #[test]
    fn empty_config_is_embedded_with_defaults() {
        let cfg: StorageConfig = serde_json::from_str("{}").expect("empty config parses");
        assert_eq!(cfg.backend, Backend::Embedded);
        assert_eq!(cfg.path, PathBuf::from(".cw-data/cardiowatch.sqlite"));
        assert_eq!(cfg.influx.batch_lines, 5000);
        assert_eq!(cfg.influx.gzip, None);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let parsed = serde_json::from_str::<StorageConfig>(r#"{"influx": {"urll": "x"}}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn servers_backend_parses() {
        let cfg: StorageConfig = serde_json::from_str(r#"{"backend": "servers"}"#).expect("parses");
        assert_eq!(cfg.backend, Backend::Servers);
    }
}
