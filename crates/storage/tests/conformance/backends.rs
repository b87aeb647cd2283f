//! A fresh, private store per test, for each backend.

use cw_core::PatientId;
use cw_storage::{
    AuditConfig, Backend as Kind, InfluxConfig, InfluxNodeConfig, MongoConfig, RetentionConfig,
    StorageConfig, Stores,
};

pub struct Backend {
    pub stores: Stores,
    /// Where the stores live, for tests that reach past the ports (raw tampering).
    pub cfg: StorageConfig,
    /// Keeps the embedded file and the audit checkpoints alive for the test's duration.
    _dir: tempfile::TempDir,
}

/// The audit key every conformance store seals with (a test value, not a secret).
const TEST_AUDIT_KEY_HEX: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// The audit key alone: what a behaviour that only has the stores verifies with.
pub fn audit_key() -> AuditConfig {
    AuditConfig {
        key_id: "conformance".into(),
        key_hex: Some(TEST_AUDIT_KEY_HEX.into()),
        ..AuditConfig::default()
    }
}

/// The key, and a checkpoint of the head after every append into `dir`.
fn audit_with_checkpoints(dir: &std::path::Path) -> AuditConfig {
    AuditConfig {
        checkpoint_file: Some(dir.join("audit-checkpoints.jsonl")),
        checkpoint_every_events: 1,
        ..audit_key()
    }
}

/// The fixtures write at fixed past times (`fixtures::T0`), which a raw window would
/// refuse (InfluxDB drops points older than its retention policy) or sweep away:
/// retention has its own tests (`influx_lifecycle.rs`, `embedded_retention.rs`).
/// The embedded store's key in these tests (a temp file's; production keys are random).
pub fn store_key() -> Option<cw_core::secret::SecretString> {
    Some("5f2c8e1a9b7d4c3e6a0f1b2d3c4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60".into())
}

fn keep_forever() -> RetentionConfig {
    RetentionConfig {
        raw_days: 0,
        ..RetentionConfig::default()
    }
}

/// Small batches, so that every write test exercises batching too.
const TEST_BATCH_LINES: usize = 1_000;

impl Backend {
    pub async fn embedded() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = StorageConfig {
            backend: Kind::Embedded,
            // A subdirectory that does not exist yet: open() must create it.
            path: dir.path().join("data").join("cardiowatch.sqlite"),
            key_hex: store_key(),
            audit: audit_with_checkpoints(dir.path()),
            retention: keep_forever(),
            ..StorageConfig::default()
        };
        let stores = cw_storage::open(&cfg).await.expect("open embedded store");
        Self {
            stores,
            cfg,
            _dir: dir,
        }
    }

    /// As [`Backend::servers`], with the samples spread over the two InfluxDB nodes
    /// `scripts/test` starts (`CW_TEST_INFLUX_URL`, `CW_TEST_INFLUX_URL_2`).
    pub async fn two_influx_nodes() -> Self {
        Self::servers_with(two_nodes()).await
    }

    pub async fn servers() -> Self {
        Self::servers_with(Vec::new()).await
    }

    async fn servers_with(nodes: Vec<InfluxNodeConfig>) -> Self {
        // A database per test (random suffix) so parallel tests never see each other.
        let database = format!("cw_test_{}", PatientId::random());
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = StorageConfig {
            backend: Kind::Servers,
            influx: InfluxConfig {
                url: if nodes.is_empty() {
                    required_env("CW_TEST_INFLUX_URL")
                } else {
                    InfluxConfig::default().url
                },
                nodes,
                database: database.clone(),
                batch_lines: TEST_BATCH_LINES,
                ..InfluxConfig::default()
            },
            mongo: MongoConfig {
                uri: required_env("CW_TEST_MONGO_URI").into(),
                database,
                ..Default::default()
            },
            audit: audit_with_checkpoints(dir.path()),
            retention: keep_forever(),
            ..StorageConfig::default()
        };
        let stores = cw_storage::open(&cfg).await.expect("open server stores");
        Self {
            stores,
            cfg,
            _dir: dir,
        }
    }
}

/// The shared MongoDB with a private database, for tests that bring their own InfluxDB.
pub fn mongo_config() -> MongoConfig {
    MongoConfig {
        uri: required_env("CW_TEST_MONGO_URI").into(),
        database: format!("cw_test_{}", PatientId::random()),
        ..Default::default()
    }
}

/// Server tests must run against real servers: a missing address is a failure, never a
/// silent skip.
fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: the server conformance tests need InfluxDB and MongoDB. \
             Run them with `scripts/test -p cw-storage`, which starts the servers and sets \
             CW_TEST_INFLUX_URL, CW_TEST_INFLUX_URL_2 and CW_TEST_MONGO_URI."
        ),
    }
}

/// The two InfluxDB nodes of `scripts/test`, in this order: node 1 holds shards 0–31,
/// node 2 shards 32–63.
pub fn two_nodes() -> Vec<InfluxNodeConfig> {
    two_node_urls()
        .into_iter()
        .map(|url| InfluxNodeConfig {
            url,
            ..InfluxNodeConfig::default()
        })
        .collect()
}

pub fn two_node_urls() -> [String; 2] {
    [
        required_env("CW_TEST_INFLUX_URL"),
        required_env("CW_TEST_INFLUX_URL_2"),
    ]
}
