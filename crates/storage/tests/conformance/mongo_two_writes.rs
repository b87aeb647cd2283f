//! MongoDB changes that write two collections (open: claim + alert; resolve: alert +
//! freeing the claim; device registration: patient list + device), interrupted after
//! their first write as a crash would:
//! - with a transaction (the server supports them — SecantusDB does), nothing of the
//!   change is visible and the next call starts clean;
//! - with the ordered fallback (a standalone server), the half-done change is visible and
//!   the next call completes it, so no alert is lost, duplicated or blocked.

use crate::fixtures::{T0, alert, device, patient, patient_id};
use cw_core::time::NANOS_PER_SEC;
use cw_core::{Alert, AlertState, RuleKind};
use cw_storage::mongo::MongoRecords;
use cw_storage::{AlertStore, DeviceStore, MongoConfig, OpenAlertOutcome, PatientStore};
use mongodb::bson::{Document, doc};

struct Mongo {
    records: MongoRecords,
    raw: mongodb::Database,
    client: mongodb::Client,
}

impl Mongo {
    async fn connect() -> Self {
        let uri = std::env::var("CW_TEST_MONGO_URI")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                panic!("CW_TEST_MONGO_URI is not set: run these with `scripts/test -p cw-storage`")
            });
        let database = format!("cw_two_writes_{}", patient_id());
        let records = MongoRecords::connect(&MongoConfig {
            uri: uri.clone().into(),
            database: database.clone(),
            ..Default::default()
        })
        .await
        .expect("connect");
        let client = mongodb::Client::with_uri_str(&uri)
            .await
            .expect("raw client");
        Self {
            records,
            raw: client.database(&database),
            client,
        }
    }

    async fn claim(&self, a: &Alert) -> Option<Document> {
        self.raw
            .collection::<Document>("open_alerts")
            .find_one(doc! { "_id": a.dedup_key() })
            .await
            .expect("raw read")
    }

    async fn alert_docs(&self, a: &Alert) -> u64 {
        self.raw
            .collection::<Document>("alerts")
            .count_documents(doc! { "_id": a.id.as_str() })
            .await
            .expect("raw count")
    }

    async fn close(self) {
        self.records.shutdown().await;
        self.client.shutdown().await;
    }
}

#[tokio::test]
async fn the_test_server_runs_transactions_so_the_adapter_uses_them() {
    let m = Mongo::connect().await;
    assert!(
        m.records.uses_transactions(),
        "SecantusDB reports a replica set and sessions: two-collection changes must be transactional"
    );
    m.close().await;
}

#[tokio::test]
async fn an_interrupted_open_leaves_nothing_behind_in_a_transaction() {
    let m = Mongo::connect().await;
    let p = patient_id();
    let (first, second) = (
        alert(&p, RuleKind::HrHigh, T0),
        alert(&p, RuleKind::HrHigh, T0 + NANOS_PER_SEC),
    );
    m.records.interrupt().arm();
    assert!(m.records.open_alert(&first).await.is_err());
    assert!(m.claim(&first).await.is_none(), "the claim was rolled back");
    assert_eq!(m.alert_docs(&first).await, 0);
    assert_eq!(
        m.records.open_alert(&second).await.expect("open"),
        OpenAlertOutcome::Created,
        "the key is free: nothing of the interrupted open holds it"
    );
    m.close().await;
}

#[tokio::test]
async fn an_interrupted_resolve_changes_nothing_in_a_transaction() {
    let m = Mongo::connect().await;
    let a = alert(&patient_id(), RuleKind::HrLow, T0);
    m.records.open_alert(&a).await.expect("open");
    m.records.interrupt().arm();
    assert!(
        m.records
            .resolve_alert(&a.id, T0 + NANOS_PER_SEC)
            .await
            .is_err()
    );
    let stored = m.records.get_alert(&a.id).await.expect("get");
    assert_eq!(
        stored.state,
        AlertState::Firing,
        "the update was rolled back"
    );
    assert!(m.claim(&a).await.is_some(), "and the key is still held");
    let resolved = m
        .records
        .resolve_alert(&a.id, T0 + 2 * NANOS_PER_SEC)
        .await
        .expect("resolve");
    assert_eq!(resolved.state, AlertState::Resolved);
    assert!(m.claim(&a).await.is_none());
    m.close().await;
}

#[tokio::test]
async fn without_transactions_an_interrupted_open_is_completed_by_the_next_call() {
    let mut m = Mongo::connect().await;
    m.records = m.records.without_transactions();
    let p = patient_id();
    let (first, second) = (
        alert(&p, RuleKind::HrHigh, T0),
        alert(&p, RuleKind::HrHigh, T0 + NANOS_PER_SEC),
    );
    m.records.interrupt().arm();
    assert!(m.records.open_alert(&first).await.is_err());
    assert!(m.claim(&first).await.is_some(), "the claim came first");
    assert_eq!(m.alert_docs(&first).await, 0, "the alert did not");
    // The engine's next open for the key finds the claim and stores its copy.
    assert_eq!(
        m.records.open_alert(&second).await.expect("open"),
        OpenAlertOutcome::AlreadyOpen(first.clone())
    );
    assert_eq!(m.records.get_alert(&first.id).await.expect("get"), first);
    // A retry of the interrupted call itself is no duplicate.
    assert_eq!(
        m.records.open_alert(&first).await.expect("retry"),
        OpenAlertOutcome::Created
    );
    assert_eq!(m.alert_docs(&first).await, 1);
    m.close().await;
}

#[tokio::test]
async fn without_transactions_an_interrupted_resolve_never_blocks_the_key() {
    let mut m = Mongo::connect().await;
    m.records = m.records.without_transactions();
    let p = patient_id();
    let a = alert(&p, RuleKind::Pause, T0);
    m.records.open_alert(&a).await.expect("open");
    m.records.interrupt().arm();
    assert!(
        m.records
            .resolve_alert(&a.id, T0 + NANOS_PER_SEC)
            .await
            .is_err()
    );
    assert_eq!(
        m.records.get_alert(&a.id).await.expect("get").state,
        AlertState::Resolved,
        "the alert was resolved first"
    );
    assert!(m.claim(&a).await.is_some(), "its key was not yet freed");
    // A new episode of the rule opens anyway: the stale key is freed on the way.
    let next = alert(&p, RuleKind::Pause, T0 + 60 * NANOS_PER_SEC);
    assert_eq!(
        m.records.open_alert(&next).await.expect("open"),
        OpenAlertOutcome::Created
    );
    assert_eq!(
        m.claim(&next)
            .await
            .and_then(|c| c.get_str("alert_id").ok().map(str::to_owned)),
        Some(next.id.to_string())
    );
    m.close().await;
}

#[tokio::test]
async fn an_interrupted_device_registration_is_all_or_nothing_in_a_transaction() {
    let m = Mongo::connect().await;
    let p = cw_core::Patient {
        devices: vec![],
        ..patient(&[])
    };
    m.records.put_patient(&p).await.expect("patient");
    let d = device(&p.id, &"c".repeat(64));
    m.records.interrupt().arm();
    assert!(m.records.register_device(&d).await.is_err());
    assert!(
        m.records
            .patient(&p.id)
            .await
            .expect("patient")
            .devices
            .is_empty()
    );
    assert!(m.records.device(&d.id).await.is_err());
    m.records.register_device(&d).await.expect("register");
    assert_eq!(
        m.records.patient(&p.id).await.expect("patient").devices,
        vec![d.id]
    );
    m.close().await;
}

#[tokio::test]
async fn without_transactions_an_interrupted_registration_leaves_only_an_inert_id() {
    let mut m = Mongo::connect().await;
    m.records = m.records.without_transactions();
    let p = cw_core::Patient {
        devices: vec![],
        ..patient(&[])
    };
    m.records.put_patient(&p).await.expect("patient");
    let d = device(&p.id, &"d".repeat(64));
    m.records.interrupt().arm();
    assert!(m.records.register_device(&d).await.is_err());
    // Listed first; no device (so no credential) exists for the id.
    assert_eq!(
        m.records.patient(&p.id).await.expect("patient").devices,
        vec![d.id.clone()]
    );
    assert!(
        m.records
            .device_by_token_hash(&d.token_sha256)
            .await
            .is_err()
    );
    // The same registration again completes it without listing it twice.
    m.records.register_device(&d).await.expect("register");
    assert_eq!(m.records.device(&d.id).await.expect("device"), d);
    assert_eq!(
        m.records
            .patient(&p.id)
            .await
            .expect("patient")
            .devices
            .len(),
        1
    );
    m.close().await;
}
