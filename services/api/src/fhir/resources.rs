//! cardiowatch records as FHIR R4 resources. Pure: values in, JSON out. Codes and
//! systems are listed in docs/integration.md.

use crate::ecg_export::Grid;
use crate::monitoring_report::{ReportKind, pdf};
use crate::routes::patients::PatientView;
use base64::Engine;
use cw_analysis::monitoring_summary::MonitoringSummary;
use cw_core::time::{NANOS_PER_SEC, Nanos, UtcDateTime};
use cw_core::{Alert, AlertState, Device, Priority};
use serde_json::{Value, json};

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
/// ISO/IEEE 11073-10101 (MDC) nomenclature.
pub const MDC: &str = "urn:oid:2.16.840.1.113883.6.24";
/// Our alarm rules (`hr_high`, `pause`, … as in docs/api.md).
pub const RULE_SYSTEM: &str = "https://cardiowatch.example/fhir/CodeSystem/alarm-rule";
/// The hospital's medical record number, as registered (`POST /v1/patients`).
pub const MRN_SYSTEM: &str = "https://cardiowatch.example/fhir/NamingSystem/mrn";
/// Heart rate (LOINC 8867-4).
pub const HEART_RATE: &str = "8867-4";
/// Ambulatory cardiac rhythm monitor (Holter) study (LOINC 18754-2): the monitoring report.
pub const HOLTER_STUDY: &str = "18754-2";
/// MDC_ECG_ELEC_POTL: ECG electric potential, lead unspecified.
pub const ECG_POTENTIAL: &str = "131328";
/// Seconds of ECG in one strip Observation.
pub const STRIP_S: i64 = 10;
/// Seconds over which one heart-rate Observation is measured.
pub const HR_WINDOW_S: i64 = 60;

pub(super) fn instant(ns: Nanos) -> String {
    UtcDateTime::from_nanos(ns).rfc3339_millis()
}

pub(super) fn patient_ref(id: &str) -> Value {
    json!({"reference": format!("Patient/{id}")})
}

/// A Patient; name, birth date and MRN only in `view` the caller may see (the route
/// decides).
pub fn patient(view: &PatientView) -> Value {
    let mut p = json!({
        "resourceType": "Patient",
        "id": view.id.as_str(),
        "active": true,
    });
    if let Some(name) = view.name.as_deref().filter(|n| !n.is_empty()) {
        p["name"] = json!([{"text": name}]);
    }
    if let Some(dob) = view.date_of_birth.as_deref().filter(|d| !d.is_empty()) {
        p["birthDate"] = json!(dob);
    }
    if let Some(mrn) = view.mrn.as_deref().filter(|m| !m.is_empty()) {
        p["identifier"] = json!([{"use": "usual", "system": MRN_SYSTEM, "value": mrn}]);
    }
    p
}

/// A Device: the ECG patch, active unless revoked, worn by its patient.
pub fn device(d: &Device) -> Value {
    json!({
        "resourceType": "Device",
        "id": d.id.as_str(),
        "status": if d.revoked { "inactive" } else { "active" },
        "type": {"coding": [{"system": MDC, "code": "531981", "display": "MDC_MOC_VMS_MDS_AMBUL"}],
                 "text": "ambulatory ECG monitor"},
        "patient": patient_ref(d.patient.as_str()),
    })
}

/// Heart rate per [`HR_WINDOW_S`] of the grid: 60 / median RR of the detected beats in
/// each window that holds at least three, as vital-signs Observations.
pub fn heart_rates(grid: &Grid, beats: &[u64], patient: &str) -> Vec<Value> {
    let fs = i64::from(grid.rate_hz);
    let window = (HR_WINDOW_S * fs) as u64;
    let mut out = Vec::new();
    let mut start = 0u64;
    while start < grid.frames() as u64 {
        let end = start + window;
        let inside: Vec<u64> = beats
            .iter()
            .copied()
            .filter(|b| (start..end).contains(b))
            .collect();
        let mut rr: Vec<u64> = inside
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|&d| d > 0)
            .collect();
        if rr.len() >= 2 {
            let mid = rr.len() / 2;
            let (_, median, _) = rr.select_nth_unstable(mid);
            let bpm = (60.0 * fs as f64 / *median as f64 * 10.0).round() / 10.0;
            let t0 = grid.start_ns + start as i64 * NANOS_PER_SEC / fs;
            let t1 = grid.start_ns + (end.min(grid.frames() as u64)) as i64 * NANOS_PER_SEC / fs;
            out.push(json!({
                "resourceType": "Observation",
                "id": format!("hr-{}-{}", tag(patient), t0 / NANOS_PER_SEC),
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
                "code": {"coding": [{"system": LOINC, "code": HEART_RATE, "display": "Heart rate"}], "text": "Heart rate"},
                "subject": patient_ref(patient),
                "effectivePeriod": {"start": instant(t0), "end": instant(t1)},
                "valueQuantity": {"value": bpm, "unit": "beats/minute", "system": UCUM, "code": "/min"},
                "method": {"text": "median RR of the beats detected in the period"},
            }));
        }
        start = end;
    }
    out
}

/// One Observation per [`STRIP_S`] of the grid that holds any stored frame: the ECG as
/// `valueSampledData` in µV, one `component` per lead, `E` where nothing was stored.
pub fn ecg_strips(grid: &Grid, patient: &str) -> Vec<Value> {
    let fs = i64::from(grid.rate_hz);
    let per = (STRIP_S * fs) as usize;
    let period_ms = 1000.0 / fs as f64;
    let mut out = Vec::new();
    for (k, present) in grid.present.chunks(per).enumerate() {
        if !present.iter().any(|&p| p) {
            continue;
        }
        let first = k * per;
        let components: Vec<Value> = (0..grid.leads)
            .map(|lead| {
                let data: Vec<String> = present
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| {
                        if p {
                            grid.values[(first + i) * grid.leads + lead].to_string()
                        } else {
                            "E".into()
                        }
                    })
                    .collect();
                json!({
                    "code": {"coding": [{"system": MDC, "code": ECG_POTENTIAL, "display": "MDC_ECG_ELEC_POTL"}],
                             "text": format!("ECG {}", lead + 1)},
                    "valueSampledData": {
                        "origin": {"value": 0, "unit": "microvolt", "system": UCUM, "code": "uV"},
                        "period": period_ms,
                        "factor": 1,
                        "lowerLimit": -32768,
                        "upperLimit": 32767,
                        "dimensions": 1,
                        "data": data.join(" "),
                    },
                })
            })
            .collect();
        let t0 = grid.start_ns + first as i64 * NANOS_PER_SEC / fs;
        let t1 = grid.start_ns + (first + present.len()) as i64 * NANOS_PER_SEC / fs;
        out.push(json!({
            "resourceType": "Observation",
            "id": format!("ecg-{}-{}", tag(patient), t0 / NANOS_PER_SEC),
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "procedure", "display": "Procedure"}]}],
            "code": {"coding": [{"system": MDC, "code": ECG_POTENTIAL, "display": "MDC_ECG_ELEC_POTL"}], "text": "ECG strip"},
            "subject": patient_ref(patient),
            "effectivePeriod": {"start": instant(t0), "end": instant(t1)},
            "component": components,
        }));
    }
    out
}

/// A short, id-safe tag of a key (FHIR ids are at most 64 characters of `A-Za-z0-9-.`;
/// patient ids alone may be 64, delivery keys hold `:`): the first 16 hex digits of its
/// SHA-256.
pub(super) fn tag(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// A monitoring report (docs/reports.md) as a DiagnosticReport: its figures as the
/// `conclusion` (the PDF's own lines) and the PDF itself as `presentedForm`.
pub fn diagnostic_report(
    patient: &str,
    kind: ReportKind,
    s: &MonitoringSummary,
    pdf_bytes: &[u8],
    issued_ns: Nanos,
) -> Value {
    let title = match kind {
        ReportKind::Daily => "Daily monitoring report",
        ReportKind::End => "End-of-monitoring report",
    };
    json!({
        "resourceType": "DiagnosticReport",
        "id": format!(
            "report-{}-{}-{}-{}",
            tag(patient),
            kind.as_str(),
            s.from_ns.div_euclid(NANOS_PER_SEC),
            s.to_ns.div_euclid(NANOS_PER_SEC)
        ),
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "EC", "display": "Electrocardiac (e.g., EKG, EEC, Holter)"}]}],
        "code": {"coding": [{"system": LOINC, "code": HOLTER_STUDY, "display": "Ambulatory cardiac rhythm monitor (Holter) study"}], "text": title},
        "subject": patient_ref(patient),
        "effectivePeriod": {"start": instant(s.from_ns), "end": instant(s.to_ns)},
        "issued": instant(issued_ns),
        "conclusion": pdf::figure_lines(s).join("; "),
        "presentedForm": [{
            "contentType": "application/pdf",
            "data": base64::engine::general_purpose::STANDARD.encode(pdf_bytes),
            "title": title,
            "creation": instant(issued_ns),
        }],
    })
}

/// When an alert last changed: fired, acknowledged or ended.
pub fn last_updated(a: &Alert) -> Nanos {
    [Some(a.fired_ns), a.acked_ns, a.resolved_ns]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(a.fired_ns)
}

/// An alarm as a DetectedIssue: its rule as the code, its priority as the severity, its
/// state as the status (`preliminary` while firing, `final` once acknowledged or ended),
/// the acknowledgement as a mitigation, fired…ended as `identifiedPeriod`.
pub fn detected_issue(a: &Alert) -> Value {
    let severity = match a.priority {
        Priority::High => "high",
        Priority::Medium => "moderate",
        Priority::Low => "low",
    };
    let status = match a.state {
        AlertState::Firing => "preliminary",
        AlertState::Acknowledged | AlertState::Resolved => "final",
    };
    let mut period = json!({"start": instant(a.fired_ns)});
    if let Some(end) = a.resolved_ns {
        period["end"] = json!(instant(end));
    }
    let kind = if a.rule.is_technical() {
        "technical"
    } else {
        "physiological"
    };
    let mut detail = format!(
        "{} ({kind} alarm, {} priority, {})",
        a.rule.describe(),
        a.priority.as_str(),
        a.state.as_str()
    );
    if a.value.is_finite() && a.limit.is_finite() {
        let unit = a.rule.unit();
        detail.push_str(&format!(": {} {unit}, limit {} {unit}", a.value, a.limit));
    }
    let mut issue = json!({
        "resourceType": "DetectedIssue",
        "id": a.id.as_str(),
        "meta": {"lastUpdated": instant(last_updated(a))},
        "status": status,
        "code": {"coding": [{"system": RULE_SYSTEM, "code": a.rule.as_str(), "display": a.rule.describe()}]},
        "severity": severity,
        "patient": patient_ref(a.patient.as_str()),
        "identifiedPeriod": period,
        "detail": detail,
    });
    if let Some(at) = a.acked_ns {
        let mut mitigation = json!({
            "action": {"text": "acknowledged"},
            "date": instant(at),
        });
        if let Some(by) = &a.acked_by {
            mitigation["author"] = json!({"reference": format!("Practitioner/{by}")});
        }
        issue["mitigation"] = json!([mitigation]);
    }
    issue
}

/// The CapabilityStatement: what this facade reads and searches.
pub fn capability_statement(software_version: &str) -> Value {
    let search = |name: &str, kind: &str| json!({"name": name, "type": kind});
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-07",
        "publisher": "cardiowatch",
        "kind": "instance",
        "software": {"name": "cardiowatch", "version": software_version},
        "implementation": {"description": "cardiowatch FHIR R4 facade (read and search)"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "Bearer access tokens as for the REST api (docs/api.md); a doctor reaches only assigned patients, ops no patient data."},
            "resource": [
                {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [search("_id", "token"), search("identifier", "token"), search("_count", "number")]},
                {"type": "Device", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [search("patient", "reference"), search("_count", "number")]},
                {"type": "Observation", "interaction": [{"code": "search-type"}],
                 "searchParam": [search("patient", "reference"), search("code", "token"), search("date", "date"), search("_count", "number")]},
                {"type": "DiagnosticReport", "interaction": [{"code": "search-type"}],
                 "searchParam": [search("patient", "reference"), search("date", "date"), search("kind", "token")]},
                {"type": "DetectedIssue", "interaction": [{"code": "search-type"}],
                 "searchParam": [search("patient", "reference"), search("code", "token"), search("identified", "date"), search("_lastUpdated", "date"), search("_count", "number")]},
                {"type": "Communication", "interaction": [{"code": "search-type"}],
                 "searchParam": [search("patient", "reference"), search("sent", "date"), search("received", "date"), search("_lastUpdated", "date"), search("_count", "number")]},
                {"type": "AuditEvent", "interaction": [{"code": "search-type"}],
                 "searchParam": [search("date", "date"), search("_lastUpdated", "date"), search("patient", "reference"), search("_count", "number")]},
            ],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, RuleKind};

    #[test]
    fn an_acknowledged_alarm_is_a_final_detected_issue_with_its_acknowledgement() {
        let patient = PatientId::parse("p-1").expect("id");
        let mut alert = Alert::firing(patient, RuleKind::HrLow, Priority::Medium, 1_000);
        let firing = detected_issue(&alert);
        assert_eq!(
            (firing["status"].as_str(), firing["severity"].as_str()),
            (Some("preliminary"), Some("moderate"))
        );
        assert!(firing.get("mitigation").is_none());
        alert.state = AlertState::Acknowledged;
        alert.acked_ns = Some(2_000_000_000);
        alert.acked_by = Some("dr-a".into());
        let acked = detected_issue(&alert);
        assert_eq!(acked["status"], "final");
        assert_eq!(
            acked["mitigation"][0]["author"]["reference"],
            "Practitioner/dr-a"
        );
        assert_eq!(acked["meta"]["lastUpdated"], "1970-01-01T00:00:02.000Z");
        assert_eq!(acked["code"]["coding"][0]["code"], "hr_low");
    }

    #[test]
    fn strips_cover_ten_seconds_each_and_mark_missing_samples_e() {
        let grid = Grid {
            start_ns: 0,
            rate_hz: 2,
            leads: 1,
            values: (0..50).collect(),
            present: (0..50).map(|i| !(20..40).contains(&i)).collect(),
        };
        let strips = ecg_strips(&grid, "p-1");
        // 25 s at 2 Hz: strips 0–10 s and 20–25 s; 10–20 s holds nothing.
        assert_eq!(strips.len(), 2);
        let data = strips[1]["component"][0]["valueSampledData"]["data"]
            .as_str()
            .expect("data");
        assert_eq!(data, "40 41 42 43 44 45 46 47 48 49");
        assert_eq!(
            strips[1]["effectivePeriod"]["start"],
            "1970-01-01T00:00:20.000Z"
        );
        assert_eq!(
            strips[0]["component"][0]["valueSampledData"]["period"],
            500.0
        );
        let mut partial = grid.clone();
        partial.present[3] = false;
        let first = ecg_strips(&partial, "p-1");
        let tokens: Vec<String> = first[0]["component"][0]["valueSampledData"]["data"]
            .as_str()
            .expect("data")
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(tokens[3], "E");
    }

    #[test]
    fn heart_rate_is_the_median_rr_per_minute() {
        let grid = Grid {
            start_ns: 0,
            rate_hz: 100,
            leads: 1,
            values: vec![0; 9000],
            present: vec![true; 9000],
        };
        // Every 80 samples (75 bpm) in the first minute, every 100 (60 bpm) after.
        let beats: Vec<u64> = (0..75)
            .map(|i| i * 80)
            .chain((0..29).map(|i| 6000 + i * 100))
            .collect();
        let hr = heart_rates(&grid, &beats, "p-1");
        assert_eq!(hr.len(), 2);
        assert_eq!(hr[0]["valueQuantity"]["value"], 75.0);
        assert_eq!(hr[1]["valueQuantity"]["value"], 60.0);
        assert_eq!(hr[1]["effectivePeriod"]["end"], "1970-01-01T00:01:30.000Z");
    }
}
