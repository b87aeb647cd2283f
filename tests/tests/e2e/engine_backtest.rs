//! `POST /v1/patients/{id}/backtest`: stored ECG and numerics replayed through a candidate
//! policy with the engine's own monitor; the answer lists the alerts it would have raised.
//! Runs on the embedded store and on the real servers (InfluxDB + MongoDB protocol).

use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{
    DeviceId, Role, SampleBlock, Site, VitalBatch, VitalKind, VitalReading, VitalStatus,
};
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::{Value, json};

const FS: u32 = 250;

/// `seconds` of a 130 bpm synthetic ECG for the harness's own patient, ending now.
fn fast_rhythm(h: &ApiHarness, seconds: u32) -> (Vec<SampleBlock>, Nanos, Nanos) {
    let start = now_ns() - i64::from(seconds) * NANOS_PER_SEC;
    let period = f64::from(FS) * 60.0 / 130.0;
    let samples: Vec<i16> = (0..(seconds * FS) as usize)
        .map(|i| {
            let phase = (i as f64) % period;
            let spike = if phase < 3.0 {
                1500 - (phase as i16) * 400
            } else {
                0
            };
            spike + (50.0 * (i as f64 / f64::from(FS) * 3.0).sin()) as i16
        })
        .collect();
    let blocks = samples
        .chunks(FS as usize)
        .enumerate()
        .map(|(k, chunk)| SampleBlock {
            patient: h.own.clone(),
            device: DeviceId::parse("gw-backtest").expect("id"),
            seq: k as u64,
            start_ns: start + k as i64 * NANOS_PER_SEC,
            rate_hz: FS,
            leads: 1,
            samples_uv: chunk.to_vec(),
            lead_off: false,
        })
        .collect();
    (blocks, start, start + i64::from(seconds) * NANOS_PER_SEC)
}

async fn backtest(h: &ApiHarness, token: &str, body: Value) -> (u16, Value) {
    let r = h
        .http
        .post(h.url(&format!("/v1/patients/{}/backtest", h.own)))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("api answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn replays_stored_ecg_through_a_candidate_policy(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let (blocks, from, to) = fast_rhythm(&h, 60);
    h.stores
        .samples
        .write(&blocks)
        .await
        .expect("samples stored");
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let limit = |bpm: u32| json!({"hr_high": {"bpm": bpm, "priority": "high", "for_s": 5}});

    let (status, body) = backtest(
        &h,
        &doctor,
        json!({"from_ns": from, "to_ns": to, "policy": limit(110)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rate_hz"], FS, "{body}");
    let alerts = body["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{body}");
    assert_eq!(alerts[0]["rule"], "hr_high");
    assert_eq!(alerts[0]["priority"], "high");

    let (status, body) = backtest(
        &h,
        &doctor,
        json!({"from_ns": from, "to_ns": to, "policy": limit(150)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["alerts"],
        json!([]),
        "a limit above the rate never fires"
    );

    let (status, body) = backtest(
        &h,
        &doctor,
        json!({"from_ns": from, "to_ns": to, "policy": {"asystole": {"after_s": 1}}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "asystole.after_s", "{body}");

    let (status, _) = backtest(
        &h,
        &doctor,
        json!({"from_ns": from, "to_ns": from + 7200 * NANOS_PER_SEC, "policy": limit(110)}),
    )
    .await;
    assert_eq!(status, 422, "a range over an hour is refused");

    // Numerics stored beside the ECG: 20 s of SpO2 at 86 % in the middle of the range.
    let spo2 = |t_s: i64| VitalReading {
        time_ns: from + t_s * NANOS_PER_SEC,
        kind: VitalKind::Spo2,
        site: Site::Unspecified,
        status: VitalStatus::Valid,
        value: Some(if (20..40).contains(&t_s) { 86.0 } else { 97.0 }),
    };
    h.stores
        .samples
        .write_vitals(&[VitalBatch {
            patient: h.own.clone(),
            device: DeviceId::parse("gw-backtest").expect("id"),
            seq: 1_000,
            readings: (0..60).map(spo2).collect(),
        }])
        .await
        .expect("numerics stored");
    let desaturation = json!({"spo2_low": {"limit": 90, "hold_s": 15}});
    let (status, body) = backtest(
        &h,
        &doctor,
        json!({"from_ns": from, "to_ns": to, "policy": desaturation}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vitals"], 60, "{body}");
    let alerts = body["alerts"].as_array().expect("alerts");
    assert_eq!(
        alerts.len(),
        1,
        "the desaturation, and nothing else: {body}"
    );
    assert_eq!(alerts[0]["rule"], "spo2_low", "{body}");
    assert_eq!(alerts[0]["started_ns"], spo2(20).time_ns, "{body}");
    assert_eq!(alerts[0]["value"], 86.0, "{body}");
    let (status, body) = backtest(
        &h,
        &doctor,
        json!({"from_ns": from, "to_ns": to, "policy": {"spo2_low": {"limit": 85, "hold_s": 15}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alerts"], json!([]), "86 % is not under 85 %");

    let stranger = h.token(&h.doctor_b, Role::Doctor);
    let (status, _) = backtest(
        &h,
        &stranger,
        json!({"from_ns": from, "to_ns": to, "policy": limit(110)}),
    )
    .await;
    assert_eq!(status, 403, "another doctor's patient");
}

#[tokio::test]
async fn backtest_replays_stored_ecg_embedded() {
    replays_stored_ecg_through_a_candidate_policy(Mode::Embedded).await;
}

#[tokio::test]
async fn backtest_replays_stored_ecg_on_servers() {
    replays_stored_ecg_through_a_candidate_policy(Mode::Servers).await;
}

fn policy_file(dir: &std::path::Path, bpm: u32) -> std::path::PathBuf {
    let path = dir.join(format!("policy-{bpm}.json"));
    let body = json!({"hr_high": {"bpm": bpm, "priority": "high", "for_s": 5}});
    std::fs::write(&path, body.to_string()).expect("policy written");
    path
}

fn cli_args(patient: &str, policy: std::path::PathBuf) -> cardiowatch::backtest::BacktestArgs {
    cardiowatch::backtest::BacktestArgs {
        patient: patient.into(),
        policy,
        from_ns: None,
        to_ns: None,
        last_s: 600,
        record: None,
        vitals: Default::default(),
        store: cardiowatch::store_args::StoreArgs::file("/dev/null"),
    }
}

#[tokio::test]
async fn cli_backtest_replays_the_configured_store_and_wfdb_records() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let (blocks, from, to) = fast_rhythm(&h, 60);
    h.stores
        .samples
        .write(&blocks)
        .await
        .expect("samples stored");
    let config = h.dir.path().join("backtest.toml");
    std::fs::write(&config, cw_e2e::env::embedded_store_toml(&h.storage)).expect("config written");
    let mut args = cli_args(h.own.as_str(), policy_file(h.dir.path(), 110));
    args.store = cardiowatch::store_args::StoreArgs::file(config);
    args.from_ns = Some(from);
    args.to_ns = Some(to);
    let report = cardiowatch::backtest::report(&args)
        .await
        .expect("backtest runs");
    assert_eq!(report.alerts.len(), 1, "{report:?}");

    // Record 100 runs at ~75 bpm: a 70 bpm limit fires, a 100 bpm limit never does.
    let record = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100");
    let mut args = cli_args("p", policy_file(h.dir.path(), 70));
    args.record = Some(record.clone());
    let report = cardiowatch::backtest::report(&args).await.expect("replay");
    assert_eq!(report.rate_hz, 360);
    assert!(!report.alerts.is_empty(), "{report:?}");
    args.policy = policy_file(h.dir.path(), 100);
    let report = cardiowatch::backtest::report(&args).await.expect("replay");
    assert!(report.alerts.is_empty(), "{report:?}");

    // The same record with a generated desaturation beside it (SpO2 under 90 % from about
    // 98 s to 260 s of the course): the shipped SpO2 limit fires once, the 100 bpm HR
    // limit still never.
    let path = h.dir.path().join("policy-spo2.json");
    let body = json!({"hr_high": {"bpm": 100, "priority": "high", "for_s": 5},
        "spo2_low": {"limit": 90, "hold_s": 15}});
    std::fs::write(&path, body.to_string()).expect("policy written");
    args.policy = path;
    args.vitals.vitals_profile = Some(cardiowatch::vitals_profile::VitalsProfile::Desaturation);
    let report = cardiowatch::backtest::report(&args).await.expect("replay");
    // Four numerics a second at least (SpO2, pulse, respiration, temperature).
    assert!(report.vitals >= 4 * (report.frames / 360), "{report:?}");
    assert_eq!(report.alerts.len(), 1, "{report:?}");
    assert_eq!(report.alerts[0].rule, cw_core::RuleKind::Spo2Low);
    let started_s = report.alerts[0].started_ns as f64 / NANOS_PER_SEC as f64;
    assert!((90.0..110.0).contains(&started_s), "{report:?}");
    assert!(
        report.alerts[0].resolved_ns.is_some(),
        "it recovered: {report:?}"
    );
}
