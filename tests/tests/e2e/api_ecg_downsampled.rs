//! `GET /v1/patients/{id}/ecg` for a range older than the raw retention reads the
//! downsampled series (docs/api.md, "Reading ECG back"), on both backends: the ECG is
//! written, downsampled as each backend does it, and the api (with `raw_days` = 1) is
//! asked for it two days later.

use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{DeviceId, Role, SampleBlock};
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;

const RATE: u32 = 250;
const SECONDS: i64 = 20;

/// Lead 0 rises through each second (-500 … 496 µV), lead 1 mirrors it, so every
/// second's minimum and maximum are known.
fn sample(i: usize) -> (i16, i16) {
    let v = (i % RATE as usize) as i16 * 4 - 500;
    (v, -v)
}

/// What each backend does to downsample: the embedded sweep, or InfluxDB's continuous
/// query over past data (the backfill docs/operations.md gives operators).
async fn downsample(h: &ApiHarness, mode: Mode, patient: &str, from: i64, to: i64) {
    match mode {
        Mode::Embedded => {
            let report = cw_storage::sqlite::sweep(&h.storage, now_ns())
                .await
                .expect("the sweep runs");
            assert!(report.ecg_downsampled > 0, "{report:?}");
        }
        Mode::Servers => {
            let db = &h.storage.influx.database;
            let q = format!(
                "SELECT min(*), max(*) INTO \"{db}\".\"cw_downsampled\".\"ecg_downsampled\" \
                 FROM \"ecg\" WHERE \"patient\" = '{patient}' AND time >= {from} AND time < {to} \
                 GROUP BY time(1000ms), *"
            );
            let answer = reqwest::Client::new()
                .post(format!("{}/query", h.storage.influx.url))
                .query(&[("db", db.as_str()), ("q", q.as_str())])
                .send()
                .await
                .expect("influxdb answers");
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            assert!(
                status.is_success() && !body.contains("error"),
                "{status}: {body}"
            );
        }
    }
}

async fn an_old_range_reads_the_downsampled_series(mode: Mode) {
    let h = ApiHarness::start_with(mode, |cfg| cfg.storage.retention.raw_days = 1).await;
    let start = (now_ns() / NANOS_PER_SEC - 2 * 86_400) * NANOS_PER_SEC;
    let frames = RATE as usize * SECONDS as usize;
    let samples_uv = (0..frames)
        .flat_map(|i| {
            let (a, b) = sample(i);
            [a, b]
        })
        .collect();
    let block = SampleBlock {
        patient: h.own.clone(),
        device: DeviceId::random(),
        seq: 1,
        start_ns: start,
        rate_hz: RATE,
        leads: 2,
        samples_uv,
        lead_off: false,
    };
    h.stores.samples.write(&[block]).await.expect("write");
    let end = start + SECONDS * NANOS_PER_SEC;
    downsample(&h, mode, h.own.as_str(), start, end).await;

    let token = h.token(&h.doctor_a, Role::Doctor);
    let get = |from: i64, to: i64, max: usize| {
        h.get_ok(
            &token,
            format!(
                "/v1/patients/{}/ecg?from_ns={from}&to_ns={to}&max_points={max}",
                h.own
            ),
        )
    };

    // Beyond the raw window: one bucket per second, the second's extremes per lead.
    let strip = get(start, end, 4000).await;
    assert_eq!(strip["mode"], "downsampled", "{strip}");
    assert_eq!(strip["bucket_ns"], NANOS_PER_SEC);
    let buckets = strip["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), SECONDS as usize, "{strip}");
    for (k, bucket) in buckets.iter().enumerate() {
        assert_eq!(bucket["start_ns"], start + k as i64 * NANOS_PER_SEC);
        assert_eq!(bucket["min"], serde_json::json!([-500, -496]), "second {k}");
        assert_eq!(bucket["max"], serde_json::json!([496, 500]), "second {k}");
    }
    // Fewer points than seconds: wider buckets, folded from the downsampled rows.
    let strip = get(start, end, 10).await;
    assert_eq!(strip["mode"], "downsampled");
    assert_eq!(strip["bucket_ns"], 4 * NANOS_PER_SEC, "{strip}");
    assert_eq!(strip["buckets"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn embedded_an_old_range_reads_the_downsampled_series() {
    an_old_range_reads_the_downsampled_series(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_an_old_range_reads_the_downsampled_series() {
    an_old_range_reads_the_downsampled_series(Mode::Servers).await;
}
