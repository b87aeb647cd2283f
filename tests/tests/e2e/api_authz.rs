//! The authorization matrix: every endpoint × every role × own / other patient, each
//! answer asserted exactly; and every denial is in the audit chain.

use cw_core::Role;
use cw_core::audit::AuditOutcome;
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use reqwest::Method;
use serde_json::{Value, json};

/// Who calls. `Own` / `Other` is the patient the request targets: for doctor A "own" is
/// their assigned patient, "other" is doctor B's.
#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Doctor,
    Admin,
    Ops,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Own,
    Other,
}

/// One endpoint: method, path (with `{p}` for the patient id and `{a}` for that
/// patient's alert id), body, and the expected status per caller for (own, other).
struct Row {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    anonymous: u16,
    doctor: (u16, u16),
    admin: (u16, u16),
    ops: (u16, u16),
}

fn row(
    method: Method,
    path: &'static str,
    anonymous: u16,
    doctor: (u16, u16),
    admin: (u16, u16),
    ops: (u16, u16),
    body: Option<Value>,
) -> Row {
    Row {
        method,
        path,
        body,
        anonymous,
        doctor,
        admin,
        ops,
    }
}

/// Every route the api serves. Break-glass comes last: it grants doctor A access to the
/// other patient, which would change the rows after it.
#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    let limits = json!({"hr_high": {"bpm": 130.0, "priority": "high"}, "hr_low": {"bpm": 40.0, "priority": "medium"}});
    let reason = json!({"reason": "patient collapsed in ward 3, covering doctor"});
    // method, path, anonymous, doctor A (own, other), admin (own, other), ops (own, other), body
    vec![
        row(Method::GET,  "/healthz",                                        200, (200, 200), (200, 200), (200, 200), None),
        row(Method::GET,  "/readyz",                                         200, (200, 200), (200, 200), (200, 200), None),
        row(Method::GET,  "/openapi.json",                                   200, (200, 200), (200, 200), (200, 200), None),
        row(Method::POST, "/v1/patients/{p}/backtest",                       401, (200, 403), (200, 200), (403, 403), Some(json!({"from_ns": 0, "to_ns": 1_000_000_000_i64, "policy": {"hr_high": {"bpm": 130.0, "priority": "high"}}}))),
        row(Method::GET,  "/v1/patients",                                    401, (200, 200), (403, 403), (403, 403), None),
        row(Method::GET,  "/v1/patients/{p}/thresholds",                     401, (200, 403), (200, 200), (403, 403), None),
        row(Method::PUT,  "/v1/patients/{p}/thresholds",                     401, (200, 403), (200, 200), (403, 403), Some(limits)),
        row(Method::GET,  "/v1/alerts",                                      401, (200, 200), (403, 403), (403, 403), None),
        row(Method::GET,  "/v1/alerts?patient={p}",                          401, (200, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/v1/alerts/{a}/deliveries",                       401, (200, 403), (200, 200), (403, 403), None),
        // The cast's alerts are high priority: past authorization a snooze is refused 409.
        row(Method::POST, "/v1/alerts/{a}/snooze",                           401, (409, 403), (409, 409), (403, 403), Some(json!({"duration_s": 600, "reason": "reviewing the strip"}))),
        row(Method::POST, "/v1/alerts/{a}/ack",                              401, (200, 403), (200, 200), (403, 403), None),
        row(Method::POST, "/v1/patients",                                    401, (403, 403), (201, 201), (403, 403), Some(json!({"name": "New Patient", "date_of_birth": "1960-02-03", "mrn": "MRN-NEW-{n}"}))),
        row(Method::GET,  "/v1/patients/{p}",                                401, (200, 403), (200, 200), (403, 403), None),
        row(Method::POST, "/v1/patients/lookup",                             401, (200, 403), (200, 200), (403, 403), Some(json!({"mrn": "{m}"}))),
        row(Method::PUT,  "/v1/patients/{p}/doctors",                        401, (403, 403), (200, 200), (403, 403), Some(json!({"doctors": ["{d}"]}))),
        row(Method::POST, "/v1/auth/login",                                  401, (401, 401), (401, 401), (401, 401), Some(json!({"user": "{d}", "password": "not the password"}))),
        row(Method::POST, "/v1/auth/refresh",                                401, (401, 401), (401, 401), (401, 401), Some(json!({"refresh_token": "never-issued"}))),
        row(Method::POST, "/v1/auth/logout",                                 204, (204, 204), (204, 204), (204, 204), Some(json!({"refresh_token": "never-issued"}))),
        row(Method::PUT,  "/v1/users/{d}/login",                             401, (403, 403), (204, 204), (403, 403), Some(json!({"role": "doctor", "password": "correct horse battery staple"}))),
        // The admin disables doctor A (own) and B (other), then enables them again: in
        // between, doctor A's own request to enable is refused as a disabled account (403).
        row(Method::POST, "/v1/users/{d}/disable",                           401, (403, 403), (200, 200), (403, 403), Some(json!({"reason": "left the hospital"}))),
        row(Method::POST, "/v1/users/{d}/enable",                            401, (403, 403), (200, 200), (403, 403), Some(json!({"reason": "came back"}))),
        // The directory: a doctor reads only their own record and sets only their own
        // preferences; contact points are the admin's.
        row(Method::GET,  "/v1/users",                                       401, (403, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/v1/users/{d}",                                   401, (200, 403), (200, 200), (403, 403), None),
        row(Method::PUT,  "/v1/users/{d}",                                   401, (403, 403), (200, 200), (403, 403), Some(json!({"role": "doctor", "phone": "+1500555{n}", "email": "dr{n}@hospital.example"}))),
        row(Method::PUT,  "/v1/users/me/notify",                             401, (200, 200), (200, 200), (200, 200), Some(json!({"medium": ["in_app"], "quiet_hours": {"start_min_utc": 1320, "end_min_utc": 360}}))),
        row(Method::GET,  "/v1/patients/{p}/ecg?from_ns=0&to_ns=1000000000", 401, (200, 403), (200, 200), (403, 403), None),
        // No ECG stored in that second: past authorization, 404.
        row(Method::GET,  "/v1/patients/{p}/ecg/export?from_ns=0&to_ns=1000000000&format=edf", 401, (404, 403), (404, 404), (403, 403), None),
        row(Method::GET,  "/v1/patients/{p}/beats?from_ns=0&to_ns=1000000000", 401, (200, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/v1/patients/{p}/vitals?from_ns=0&to_ns=1000000000", 401, (200, 403), (200, 200), (403, 403), None),
        // A WebSocket: allowed callers without an upgrade get 426 (api_live.rs opens it).
        row(Method::GET,  "/v1/patients/{p}/live",                           401, (426, 403), (426, 426), (403, 403), None),
        row(Method::GET,  "/fhir/R4/metadata",                               200, (200, 200), (200, 200), (200, 200), None),
        row(Method::GET,  "/fhir/R4/Patient/{p}",                            401, (200, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/fhir/R4/Device/{v}",                             401, (200, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/fhir/R4/Observation?patient={p}&date=ge1970-01-01T00:00:00Z&date=lt1970-01-01T00:00:01Z", 401, (200, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/fhir/R4/DetectedIssue?patient={p}",              401, (200, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/v1/devices",                                     401, (403, 403), (200, 200), (403, 403), None),
        row(Method::POST, "/v1/devices",                                     401, (403, 403), (201, 201), (403, 403), Some(json!({"patient": "{p}"}))),
        row(Method::PUT,  "/v1/devices/{v}/certificate",                     401, (403, 403), (200, 200), (403, 403), Some(json!({"cert_sha256": "{n}000000000000000000000000000000000000000000000000000000000000"}))),
        row(Method::POST, "/v1/devices/{v}/token",                           401, (403, 403), (200, 200), (403, 403), None),
        row(Method::POST, "/v1/devices/{v}/revoke",                          401, (403, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/v1/audit",                                       401, (403, 403), (200, 200), (403, 403), None),
        row(Method::GET,  "/v1/reports/fatigue?days=7",                      401, (200, 200), (200, 200), (200, 200), None),
        row(Method::POST, "/v1/patients/{p}/break-glass",                    401, (200, 200), (403, 403), (403, 403), Some(reason)),
    ]
}

/// Registers a device of `patient` straight in the store (the rows act on it).
async fn device_of(h: &ApiHarness, patient: &cw_core::PatientId) -> cw_core::DeviceId {
    let device = cw_core::Device {
        id: cw_core::DeviceId::random(),
        patient: patient.clone(),
        token_sha256: cw_core::device::token_sha256(&patient.to_string()),
        revoked: false,
        cert_sha256: None,
    };
    h.stores.records.put_device(&device).await.expect("device");
    device.id
}

async fn run_matrix(mode: Mode) {
    // Each anonymous refusal recorded one by one (not aggregated per source, as by
    // default), so every request's outcome can be matched below.
    let h = ApiHarness::start_with(mode, |cfg| cfg.anonymous_denials.window_s = 0).await;
    let mut mismatches = Vec::new();
    let mut denials = 0;
    let mut v1_requests = 0;
    let mut counter = 0;
    let (own_device, other_device) = (device_of(&h, &h.own).await, device_of(&h, &h.other).await);
    for r in matrix() {
        for who in [Who::Anonymous, Who::Doctor, Who::Admin, Who::Ops] {
            for target in [Target::Own, Target::Other] {
                let (patient, alert, mrn, doctor, device) = match target {
                    Target::Own => (&h.own, &h.own_alert, &h.own_mrn, &h.doctor_a, &own_device),
                    Target::Other => (
                        &h.other,
                        &h.other_alert,
                        &h.other_mrn,
                        &h.doctor_b,
                        &other_device,
                    ),
                };
                counter += 1;
                let fill = |raw: &str| {
                    raw.replace("{p}", patient.as_str())
                        .replace("{a}", alert.as_str())
                        .replace("{m}", mrn)
                        .replace("{d}", doctor.as_str())
                        .replace("{v}", device.as_str())
                        .replace("{n}", &format!("{counter:04}"))
                };
                let path = fill(r.path);
                let mut req = h.http.request(r.method.clone(), h.url(&path));
                let pick = |pair: (u16, u16)| match target {
                    Target::Own => pair.0,
                    Target::Other => pair.1,
                };
                let expected = match who {
                    Who::Anonymous => r.anonymous,
                    Who::Doctor => pick(r.doctor),
                    Who::Admin => pick(r.admin),
                    Who::Ops => pick(r.ops),
                };
                let token = match who {
                    Who::Anonymous => None,
                    // The matrix disables and enables doctor A, which ends their
                    // older tokens: each request gets a token of the current session.
                    Who::Doctor => Some(h.current_token(&h.doctor_a, Role::Doctor).await),
                    Who::Admin => Some(h.token(&h.admin, Role::Admin)),
                    Who::Ops => Some(h.token(&h.ops, Role::Ops)),
                };
                if let Some(token) = token {
                    req = req.bearer_auth(token);
                }
                if let Some(body) = &r.body {
                    req = req
                        .header("content-type", "application/json")
                        .body(fill(&body.to_string()));
                }
                let status = req.send().await.expect("request").status().as_u16();
                if status != expected {
                    mismatches.push(format!(
                        "{} {} as {who:?} on {target:?}: got {status}, expected {expected}",
                        r.method, r.path
                    ));
                }
                if path.starts_with("/v1/") || path.starts_with("/fhir/") {
                    v1_requests += 1;
                    if expected == 401 || expected == 403 {
                        denials += 1;
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // Every /v1 request left an outcome in the chain, every denial as `denied`.
    let report = cw_storage::audit::verify_chain(h.stores.records.as_ref(), &h.storage.audit)
        .await
        .expect("verify");
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    let events = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let outcomes = |o: AuditOutcome| events.iter().filter(|e| e.entry.outcome == o).count();
    assert_eq!(outcomes(AuditOutcome::Denied), denials);
    let finished = events
        .iter()
        .filter(|e| {
            e.entry.outcome != AuditOutcome::Attempt
                && (e.entry.action.contains(" /v1/") || e.entry.action.contains(" /fhir/"))
        })
        .count();
    assert_eq!(finished, v1_requests);
}

#[tokio::test]
async fn embedded_every_endpoint_answers_each_role_and_patient_exactly() {
    run_matrix(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_every_endpoint_answers_each_role_and_patient_exactly() {
    run_matrix(Mode::Servers).await;
}

/// The matrix and `/openapi.json` name exactly the same routes: a new route must be
/// documented and get its authorization row, or this fails.
#[tokio::test]
async fn every_route_in_the_matrix_is_documented_and_nothing_else() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let spec: Value = h
        .http
        .get(h.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert_eq!(spec["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let tested: std::collections::BTreeSet<String> = matrix()
        .iter()
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or(r.path);
            let path = ["{p}", "{a}", "{v}", "{d}"]
                .iter()
                .fold(path.to_owned(), |p, t| p.replace(t, "{id}"));
            format!("{} {path}", r.method)
        })
        .collect();
    assert_eq!(documented, tested);
}
