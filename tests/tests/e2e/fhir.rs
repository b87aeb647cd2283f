//! The FHIR R4 facade (`/fhir/R4`): 30 s of MIT-BIH record 100 (with a 2 s gap) and an
//! alarm stored through the real stores; the doctor reads the CapabilityStatement, the
//! Patient (with PHI), the Device, heart-rate and ECG-strip Observations (paged), and the
//! alarms as DetectedIssues; every resource received is validated by `fhir.resources`
//! (PyPI, `tests/assets/python/validate_fhir.py`). Refusals come as OperationOutcomes, and
//! reads are audited with their patient. Then the searches of patients, devices, the
//! pages of alarms (Communication) and the audit trail (AuditEvent), on both backends.

use super::api_export::{FS, SECONDS, start_s, store_alarm, store_ecg};
use cw_core::Role;
use cw_core::audit::AuditOutcome;
use cw_e2e::api::ApiHarness;
use cw_e2e::env::required;
use cw_e2e::system::Mode;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

struct Client<'a> {
    h: &'a ApiHarness,
    token: String,
    /// Every resource received, for the validator.
    seen: Vec<Value>,
}

impl Client<'_> {
    async fn get(&mut self, url: &str, status: u16) -> Value {
        let url = if url.starts_with("https://") {
            url.to_owned()
        } else {
            self.h.url(url)
        };
        let r = self
            .h
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), status, "{url}");
        assert_eq!(
            r.headers()["content-type"],
            "application/fhir+json",
            "{url}"
        );
        let body: Value = r.json().await.expect("json");
        self.seen.push(body.clone());
        body
    }
}

impl Client<'_> {
    /// A refusal as some other caller (`token`, or none) gets it: an OperationOutcome.
    async fn refused(&mut self, url: &str, token: Option<&str>, status: u16) -> Value {
        let mut req = self.h.http.get(self.h.url(url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let r = req.send().await.expect("request");
        assert_eq!(r.status(), status, "{url}");
        assert_eq!(
            r.headers()["content-type"],
            "application/fhir+json",
            "{url}"
        );
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
        self.seen.push(body.clone());
        body
    }
}

pub(crate) fn validate(resources: &[Value]) {
    let python = required("CW_TEST_PYTHON");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/python/validate_fhir.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for r in resources {
            writeln!(stdin, "{r}").expect("write");
        }
    }
    let out = child.wait_with_output().expect("validator ends");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "fhir.resources refused:\n{report}");
    let checked = report.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(checked >= resources.len(), "{report}");
}

fn iso(s: i64) -> String {
    cw_core::time::UtcDateTime::from_nanos(s * 1_000_000_000).rfc3339_millis()
}

#[tokio::test]
async fn a_doctor_reads_patient_device_observations_and_alarms_as_valid_fhir_with_paging() {
    let h = ApiHarness::start(Mode::Embedded).await;
    store_ecg(&h).await;
    store_alarm(&h).await;
    let device = cw_core::Device {
        id: cw_core::DeviceId::random(),
        patient: h.own.clone(),
        token_sha256: cw_core::device::token_sha256("fhir-test"),
        revoked: false,
        cert_sha256: None,
    };
    h.stores.records.put_device(&device).await.expect("device");
    let mut c = Client {
        h: &h,
        token: h.token(&h.doctor_a, Role::Doctor),
        seen: Vec::new(),
    };

    let cap = c.get("/fhir/R4/metadata", 200).await;
    assert_eq!(cap["fhirVersion"], "4.0.1");

    let patient = c.get(&format!("/fhir/R4/Patient/{}", h.own), 200).await;
    assert_eq!(patient["name"][0]["text"], format!("Patient {}", h.own_mrn));
    assert_eq!(patient["birthDate"], "1950-01-01");
    assert_eq!(patient["identifier"][0]["value"], h.own_mrn.as_str());

    let dev = c.get(&format!("/fhir/R4/Device/{}", device.id), 200).await;
    assert_eq!(dev["status"], "active");
    assert_eq!(dev["patient"]["reference"], format!("Patient/{}", h.own));

    let range = format!(
        "date=ge{}&date=lt{}",
        iso(start_s()),
        iso(start_s() + SECONDS)
    );
    let hr = c
        .get(
            &format!(
                "/fhir/R4/Observation?patient={}&code=http://loinc.org|8867-4&{range}",
                h.own
            ),
            200,
        )
        .await;
    assert_eq!(hr["total"], 1, "one (partial) minute: {hr}");
    let obs = &hr["entry"][0]["resource"];
    assert_eq!(obs["code"]["coding"][0]["code"], "8867-4");
    let bpm = obs["valueQuantity"]["value"].as_f64().expect("bpm");
    // Record 100's first 30 s run at about 75 bpm.
    assert!((65.0..85.0).contains(&bpm), "{bpm}");

    let strips = c
        .get(
            &format!(
                "/fhir/R4/Observation?patient=Patient/{}&code=131328&{range}&_count=2",
                h.own
            ),
            200,
        )
        .await;
    assert_eq!(strips["total"], 3);
    assert_eq!(strips["entry"].as_array().map(Vec::len), Some(2));
    let second = &strips["entry"][1]["resource"];
    assert_eq!(second["component"].as_array().map(Vec::len), Some(2));
    let sampled = &second["component"][0]["valueSampledData"];
    assert_eq!(sampled["origin"]["code"], "uV");
    assert!((sampled["period"].as_f64().expect("period") - 1000.0 / FS as f64).abs() < 1e-9);
    let data: Vec<&str> = sampled["data"].as_str().expect("data").split(' ').collect();
    assert_eq!(data.len(), (10 * FS) as usize);
    // 10–12 s were not stored: "E", never a value.
    assert!(data[..(2 * FS) as usize].iter().all(|d| *d == "E"));
    assert!(
        data[(2 * FS) as usize..]
            .iter()
            .all(|d| d.parse::<i16>().is_ok())
    );
    let next = next_link(&strips).expect("a next link");
    let last = c.get(&next, 200).await;
    assert_eq!(last["entry"].as_array().map(Vec::len), Some(1));
    assert!(next_link(&last).is_none());

    let alarms = c
        .get(&format!("/fhir/R4/DetectedIssue?patient={}", h.own), 200)
        .await;
    assert_eq!(
        alarms["total"], 2,
        "the harness's firing HR alarm and the ended pause"
    );
    let ended = c
        .get(
            &format!(
                "/fhir/R4/DetectedIssue?patient={}&_lastUpdated=ge{}&_lastUpdated=lt{}",
                h.own,
                iso(start_s() + 19),
                iso(start_s() + 21)
            ),
            200,
        )
        .await;
    assert_eq!(ended["total"], 1);
    let issue = &ended["entry"][0]["resource"];
    assert_eq!(issue["code"]["coding"][0]["code"], "pause");
    assert_eq!(issue["severity"], "high");
    assert_eq!(issue["status"], "final");
    assert_eq!(issue["identifiedPeriod"]["end"], iso(start_s() + 20));
    assert_eq!(issue["mitigation"][0]["date"], iso(start_s() + 6));
    let by_code = c
        .get(
            &format!("/fhir/R4/DetectedIssue?patient={}&code=hr_high", h.own),
            200,
        )
        .await;
    assert_eq!(by_code["entry"][0]["resource"]["status"], "preliminary");

    // Refusals: an OperationOutcome with the REST api's status.
    let other = c.get(&format!("/fhir/R4/Patient/{}", h.other), 403).await;
    assert_eq!(other["issue"][0]["code"], "forbidden");
    // The route's guard (its declared x-access) refuses before the handler, in FHIR's
    // shape too: no token, and a role the rule does not admit (ops).
    let anonymous = c
        .refused(&format!("/fhir/R4/Patient/{}", h.own), None, 401)
        .await;
    assert_eq!(anonymous["issue"][0]["code"], "login");
    let ops = h.token(&h.ops, Role::Ops);
    let ops = c
        .refused(&format!("/fhir/R4/Patient/{}", h.own), Some(&ops), 403)
        .await;
    assert_eq!(ops["issue"][0]["code"], "forbidden");
    let open_ended = c
        .get(
            &format!(
                "/fhir/R4/Observation?patient={}&date=ge{}",
                h.own,
                iso(start_s())
            ),
            422,
        )
        .await;
    assert_eq!(open_ended["issue"][0]["expression"][0], "date");
    let misspelt = c
        .get(
            &format!("/fhir/R4/DetectedIssue?patient={}&stauts=x", h.own),
            422,
        )
        .await;
    assert_eq!(misspelt["resourceType"], "OperationOutcome");
    let too_long = c
        .get(
            &format!(
                "/fhir/R4/Observation?patient={}&date=ge{}&date=lt{}",
                h.own,
                iso(start_s()),
                iso(start_s() + 7200)
            ),
            422,
        )
        .await;
    assert_eq!(too_long["resourceType"], "OperationOutcome");

    validate(&c.seen);

    let events = h.stores.records.audit_events(1, 1000).await.expect("audit");
    let read = events
        .iter()
        .find(|e| e.entry.action == "GET /fhir/R4/Patient/{id}" && e.entry.status == 200)
        .expect("the Patient read is audited");
    assert_eq!(read.entry.patient.as_ref(), Some(&h.own));
    assert_eq!(read.entry.outcome, AuditOutcome::Allowed);
    let searched = events
        .iter()
        .find(|e| e.entry.action == "GET /fhir/R4/Observation" && e.entry.status == 200)
        .expect("the search is audited");
    assert_eq!(searched.entry.patient.as_ref(), Some(&h.own));
}

/// Stores a delivery of `alert` to `recipient` on `channel`, in `status` at `at_ns`,
/// accepted by the provider at `sent_ns`.
async fn store_delivery(
    h: &ApiHarness,
    alert: &cw_core::AlertId,
    channel: cw_core::Channel,
    recipient: &str,
    status: cw_core::DeliveryStatus,
    at_ns: i64,
    sent_ns: Option<i64>,
) {
    let recipient = cw_core::UserId::parse(recipient).expect("recipient");
    let mut row = cw_core::Delivery::claim(alert.clone(), channel, recipient, 1, at_ns);
    row.status = status;
    row.sent_ns = sent_ns;
    h.stores
        .records
        .claim_delivery(&row)
        .await
        .expect("delivery");
}

/// The `next` paging link of a Bundle.
fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")?["url"]
        .as_str()
        .map(str::to_owned)
}

fn ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn embedded_patient_device_page_and_audit_searches_are_valid_fhir_per_role() {
    searches(Mode::Embedded).await;
}

/// The same on MongoDB and InfluxDB: the delivery rows, the MRN directory and the audit
/// chain's binary search read through the servers' stores.
#[tokio::test]
async fn servers_patient_device_page_and_audit_searches_are_valid_fhir_per_role() {
    searches(Mode::Servers).await;
}

/// Patient, Device, Communication and AuditEvent searches: filters, paging, refusals per
/// role, every answer valid FHIR, and reading the audit trail audited.
async fn searches(mode: Mode) {
    use cw_core::{Channel, DeliveryStatus};
    let h = ApiHarness::start(mode).await;
    let mut devices = Vec::new();
    for patient in [&h.own, &h.other] {
        let device = cw_core::Device {
            id: cw_core::DeviceId::random(),
            patient: patient.clone(),
            token_sha256: cw_core::device::token_sha256(patient.as_str()),
            revoked: false,
            cert_sha256: None,
        };
        h.stores.records.put_device(&device).await.expect("device");
        devices.push(device.id);
    }
    let t = |s: i64| (cw_e2e::env::recent_second() + s) * 1_000_000_000;
    let doctor = h.doctor_a.as_str();
    store_delivery(
        &h,
        &h.own_alert,
        Channel::Sms,
        doctor,
        DeliveryStatus::Delivered,
        t(10),
        Some(t(4)),
    )
    .await;
    store_delivery(
        &h,
        &h.own_alert,
        Channel::InApp,
        doctor,
        DeliveryStatus::Sent,
        t(20),
        None,
    )
    .await;
    store_delivery(
        &h,
        &h.own_alert,
        Channel::AlertManager,
        "ward-3",
        DeliveryStatus::Failed,
        t(30),
        None,
    )
    .await;
    store_delivery(
        &h,
        &h.other_alert,
        Channel::Sms,
        h.doctor_b.as_str(),
        DeliveryStatus::Delivered,
        t(10),
        Some(t(4)),
    )
    .await;
    let mut c = Client {
        h: &h,
        token: h.token(&h.doctor_a, Role::Doctor),
        seen: Vec::new(),
    };

    // Communication: the pages of the patient's alarms, newest first.
    let pages = c
        .get(&format!("/fhir/R4/Communication?patient={}", h.own), 200)
        .await;
    assert_eq!(pages["total"], 3, "{pages}");
    let statuses: Vec<&str> = pages["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["resource"]["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["not-done", "in-progress", "completed"]);
    let sms = &pages["entry"][2]["resource"];
    assert_eq!(sms["received"], iso(cw_e2e::env::recent_second() + 10));
    // When the provider accepted it, kept once it is delivered.
    assert_eq!(sms["sent"], iso(cw_e2e::env::recent_second() + 4));
    assert_eq!(sms["medium"][0]["coding"][0]["code"], "SMSWRIT");
    assert_eq!(
        sms["recipient"][0]["reference"],
        format!("Practitioner/{doctor}")
    );
    assert_eq!(
        sms["about"][0]["reference"],
        format!("DetectedIssue/{}", h.own_alert)
    );
    assert_eq!(sms["subject"]["reference"], format!("Patient/{}", h.own));
    assert_eq!(
        pages["entry"][0]["resource"]["recipient"][0]["display"],
        "alert manager ward-3"
    );
    // What travels is the rule and priority, never the patient's name or MRN.
    let text = pages.to_string();
    assert!(!text.contains(&h.own_mrn), "{text}");
    let window = |name: &str, from: i64, to: i64| {
        let s = cw_e2e::env::recent_second();
        format!("{name}=ge{}&{name}=lt{}", iso(s + from), iso(s + to))
    };
    let received = c
        .get(
            &format!(
                "/fhir/R4/Communication?patient={}&{}",
                h.own,
                window("received", 0, 15)
            ),
            200,
        )
        .await;
    assert_eq!(ids(&received), ids(&pages)[2..]);
    let sent = c
        .get(
            &format!(
                "/fhir/R4/Communication?patient={}&{}",
                h.own,
                window("sent", 0, 60)
            ),
            200,
        )
        .await;
    // The delivered SMS by its acceptance time, the in-app row (written without one) by
    // its `sent` status time.
    assert_eq!(ids(&sent), ids(&pages)[1..3]);
    let accepted = c
        .get(
            &format!(
                "/fhir/R4/Communication?patient={}&{}",
                h.own,
                window("sent", 0, 5)
            ),
            200,
        )
        .await;
    assert_eq!(ids(&accepted), ids(&pages)[2..]);
    let updated = c
        .get(
            &format!(
                "/fhir/R4/Communication?patient={}&{}&_count=1",
                h.own,
                window("_lastUpdated", 15, 60)
            ),
            200,
        )
        .await;
    assert_eq!(updated["total"], 2);
    let rest = c.get(&next_link(&updated).expect("a next page"), 200).await;
    assert_eq!(ids(&rest), ids(&pages)[1..2]);
    assert!(next_link(&rest).is_none());
    c.get(&format!("/fhir/R4/Communication?patient={}", h.other), 403)
        .await;

    // Patient search: the doctor's own, by MRN, by id; never another doctor's patient.
    let mine = c.get("/fhir/R4/Patient", 200).await;
    assert_eq!(ids(&mine), [h.own.to_string()]);
    assert_eq!(
        mine["entry"][0]["resource"]["identifier"][0]["value"],
        h.own_mrn.as_str()
    );
    let by_mrn = c
        .get(
            &format!(
                "/fhir/R4/Patient?identifier=https://cardiowatch.example/fhir/NamingSystem/mrn|{}",
                h.own_mrn
            ),
            200,
        )
        .await;
    assert_eq!(ids(&by_mrn), [h.own.to_string()]);
    let by_id = c.get(&format!("/fhir/R4/Patient?_id={}", h.own), 200).await;
    assert_eq!(
        by_id["entry"][0]["resource"]["name"][0]["text"],
        format!("Patient {}", h.own_mrn)
    );
    c.get(&format!("/fhir/R4/Patient?identifier={}", h.other_mrn), 403)
        .await;
    c.get("/fhir/R4/Patient?identifier=NO-SUCH-MRN", 403).await;
    c.get(&format!("/fhir/R4/Patient?_id={}", h.other), 403)
        .await;
    let unsupported = c
        .get("/fhir/R4/Patient?_lastUpdated=ge2026-01-01", 422)
        .await;
    assert_eq!(unsupported["issue"][0]["expression"][0], "_lastUpdated");

    // Device search: the patient's patches.
    let patches = c
        .get(&format!("/fhir/R4/Device?patient={}", h.own), 200)
        .await;
    assert_eq!(ids(&patches), [devices[0].to_string()]);
    c.get(&format!("/fhir/R4/Device?patient={}", h.other), 403)
        .await;

    // The audit trail is the admin's, as GET /v1/audit: a doctor and ops are refused.
    let audit_range = window("date", 86_400 - 3600, 86_400 + 3600);
    c.get(&format!("/fhir/R4/AuditEvent?{audit_range}"), 403)
        .await;
    let ops = h.token(&h.ops, Role::Ops);
    c.refused(
        &format!("/fhir/R4/AuditEvent?{audit_range}"),
        Some(&ops),
        403,
    )
    .await;
    c.token = h.token(&h.admin, Role::Admin);
    let everyone = c.get("/fhir/R4/Patient?_count=1", 200).await;
    assert!(
        everyone["total"].as_u64().expect("total") >= 2,
        "{everyone}"
    );
    assert_eq!(everyone["entry"].as_array().map(Vec::len), Some(1));
    let unknown = c.get("/fhir/R4/Patient?identifier=NO-SUCH-MRN", 200).await;
    assert_eq!(unknown["total"], 0);
    let trail = c
        .get(
            &format!(
                "/fhir/R4/AuditEvent?{audit_range}&patient=Patient/{}",
                h.own
            ),
            200,
        )
        .await;
    let events: Vec<&Value> = trail["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e["entity"][0]["what"]["reference"] == format!("Patient/{}", h.own)),
        "{trail}"
    );
    let read = events
        .iter()
        .find(|e| e["subtype"][0]["code"] == "GET /fhir/R4/Communication")
        .expect("the doctor's Communication search is in the trail");
    assert_eq!(
        read["agent"][0]["who"]["reference"],
        format!("Practitioner/{doctor}")
    );
    assert_eq!(
        (read["action"].as_str(), read["outcome"].as_str()),
        (Some("R"), Some("0"))
    );
    let denied = events
        .iter()
        .find(|e| e["subtype"][0]["code"] == "GET /fhir/R4/Patient" && e["outcome"] == "4");
    assert!(
        denied.is_none(),
        "the refused search named the other patient, not this one"
    );
    let paged = c
        .get(&format!("/fhir/R4/AuditEvent?{audit_range}&_count=2"), 200)
        .await;
    assert_eq!(paged["entry"].as_array().map(Vec::len), Some(2));
    assert!(next_link(&paged).is_some());
    let open = c
        .get("/fhir/R4/AuditEvent?date=ge2026-01-01T00:00:00Z", 422)
        .await;
    assert_eq!(open["issue"][0]["expression"][0], "date");

    validate(&c.seen);

    let events = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let audit_read = events
        .iter()
        .find(|e| e.entry.action == "GET /fhir/R4/AuditEvent" && e.entry.status == 200)
        .expect("reading the audit trail is audited");
    assert_eq!(audit_read.entry.actor, h.admin.as_str());
    assert_eq!(audit_read.entry.patient.as_ref(), Some(&h.own));
    let lookup = events
        .iter()
        .find(|e| e.entry.action == "GET /fhir/R4/Patient" && e.entry.status == 403)
        .expect("the refused MRN search is audited");
    assert_eq!(lookup.entry.patient.as_ref(), Some(&h.other));
    assert!(
        events
            .iter()
            .all(|e| !e.entry.resource.contains(&h.own_mrn))
    );
}
