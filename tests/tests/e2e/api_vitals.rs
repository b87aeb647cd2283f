//! `GET /v1/patients/{id}/vitals` and `…/news2`: numerics and the NEWS2 trend read back
//! through the api, on both backends.

use cw_core::time::NANOS_PER_SEC;
use cw_core::{DeviceId, Role, Site, VitalBatch, VitalKind, VitalReading, VitalStatus};
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::{Value, json};

async fn vitals_range_reads_readings_and_statuses(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let start = cw_e2e::env::recent_second() * NANOS_PER_SEC;
    let at = |s: i64| start + s * NANOS_PER_SEC;
    let reading = |s, kind, value: Option<f32>| VitalReading {
        time_ns: at(s),
        kind,
        site: Site::Unspecified,
        status: if value.is_some() {
            VitalStatus::Valid
        } else {
            VitalStatus::SensorOff
        },
        value,
    };
    let readings = vec![
        reading(0, VitalKind::Spo2, Some(97.0)),
        reading(0, VitalKind::RespirationRate, Some(14.0)),
        reading(1, VitalKind::Spo2, None),
        reading(2, VitalKind::Spo2, Some(89.5)),
    ];
    h.stores
        .samples
        .write_vitals(&[VitalBatch {
            patient: h.own.clone(),
            device: DeviceId::random(),
            seq: 1,
            readings,
        }])
        .await
        .expect("write");
    let token = h.token(&h.doctor_a, Role::Doctor);
    let get = |query: String| h.get_json(&token, format!("/v1/patients/{}/vitals?{query}", h.own));
    let (status, all) = get(format!("from_ns={}&to_ns={}", at(0), at(3))).await;
    assert_eq!(status, 200);
    assert_eq!(
        all["readings"],
        json!([
            {"time_ns": at(0), "kind": "spo2", "site": "unspecified", "status": "valid", "value": 97.0},
            {"time_ns": at(0), "kind": "respiration_rate", "site": "unspecified", "status": "valid", "value": 14.0},
            {"time_ns": at(1), "kind": "spo2", "site": "unspecified", "status": "sensor_off", "value": null},
            {"time_ns": at(2), "kind": "spo2", "site": "unspecified", "status": "valid", "value": 89.5},
        ])
    );
    // NEWS2 at the last reading: SpO2 89.5 → 90 scores 3, RR 14 scores 0; oxygen and
    // consciousness were not recorded, so they are scored 0 and listed as assumed.
    let news2 = &all["news2"];
    assert_eq!(news2["at_ns"], json!(at(2)));
    assert_eq!(news2["total"], 3);
    assert_eq!(news2["response"], "urgent");
    assert_eq!(news2["assumed"], json!(["air_or_oxygen", "consciousness"]));
    assert_eq!(
        news2["missing"],
        json!(["systolic_bp", "pulse", "temperature"])
    );
    let (_, spo2) = get(format!("from_ns={}&to_ns={}&kind=spo2", at(1), at(3))).await;
    assert_eq!(spo2["readings"].as_array().expect("list").len(), 2);
    assert_eq!(spo2["news2"], Value::Null);
    let (status, bad) = get(format!("from_ns={}&to_ns={}&kind=glucose", at(0), at(3))).await;
    assert_eq!(status, 422);
    assert_eq!(bad["error"]["field"], "kind");
    let (status, _) = get(format!("from_ns={}&to_ns={}", at(0), at(25 * 3600))).await;
    assert_eq!(status, 422);
    let other = h
        .http
        .get(h.url(&format!(
            "/v1/patients/{}/vitals?from_ns={}&to_ns={}",
            h.other,
            at(0),
            at(3)
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 403);
}

#[tokio::test]
async fn embedded_vitals_range_reads_readings_and_statuses() {
    vitals_range_reads_readings_and_statuses(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_vitals_range_reads_readings_and_statuses() {
    vitals_range_reads_readings_and_statuses(Mode::Servers).await;
}

/// `GET /v1/patients/{id}/news2`: the stored NEWS2 trend with its components, in time
/// order, for the patient's doctor only; each read is an audited PHI access.
async fn news2_trend_reads_stored_scores(mode: Mode) {
    use cw_core::audit::AuditOutcome;
    use cw_core::news2::{Component, News2, News2Assessment, Parameter, Response};
    let h = ApiHarness::start(mode).await;
    let start = cw_e2e::env::recent_second() * NANOS_PER_SEC;
    let at = |s: i64| start + s * NANOS_PER_SEC;
    let score = |s, rr: u8| News2Assessment {
        at_ns: at(s),
        score: News2 {
            total: rr,
            components: vec![Component {
                parameter: Parameter::RespirationRate,
                score: rr,
            }],
            missing: vec![Parameter::Spo2],
            response: if rr == 3 {
                Response::Urgent
            } else {
                Response::Routine
            },
        },
        assumed: vec![Parameter::AirOrOxygen],
    };
    h.stores
        .samples
        .write_news2(&h.own, &[score(5, 3), score(0, 0)])
        .await
        .expect("write");
    let token = h.token(&h.doctor_a, Role::Doctor);
    let get = |patient: &cw_core::PatientId, from, to| {
        h.http
            .get(h.url(&format!(
                "/v1/patients/{patient}/news2?from_ns={from}&to_ns={to}"
            )))
            .bearer_auth(&token)
            .send()
    };
    let r = get(&h.own, at(0), at(10)).await.expect("request");
    assert_eq!(r.status(), 200);
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["scores"],
        json!([
            {"at_ns": at(0), "total": 0, "components": [{"parameter": "respiration_rate", "score": 0}],
             "missing": ["spo2"], "response": "routine", "assumed": ["air_or_oxygen"]},
            {"at_ns": at(5), "total": 3, "components": [{"parameter": "respiration_rate", "score": 3}],
             "missing": ["spo2"], "response": "urgent", "assumed": ["air_or_oxygen"]},
        ])
    );
    let events = h.stores.records.audit_events(1, 1000).await.expect("audit");
    let event = events
        .iter()
        .find(|e| e.entry.request_id == id)
        .expect("the read is audited");
    assert_eq!(event.entry.action, "GET /v1/patients/{id}/news2");
    assert_eq!(event.entry.patient.as_ref(), Some(&h.own));
    assert_eq!(event.entry.outcome, AuditOutcome::Allowed);
    let r = get(&h.own, at(0), at(25 * 3600)).await.expect("request");
    assert_eq!(r.status(), 422);
    let r = get(&h.other, at(0), at(10)).await.expect("request");
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn embedded_news2_trend_reads_stored_scores() {
    news2_trend_reads_stored_scores(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_news2_trend_reads_stored_scores() {
    news2_trend_reads_stored_scores(Mode::Servers).await;
}
