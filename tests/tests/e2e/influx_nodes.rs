//! The four services on samples spread over two real InfluxDB nodes (docs/operations.md,
//! "Several InfluxDB nodes"): two patients, one in each node's shards, stream MIT-BIH
//! record 100 through ingest; each patient's samples are on its own node only (asked of
//! each `influxd` directly), the engine alerts on both (its warm-up and the api read
//! through the same mapping), and the api's `/readyz` fails while one node is down,
//! its log naming that node.

use crate::pipeline::stream;
use cardiowatch::fixture::{self, Fixture, FixtureSpec};
use cw_core::{PatientId, RuleKind, shard_of};
use cw_e2e::env::required;
use cw_e2e::influxd::{OwnInflux, ecg_points_at};
use cw_e2e::system::{Mode, Providers, System};
use cw_storage::{InfluxConfig, InfluxNodeConfig};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The first `e2e-node-N` id whose shard the documented mapping gives to `node` (node
/// 0: shards 0–31, node 1: 32–63).
fn patient_on(node: usize) -> String {
    (0..)
        .map(|i| format!("e2e-node-{i}"))
        .find(|id| {
            let shard = shard_of(&PatientId::parse(id).expect("valid id"));
            usize::from(shard >= 32) == node
        })
        .expect("some id")
}

async fn install(system: &System, patient: &str, n: usize) -> Fixture {
    fixture::install(
        system.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: patient,
            doctor_id: &format!("dr-node-{n}"),
            device_id: &format!("gw-node-{n}"),
            phone: None,
            email: None,
            hr_high_bpm: 70.0,
            for_s: 3.0,
        },
    )
    .await
    .expect("fixture installed")
}

async fn readyz(system: &System) -> (u16, Value) {
    let response = system
        .https()
        .get(system.api_url("/readyz"))
        .send()
        .await
        .expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn until_ready_is(system: &System, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (now, body) = readyz(system).await;
        if now == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {now} ({body}), expected {status}; logs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patients_on_two_influx_nodes_are_stored_on_their_own_node_and_alert() {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    // Node 2 is this test's own influxd, so the test may kill it.
    let mut second = OwnInflux::start().await;
    let first = required("CW_TEST_INFLUX_URL");
    let mut system = System::prepare(Mode::Servers).await;
    system.storage.influx.url = InfluxConfig::default().url;
    // A database of its own: the one `prepare` opened on one node recorded that list
    // (docs/operations.md, "Several InfluxDB nodes"), and two nodes are another.
    system.storage.influx.database = format!("{}_nodes", system.storage.influx.database);
    system.storage.influx.nodes = [&first, &second.url]
        .into_iter()
        .map(|url| InfluxNodeConfig {
            url: url.clone(),
            ..InfluxNodeConfig::default()
        })
        .collect();
    system.stores = cw_storage::open(&system.storage)
        .await
        .expect("stores on two nodes");
    let patients = [patient_on(0), patient_on(1)];
    let fixtures = [
        install(&system, &patients[0], 0).await,
        install(&system, &patients[1], 1).await,
    ];
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;

    let (a, b) = tokio::join!(stream(&system, &fixtures[0]), stream(&system, &fixtures[1]));
    let acked = [a.1, b.1];

    // Ingest acks a frame once InfluxDB has it: each node holds its patient's samples,
    // all of them, and none of the other's.
    let database = system.storage.influx.database.clone();
    let urls = [first.clone(), second.url.clone()];
    for (node, patient) in patients.iter().enumerate() {
        assert!(acked[node] > 0, "{patient} streamed");
        assert_eq!(
            ecg_points_at(&urls[node], &database, patient).await,
            acked[node],
            "node {} holds every acknowledged sample of {patient}",
            node + 1
        );
        assert_eq!(
            ecg_points_at(&urls[1 - node], &database, patient).await,
            0,
            "node {} holds nothing of {patient}",
            2 - node
        );
    }

    // The engine alerts on both patients.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open = system
            .stores
            .records
            .open_alerts()
            .await
            .expect("open alerts");
        let alerted = |patient: &str| {
            open.iter()
                .any(|a| a.patient.as_str() == patient && a.rule == RuleKind::HrHigh)
        };
        if patients.iter().all(|p| alerted(p)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both patients alert: {open:?}; logs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Reads go to the patient's node: the store reads back what each node holds.
    for (node, patient) in patients.iter().enumerate() {
        let id = PatientId::parse(patient).expect("valid");
        let read = system
            .stores
            .samples
            .count_frames(&id, 0, i64::MAX)
            .await
            .expect("count");
        assert_eq!(read, acked[node], "{patient} reads back whole");
    }

    // One node down: the api is not ready, and its log names that node.
    until_ready_is(&system, 200).await;
    second.kill();
    let body = until_ready_is(&system, 503).await;
    assert_eq!(
        body["not_ready"],
        serde_json::json!(["sample_store"]),
        "{body}"
    );
    let api_log = system
        .services
        .iter()
        .find(|s| s.name == "cw-api")
        .map(|s| s.log_text())
        .unwrap_or_default();
    assert!(
        api_log.contains("influxdb node 2 of 2") && api_log.contains(&second.url),
        "the api's log names the node that is down:\n{api_log}"
    );
    second.restart().await;
    until_ready_is(&system, 200).await;
}
