//! The end-of-monitoring report over several days (docs/reports.md, "Reports over many
//! days"), on the servers (InfluxDB and the MongoDB-protocol server): two minutes of
//! MIT-BIH record 203 on each of three days and an alarm on the second, then
//! `kind=end` over four whole UTC days. Its figures must be those of the four daily
//! reports added up (the daily ones analyse a day at once, the end one merges the
//! per-day summaries), the second answer (from the stored summaries) the first's, and
//! the PDF and the FHIR DiagnosticReport must print them. Ranges past 31 days or not on
//! day bounds are refused with the JSON error shape.

use cw_core::time::NANOS_PER_SEC;
use cw_core::{Alert, DeviceId, Priority, Role, RuleKind, SampleBlock};
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::Value;
use std::path::PathBuf;

const FS: i64 = 360;
const STRETCH_S: i64 = 120;
const DAY: i64 = 86_400 * NANOS_PER_SEC;

/// 00:00 UTC five days ago: the four days from it are closed, so their summaries are kept.
fn first_day() -> i64 {
    let now = cw_core::time::now_ns();
    now - now.rem_euclid(DAY) - 5 * DAY
}

/// Record 203's first two minutes at noon of days 0, 1 and 2, and a high alarm on day 1
/// acknowledged 30 s after it fired.
async fn store_days(h: &ApiHarness, d0: i64) -> Alert {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mitdb/203");
    let record = cw_wfdb::Record::open(&dir)
        .unwrap_or_else(|e| panic!("record 203 at {}: {e}", dir.display()));
    let uv = record.microvolts_interleaved();
    let device = DeviceId::random();
    let per = (FS * 2) as usize;
    for day in 0..3 {
        let noon = d0 + day * DAY + DAY / 2;
        let blocks: Vec<SampleBlock> = (0..STRETCH_S)
            .map(|s| SampleBlock {
                patient: h.own.clone(),
                device: device.clone(),
                seq: (day * STRETCH_S + s) as u64 + 1,
                start_ns: noon + s * NANOS_PER_SEC,
                rate_hz: FS as u32,
                leads: 2,
                samples_uv: uv[s as usize * per..(s as usize + 1) * per].to_vec(),
                lead_off: false,
            })
            .collect();
        for chunk in blocks.chunks(60) {
            h.stores.samples.write(chunk).await.expect("write");
        }
    }
    let fired = d0 + DAY + DAY / 2 + 60 * NANOS_PER_SEC;
    let alarm = Alert::firing(h.own.clone(), RuleKind::Pause, Priority::High, fired);
    h.stores.records.open_alert(&alarm).await.expect("open");
    h.stores
        .records
        .acknowledge_alert(&alarm.id, h.doctor_a.as_str(), fired + 30 * NANOS_PER_SEC)
        .await
        .expect("ack");
    alarm
}

async fn get(h: &ApiHarness, token: &str, path: &str) -> reqwest::Response {
    h.http
        .get(h.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn figures(h: &ApiHarness, token: &str, from: i64, to: i64, kind: &str) -> Value {
    let r = get(
        h,
        token,
        &format!(
            "/v1/patients/{}/report?from_ns={from}&to_ns={to}&kind={kind}&format=json",
            h.own
        ),
    )
    .await;
    assert_eq!(r.status(), 200, "{from}..{to}");
    r.json().await.expect("json")
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("count: {v}"))
}

fn x(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("number: {v}"))
}

#[tokio::test]
async fn an_end_report_over_four_days_adds_up_its_days_prints_them_and_is_bounded() {
    let h = ApiHarness::start(Mode::Servers).await;
    let d0 = first_day();
    let alarm = store_days(&h, d0).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let (from, to) = (d0, d0 + 4 * DAY);

    let end = figures(&h, &token, from, to, "end").await;
    let daily: Vec<Value> = futures::future::join_all(
        (0..4).map(|k| figures(&h, &token, d0 + k * DAY, d0 + (k + 1) * DAY, "daily")),
    )
    .await;
    println!("end report over 4 days: {end}");
    assert_eq!(x(&end["monitoring_s"]), 3.0 * STRETCH_S as f64, "{end}");
    assert_eq!(x(&daily[3]["monitoring_s"]), 0.0);
    // Counts add up exactly; durations to the rounding of each day.
    for path in [
        &["beats"][..],
        &["ectopy", "pvcs"][..],
        &["ectopy", "classified_beats"][..],
        &["ectopy", "couplets"][..],
        &["ectopy", "runs"][..],
        &["ectopy", "isolated_pvcs"][..],
        &["af", "episodes"][..],
        &["pauses", "count"][..],
    ] {
        let at = |v: &Value| path.iter().fold(v.clone(), |v, k| v[*k].clone());
        let sum: u64 = daily.iter().map(|d| n(&at(d))).sum();
        assert_eq!(n(&at(&end)), sum, "{path:?}: {end}");
    }
    for path in [["analysable_s"], ["monitoring_s"]] {
        let sum: f64 = daily.iter().map(|d| x(&d[path[0]])).sum();
        assert!((x(&end[path[0]]) - sum).abs() < 0.25, "{path:?}");
    }
    assert!(n(&end["ectopy"]["pvcs"]) > 20, "{end}");
    assert!(n(&end["af"]["episodes"]) >= 1, "{end}");
    // The trend is the days' minutes one after the other; min and max theirs.
    let trend: Vec<Value> = daily
        .iter()
        .flat_map(|d| d["hr_trend"].as_array().expect("trend").clone())
        .collect();
    assert_eq!(end["hr_trend"], Value::Array(trend));
    let min = daily
        .iter()
        .filter(|d| !d["heart_rate"].is_null())
        .map(|d| x(&d["heart_rate"]["min_bpm"]))
        .fold(f64::MAX, f64::min);
    assert_eq!(x(&end["heart_rate"]["min_bpm"]), min);
    assert_eq!(end["alarms"].as_array().map(Vec::len), Some(1));
    assert_eq!(end["alarms"][0]["id"], alarm.id.to_string());
    assert_eq!(end["alarms"][0]["ack_after_s"], 30.0);

    // The four closed days are kept; asked again, the answer comes from them, equal.
    let kept = h
        .stores
        .records
        .report_days(&h.own, from, to)
        .await
        .expect("days");
    assert_eq!(kept.len(), 4, "{kept:?}");
    assert_eq!(figures(&h, &token, from, to, "end").await, end);

    // The PDF prints the figures and carries the alarm's strip.
    let base = format!("/v1/patients/{}/report?from_ns={from}&to_ns={to}", h.own);
    let r = get(&h, &token, &format!("{base}&kind=end")).await;
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("end.pdf");
    std::fs::write(&path, r.bytes().await.expect("pdf")).expect("write");
    let text = super::report::pdf_text(&path);
    assert!(text.contains("End-of-monitoring report"), "{text}");
    let lines = super::report::figure_lines(&end);
    for line in &lines {
        assert!(text.contains(line), "{line:?} not in the PDF:\n{text}");
    }
    let strip_clock = super::report::clock(alarm.fired_ns);
    assert!(
        text.contains(&strip_clock),
        "the strip of {strip_clock}: {text}"
    );

    // The FHIR DiagnosticReport of the same days, valid for fhir.resources.
    let iso = |t: i64| cw_core::time::UtcDateTime::from_nanos(t).rfc3339_millis();
    let r = get(
        &h,
        &token,
        &format!(
            "/fhir/R4/DiagnosticReport?patient={}&date=ge{}&date=lt{}&kind=end",
            h.own,
            iso(from),
            iso(to)
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    let bundle: Value = r.json().await.expect("fhir json");
    let conclusion = super::report::one_space(
        bundle["entry"][0]["resource"]["conclusion"]
            .as_str()
            .expect("conclusion"),
    );
    let af = lines
        .iter()
        .find(|l| l.starts_with("AF burden"))
        .expect("AF line");
    assert!(conclusion.contains(af.as_str()), "{conclusion}");
    super::fhir::validate(std::slice::from_ref(&bundle));

    // Bounds: 31 days at most, whole UTC days beyond one.
    for (query, field) in [
        (format!("from_ns={from}&to_ns={}", from + 32 * DAY), "to_ns"),
        (
            format!("from_ns={}&to_ns={to}", from + 3600 * NANOS_PER_SEC),
            "from_ns",
        ),
    ] {
        let r = get(
            &h,
            &token,
            &format!("/v1/patients/{}/report?{query}&kind=end", h.own),
        )
        .await;
        assert_eq!(r.status(), 422, "{query}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
}
