//! A fresh, private store per test, for each backend.

use cw_core::PatientId;
use cw_storage::{Backend as Kind, InfluxConfig, MongoConfig, StorageConfig, Stores};

pub struct Backend {
    pub stores: Stores,
    /// Where the stores live, for tests that reach past the ports (raw tampering).
    pub cfg: StorageConfig,
    /// Keeps the embedded file alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
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
            ..StorageConfig::default()
        };
        let stores = cw_storage::open(&cfg).await.expect("open embedded store");
        Self {
            stores,
            cfg,
            _dir: Some(dir),
        }
    }

    pub async fn servers() -> Self {
        // A database per test (random suffix) so parallel tests never see each other.
        let database = format!("cw_test_{}", PatientId::random());
        let cfg = StorageConfig {
            backend: Kind::Servers,
            influx: InfluxConfig {
                url: required_env("CW_TEST_INFLUX_URL"),
                database: database.clone(),
                batch_lines: TEST_BATCH_LINES,
                ..InfluxConfig::default()
            },
            mongo: MongoConfig {
                uri: required_env("CW_TEST_MONGO_URI"),
                database,
            },
            ..StorageConfig::default()
        };
        let stores = cw_storage::open(&cfg).await.expect("open server stores");
        Self {
            stores,
            cfg,
            _dir: None,
        }
    }
}

/// The shared MongoDB with a private database, for tests that bring their own InfluxDB.
pub fn mongo_config() -> MongoConfig {
    MongoConfig {
        uri: required_env("CW_TEST_MONGO_URI"),
        database: format!("cw_test_{}", PatientId::random()),
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
             CW_TEST_INFLUX_URL and CW_TEST_MONGO_URI."
        ),
    }
}
