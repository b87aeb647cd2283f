//! Searches of the registered records: `Patient` (by id, by MRN, or the caller's) and
//! `Device` (a patient's patches). Same access as the reads: a doctor reaches assigned
//! patients (or one under break-glass), admins every patient, ops none.

use super::request::{Search, invalid};
use super::resources::{self, MRN_SYSTEM};
use super::search::bundle_page;
use super::{FhirError, FhirResource};
use crate::access::parse_patient;
use crate::access_rule::Access;
use crate::app::AppState;
use crate::audit_trail::AuditPatient;
use crate::error::ApiError;
use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cw_core::{Patient, PatientId, Role};
use cw_storage::StoreError;

/// The MRN of an `identifier` token: `<MRN system>|value` or the value alone.
fn mrn(token: &str) -> Result<&str, FhirError> {
    let value = match token.split_once('|') {
        None => token,
        Some((MRN_SYSTEM, value)) => value,
        Some(_) => {
            return Err(invalid(
                "identifier",
                &format!("identifier is the MRN: {MRN_SYSTEM}|value"),
            ));
        }
    };
    if value.is_empty() {
        return Err(invalid("identifier", "identifier needs a value"));
    }
    Ok(value)
}

/// The patient an `_id` and/or `identifier` names; `None` when they name nobody (or two
/// different patients). A doctor cannot tell an unknown MRN from another doctor's
/// patient: both are refused, as by `POST /v1/patients/lookup`.
async fn named(
    state: &AppState,
    search: &Search,
    id: Option<PatientId>,
    mrn: Option<&str>,
) -> Result<Option<Patient>, FhirError> {
    let by_mrn = match mrn {
        None => None,
        Some(mrn) => {
            let vault = state.phi.as_deref().ok_or(ApiError::PhiUnavailable)?;
            match state
                .records
                .patient_by_mrn_hash(&vault.mrn_hash(mrn))
                .await
            {
                Ok(p) => Some(p),
                Err(StoreError::NotFound) if search.caller.role == Role::Doctor => {
                    return Err(ApiError::Forbidden.into());
                }
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    };
    match (id, by_mrn) {
        (Some(id), Some(p)) => Ok((p.id == id).then_some(p)),
        (None, found) => Ok(found),
        (Some(id), None) => match state.records.patient(&id).await {
            Ok(p) => Ok(Some(p)),
            // A doctor's unknown id is refused like another doctor's patient.
            Err(StoreError::NotFound) if search.caller.role == Role::Doctor => {
                Err(ApiError::Forbidden.into())
            }
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        },
    }
}

#[utoipa::path(get, path = "/fhir/R4/Patient",
    summary = "FHIR Patient search: by _id, by identifier (the MRN), or (neither) the caller's patients (a doctor's assigned ones, an admin's all); PHI as in the read; Bundle paging",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(
        ("_id" = Option<String>, Query, description = "patient id"),
        ("identifier" = Option<String>, Query, description = "the MRN: https://cardiowatch.example/fhir/NamingSystem/mrn|value, or the value"),
        ("_count" = Option<u32>, Query, description = "page size"),
        ("_offset" = Option<u32>, Query, description = "entries skipped")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn patients(
    State(state): State<AppState>,
    search: Search,
) -> Result<Response, FhirError> {
    search.known(&["_id", "identifier", "_count", "_offset"])?;
    let p = &search.params;
    let id = p
        .one("_id")?
        .map(parse_patient)
        .transpose()
        .map_err(|_| invalid("_id", "_id is a patient id"))?;
    let mrn = p.one("identifier")?.map(mrn).transpose()?;
    let (offset, count) = p.page()?;
    if id.is_some() || mrn.is_some() {
        let Some(patient) = named(&state, &search, id, mrn).await? else {
            return Ok(search.bundle("Patient", Vec::new(), offset, count, None));
        };
        // The audit record names the patient found, allowed or refused (as a lookup's).
        let audited = Extension(AuditPatient(patient.id.clone()));
        if let Err(e) = search.caller.require_patient(&state, &patient.id).await {
            return Ok((audited, FhirError(e)).into_response());
        }
        let view = crate::routes::patients::view(&state, patient).await?;
        let body = search.bundle(
            "Patient",
            vec![resources::patient(&view)],
            offset,
            count,
            None,
        );
        return Ok((audited, body).into_response());
    }
    let found = match search.caller.role {
        Role::Doctor => state.records.patients_of(&search.caller.user).await?,
        Role::Admin => state.records.clinical_patients().await?,
        // The route's rule refuses ops before this runs.
        Role::Ops => return Err(ApiError::Forbidden.into()),
    };
    // PHI is opened only for the page shown.
    let total = found.len();
    let mut page = Vec::new();
    for patient in found.into_iter().skip(offset).take(count) {
        let view = crate::routes::patients::view(&state, patient).await?;
        page.push(resources::patient(&view));
    }
    let base = search.base("Patient");
    Ok(super::Fhir(bundle_page(&base, p, total, page, offset, count)).into_response())
}

#[utoipa::path(get, path = "/fhir/R4/Device",
    summary = "FHIR Device search: the patient's patches (active or revoked); Bundle paging",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(
        ("patient" = String, Query, description = "Patient/ID or ID"),
        ("_count" = Option<u32>, Query, description = "page size"),
        ("_offset" = Option<u32>, Query, description = "entries skipped")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn devices(State(state): State<AppState>, search: Search) -> Result<Response, FhirError> {
    let patient = search
        .patient(&state, &["patient", "_count", "_offset"])
        .await?;
    let all = state
        .records
        .list_devices()
        .await?
        .iter()
        .filter(|d| d.patient == patient)
        .map(resources::device)
        .collect();
    search.answer("Device", all, Some(patient))
}
