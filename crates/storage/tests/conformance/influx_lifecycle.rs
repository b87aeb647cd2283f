//! Retention and downsampling on the real InfluxDB (`scripts/test` starts it without
//! auth, so the adapter has admin rights): opening the store sets the raw window and the
//! downsampled policy, and the continuous queries it creates fill the downsampled series
//! from what ingest writes (docs/operations.md, "Data lifecycle").

use crate::fixtures::{block, device_id, patient_id};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{PatientId, Site, VitalBatch, VitalKind, VitalReading, VitalStatus};
use cw_storage::influx::{DOWNSAMPLED_RP, ECG_DOWNSAMPLED, VITALS_DOWNSAMPLED};
use cw_storage::{Backend, InfluxConfig, RetentionConfig, StorageConfig, Stores};
use serde_json::Value;
use std::time::Duration;

fn influx_url() -> String {
    std::env::var("CW_TEST_INFLUX_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("CW_TEST_INFLUX_URL is not set: run `scripts/test -p cw-storage`")
}

fn storage(database: &str, retention: RetentionConfig) -> StorageConfig {
    StorageConfig {
        backend: Backend::Servers,
        influx: InfluxConfig {
            url: influx_url(),
            database: database.to_owned(),
            ..InfluxConfig::default()
        },
        mongo: crate::backends::mongo_config(),
        retention,
        ..StorageConfig::default()
    }
}

/// One InfluxQL statement straight to the server; the first statement's series.
async fn show(database: &str, q: &str) -> Vec<Value> {
    let body: Value = reqwest::Client::new()
        .get(format!("{}/query", influx_url()))
        .query(&[("db", database), ("q", q), ("epoch", "ns")])
        .send()
        .await
        .expect("influx /query")
        .json()
        .await
        .expect("json");
    assert!(body["results"][0]["error"].is_null(), "{q}: {body}");
    body["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Rows of the first series as column → value maps.
fn rows(series: &[Value]) -> Vec<serde_json::Map<String, Value>> {
    let Some(first) = series.first() else {
        return Vec::new();
    };
    let columns: Vec<String> = first["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c.as_str().expect("column name").to_owned())
        .collect();
    first["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|row| {
            columns
                .iter()
                .cloned()
                .zip(row.as_array().expect("row").iter().cloned())
                .collect()
        })
        .collect()
}

/// Polls a downsampled series until it has `want` rows: the continuous queries run on
/// InfluxDB's own schedule, and their output is the only signal that they ran.
async fn downsampled(
    database: &str,
    measurement: &str,
    patient: &PatientId,
    want: usize,
) -> Vec<serde_json::Map<String, Value>> {
    let q = format!(
        "SELECT * FROM \"{DOWNSAMPLED_RP}\".\"{measurement}\" WHERE \"patient\" = '{}'",
        patient.as_str()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = rows(&show(database, &q).await);
        if found.len() >= want || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn retention_policies(series: &[Value]) -> Vec<(String, String, bool)> {
    rows(series)
        .into_iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_owned(),
                r["duration"].as_str().expect("duration").to_owned(),
                r["default"].as_bool().expect("default"),
            )
        })
        .collect()
}

async fn open(cfg: &StorageConfig) -> Stores {
    cw_storage::open(cfg).await.expect("open server stores")
}

/// A whole second a minute ago: inside the continuous queries' `FOR` window.
fn a_minute_ago() -> Nanos {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    (now - 60) * NANOS_PER_SEC
}

#[tokio::test]
async fn opening_sets_the_raw_window_and_the_queries_fill_the_downsampled_series() {
    let database = format!("cw_test_{}", PatientId::random());
    let retention = RetentionConfig {
        raw_days: 30,
        downsampled_days: 3650,
        every_s: 1,
        ..RetentionConfig::default()
    };
    let stores = open(&storage(&database, retention)).await;

    let policies = retention_policies(&show(&database, "SHOW RETENTION POLICIES").await);
    assert!(
        policies.contains(&("autogen".into(), "720h0m0s".into(), true)),
        "{policies:?}"
    );
    assert!(
        policies.contains(&(DOWNSAMPLED_RP.into(), "87600h0m0s".into(), false)),
        "{policies:?}"
    );

    // 3 s of two leads at 250 Hz; the values encode frame and lead, so each second's
    // min and max are known.
    let patient = patient_id();
    let start = a_minute_ago();
    let written = block(&patient, &device_id(), 1, start, 250, 2, 750);
    stores
        .samples
        .write(std::slice::from_ref(&written))
        .await
        .expect("write");
    let vitals = [(0, 97.0), (20, 95.0), (40, 93.0)].map(|(s, v)| VitalReading {
        time_ns: start + s * NANOS_PER_SEC,
        kind: VitalKind::Spo2,
        site: Site::Unspecified,
        status: VitalStatus::Valid,
        value: Some(v),
    });
    stores
        .samples
        .write_vitals(&[VitalBatch {
            patient: patient.clone(),
            device: device_id(),
            seq: 2,
            readings: vitals.to_vec(),
        }])
        .await
        .expect("write vitals");

    let seconds = downsampled(&database, ECG_DOWNSAMPLED, &patient, 3).await;
    assert_eq!(seconds.len(), 3, "one row per second: {seconds:?}");
    for (k, row) in seconds.iter().enumerate() {
        assert_eq!(row["time"].as_i64(), Some(start + k as i64 * NANOS_PER_SEC));
        for lead in 0..2 {
            let values: Vec<i64> = (k * 250..(k + 1) * 250)
                .map(|f| i64::from(written.frame(f)[lead]))
                .collect();
            let min = values.iter().min().copied();
            let max = values.iter().max().copied();
            assert_eq!(row[&format!("min_l{lead}")].as_i64(), min, "{row:?}");
            assert_eq!(row[&format!("max_l{lead}")].as_i64(), max, "{row:?}");
        }
    }

    // The minute holding all three readings (it starts on a whole minute).
    let minute_rows = downsampled(&database, VITALS_DOWNSAMPLED, &patient, 1).await;
    let in_minute: Vec<f64> = vitals
        .iter()
        .filter(|r| r.time_ns / (60 * NANOS_PER_SEC) == start / (60 * NANOS_PER_SEC))
        .map(|r| f64::from(r.value.expect("valid")))
        .collect();
    let first = minute_rows.first().expect("a downsampled vitals row");
    assert_eq!(first["kind"].as_str(), Some("spo2"), "{first:?}");
    let mean = in_minute.iter().sum::<f64>() / in_minute.len() as f64;
    assert_eq!(first["mean"].as_f64(), Some(mean), "{minute_rows:?}");
    assert_eq!(
        first["min"].as_f64(),
        in_minute.iter().copied().reduce(f64::min)
    );
    assert_eq!(
        first["max"].as_f64(),
        in_minute.iter().copied().reduce(f64::max)
    );
}

#[tokio::test]
async fn a_changed_config_replaces_the_query_and_keeps_nothing_stale() {
    let database = format!("cw_test_{}", PatientId::random());
    open(&storage(&database, RetentionConfig::default())).await;
    let changed = RetentionConfig {
        ecg_interval_ms: 200,
        raw_days: 7,
        ..RetentionConfig::default()
    };
    open(&storage(&database, changed)).await;

    let queries: Vec<String> = show(&database, "SHOW CONTINUOUS QUERIES")
        .await
        .iter()
        .filter(|s| s["name"] == database.as_str())
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .map(|row| row[1].as_str().expect("query").to_owned())
        .collect();
    let ecg: Vec<&String> = queries.iter().filter(|q| q.contains("ecg")).collect();
    assert_eq!(ecg.len(), 1, "{queries:#?}");
    assert!(ecg[0].contains("GROUP BY time(200ms)"), "{queries:#?}");
    assert_eq!(queries.len(), 2, "{queries:#?}");
    let policies = retention_policies(&show(&database, "SHOW RETENTION POLICIES").await);
    assert!(
        policies.contains(&("autogen".into(), "168h0m0s".into(), true)),
        "{policies:?}"
    );
}
