//! Storage for cardiowatch. Services depend on the ports in [`ports`]; which adapter
//! backs them is configuration ([`StorageConfig`], opened by [`open`]):
//! - embedded (default): one SQLite file holds samples and records — no server at all;
//! - servers: InfluxDB for samples, MongoDB for records.

pub mod alert_pages;
pub mod audit;
pub mod audit_archive;
pub mod audit_checkpoints;
pub mod audit_sealer;
pub mod bundles;
pub mod config;
pub mod credentials;
pub mod directory;
pub mod influx;
mod json_lines;
pub mod mongo;
pub mod monitoring_alarms;
mod open;
pub mod ports;
pub mod redact;
pub mod replay_guard;
pub mod report_days;
pub mod shard_leases;
pub mod sqlite;
mod store_key;
mod vital_rows;
pub mod watchdog_probes;

pub use audit::AuditStore;
pub use bundles::{
    ApiRecords, ApiStores, EngineRecords, EngineStores, IngestRecords, IngestStores,
    NotifierRecords, NotifierStores, SampleReader,
};
pub use config::{
    AuditConfig, Backend, InfluxConfig, InfluxNodeConfig, MongoConfig, RetentionConfig,
    StorageConfig,
};
pub use credentials::CredentialStore;
pub use directory::PatientDirectory;
pub use monitoring_alarms::MonitoringAlarms;
pub use open::{Stores, open};
pub use ports::{
    AlertStore, DeliveryStore, DeviceStore, EcgEnvelope, News2Store, OpenAlertOutcome,
    PatientStore, PolicyStore, Reachable, RecordStore, SampleNodes, SampleStore, StoreError,
    VitalStore, probe, probe_any_node,
};
pub use replay_guard::ReplayGuard;
pub use report_days::{ReportDay, ReportDays};
pub use shard_leases::{EngineBeat, ShardLease, ShardLeaseView, ShardLeases};
pub use store_key::StoreKey;
pub use watchdog_probes::{ProbeAnswers, ProbeRequests, WatchdogProbe};
