//! The ECG export (`GET /v1/patients/{id}/ecg/export`): 30 s of MIT-BIH record 100 with a
//! 2 s gap, stored through the real sample store, exported as EDF and read back by
//! `pyedflib` (PyPI, installed by `scripts/test`), and as WFDB, unpacked by the system's
//! `tar` and read back by our WFDB reader — samples, gap, beats against the reference
//! annotations, and the alarm's events. Refusals (another doctor's patient, a bad format,
//! a range too long or wrapped, an empty range) and the audit record too.

use cw_core::audit::AuditOutcome;
use cw_core::time::NANOS_PER_SEC;
use cw_core::{Alert, DeviceId, Priority, Role, RuleKind, SampleBlock};
use cw_e2e::api::ApiHarness;
use cw_e2e::env::required;
use cw_e2e::system::Mode;
use serde_json::Value;
use std::path::PathBuf;

pub(crate) const FS: i64 = 360;
pub(crate) const SECONDS: i64 = 30;
/// Seconds [GAP.0, GAP.1) are not stored.
const GAP: (i64, i64) = (10, 12);
/// A whole second, so the export's grid starts exactly at it.
pub(crate) fn start_s() -> i64 {
    cw_e2e::env::recent_second()
}

fn record_100() -> cw_wfdb::Record {
    cw_wfdb::Record::open(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100"))
        .expect("record 100")
}

/// Stores the record's first 30 s but the gap; returns its µV frames (2 leads).
pub(crate) async fn store_ecg(h: &ApiHarness) -> Vec<i16> {
    let uv = record_100().microvolts_interleaved();
    let uv = uv[..(SECONDS * FS * 2) as usize].to_vec();
    let device = DeviceId::random();
    let block = |seq: u64, from_s: i64, to_s: i64| SampleBlock {
        patient: h.own.clone(),
        device: device.clone(),
        seq,
        start_ns: (start_s() + from_s) * NANOS_PER_SEC,
        rate_hz: FS as u32,
        leads: 2,
        samples_uv: uv[(from_s * FS * 2) as usize..(to_s * FS * 2) as usize].to_vec(),
        lead_off: false,
    };
    h.stores
        .samples
        .write(&[block(1, 0, GAP.0), block(2, GAP.1, SECONDS)])
        .await
        .expect("write");
    uv
}

/// An alarm that fired at 5 s, was acknowledged at 6 s and ended at 20 s.
pub(crate) async fn store_alarm(h: &ApiHarness) {
    let at = |s: i64| (start_s() + s) * NANOS_PER_SEC;
    let alert = Alert::firing(h.own.clone(), RuleKind::Pause, Priority::High, at(5));
    h.stores.records.open_alert(&alert).await.expect("open");
    h.stores
        .records
        .acknowledge_alert(&alert.id, h.doctor_a.as_str(), at(6))
        .await
        .expect("ack");
    h.stores
        .records
        .resolve_alert(&alert.id, at(20))
        .await
        .expect("resolve");
}

fn in_gap(frame: usize) -> bool {
    (GAP.0 * FS..GAP.1 * FS).contains(&(frame as i64))
}

async fn export(h: &ApiHarness, token: &str, query: &str) -> reqwest::Response {
    h.http
        .get(h.url(&format!("/v1/patients/{}/ecg/export?{query}", h.own)))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

fn range(format: &str) -> String {
    format!(
        "from_ns={}&to_ns={}&format={format}",
        start_s() * NANOS_PER_SEC,
        (start_s() + SECONDS) * NANOS_PER_SEC
    )
}

#[tokio::test]
async fn edf_export_reads_back_in_pyedflib_sample_for_sample_with_the_gap_marked() {
    let python = required("CW_TEST_PYTHON");
    let h = ApiHarness::start(Mode::Embedded).await;
    let uv = store_ecg(&h).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let r = export(&h, &token, &range("edf")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let disposition = r.headers()["content-disposition"].to_str().expect("ascii");
    assert_eq!(
        disposition,
        format!("attachment; filename=\"cw{}.edf\"", start_s())
    );
    let request_id = r.headers()["x-request-id"].to_str().expect("id").to_owned();
    let bytes = r.bytes().await.expect("body");
    let path = h.dir.path().join("export.edf");
    std::fs::write(&path, &bytes).expect("write");
    let out = std::process::Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/python/read_edf.py"))
        .arg(&path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "pyedflib refused the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let edf: Value = serde_json::from_slice(&out.stdout).expect("json");
    // EDF's start date and time, to the second (UTC).
    let start = cw_core::time::UtcDateTime::from_nanos(start_s() * NANOS_PER_SEC).rfc3339_millis();
    assert_eq!(edf["start"].as_str(), start.get(..19));
    assert_eq!(edf["duration_s"].as_f64(), Some(SECONDS as f64));
    assert_eq!(edf["labels"], serde_json::json!(["ECG 1", "ECG 2"]));
    assert_eq!(edf["fs"], serde_json::json!([360.0, 360.0]));
    assert_eq!(edf["dimension"], serde_json::json!(["uV", "uV"]));
    assert_eq!(edf["physical_min"], serde_json::json!([-32768.0, -32768.0]));
    assert_eq!(edf["physical_max"], serde_json::json!([32767.0, 32767.0]));
    assert_eq!(edf["digital_min"], serde_json::json!([-32768, -32768]));
    assert_eq!(edf["digital_max"], serde_json::json!([32767, 32767]));
    for lead in 0..2 {
        let digital = edf["digital"][lead].as_array().expect("samples");
        let physical = edf["physical"][lead].as_array().expect("samples");
        assert_eq!(digital.len(), (SECONDS * FS) as usize);
        for (i, (d, p)) in digital.iter().zip(physical).enumerate() {
            let want = if in_gap(i) {
                -32768
            } else {
                i64::from(uv[i * 2 + lead])
            };
            assert_eq!(d.as_i64(), Some(want), "lead {lead} sample {i}");
            let p = p.as_f64().expect("number");
            assert!((p - want as f64).abs() < 1e-6, "physical {p} ≠ {want} µV");
        }
    }
    let events = h.stores.records.audit_events(1, 1000).await.expect("audit");
    let event = events
        .iter()
        .find(|e| e.entry.request_id == request_id)
        .expect("the export is audited");
    assert_eq!(event.entry.action, "GET /v1/patients/{id}/ecg/export");
    assert_eq!(event.entry.patient.as_ref(), Some(&h.own));
    assert_eq!(event.entry.actor, h.doctor_a.as_str());
    assert_eq!(event.entry.outcome, AuditOutcome::Allowed);
}

#[tokio::test]
async fn wfdb_export_unpacks_with_tar_and_reads_back_samples_beats_and_alarm_events() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let uv = store_ecg(&h).await;
    store_alarm(&h).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let r = export(&h, &token, &range("wfdb")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    let bytes = r.bytes().await.expect("body");
    let dir = h.dir.path().join("wfdb");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("export.tar"), &bytes).expect("write");
    let tar = std::process::Command::new("tar")
        .arg("-xf")
        .arg("export.tar")
        .current_dir(&dir)
        .output()
        .expect("tar runs");
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    let name = format!("cw{}", start_s());
    let rec = cw_wfdb::Record::open(dir.join(&name)).expect("our reader opens the export");
    assert_eq!(
        (rec.fs, rec.len(), rec.signal_count()),
        (360.0, (SECONDS * FS) as usize, 2)
    );
    assert_eq!(rec.signals[0].gain, 200.0);
    assert_eq!(rec.signals[0].units, "mV");
    for lead in 0..2 {
        for (i, &adu) in rec.adu(lead).iter().enumerate() {
            if in_gap(i) {
                assert_eq!(adu, cw_wfdb::INVALID_212, "gap at {i}");
            } else {
                // Record 100 is 200 adu/mV too: every stored µV value is 5 × its adu.
                assert_eq!(
                    i64::from(adu) * 5,
                    i64::from(uv[i * 2 + lead]),
                    "lead {lead} at {i}"
                );
            }
        }
    }
    let annotations =
        cw_wfdb::read_annotations(dir.join(format!("{name}.ann"))).expect("annotations");
    let notes: Vec<(u64, String)> = annotations
        .iter()
        .filter(|a| a.code == cw_wfdb::codes::NOTE)
        .map(|a| (a.sample, a.aux.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        notes,
        vec![
            (5 * 360, "alarm pause high fired".to_owned()),
            (6 * 360, "alarm pause high acknowledged".to_owned()),
            (20 * 360, "alarm pause high ended".to_owned()),
        ]
    );
    // The detector's beats against the cardiologists' (100.atr) outside the gap: most
    // reference beats have a detected one within 150 ms, and few beats are extra.
    let detected: Vec<u64> = annotations
        .iter()
        .filter(|a| cw_wfdb::is_beat(a.code))
        .map(|a| a.sample)
        .collect();
    let window = |s: u64| s < (SECONDS * FS) as u64 && !in_gap(s as usize);
    let reference: Vec<u64> = cw_wfdb::read_annotations(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100.atr"),
    )
    .expect("reference")
    .into_iter()
    .filter(|a| cw_wfdb::is_beat(a.code) && window(a.sample))
    .map(|a| a.sample)
    .collect();
    let matched = reference
        .iter()
        .filter(|&&r| detected.iter().any(|&d| d.abs_diff(r) <= 54))
        .count();
    assert!(
        matched * 10 >= reference.len() * 9,
        "{matched} of {} reference beats found; detected {detected:?}",
        reference.len()
    );
    let in_window = detected.iter().filter(|&&d| window(d)).count();
    assert!(
        in_window <= reference.len() + 3,
        "{in_window} beats for {} reference",
        reference.len()
    );
}

#[tokio::test]
async fn exports_are_refused_for_another_doctors_patient_a_bad_format_and_ranges_too_long_wrapped_or_empty()
 {
    let h = ApiHarness::start(Mode::Embedded).await;
    store_ecg(&h).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let other = h
        .http
        .get(h.url(&format!(
            "/v1/patients/{}/ecg/export?{}",
            h.other,
            range("edf")
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 403);
    let start = start_s() * NANOS_PER_SEC;
    for (query, status) in [
        (range("pdf"), 422),
        (
            format!(
                "from_ns={start}&to_ns={}&format=edf",
                start + 7200 * NANOS_PER_SEC
            ),
            422,
        ),
        (
            format!("from_ns={}&to_ns={}&format=wfdb", i64::MIN, i64::MAX),
            422,
        ),
        (format!("from_ns={start}&to_ns={start}&format=edf"), 422),
        (format!("from_ns={start}&format=edf"), 400),
        (format!("from_ns=0&to_ns={NANOS_PER_SEC}&format=edf"), 404),
    ] {
        let r = export(&h, &token, &query).await;
        assert_eq!(r.status(), status, "{query}");
        let body: Value = r.json().await.expect("json error");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}
