//! The ports: what services need from storage, independent of any database.
//!
//! Durability contract: a method that returns `Ok` has made its change durable (the
//! ingest acks a gateway only after `SampleStore::write` returned `Ok`).

use async_trait::async_trait;
use cw_core::escalation::EscalationRequest;
use cw_core::news2::News2Assessment;
use cw_core::snooze::AlertSnooze;
use cw_core::time::Nanos;
use cw_core::triage::Triage;
use cw_core::{
    Alert, AlertId, AlertState, Delivery, Device, DeviceId, Episode, Patient, PatientId,
    SampleBlock, ThresholdPolicy, User, UserId, VitalBatch, VitalReading,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the operation; worth retrying.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with something we cannot read (schema drift, corruption).
    #[error("store returned invalid data: {0}")]
    Corrupt(String),
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated (e.g. a second open alert for one dedup key).
    #[error("conflict: {0}")]
    Conflict(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A store that can say whether it answers now, for readiness probes (`/readyz`,
/// docs/architecture.md "Health"). One cheap round trip that needs this service's
/// credentials and database, never a scan.
#[async_trait]
pub trait Reachable: Send + Sync {
    async fn ping(&self) -> Result<()>;
}

/// A readiness probe of `store` (for `cw_runtime::Readiness`): its ping, the error as
/// text for the service's log.
pub fn probe<S: Reachable + ?Sized + 'static>(
    store: std::sync::Arc<S>,
) -> impl Fn() -> futures::future::BoxFuture<'static, std::result::Result<(), String>>
+ Send
+ Sync
+ 'static {
    move || {
        let store = store.clone();
        Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
    }
}

/// Which node of the sample store's backend holds a patient's points. InfluxDB may be
/// spread over several nodes by patient shard (docs/operations.md, "Several InfluxDB
/// nodes"); the embedded file is one node. Ingest writes, and acks, each node's patients
/// apart, so a node that is down holds up only its own patients' gateways.
#[async_trait]
pub trait SampleNodes: Reachable {
    /// How many nodes there are (at least 1).
    fn node_count(&self) -> usize {
        1
    }

    /// The node (0-based) that holds `patient`'s points.
    fn node_of(&self, _patient: &PatientId) -> usize {
        0
    }

    /// Whether node `node` answers, as [`Reachable::ping`] asks of all of them.
    async fn ping_node(&self, _node: usize) -> Result<()> {
        self.ping().await
    }
}

/// A readiness probe of a sample store that passes while **any** of its nodes answers:
/// ingest stores and acks each node's patients apart, so it can serve while one node is
/// down; the nodes that fail are named in the error when all do, and each failed write
/// is logged naming its node.
pub fn probe_any_node<S: SampleNodes + ?Sized + 'static>(
    store: std::sync::Arc<S>,
) -> impl Fn() -> futures::future::BoxFuture<'static, std::result::Result<(), String>>
+ Send
+ Sync
+ 'static {
    move || {
        let store = store.clone();
        Box::pin(async move {
            use futures::StreamExt;
            // The first node to answer decides: a frozen node's ping would outlast the
            // readiness probe's own timeout.
            let mut answers: futures::stream::FuturesUnordered<_> = (0..store.node_count().max(1))
                .map(|node| store.ping_node(node))
                .collect();
            let mut errors = Vec::new();
            while let Some(answer) = answers.next().await {
                match answer {
                    Ok(()) => return Ok(()),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            Err(errors.join("; "))
        })
    }
}

/// Vital-sign numerics, kept by the sample store's backend beside the ECG (InfluxDB
/// measurement `vitals`, or the embedded file's `vitals` table; docs/architecture.md).
#[async_trait]
pub trait VitalStore: SampleNodes + Send + Sync {
    /// Writes every reading (and every sensor status) of every batch. Idempotent: a
    /// reading is identified by (patient, kind, site, time), and writing it again
    /// overwrites it, never duplicates.
    async fn write_vitals(&self, batches: &[VitalBatch]) -> Result<()>;

    /// Readings of a patient in `[from, to)`, in time order (then kind, then site).
    async fn vitals(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<VitalReading>>;
}

/// NEWS2 as the alert engine scored it, kept as a trend beside the numerics (InfluxDB
/// measurement `news2`, or the embedded file's `news2` table; docs/vitals.md, "NEWS2
/// trend").
#[async_trait]
pub trait News2Store: Send + Sync {
    /// Writes each score of `patient`. Idempotent: a score is identified by (patient,
    /// time), and writing it again overwrites it, never duplicates.
    async fn write_news2(&self, patient: &PatientId, scores: &[News2Assessment]) -> Result<()>;

    /// Scores of a patient in `[from, to)`, in time order.
    async fn news2(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<News2Assessment>>;
}

/// ECG samples (InfluxDB or the embedded file), and the vital-sign numerics and NEWS2
/// trend beside them.
#[async_trait]
pub trait SampleStore: Reachable + VitalStore + News2Store + Send + Sync {
    /// Writes every frame of every block. Idempotent: writing a block again stores the
    /// same points at the same timestamps, never duplicates.
    async fn write(&self, blocks: &[SampleBlock]) -> Result<()>;

    /// Number of stored frames (one per timestamp) for a patient in `[from, to)`.
    async fn count_frames(&self, patient: &PatientId, from: Nanos, to: Nanos) -> Result<u64>;

    /// Frames of a patient in `[from, to)`, in time order: (time, one value per lead, µV).
    async fn frames(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<(Nanos, Vec<i16>)>>;

    /// The downsampled ECG of a patient (`retention.ecg_interval_ms` intervals) starting
    /// in `[from, to)`, in time order: what is left of a range once its raw samples are
    /// past `retention.raw_days` (docs/operations.md, "Data lifecycle").
    async fn downsampled(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<EcgEnvelope>>;
}

/// One interval of the downsampled ECG: the minimum and maximum of each lead (µV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcgEnvelope {
    pub start_ns: Nanos,
    pub min: Vec<i16>,
    pub max: Vec<i16>,
}

/// Result of trying to open an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenAlertOutcome {
    Created,
    /// An open alert with the same (patient, rule) key exists already; here it is.
    AlreadyOpen(Alert),
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores a new firing alert unless one is open for its dedup key (enforced by a
    /// unique index, so two racing engines cannot both create one).
    async fn open_alert(&self, alert: &Alert) -> Result<OpenAlertOutcome>;

    /// Opens several alerts as `open_alert` would, in order, one outcome per alert (an
    /// alert whose key an earlier one of the batch took gets `AlreadyOpen`). A backend
    /// that can commit them together does (one fsync for the batch on SQLite); if that
    /// commit fails every outcome is an error and none is stored. This default opens
    /// them one by one.
    async fn open_alert_batch(&self, alerts: &[Alert]) -> Vec<Result<OpenAlertOutcome>> {
        let mut outcomes = Vec::with_capacity(alerts.len());
        for alert in alerts {
            outcomes.push(self.open_alert(alert).await);
        }
        outcomes
    }

    async fn get_alert(&self, id: &AlertId) -> Result<Alert>;

    /// Moves an alert to `acknowledged` (by whom, when). Acking a resolved alert keeps it
    /// resolved; acking twice keeps the first ack. Returns the alert as stored.
    async fn acknowledge_alert(&self, id: &AlertId, by: &str, at: Nanos) -> Result<Alert>;

    /// Resolves an alert and frees its dedup key. Returns the alert as stored.
    async fn resolve_alert(&self, id: &AlertId, at: Nanos) -> Result<Alert>;

    /// Sets the snooze of a *firing* alert, replacing any earlier one; an alert no longer
    /// firing (acknowledged or resolved meanwhile) is returned unchanged. Returns the
    /// alert as stored.
    async fn snooze_alert(&self, id: &AlertId, snooze: &AlertSnooze) -> Result<Alert>;

    /// Records an "escalate now" on a *firing* alert, replacing any earlier one; an alert
    /// no longer firing (acknowledged or resolved meanwhile) is returned unchanged.
    /// Returns the alert as stored.
    async fn escalate_alert(&self, id: &AlertId, request: &EscalationRequest) -> Result<Alert>;

    /// Sets the clinician's verdict on an alert in any state (alarms are often triaged
    /// after they resolved), replacing an earlier one. `NotFound` for an unknown id.
    /// Returns the alert as stored.
    async fn triage_alert(&self, id: &AlertId, triage: &Triage) -> Result<Alert>;

    /// Records the episode so far (every event while the alert was open: count, first,
    /// last, worst) on an *open* alert; a resolved alert is returned unchanged. The engine
    /// sends the whole episode each time, so a lost write is repaired by the next one.
    /// Returns the alert as stored.
    async fn record_episode(&self, id: &AlertId, episode: &Episode) -> Result<Alert>;

    /// Open (firing or acknowledged) alerts, for engine restart and notifier reconcile.
    async fn open_alerts(&self) -> Result<Vec<Alert>>;

    /// Alerts resolved at or after `since`, earliest end first, at most `limit`: the
    /// notifier reports to the alert managers the end of alarms that ended while no
    /// notifier ran (docs/integration.md, "Alert managers").
    async fn alerts_resolved_since(&self, since: Nanos, limit: usize) -> Result<Vec<Alert>>;

    /// Alerts of some patients, newest first, optionally filtered by state.
    async fn alerts_for_patients(
        &self,
        patients: &[PatientId],
        state: Option<AlertState>,
        limit: usize,
    ) -> Result<Vec<Alert>>;
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Records a delivery keyed by its idempotency key: inserts it, or returns
    /// `Conflict` when that key exists (another attempt already claimed it).
    async fn claim_delivery(&self, delivery: &Delivery) -> Result<()>;

    /// Claims several deliveries as `claim_delivery` would, one outcome per delivery in
    /// order (`Conflict` for a key already claimed, also by an earlier one of the batch).
    /// A backend that can commit them together does (one fsync on SQLite); if that
    /// commit fails every outcome is an error and none is claimed. This default claims
    /// them one by one.
    async fn claim_deliveries(&self, deliveries: &[Delivery]) -> Vec<Result<()>> {
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            outcomes.push(self.claim_delivery(delivery).await);
        }
        outcomes
    }

    /// Moves a claimed delivery on (by idempotency key) as a **compare-and-set**: stores
    /// `delivery` with `version + 1` only while the stored row is still at
    /// `delivery.version`; `Conflict` when another writer changed it since it was read,
    /// `NotFound` for an unclaimed key. Every state transition of a row goes through it,
    /// so of several notifiers racing on one snapshot (a due retry, an orphaned claim)
    /// exactly one wins and calls the provider. On success the caller's copy is one
    /// version behind the store.
    async fn update_delivery(&self, delivery: &Delivery) -> Result<()>;

    /// Updates several deliveries as `update_delivery` would, one outcome per delivery in
    /// order (`NotFound` for an unclaimed key, `Conflict` for a stale version). A backend that can commit them together
    /// does (one fsync on SQLite); if that commit fails every outcome is an error and none
    /// is changed. This default updates them one by one.
    async fn update_deliveries(&self, deliveries: &[Delivery]) -> Vec<Result<()>> {
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            outcomes.push(self.update_delivery(delivery).await);
        }
        outcomes
    }

    async fn deliveries_for_alert(&self, alert: &AlertId) -> Result<Vec<Delivery>>;

    /// The deliveries of several alerts in one read, by alert then idempotency key: the
    /// api's live hub follows the pages of every open alert a worklist shows with one
    /// query per poll, not one per alert (docs/live.md, "Worklist socket").
    async fn deliveries_for_alerts(&self, alerts: &[AlertId]) -> Result<Vec<Delivery>>;
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Saves a new version of a patient's policy and returns it with its version set
    /// (previous version + 1).
    async fn put_policy(&self, policy: &ThresholdPolicy) -> Result<ThresholdPolicy>;

    /// The current policy, or `NotFound`.
    async fn policy(&self, patient: &PatientId) -> Result<ThresholdPolicy>;

    /// The patient's saved versions, newest first, at most `limit` of them (empty for a
    /// patient with none): the history the console diffs (docs/console.md).
    async fn policy_history(
        &self,
        patient: &PatientId,
        limit: usize,
    ) -> Result<Vec<ThresholdPolicy>>;

    /// Current policies of all patients (engine start-up and reload).
    async fn all_policies(&self) -> Result<Vec<ThresholdPolicy>>;
}

#[async_trait]
pub trait PatientStore: Send + Sync {
    async fn put_patient(&self, patient: &Patient) -> Result<()>;
    async fn patient(&self, id: &PatientId) -> Result<Patient>;
    /// Patients the user is assigned to.
    async fn patients_of(&self, doctor: &UserId) -> Result<Vec<Patient>>;
    async fn put_user(&self, user: &User) -> Result<()>;
    async fn user(&self, id: &UserId) -> Result<User>;
    /// Every user record, by id (the admin's directory, `GET /v1/users`).
    async fn users(&self) -> Result<Vec<User>>;
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn put_device(&self, device: &Device) -> Result<()>;
    /// Stores a new device and lists it on its patient (`Patient.devices`), as one
    /// change: `NotFound` (and nothing stored) when the patient does not exist.
    /// Idempotent: registering the same device again changes nothing.
    async fn register_device(&self, device: &Device) -> Result<()>;
    async fn device(&self, id: &DeviceId) -> Result<Device>;
    /// The device owning a bearer token, by the token's hex SHA-256.
    async fn device_by_token_hash(&self, token_sha256: &str) -> Result<Device>;
    /// The device a TLS client certificate is registered to, by the hex SHA-256 of the
    /// certificate's DER encoding.
    async fn device_by_cert_sha256(&self, cert_sha256: &str) -> Result<Device>;
    /// Every registered device, revoked ones too, by id.
    async fn list_devices(&self) -> Result<Vec<Device>>;
}

/// Every record port in one object: MongoDB and the embedded file implement all of them.
pub trait RecordStore:
    Reachable
    + AlertStore
    + DeliveryStore
    + PolicyStore
    + PatientStore
    + DeviceStore
    + crate::audit::AuditStore
    + crate::directory::PatientDirectory
    + crate::credentials::CredentialStore
    + crate::alert_pages::AlertPages
    + crate::replay_guard::ReplayGuard
    + crate::shard_leases::ShardLeases
    + crate::report_days::ReportDays
    + crate::watchdog_probes::ProbeRequests
    + crate::watchdog_probes::ProbeAnswers
    // Each service's bundle (bundles.rs), so the whole store narrows to it by upcasting.
    + crate::bundles::ApiRecords
    + crate::bundles::IngestRecords
    + crate::bundles::EngineRecords
    + crate::bundles::NotifierRecords
{
}

impl<
    T: Reachable
        + AlertStore
        + DeliveryStore
        + PolicyStore
        + PatientStore
        + DeviceStore
        + crate::audit::AuditStore
        + crate::directory::PatientDirectory
        + crate::credentials::CredentialStore
        + crate::alert_pages::AlertPages
        + crate::replay_guard::ReplayGuard
        + crate::shard_leases::ShardLeases
        + crate::report_days::ReportDays
        + crate::watchdog_probes::ProbeRequests
        + crate::watchdog_probes::ProbeAnswers,
> RecordStore for T
{
}
