//! Samples spread over two real InfluxDB nodes (the two `scripts/test` starts): each
//! patient's points are on exactly the node the documented mapping names (node 1: shards
//! 0–31, node 2: 32–63; docs/operations.md, "Several InfluxDB nodes"), asked of each
//! `influxd` directly; reads through the store return them; a node list that disagrees
//! with the data, or a node that does not answer, is refused at start naming the node:
//! by the marker each node records of its place in the list (a dropped node too, whose
//! data no other node could betray), or, on nodes without one, by misplaced patients.

use crate::backends::{Backend, two_node_urls};
use crate::fixtures::{T0, block, device_id, expected_frames};
use cw_core::time::NANOS_PER_SEC;
use cw_core::{
    PatientId, SampleBlock, Site, VitalBatch, VitalKind, VitalReading, VitalStatus, shard_of,
};
use cw_storage::{InfluxNodeConfig, StorageConfig};
use std::collections::BTreeSet;

/// The documented mapping, written out independently of the adapter's code.
fn documented_node(patient: &PatientId) -> usize {
    if shard_of(patient) < 32 { 0 } else { 1 }
}

/// `count` random patients whose shards the mapping gives to `node`.
fn patients_on(node: usize, count: usize) -> Vec<PatientId> {
    std::iter::repeat_with(PatientId::random)
        .filter(|p| documented_node(p) == node)
        .take(count)
        .collect()
}

/// `q` on `database` of the node at `url`, asked directly.
async fn query_at(url: &str, database: &str, q: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{url}/query"))
        .query(&[("db", database), ("q", q)])
        .send()
        .await
        .expect("influxd answers")
        .json()
        .await
        .expect("json")
}

/// The `patient` tag values of every measurement of `database` on the node at `url`.
async fn patients_stored_at(url: &str, database: &str) -> BTreeSet<String> {
    let body = query_at(url, database, "SHOW TAG VALUES WITH KEY = \"patient\"").await;
    let series = body["results"][0]["series"].as_array().cloned();
    series
        .unwrap_or_default()
        .iter()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|row| row[1].as_str().map(str::to_owned))
        .collect()
}

/// Points of `measurement` for `patient` on the node at `url`.
async fn count_at(url: &str, database: &str, measurement: &str, patient: &PatientId) -> u64 {
    let q = format!(
        "SELECT count(*) FROM \"{measurement}\" WHERE \"patient\" = '{}'",
        patient.as_str()
    );
    let body = query_at(url, database, &q).await;
    // count(*) answers one column per field; the first field's count is the points'.
    body["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

fn vitals_of(patient: &PatientId, at: i64) -> VitalBatch {
    VitalBatch {
        patient: patient.clone(),
        device: device_id(),
        seq: 0,
        readings: vec![VitalReading {
            time_ns: at,
            kind: VitalKind::Spo2,
            site: Site::Unspecified,
            status: VitalStatus::Valid,
            value: Some(97.0),
        }],
    }
}

#[tokio::test]
async fn each_patient_is_on_exactly_the_node_its_shard_maps_to_and_reads_back() {
    let backend = Backend::two_influx_nodes().await;
    let s = &backend.stores;
    let database = backend.cfg.influx.database.clone();
    let on_first = patients_on(0, 3);
    let on_second = patients_on(1, 3);
    // Interleaved, so one write call carries both nodes' patients.
    let patients: Vec<PatientId> = on_first
        .iter()
        .zip(&on_second)
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let blocks: Vec<SampleBlock> = patients
        .iter()
        .enumerate()
        .map(|(i, p)| block(p, &device_id(), i as u64, T0, 250, 2, 600))
        .collect();
    s.samples.write(&blocks).await.expect("write");
    let vitals: Vec<VitalBatch> = patients.iter().map(|p| vitals_of(p, T0)).collect();
    s.samples.write_vitals(&vitals).await.expect("write vitals");
    for p in &patients {
        let score = crate::news2::score(T0, 1, 0);
        s.samples
            .write_news2(p, std::slice::from_ref(&score))
            .await
            .expect("write news2");
    }

    let urls = two_node_urls();
    for (node, url) in urls.iter().enumerate() {
        let expected: BTreeSet<String> = patients
            .iter()
            .filter(|p| documented_node(p) == node)
            .map(|p| p.as_str().to_owned())
            .collect();
        assert_eq!(
            patients_stored_at(url, &database).await,
            expected,
            "node {} ({url}) holds exactly the patients of its shards",
            node + 1
        );
    }
    for (p, b) in patients.iter().zip(&blocks) {
        let (home, other) = if documented_node(p) == 0 {
            (&urls[0], &urls[1])
        } else {
            (&urls[1], &urls[0])
        };
        for (measurement, points) in [("ecg", 600), ("vitals", 1), ("news2", 1)] {
            assert_eq!(count_at(home, &database, measurement, p).await, points);
            assert_eq!(count_at(other, &database, measurement, p).await, 0);
        }
        let range = (T0, T0 + 10 * NANOS_PER_SEC);
        assert_eq!(
            s.samples
                .count_frames(p, range.0, range.1)
                .await
                .expect("count"),
            600
        );
        assert_eq!(
            s.samples.frames(p, range.0, range.1).await.expect("frames"),
            expected_frames(&[b], range.0, range.1)
        );
        assert_eq!(
            s.samples
                .vitals(p, range.0, range.1)
                .await
                .expect("vitals")
                .len(),
            1
        );
        assert_eq!(
            s.samples
                .news2(p, range.0, range.1)
                .await
                .expect("news2")
                .len(),
            1
        );
    }
    s.samples.ping().await.expect("both nodes answer");
}

#[tokio::test]
async fn a_node_list_that_disagrees_with_the_data_is_refused_naming_the_node() {
    let backend = Backend::two_influx_nodes().await;
    let p = patients_on(1, 1).remove(0);
    let b = block(&p, &device_id(), 0, T0, 250, 1, 10);
    backend.stores.samples.write(&[b]).await.expect("write");

    // The same nodes, swapped: node 1 now holds a patient of shards 32–63.
    let mut swapped: StorageConfig = backend.cfg.clone();
    swapped.influx.nodes.reverse();
    let Err(error) = cw_storage::open(&swapped).await else {
        panic!("a swapped node list must be refused")
    };
    let text = error.to_string();
    for needed in [
        "node 1 of 2",
        two_node_urls()[1].as_str(),
        "Several InfluxDB nodes",
    ] {
        assert!(text.contains(needed), "{needed} missing from: {text}");
    }
    // The right order still opens.
    cw_storage::open(&backend.cfg).await.expect("reopens");
}

#[tokio::test]
async fn a_node_that_does_not_answer_fails_the_start_naming_it() {
    let backend = Backend::two_influx_nodes().await;
    let mut cfg = backend.cfg.clone();
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    cfg.influx.nodes.push(InfluxNodeConfig {
        url: dead.clone(),
        ..InfluxNodeConfig::default()
    });
    let Err(error) = cw_storage::open(&cfg).await else {
        panic!("a node that does not answer must fail the start")
    };
    let text = error.to_string();
    assert!(
        text.contains("node 3 of 3") && text.contains(&dead),
        "{text}"
    );
}

/// `q` on `database` of the node at `url`, as POST (statements that change the server).
async fn execute_at(url: &str, database: &str, q: &str) {
    let response = reqwest::Client::new()
        .post(format!("{url}/query"))
        .form(&[("db", database), ("q", q)])
        .send()
        .await
        .expect("influxd answers");
    assert!(response.status().is_success(), "{q}: {}", response.status());
}

#[tokio::test]
async fn a_dropped_node_is_refused_by_the_marker_of_a_node_that_stays() {
    let backend = Backend::two_influx_nodes().await;
    // Patients of node 1 only: no node holds anything misplaced, whichever is dropped.
    let p = patients_on(0, 1).remove(0);
    let b = block(&p, &device_id(), 0, T0, 250, 1, 10);
    backend.stores.samples.write(&[b]).await.expect("write");
    let urls = two_node_urls();

    for (dropped, stays, was) in [(1, 0, "node 1 of 2"), (0, 1, "node 2 of 2")] {
        let mut cfg: StorageConfig = backend.cfg.clone();
        cfg.influx.nodes.remove(dropped);
        let Err(error) = cw_storage::open(&cfg).await else {
            panic!("a list without node {} must be refused", dropped + 1)
        };
        let text = error.to_string();
        for needed in [
            "node 1 of 1",
            urls[stays].as_str(),
            &format!("was set up as {was}"),
            "Several InfluxDB nodes",
        ] {
            assert!(text.contains(needed), "{needed} missing from: {text}");
        }
    }
    // The list as it was still opens.
    cw_storage::open(&backend.cfg).await.expect("reopens");
}

#[tokio::test]
async fn without_markers_a_misplaced_patient_still_refuses_the_list() {
    let backend = Backend::two_influx_nodes().await;
    let p = patients_on(1, 1).remove(0);
    let b = block(&p, &device_id(), 0, T0, 250, 1, 10);
    backend.stores.samples.write(&[b]).await.expect("write");
    // As after a migration, or on nodes set up before the markers: none recorded.
    let database = backend.cfg.influx.database.clone();
    for url in two_node_urls() {
        execute_at(&url, &database, "DROP MEASUREMENT \"cw_node\"").await;
    }
    let mut swapped: StorageConfig = backend.cfg.clone();
    swapped.influx.nodes.reverse();
    let Err(error) = cw_storage::open(&swapped).await else {
        panic!("a swapped node list must be refused by the data")
    };
    let text = error.to_string();
    for needed in [
        "node 1 of 2",
        "holds samples of shard",
        "Several InfluxDB nodes",
    ] {
        assert!(text.contains(needed), "{needed} missing from: {text}");
    }
}
