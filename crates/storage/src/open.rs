//! Builds the configured adapters behind the ports.

use crate::audit_sealer::AuditSealer;
use crate::config::{Backend, MongoConfig, StorageConfig};
use crate::influx::InfluxSamples;
use crate::mongo::MongoRecords;
use crate::ports::{RecordStore, SampleStore, StoreError};
use crate::redact;
use crate::sqlite;
use cw_core::secret::ExposeSecret;
use std::sync::Arc;

/// The stores a service works with, whichever backend holds them.
#[derive(Clone)]
pub struct Stores {
    pub samples: Arc<dyn SampleStore>,
    pub records: Arc<dyn RecordStore>,
}

/// Opens the configured backend: prepares the file (embedded), or connects and creates
/// the database and indexes (servers). Fails when a store cannot be reached, so a
/// service does not start half-working.
pub async fn open(cfg: &StorageConfig) -> Result<Stores, StoreError> {
    // A bad key is a start-up error; a missing one only refuses audit appends (services
    // that append call `AuditConfig::require_key` at start).
    let sealer = Arc::new(AuditSealer::from_config(&cfg.audit)?);
    match cfg.backend {
        Backend::Embedded => {
            // A missing, unreadable or wrong key names its own file and remedy.
            let key = cfg.store_key()?;
            let (samples, records) = sqlite::open(&cfg.path, &key, &cfg.retention)
                .await
                .map_err(|e| match e {
                    StoreError::Unavailable(why) if why.contains("remedy:") => {
                        StoreError::Unavailable(format!("embedded store: {why}"))
                    }
                    e => StoreError::Unavailable(format!(
                        "embedded store at {}: {e}; remedy: check that the directory of \
                         storage.path exists or can be created and is writable by the \
                         service's user",
                        cfg.path.display()
                    )),
                })?;
            Ok(Stores {
                samples: Arc::new(samples),
                records: Arc::new(records.with_audit(sealer)),
            })
        }
        Backend::Servers => {
            // Both at once: each may wait for its server (MongoDB's server selection).
            let (samples, records) = tokio::try_join!(
                InfluxSamples::connect(&cfg.influx),
                connect_mongo(&cfg.mongo)
            )?;
            samples.ensure_lifecycle(&cfg.retention).await;
            Ok(Stores {
                samples: Arc::new(samples),
                records: Arc::new(records.with_audit(sealer).with_retention(&cfg.retention)),
            })
        }
    }
}

/// The InfluxDB adapter names itself in its start-up errors; MongoDB's are named here.
async fn connect_mongo(cfg: &MongoConfig) -> Result<MongoRecords, StoreError> {
    MongoRecords::connect(cfg).await.map_err(|e| {
        StoreError::Unavailable(format!(
            "mongodb at {} (database {}): {e}; remedy: check that MongoDB runs there, the \
             credentials in storage.mongo.uri, and that the user has readWrite on the database",
            redact::url(cfg.uri.expose_secret()),
            cfg.database
        ))
    })
}
