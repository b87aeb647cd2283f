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
/// patient's alert id), body, and what an allowed caller gets (`ok`). Who is allowed,
/// and so every expected 401 and 403, comes from the route's declared access rule
/// (`x-access` in `/openapi.json`, from `services/api/src/access_rule.rs`), the one source
/// the router enforces; `answers` overrides it where the request itself changes the rule.
struct Row {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    ok: u16,
    answers: Option<Answers>,
}

/// The expected status per caller for (own, other).
#[derive(Clone, Copy, Debug)]
struct Answers {
    anonymous: u16,
    doctor: (u16, u16),
    admin: (u16, u16),
    ops: (u16, u16),
}

fn row(method: Method, path: &'static str, ok: u16, body: Option<Value>) -> Row {
    Row {
        method,
        path,
        body,
        ok,
        answers: None,
    }
}

/// What each caller gets from a route declared `access` whose allowed answer is `ok`:
/// doctor A's "own" targets are their patient and their own user record.
fn answers(access: &str, ok: u16) -> Answers {
    let (no, mine) = (403, (ok, 403));
    let denied = |doctor, admin, ops| Answers {
        anonymous: 401,
        doctor,
        admin,
        ops,
    };
    match access {
        "public" => Answers {
            anonymous: ok,
            doctor: (ok, ok),
            admin: (ok, ok),
            ops: (ok, ok),
        },
        "any_role" => denied((ok, ok), (ok, ok), (ok, ok)),
        "admin" => denied((no, no), (ok, ok), (no, no)),
        "admin_or_ops" => denied((no, no), (ok, ok), (ok, ok)),
        "doctor" => denied((ok, ok), (no, no), (no, no)),
        "admin_or_self" | "patient_read" | "patient_change" => denied(mine, (ok, ok), (no, no)),
        other => panic!("unknown x-access {other:?}"),
    }
}

/// Every route the api serves. Break-glass comes last: it grants doctor A access to the
/// other patient, which would change the rows after it.
#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    let limits = json!({"hr_high": {"bpm": 130.0, "priority": "high"}, "hr_low": {"bpm": 40.0, "priority": "medium"}});
    let reason = json!({"reason": "patient collapsed in ward 3, covering doctor"});
    // method, path, allowed answer, body
    vec![
        row(Method::GET,  "/healthz",                                        200, None),
        row(Method::GET,  "/readyz",                                         200, None),
        row(Method::GET,  "/openapi.json",                                   200, None),
        row(Method::POST, "/v1/patients/{p}/backtest",                       200, Some(json!({"from_ns": 0, "to_ns": 1_000_000_000_i64, "policy": {"hr_high": {"bpm": 130.0, "priority": "high"}}}))),
        row(Method::GET,  "/v1/patients",                                    200, None),
        row(Method::GET,  "/v1/patients/{p}/thresholds",                     200, None),
        row(Method::PUT,  "/v1/patients/{p}/thresholds",                     200, Some(limits)),
        row(Method::GET,  "/v1/patients/{p}/thresholds/history",             200, None),
        // No patient named: the caller's own patients, which only a doctor has.
        Row { answers: Some(Answers { anonymous: 401, doctor: (200, 200), admin: (403, 403), ops: (403, 403) }),
              ..row(Method::GET, "/v1/alerts",                               200, None) },
        row(Method::GET,  "/v1/alerts?patient={p}",                          200, None),
        // The worklist's WebSocket, as the list above: without an upgrade, 426
        // (api_live_worklist.rs opens it).
        Row { answers: Some(Answers { anonymous: 401, doctor: (426, 426), admin: (403, 403), ops: (403, 403) }),
              ..row(Method::GET, "/v1/alerts/live",                          426, None) },
        row(Method::GET,  "/v1/alerts/{a}/deliveries",                       200, None),
        // The cast's alerts are high priority: past authorization a snooze is refused 409.
        row(Method::POST, "/v1/alerts/{a}/snooze",                           409, Some(json!({"duration_s": 600, "reason": "reviewing the strip"}))),
        row(Method::POST, "/v1/alerts/{a}/triage",                           200, Some(json!({"verdict": "artifact", "note": "motion"}))),
        // The cast's patients have one doctor each: past authorization, 409 (nobody next).
        row(Method::POST, "/v1/alerts/{a}/escalate",                         409, None),
        row(Method::POST, "/v1/alerts/{a}/ack",                              200, None),
        row(Method::POST, "/v1/patients",                                    201, Some(json!({"name": "New Patient", "date_of_birth": "1960-02-03", "mrn": "MRN-NEW-{n}"}))),
        row(Method::GET,  "/v1/patients/{p}",                                200, None),
        row(Method::POST, "/v1/patients/lookup",                             200, Some(json!({"mrn": "{m}"}))),
        row(Method::PUT,  "/v1/patients/{p}/doctors",                        200, Some(json!({"doctors": ["{d}"]}))),
        row(Method::POST, "/v1/auth/login",                                  401, Some(json!({"user": "{d}", "password": "not the password"}))),
        row(Method::POST, "/v1/auth/refresh",                                401, Some(json!({"refresh_token": "never-issued"}))),
        row(Method::POST, "/v1/auth/logout",                                 204, Some(json!({"refresh_token": "never-issued"}))),
        // OIDC sign-in, anonymous by declaration; this api has no provider: past
        // authorization, 404 (api_oidc_signin.rs signs in through a real one).
        row(Method::GET,  "/v1/auth/config",                                 200, None),
        row(Method::GET,  "/v1/auth/oidc/start?return_to=/console/",         404, None),
        row(Method::GET,  "/v1/auth/oidc/callback?code=c&state=s",           404, None),
        row(Method::POST, "/v1/auth/oidc/session",                           404, None),
        row(Method::PUT,  "/v1/users/{d}/login",                             204, Some(json!({"role": "doctor", "password": "correct horse battery staple"}))),
        // The admin disables doctor A (own) and B (other), then enables them again: in
        // between, doctor A's own request to enable is refused as a disabled account (403).
        row(Method::POST, "/v1/users/{d}/disable",                           200, Some(json!({"reason": "left the hospital"}))),
        row(Method::POST, "/v1/users/{d}/enable",                            200, Some(json!({"reason": "came back"}))),
        // The directory: a doctor reads only their own record and sets only their own
        // preferences; contact points are the admin's.
        row(Method::GET,  "/v1/users",                                       200, None),
        row(Method::GET,  "/v1/users/{d}",                                   200, None),
        row(Method::PUT,  "/v1/users/{d}",                                   200, Some(json!({"role": "doctor", "phone": "+1500555{n}", "email": "dr{n}@hospital.example"}))),
        row(Method::PUT,  "/v1/users/me/notify",                             200, Some(json!({"medium": ["in_app"], "quiet_hours": {"start_min_utc": 1320, "end_min_utc": 360}}))),
        row(Method::GET,  "/v1/patients/{p}/ecg?from_ns=0&to_ns=1000000000", 200, None),
        // No ECG stored in that second: past authorization, 404.
        row(Method::GET,  "/v1/patients/{p}/ecg/export?from_ns=0&to_ns=1000000000&format=edf", 404, None),
        row(Method::GET,  "/v1/patients/{p}/beats?from_ns=0&to_ns=1000000000", 200, None),
        row(Method::GET,  "/v1/patients/{p}/hr?from_ns=0&to_ns=1000000000", 200, None),
        row(Method::GET,  "/v1/patients/{p}/vitals?from_ns=0&to_ns=1000000000", 200, None),
        row(Method::GET,  "/v1/patients/{p}/news2?from_ns=0&to_ns=1000000000", 200, None),
        row(Method::GET,  "/v1/patients/{p}/report?from_ns=0&to_ns=1000000000&kind=daily&format=json", 200, None),
        // A WebSocket: allowed callers without an upgrade get 426 (api_live.rs opens it).
        row(Method::GET,  "/v1/patients/{p}/live",                           426, None),
        row(Method::GET,  "/fhir/R4/metadata",                               200, None),
        row(Method::GET,  "/fhir/R4/Patient/{p}",                            200, None),
        row(Method::GET,  "/fhir/R4/Device/{v}",                             200, None),
        row(Method::GET,  "/fhir/R4/Observation?patient={p}&date=ge1970-01-01T00:00:00Z&date=lt1970-01-01T00:00:01Z", 200, None),
        row(Method::GET,  "/fhir/R4/DetectedIssue?patient={p}",              200, None),
        row(Method::GET,  "/fhir/R4/DiagnosticReport?patient={p}&date=ge1970-01-01T00:00:00Z&date=lt1970-01-01T00:00:01Z", 200, None),
        row(Method::GET,  "/fhir/R4/Patient?_id={p}",                        200, None),
        row(Method::GET,  "/fhir/R4/Device?patient={p}",                     200, None),
        row(Method::GET,  "/fhir/R4/Communication?patient={p}",              200, None),
        row(Method::GET,  "/fhir/R4/AuditEvent?date=ge1970-01-01T00:00:00Z&date=lt1970-01-02T00:00:00Z", 200, None),
        row(Method::GET,  "/v1/devices",                                     200, None),
        row(Method::POST, "/v1/devices",                                     201, Some(json!({"patient": "{p}"}))),
        row(Method::PUT,  "/v1/devices/{v}/certificate",                     200, Some(json!({"cert_sha256": "{n}000000000000000000000000000000000000000000000000000000000000"}))),
        row(Method::POST, "/v1/devices/{v}/token",                           200, None),
        row(Method::POST, "/v1/devices/{v}/revoke",                          200, None),
        row(Method::GET,  "/v1/audit",                                       200, None),
        row(Method::GET,  "/v1/audit/verify",                                200, None),
        row(Method::GET,  "/v1/reports/fatigue?days=7",                      200, None),
        row(Method::GET,  "/v1/shards",                                      200, None),
        row(Method::POST, "/v1/patients/{p}/break-glass",                    200, Some(reason)),
    ]
}

/// `METHOD /template` of a row, as `/openapi.json` names the route.
fn route_of(r: &Row) -> String {
    let path = r.path.split('?').next().unwrap_or(r.path);
    let path = ["{p}", "{a}", "{v}", "{d}"]
        .iter()
        .fold(path.to_owned(), |p, t| p.replace(t, "{id}"));
    format!("{} {path}", r.method)
}

/// Each documented route's declared access rule (`x-access`), by `METHOD /template`.
async fn declared_access(h: &ApiHarness) -> std::collections::BTreeMap<String, String> {
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
    let mut declared = std::collections::BTreeMap::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let access = op["x-access"].as_str().unwrap_or("<none>").to_owned();
            declared.insert(format!("{} {path}", method.to_uppercase()), access);
        }
    }
    declared
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
    let declared = declared_access(&h).await;
    for r in matrix() {
        let access = declared
            .get(&route_of(&r))
            .map(String::as_str)
            .unwrap_or("<none>");
        let expect = r.answers.unwrap_or_else(|| answers(access, r.ok));
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
                    Who::Anonymous => expect.anonymous,
                    Who::Doctor => pick(expect.doctor),
                    Who::Admin => pick(expect.admin),
                    Who::Ops => pick(expect.ops),
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
                        "{} {} ({access}) as {who:?} on {target:?}: got {status}, expected {expected}",
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

/// The matrix and `/openapi.json` name exactly the same routes, and each has a declared
/// access rule: a new route must be documented, declare who may call it, and get its
/// row here, or this fails.
#[tokio::test]
async fn every_route_in_the_matrix_is_documented_with_its_access_and_nothing_else() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let declared = declared_access(&h).await;
    let undeclared: Vec<&String> = declared
        .iter()
        .filter(|(_, access)| access.as_str() == "<none>")
        .map(|(route, _)| route)
        .collect();
    assert!(undeclared.is_empty(), "no x-access: {undeclared:?}");
    let documented: std::collections::BTreeSet<String> = declared.into_keys().collect();
    let tested: std::collections::BTreeSet<String> = matrix().iter().map(route_of).collect();
    assert_eq!(documented, tested);
}

/// Every `/v1` JSON request body and success answer in `/openapi.json` has a real schema
/// (a named type, typed properties, typed items), not a bare `object`: schemathesis
/// (api_fuzz.rs) fuzzes and checks against these.
#[tokio::test]
async fn every_api_body_and_answer_has_a_real_schema() {
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
    fn real(schema: &Value) -> bool {
        schema.get("$ref").is_some()
            || schema.get("allOf").is_some()
            || schema.get("oneOf").is_some()
            || schema["properties"]
                .as_object()
                .is_some_and(|p| !p.is_empty())
            || schema.get("items").is_some_and(real)
    }
    let mut vague = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, op) in item.as_object().expect("path item") {
            let mut schemas = vec![(
                "request",
                &op["requestBody"]["content"]["application/json"]["schema"],
            )];
            for (status, answer) in op["responses"].as_object().expect("responses") {
                if status.starts_with('2') || status.starts_with('4') || status.starts_with('5') {
                    schemas.push((
                        status.as_str(),
                        &answer["content"]["application/json"]["schema"],
                    ));
                }
            }
            for (what, schema) in schemas {
                if !schema.is_null() && !real(schema) {
                    vague.push(format!("{method} {path} {what}: {schema}"));
                }
            }
        }
    }
    assert!(vague.is_empty(), "{}", vague.join("\n"));
    // The shapes the answers actually have (schemathesis checks every answer against them).
    let schemas = &spec["components"]["schemas"];
    assert_eq!(schemas["Error"]["required"], json!(["error"]));
    let alert = &schemas["Alert"]["properties"];
    assert_eq!(
        alert["value"]["type"],
        json!(["number", "null"]),
        "NaN travels as null"
    );
    assert!(
        schemas["AlertView"]["allOf"].is_array(),
        "{}",
        schemas["AlertView"]
    );
}
