//! Handlers of `/fhir/R4`: each authorizes as its `/v1` counterpart (the patient's
//! doctors and admins; ops no patient data), names its patient for the audit record, and
//! answers FHIR JSON or an `OperationOutcome`.

use super::request::{Search, invalid};
use super::resources::{self, ECG_POTENTIAL, HEART_RATE, LOINC, MDC, RULE_SYSTEM};
use super::search::within;
use super::{Fhir, FhirError, FhirResource};
use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::audit_trail::AuditPatient;
use crate::ecg_export::{self, ExportError};
use crate::error::ApiError;
use crate::monitoring_report::days;
use crate::monitoring_report::{ReportKind, ReportMeta};
use crate::routes::ecg::{MAX_RANGE_NS, range_width};
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use cw_core::DeviceId;
use cw_core::time::Nanos;
use cw_storage::StoreError;

/// Alerts read for a DetectedIssue search: the patient's newest ones.
pub(super) const ALERTS_READ: usize = 500;

#[utoipa::path(get, path = "/fhir/R4/metadata", summary = "FHIR R4 CapabilityStatement",
    extensions(("x-access" = json!(Access::Public))),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn metadata() -> Fhir {
    Fhir(resources::capability_statement(env!("CARGO_PKG_VERSION")))
}

#[utoipa::path(get, path = "/fhir/R4/Patient/{id}",
    summary = "FHIR Patient (name, birth date and MRN to those who may read the patient)",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn patient(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Result<Fhir, FhirError> {
    let caller = caller?;
    let id = parse_patient(&id)?;
    caller.require_patient(&state, &id).await?;
    let record = match state.records.patient(&id).await {
        Ok(p) => p,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("patient").into()),
        Err(e) => return Err(e.into()),
    };
    let view = crate::routes::patients::view(&state, record).await?;
    Ok(Fhir(resources::patient(&view)))
}

#[utoipa::path(get, path = "/fhir/R4/Device/{id}", summary = "FHIR Device (the patch) and its patient",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "device id")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn device(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let caller = caller?;
    let id = DeviceId::parse(&id).map_err(|e| invalid("id", &e.to_string()))?;
    let device = match state.records.device(&id).await {
        Ok(d) => d,
        // The same answer as a device of a patient one may not read: ids are not probed.
        Err(StoreError::NotFound) => return Err(ApiError::Forbidden.into()),
        Err(e) => return Err(e.into()),
    };
    caller.require_patient(&state, &device.patient).await?;
    Ok((
        Extension(AuditPatient(device.patient.clone())),
        Fhir(resources::device(&device)),
    )
        .into_response())
}

/// A `date` range (of [`super::search::Params::range`]) a search needs both ends of, at most `max_ns`
/// (`span` in words) apart.
pub(super) fn both_ends(
    range: (Option<Nanos>, Option<Nanos>),
    max_ns: Nanos,
    span: &str,
) -> Result<(Nanos, Nanos), FhirError> {
    let (Some(from), Some(to)) = range else {
        return Err(invalid(
            "date",
            &format!("date needs both ends (date=ge…&date=lt…), at most {span} apart"),
        ));
    };
    range_width(from, to, max_ns).map_err(|_| {
        invalid(
            "date",
            &format!("date needs its end after its start, at most {span} later"),
        )
    })?;
    Ok((from, to))
}

/// Which Observations a `code` parameter asks for: (heart rate, ECG strips).
fn observation_codes(code: Option<&str>) -> Result<(bool, bool), FhirError> {
    let Some(code) = code else {
        return Ok((true, true));
    };
    let (mut hr, mut ecg) = (false, false);
    for token in code.split(',') {
        match token.split_once('|') {
            None | Some((LOINC, _)) | Some((MDC, _)) | Some(("", _)) => {}
            Some(_) => return Err(invalid("code", "code system is http://loinc.org or MDC")),
        }
        match token.rsplit('|').next() {
            Some(HEART_RATE) => hr = true,
            Some(ECG_POTENTIAL) => ecg = true,
            _ => {
                return Err(invalid(
                    "code",
                    "code is 8867-4 (heart rate) or 131328 (ECG strip)",
                ));
            }
        }
    }
    Ok((hr, ecg))
}

#[utoipa::path(get, path = "/fhir/R4/Observation",
    summary = "FHIR Observation search: heart rate (LOINC 8867-4) per minute and ECG strips (MDC 131328, valueSampledData) over date=ge…&date=lt… (at most an hour); Bundle paging",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(
        ("patient" = String, Query, description = "Patient/ID or ID"),
        ("date" = Vec<String>, Query, description = "both ends: ge… and lt… (FHIR dateTime), at most an hour apart"),
        ("code" = Option<String>, Query, description = "8867-4 and/or 131328, comma-separated, system optional"),
        ("_count" = Option<u32>, Query, description = "page size"),
        ("_offset" = Option<u32>, Query, description = "entries skipped")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn observations(
    State(state): State<AppState>,
    search: Search,
) -> Result<Response, FhirError> {
    let patient = search
        .patient(&state, &["patient", "code", "date", "_count", "_offset"])
        .await?;
    let p = &search.params;
    let (want_hr, want_ecg) = observation_codes(p.one("code")?)?;
    p.page()?;
    let (from, to) = both_ends(p.range("date")?, MAX_RANGE_NS, "one hour")?;
    let frames = state.samples.frames(&patient, from, to).await?;
    let id = patient.to_string();
    let all = tokio::task::spawn_blocking(move || {
        let grid = match ecg_export::grid(&frames) {
            Ok(g) => g,
            Err(ExportError::Empty) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut all = Vec::new();
        if want_hr {
            let beats = cw_detect::detect_all(f64::from(grid.rate_hz), grid.leads, &grid.values);
            all.extend(resources::heart_rates(&grid, &beats, &id));
        }
        if want_ecg {
            all.extend(resources::ecg_strips(&grid, &id));
        }
        Ok(all)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "FHIR observation worker failed");
        FhirError(ApiError::Internal)
    })?
    .map_err(|e| invalid("date", &e.to_string()))?;
    search.answer("Observation", all, Some(patient))
}

#[utoipa::path(get, path = "/fhir/R4/DetectedIssue",
    summary = "FHIR DetectedIssue search: the patient's alarms (rule, priority, state, acknowledgement); Bundle paging",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(
        ("patient" = String, Query, description = "Patient/ID or ID"),
        ("code" = Option<String>, Query, description = "alarm rule"),
        ("date" = Option<Vec<String>>, Query, description = "fired: ge… and/or lt…"),
        ("identified" = Option<Vec<String>>, Query, description = "fired: ge… and/or lt…"),
        ("_lastUpdated" = Option<Vec<String>>, Query, description = "last change: ge… and/or lt…"),
        ("_count" = Option<u32>, Query, description = "page size"),
        ("_offset" = Option<u32>, Query, description = "entries skipped")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn detected_issues(
    State(state): State<AppState>,
    search: Search,
) -> Result<Response, FhirError> {
    let known = [
        "patient",
        "code",
        "date",
        "identified",
        "_lastUpdated",
        "_count",
        "_offset",
    ];
    let patient = search.patient(&state, &known).await?;
    let p = &search.params;
    let code = p.one("code")?.map(|c| {
        c.strip_prefix(RULE_SYSTEM)
            .and_then(|c| c.strip_prefix('|'))
            .unwrap_or(c)
            .to_owned()
    });
    let (date, identified, updated) = (
        p.range("date")?,
        p.range("identified")?,
        p.range("_lastUpdated")?,
    );
    let alerts = state
        .records
        .alerts_for_patients(std::slice::from_ref(&patient), None, ALERTS_READ)
        .await?;
    let all = alerts
        .iter()
        .filter(|a| code.as_deref().is_none_or(|c| a.rule.as_str() == c))
        .filter(|a| within(a.fired_ns, date) && within(a.fired_ns, identified))
        .filter(|a| within(resources::last_updated(a), updated))
        .map(resources::detected_issue)
        .collect();
    search.answer("DetectedIssue", all, Some(patient))
}

#[utoipa::path(get, path = "/fhir/R4/DiagnosticReport",
    summary = "FHIR DiagnosticReport search: the monitoring report of date=ge…&date=lt… (at most a day, or up to 31 whole UTC days), its figures as the conclusion and its PDF as presentedForm (docs/reports.md)",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(
        ("patient" = String, Query, description = "Patient/ID or ID"),
        ("date" = Vec<String>, Query, description = "both ends: ge… and lt… (FHIR dateTime), at most a day apart or whole UTC days up to 31"),
        ("kind" = Option<String>, Query, description = "daily (default) or end")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn diagnostic_reports(
    State(state): State<AppState>,
    search: Search,
) -> Result<Response, FhirError> {
    let patient = search.patient(&state, &["patient", "date", "kind"]).await?;
    let p = &search.params;
    let kind = match p.one("kind")? {
        None => ReportKind::Daily,
        Some(k) => ReportKind::parse(k).ok_or_else(|| invalid("kind", "kind is daily or end"))?,
    };
    let (from, to) = both_ends(p.range("date")?, days::MAX_DAYS * days::DAY_NS, "31 days")?;
    let (summary, strips) = crate::routes::report::summarize(&state, &patient, from, to).await?;
    let made_ns = cw_core::time::now_ns();
    let meta = ReportMeta {
        kind,
        patient: patient.to_string(),
        made_ns,
    };
    let pdf = crate::routes::report::pdf(meta, summary.clone(), strips).await?;
    let report = resources::diagnostic_report(patient.as_str(), kind, &summary, &pdf, made_ns);
    Ok(search.bundle("DiagnosticReport", vec![report], 0, 1, Some(patient)))
}
