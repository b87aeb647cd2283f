//! Builds the configured adapters behind the ports.

use crate::config::{Backend, StorageConfig};
use crate::influx::InfluxSamples;
use crate::mongo::MongoRecords;
use crate::ports::{RecordStore, SampleStore, StoreError};
use crate::sqlite;
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
    match cfg.backend {
        Backend::Embedded => {
            let (samples, records) = sqlite::open(&cfg.path).await?;
            Ok(Stores {
                samples: Arc::new(samples),
                records: Arc::new(records),
            })
        }
        Backend::Servers => {
            // Both at once: each may wait for its server (MongoDB's server selection).
            let (samples, records) = tokio::try_join!(
                InfluxSamples::connect(&cfg.influx),
                MongoRecords::connect(&cfg.mongo)
            )?;
            Ok(Stores {
                samples: Arc::new(samples),
                records: Arc::new(records),
            })
        }
    }
}
