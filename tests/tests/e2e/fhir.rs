//! The FHIR R4 facade (`/fhir/R4`): 30 s of MIT-BIH record 100 (with a 2 s gap) and an
//! alarm stored through the real stores; the doctor reads the CapabilityStatement, the
//! Patient (with PHI), the Device, heart-rate and ECG-strip Observations (paged), and the
//! alarms as DetectedIssues; every resource received is validated by `fhir.resources`
//! (PyPI, `tests/assets/python/validate_fhir.py`). Refusals come as OperationOutcomes, and
//! reads are audited with their patient.

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
    let next = strips["link"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
        .and_then(|l| l["url"].as_str())
        .expect("a next link")
        .to_owned();
    let last = c.get(&next, 200).await;
    assert_eq!(last["entry"].as_array().map(Vec::len), Some(1));
    assert!(
        last["link"]
            .as_array()
            .expect("links")
            .iter()
            .all(|l| l["relation"] != "next")
    );

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
