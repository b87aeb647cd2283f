//! Backup and restore drill (docs/operations.md, "Backup and restore"): data written
//! through the api and the store adapters, InfluxDB backed up with `influxd backup
//! -portable` and the record store with its server's own archive (SecantusDB's
//! `secantusAdmin.backupArchive`: no `mongodump` exists on these machines), both wiped,
//! both restored; the point counts, the samples, the records and the audit log must come
//! back as they were, and `cardiowatch audit verify` must find the chain intact.

use crate::api_export::{store_alarm, store_ecg};
use cw_core::audit::AuditEvent;
use cw_core::{Alert, Patient, PatientId, Role, ThresholdPolicy};
use cw_e2e::api::ApiHarness;
use cw_e2e::env::{audit_for, required};
use cw_e2e::influxd::OwnInflux;
use cw_e2e::mongod::OwnMongo;
use cw_e2e::processes::bin_dir;
use cw_e2e::system::storage_and_bus_toml;
use cw_storage::{Backend, InfluxConfig, MongoConfig, StorageConfig, Stores};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

const DATABASE: &str = "cardiowatch";

/// Everything the drill compares before the backup and after the restore.
#[derive(Debug, PartialEq)]
struct Contents {
    /// `SELECT COUNT(*) FROM /.*/`: points per measurement and field, without the node
    /// marker `cw_node`, which every start of the store writes again (docs/operations.md,
    /// "Several InfluxDB nodes"), so reopening the restored store adds one.
    point_counts: Value,
    frames: Vec<(i64, Vec<i16>)>,
    patients: Vec<Patient>,
    alerts: Vec<Alert>,
    policy: ThresholdPolicy,
    audit: Vec<AuditEvent>,
}

async fn influx_query(influx: &OwnInflux, q: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/query", influx.url))
        .form(&[("db", DATABASE), ("q", q)])
        .send()
        .await
        .expect("InfluxDB answers");
    assert!(response.status().is_success(), "{q}: {}", response.status());
    response.json().await.expect("InfluxDB JSON")
}

fn without_node_marker(mut counts: Value) -> Value {
    if let Some(series) = counts["results"][0]["series"].as_array_mut() {
        series.retain(|s| s["name"] != "cw_node");
    }
    counts
}

async fn contents(stores: &Stores, influx: &OwnInflux, patients: &[PatientId]) -> Contents {
    let mut out = Contents {
        point_counts: without_node_marker(influx_query(influx, "SELECT COUNT(*) FROM /.*/").await),
        frames: stores
            .samples
            .frames(&patients[0], 0, i64::MAX)
            .await
            .expect("frames"),
        patients: Vec::new(),
        alerts: stores
            .records
            .alerts_for_patients(patients, None, 1000)
            .await
            .expect("alerts"),
        policy: stores.records.policy(&patients[0]).await.expect("policy"),
        audit: stores
            .records
            .audit_events(0, 100_000)
            .await
            .expect("audit events"),
    };
    for id in patients {
        out.patients
            .push(stores.records.patient(id).await.expect("patient"));
    }
    out
}

/// `cardiowatch audit verify --config <config>`: (passed, what it printed).
fn audit_verify(config: &Path) -> (bool, String) {
    let out = Command::new(bin_dir().join("cardiowatch"))
        .args(["audit", "verify", "--config"])
        .arg(config)
        .env_remove("CW_CONFIG")
        .output()
        .expect("cardiowatch runs (scripts/test builds it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Audited api calls: thresholds set by an admin, read back by the doctor, the patient read.
async fn use_the_api(h: &ApiHarness) {
    let admin = h.token(&h.admin, Role::Admin);
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let thresholds = h.url(&format!("/v1/patients/{}/thresholds", h.own));
    let put = h
        .http
        .put(&thresholds)
        .bearer_auth(&admin)
        .json(&json!({"hr_high": {"bpm": 130, "priority": "high", "for_s": 10}}))
        .send()
        .await
        .expect("PUT thresholds");
    assert!(
        put.status().is_success(),
        "PUT thresholds: {}",
        put.status()
    );
    for (url, token) in [
        (thresholds.clone(), &doctor),
        (h.url(&format!("/v1/patients/{}", h.own)), &admin),
        (h.url("/v1/alerts"), &doctor),
    ] {
        let response = h
            .http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
    }
}

#[tokio::test]
async fn backup_wipe_restore_brings_back_points_records_and_an_intact_audit_chain() {
    let dir = tempfile::tempdir().expect("temp dir");
    let influx = OwnInflux::start().await;
    let mut record_server = OwnMongo::start().await;
    let storage = StorageConfig {
        backend: Backend::Servers,
        influx: InfluxConfig {
            url: influx.url.clone(),
            database: DATABASE.into(),
            ..InfluxConfig::default()
        },
        mongo: MongoConfig {
            uri: record_server.uri.clone().into(),
            database: DATABASE.into(),
            ..Default::default()
        },
        audit: audit_for(dir.path()),
        ..StorageConfig::default()
    };
    let config = dir.path().join("api.toml");
    std::fs::write(
        &config,
        storage_and_bus_toml(&storage, "00".repeat(32).as_str()),
    )
    .expect("config written");

    // Data through the api and the store adapters.
    let h = ApiHarness::start_on(
        tempfile::tempdir().expect("temp dir"),
        storage.clone(),
        |_| {},
    )
    .await;
    store_ecg(&h).await;
    store_alarm(&h).await;
    use_the_api(&h).await;
    let patients = [h.own.clone(), h.other.clone()];
    let before = contents(&h.stores, &influx, &patients).await;
    assert!(!before.frames.is_empty(), "no samples stored");
    assert!(
        before.point_counts["results"][0]["series"].is_array(),
        "no points counted: {}",
        before.point_counts
    );
    assert!(before.alerts.len() >= 3, "{:?}", before.alerts);
    // At least one event per api call of `use_the_api`.
    assert!(
        before.audit.len() >= 4,
        "{} audit events",
        before.audit.len()
    );
    let (intact, report) = audit_verify(&config);
    assert!(intact && report.contains("chain intact"), "{report}");
    drop(h);

    // Back up.
    let backup = dir.path().join("backup");
    let influx_backup = backup.join("influx");
    let records_archive = backup.join("records.tar.gz");
    run(
        "influxd",
        &[
            "backup",
            "-portable",
            "-database",
            DATABASE,
            "-host",
            &influx.rpc,
            influx_backup.to_str().expect("UTF-8 path"),
        ],
    );
    let client = mongodb::Client::with_uri_str(&record_server.uri)
        .await
        .expect("record server client");
    client
        .database("admin")
        .run_command(mongodb::bson::doc! {
            "secantusAdmin.backupArchive": 1,
            "outputPath": records_archive.to_str().expect("UTF-8 path"),
        })
        .await
        .expect("record store archived");

    // Wipe: the database dropped, the record server's disk lost.
    influx_query(&influx, &format!("DROP DATABASE {DATABASE}")).await;
    client
        .database(DATABASE)
        .drop()
        .await
        .expect("record database dropped");
    drop(client);
    record_server.stop();
    std::fs::remove_dir_all(record_server.data_dir()).expect("record data removed");
    record_server
        .restart_on(&dir.path().join("records-empty"))
        .await;
    let wiped = cw_storage::open(&storage).await.expect("stores open");
    assert!(
        wiped
            .samples
            .frames(&patients[0], 0, i64::MAX)
            .await
            .expect("frames")
            .is_empty(),
        "samples survived the wipe"
    );
    assert!(
        wiped.records.patient(&patients[0]).await.is_err(),
        "the patient survived the wipe"
    );
    let (intact, report) = audit_verify(&config);
    assert!(
        !intact,
        "audit verify passed on a wiped store (the checkpoints name events that are gone):\n{report}"
    );
    drop(wiped);
    // `influxd restore` wants the database absent; opening the stores made it again.
    influx_query(&influx, &format!("DROP DATABASE {DATABASE}")).await;

    // Restore.
    run(
        "influxd",
        &[
            "restore",
            "-portable",
            "-db",
            DATABASE,
            "-host",
            &influx.rpc,
            influx_backup.to_str().expect("UTF-8 path"),
        ],
    );
    let restored = dir.path().join("records-restored");
    run(
        &required("CW_TEST_SECANTUS_RESTORE"),
        &[
            "--archive",
            records_archive.to_str().expect("UTF-8 path"),
            "--target-dir",
            restored.to_str().expect("UTF-8 path"),
        ],
    );
    record_server.restart_on(&restored).await;

    let stores = cw_storage::open(&storage).await.expect("stores open");
    let after = contents(&stores, &influx, &patients).await;
    assert_eq!(after, before, "the restore differs from what was backed up");
    let (intact, report) = audit_verify(&config);
    assert!(intact && report.contains("chain intact"), "{report}");
    assert!(
        report.contains(&format!("{} audit events", before.audit.len())),
        "{report}"
    );
}
