//! What only the embedded backend promises: several processes share one file.

use crate::fixtures::{T0, alert, block, device_id, patient_id};
use cw_core::RuleKind;
use cw_storage::{OpenAlertOutcome, RetentionConfig, StorageConfig};

/// Two independent opens of one file stand for two service processes: each sees what
/// the other wrote, and the one-open-alert rule holds across them.
#[tokio::test]
async fn two_opens_of_one_file_share_samples_and_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = StorageConfig {
        path: dir.path().join("shared.sqlite"),
        key_hex: crate::backends::store_key(),
        // The fixtures' fixed past times would be swept by a raw window.
        retention: RetentionConfig {
            raw_days: 0,
            ..RetentionConfig::default()
        },
        ..StorageConfig::default()
    };
    let ingest = cw_storage::open(&cfg).await.expect("open");
    let engine = cw_storage::open(&cfg).await.expect("open again");

    let p = patient_id();
    let b = block(&p, &device_id(), 1, T0, 250, 1, 250);
    ingest
        .samples
        .write(std::slice::from_ref(&b))
        .await
        .expect("write");
    assert_eq!(
        engine
            .samples
            .count_frames(&p, T0, b.end_ns())
            .await
            .expect("count"),
        250
    );

    let first = alert(&p, RuleKind::HrHigh, T0);
    assert_eq!(
        engine.records.open_alert(&first).await.expect("open"),
        OpenAlertOutcome::Created
    );
    assert_eq!(
        ingest
            .records
            .open_alert(&alert(&p, RuleKind::HrHigh, T0 + 1))
            .await
            .expect("open"),
        OpenAlertOutcome::AlreadyOpen(first)
    );
}

#[tokio::test]
async fn reopening_the_file_keeps_what_was_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = StorageConfig {
        path: dir.path().join("restart.sqlite"),
        key_hex: crate::backends::store_key(),
        // The fixtures' fixed past times would be swept by a raw window.
        retention: RetentionConfig {
            raw_days: 0,
            ..RetentionConfig::default()
        },
        ..StorageConfig::default()
    };
    let p = patient_id();
    let a = alert(&p, RuleKind::HrLow, T0);
    {
        let stores = cw_storage::open(&cfg).await.expect("open");
        stores.records.open_alert(&a).await.expect("open alert");
    }
    let stores = cw_storage::open(&cfg).await.expect("reopen");
    assert_eq!(
        stores.records.open_alerts().await.expect("open alerts"),
        vec![a]
    );
}
