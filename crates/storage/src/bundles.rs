//! The store ports each service may use: least privilege by construction
//! (docs/security.md, "Least privilege by construction"; the service × port matrix is in
//! docs/architecture.md, "Storage"). [`crate::open`] builds [`Stores`], every port; a
//! service's `start` takes only its bundle, so code in ingest cannot name an alert, a
//! snooze or a login — it does not compile:
//!
//! ```compile_fail
//! fn snooze(stores: &cw_storage::IngestStores) {
//!     let _alerts: &dyn cw_storage::AlertStore = stores.records.as_ref();
//! }
//! ```
//!
//! Nor can the api take a shard lease:
//!
//! ```compile_fail
//! fn lease(stores: &cw_storage::ApiStores) {
//!     let _leases: &dyn cw_storage::ShardLeases = stores.records.as_ref();
//! }
//! ```
//!
//! The notifier reads stored ECG (the event strip of an email page) but cannot write it:
//!
//! ```compile_fail
//! async fn write(stores: &cw_storage::NotifierStores, blocks: &[cw_core::SampleBlock]) {
//!     let _ = stores.samples.write(blocks).await;
//! }
//! ```
//!
//! Each bundle trait is a supertrait of [`RecordStore`], so the full record store
//! narrows to it by trait upcasting (`From<Stores>`), and the adapters need nothing new.

use crate::alert_pages::AlertPages;
use crate::audit::AuditStore;
use crate::credentials::CredentialStore;
use crate::directory::PatientDirectory;
use crate::monitoring_alarms::MonitoringAlarms;
use crate::open::Stores;
use crate::ports::{
    AlertStore, DeliveryStore, DeviceStore, PatientStore, PolicyStore, Reachable, SampleStore,
};
use crate::replay_guard::ReplayGuard;
use crate::report_days::ReportDays;
use crate::shard_leases::{ShardLeaseView, ShardLeases};
use crate::watchdog_probes::{ProbeAnswers, ProbeRequests};
use cw_core::PatientId;
use cw_core::time::Nanos;
use std::sync::Arc;

/// Ingest: authenticates devices, audits refusals, and raises or clears the
/// "monitoring interrupted" alarm of a streaming patient no engine holds (reading the
/// lease table). No other alert, no policies, people, logins.
pub trait IngestRecords:
    Reachable + DeviceStore + AuditStore + ShardLeaseView + MonitoringAlarms
{
}
impl<T: Reachable + DeviceStore + AuditStore + ShardLeaseView + MonitoringAlarms + ?Sized>
    IngestRecords for T
{
}

/// Alert engine: opens and resolves alerts under each patient's policy, for the shards
/// it holds leases on, and answers the notifier watchdog's probes for those shards.
pub trait EngineRecords: Reachable + AlertStore + PolicyStore + ShardLeases + ProbeAnswers {}
impl<T: Reachable + AlertStore + PolicyStore + ShardLeases + ProbeAnswers + ?Sized> EngineRecords
    for T
{
}

/// Notifier: alerts (ack by reply), their outbox, who to page, which pages went to which
/// phone, provider request ids seen, the audit of acks, and its watchdog's probe requests.
pub trait NotifierRecords:
    Reachable
    + AlertStore
    + DeliveryStore
    + PatientStore
    + AuditStore
    + AlertPages
    + ReplayGuard
    + ProbeRequests
{
}
impl<
    T: Reachable
        + AlertStore
        + DeliveryStore
        + PatientStore
        + AuditStore
        + AlertPages
        + ReplayGuard
        + ProbeRequests
        + ?Sized,
> NotifierRecords for T
{
}

/// Api: people and their logins and sessions, patients (by MRN too) and their policies,
/// devices (admin), alerts (read, acknowledged, snoozed, listed by page) and their
/// deliveries, the audit chain, the lease table read only (`GET /v1/shards`), and the
/// per-day report summaries it computes. No shard lease taken, no "monitoring
/// interrupted" alarm raised, no provider replay guard: those are the engine's, ingest's
/// and the notifier's.
pub trait ApiRecords:
    Reachable
    + ShardLeaseView
    + AlertStore
    + AlertPages
    + DeliveryStore
    + PolicyStore
    + PatientStore
    + PatientDirectory
    + DeviceStore
    + CredentialStore
    + AuditStore
    + ReportDays
{
}
impl<
    T: Reachable
        + ShardLeaseView
        + AlertStore
        + AlertPages
        + DeliveryStore
        + PolicyStore
        + PatientStore
        + PatientDirectory
        + DeviceStore
        + CredentialStore
        + AuditStore
        + ReportDays
        + ?Sized,
> ApiRecords for T
{
}

/// Ingest's stores: samples (written) and its records.
#[derive(Clone)]
pub struct IngestStores {
    pub samples: Arc<dyn SampleStore>,
    pub records: Arc<dyn IngestRecords>,
}

/// The alert engine's stores: it gets samples from the bus, and reads the last minute of
/// stored ECG only to warm up a shard it takes over (docs/architecture.md, "Shards").
#[derive(Clone)]
pub struct EngineStores {
    pub samples: Arc<dyn SampleStore>,
    pub records: Arc<dyn EngineRecords>,
}

/// The notifier's stores: samples read-only (the event strip of an email page), and its
/// records.
#[derive(Clone)]
pub struct NotifierStores {
    pub samples: Arc<dyn SampleReader>,
    pub records: Arc<dyn NotifierRecords>,
}

/// Stored ECG, read only: for a service that shows it and must never write it.
#[async_trait::async_trait]
pub trait SampleReader: Send + Sync {
    /// Frames of a patient in `[from, to)`, in time order: (time, one value per lead, µV).
    async fn frames(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> crate::ports::Result<Vec<(Nanos, Vec<i16>)>>;
}

/// The sample store seen through [`SampleReader`]: a newtype rather than trait
/// upcasting, so `SampleStore` and its callers stay as they are.
struct ReadOnlySamples(Arc<dyn SampleStore>);

#[async_trait::async_trait]
impl SampleReader for ReadOnlySamples {
    async fn frames(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> crate::ports::Result<Vec<(Nanos, Vec<i16>)>> {
        self.0.frames(patient, from, to).await
    }
}

/// The api's stores: samples (read: ECG, beats, vitals, exports, FHIR) and its records.
#[derive(Clone)]
pub struct ApiStores {
    pub samples: Arc<dyn SampleStore>,
    pub records: Arc<dyn ApiRecords>,
}

impl From<Stores> for ApiStores {
    fn from(stores: Stores) -> Self {
        Self {
            samples: stores.samples,
            records: stores.records,
        }
    }
}

impl From<Stores> for IngestStores {
    fn from(stores: Stores) -> Self {
        Self {
            samples: stores.samples,
            records: stores.records,
        }
    }
}

impl From<Stores> for EngineStores {
    fn from(stores: Stores) -> Self {
        Self {
            samples: stores.samples,
            records: stores.records,
        }
    }
}

impl From<Stores> for NotifierStores {
    fn from(stores: Stores) -> Self {
        Self {
            samples: Arc::new(ReadOnlySamples(stores.samples)),
            records: stores.records,
        }
    }
}
