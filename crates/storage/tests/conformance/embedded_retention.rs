//! The embedded file's retention sweep, the equivalent of InfluxDB's retention policy and
//! continuous queries (`influx_lifecycle.rs`; docs/operations.md, "Data lifecycle"):
//! ECG and vitals are downsampled first, then raw rows past the raw window go.

use crate::fixtures::{block, device_id, patient_id};
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{PatientId, SampleBlock, Site, VitalBatch, VitalKind, VitalReading, VitalStatus};
use cw_storage::{RetentionConfig, StorageConfig, Stores};
use std::path::Path;
use std::time::Duration;

const DAY: Nanos = 86_400 * NANOS_PER_SEC;

async fn open(dir: &Path, retention: RetentionConfig) -> (Stores, StorageConfig) {
    let cfg = StorageConfig {
        path: dir.join("retention.sqlite"),
        key_hex: crate::backends::store_key(),
        retention,
        ..StorageConfig::default()
    };
    (cw_storage::open(&cfg).await.expect("open"), cfg)
}

/// A whole second `days` ago.
fn days_ago(days: i64) -> Nanos {
    (now_ns() / NANOS_PER_SEC) * NANOS_PER_SEC - days * DAY
}

/// One second of one lead of a new patient, stored from `start`.
async fn one_second_stored(stores: &Stores, start: Nanos) -> (PatientId, SampleBlock) {
    let p = patient_id();
    let written = block(&p, &device_id(), 1, start, 250, 1, 250);
    stores
        .samples
        .write(std::slice::from_ref(&written))
        .await
        .expect("write");
    (p, written)
}

fn spo2(patient: &PatientId, readings: &[(Nanos, f32)]) -> VitalBatch {
    VitalBatch {
        patient: patient.clone(),
        device: device_id(),
        seq: 9,
        readings: readings
            .iter()
            .map(|&(time_ns, v)| VitalReading {
                time_ns,
                kind: VitalKind::Spo2,
                site: Site::Unspecified,
                status: VitalStatus::Valid,
                value: Some(v),
            })
            .collect(),
    }
}

/// (time, mins, maxs) of a patient's downsampled ECG, read from the file itself.
fn ecg_downsampled(cfg: &StorageConfig, patient: &PatientId) -> Vec<(Nanos, Vec<i16>, Vec<i16>)> {
    let conn = cw_storage::sqlite::connect(cfg).expect("open file");
    let mut stmt = conn
        .prepare(
            "SELECT time_ns, mins, maxs FROM ecg_downsampled WHERE patient = ?1 ORDER BY time_ns",
        )
        .expect("prepare");
    let i16s = |b: Vec<u8>| -> Vec<i16> {
        b.chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect()
    };
    stmt.query_map([patient.as_str()], |r| {
        Ok((r.get(0)?, i16s(r.get(1)?), i16s(r.get(2)?)))
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

fn vitals_downsampled(cfg: &StorageConfig, patient: &PatientId) -> Vec<(Nanos, f64, f64, f64)> {
    let conn = cw_storage::sqlite::connect(cfg).expect("open file");
    let mut stmt = conn
        .prepare(
            "SELECT time_ns, mean, min, max FROM vitals_downsampled WHERE patient = ?1 \
             ORDER BY time_ns",
        )
        .expect("prepare");
    stmt.query_map([patient.as_str()], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

#[tokio::test]
async fn the_sweep_downsamples_then_drops_raw_data_past_the_window_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The sweeper of the open store waits an hour: this test sweeps itself.
    let retention = RetentionConfig {
        raw_days: 30,
        every_s: 3_600,
        ..RetentionConfig::default()
    };
    let (stores, cfg) = open(dir.path(), retention).await;
    let p = patient_id();
    let (old_start, recent_start) = (days_ago(40), days_ago(1));
    let old = block(&p, &device_id(), 1, old_start, 250, 2, 750);
    let recent = block(&p, &device_id(), 2, recent_start, 250, 2, 500);
    stores
        .samples
        .write(&[old.clone(), recent.clone()])
        .await
        .expect("write");
    let minute = (old_start / (60 * NANOS_PER_SEC)) * 60 * NANOS_PER_SEC;
    stores
        .samples
        .write_vitals(&[spo2(
            &p,
            &[(minute, 97.0), (minute + 10 * NANOS_PER_SEC, 93.0)],
        )])
        .await
        .expect("write vitals");

    let report = cw_storage::sqlite::sweep(&cfg, now_ns())
        .await
        .expect("sweep");
    assert_eq!(report.raw_blocks_deleted, 1, "{report:?}");
    assert_eq!(report.raw_vitals_deleted, 2, "{report:?}");

    let count = |from: Nanos, to: Nanos| stores.samples.count_frames(&p, from, to);
    assert_eq!(count(old_start, old.end_ns()).await.expect("count"), 0);
    assert_eq!(
        count(recent_start, recent.end_ns()).await.expect("count"),
        500
    );
    assert!(
        stores
            .samples
            .vitals(&p, minute, minute + 60 * NANOS_PER_SEC)
            .await
            .expect("vitals")
            .is_empty()
    );

    // The old block lives on as min/max per lead per second (and so does the recent one).
    let seconds = ecg_downsampled(&cfg, &p);
    assert_eq!(seconds.len(), 3 + 2, "{seconds:?}");
    for (k, (at, mins, maxs)) in seconds.iter().take(3).enumerate() {
        assert_eq!(*at, old_start + k as i64 * NANOS_PER_SEC);
        for lead in 0..2 {
            let values: Vec<i16> = (k * 250..(k + 1) * 250)
                .map(|f| old.frame(f)[lead])
                .collect();
            assert_eq!(mins[lead], *values.iter().min().expect("values"));
            assert_eq!(maxs[lead], *values.iter().max().expect("values"));
        }
    }
    assert_eq!(
        vitals_downsampled(&cfg, &p),
        vec![(minute, 95.0, 93.0, 97.0)]
    );

    // A second sweep changes nothing more.
    let again = cw_storage::sqlite::sweep(&cfg, now_ns())
        .await
        .expect("sweep again");
    assert_eq!(again.raw_blocks_deleted + again.raw_vitals_deleted, 0);
    assert_eq!(ecg_downsampled(&cfg, &p).len(), 5);
}

#[tokio::test]
async fn zero_days_keeps_raw_data_forever() {
    let dir = tempfile::tempdir().expect("temp dir");
    let retention = RetentionConfig {
        raw_days: 0,
        every_s: 3_600,
        ..RetentionConfig::default()
    };
    let (stores, cfg) = open(dir.path(), retention).await;
    let (p, old) = one_second_stored(&stores, days_ago(4_000)).await;
    cw_storage::sqlite::sweep(&cfg, now_ns())
        .await
        .expect("sweep");
    let kept = stores
        .samples
        .count_frames(&p, old.start_ns, old.end_ns())
        .await
        .expect("count");
    assert_eq!(kept, 250);
}

#[tokio::test]
async fn an_open_store_sweeps_on_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let retention = RetentionConfig {
        raw_days: 30,
        every_s: 1,
        ..RetentionConfig::default()
    };
    let (stores, _cfg) = open(dir.path(), retention).await;
    let (p, old) = one_second_stored(&stores, days_ago(40)).await;
    // The sweeper's effect is the only signal that it ran.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = stores
            .samples
            .count_frames(&p, old.start_ns, old.end_ns())
            .await
            .expect("count");
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper left {left} old frames"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
