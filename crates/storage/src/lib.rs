//! Storage for cardiowatch. Services depend on the ports in [`ports`]; which adapter
//! backs them is configuration:
//! - embedded (default): one SQLite file holds samples and records — no server at all;
//! - servers: InfluxDB for samples, MongoDB for records.

pub mod ports;

pub use ports::{
    AlertStore, DeliveryStore, DeviceStore, OpenAlertOutcome, PatientStore, PolicyStore,
    RecordStore, SampleStore, StoreError,
};
