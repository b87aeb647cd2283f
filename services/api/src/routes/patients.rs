//! Patients: `GET /v1/patients` (the caller's), `POST /v1/patients` (admin: create, PHI
//! sealed before it is stored), `GET /v1/patients/{id}`, `POST /v1/patients/lookup`
//! (by MRN, sent in the body so it never lands in a URL, log or audit record) and
//! `PUT /v1/patients/{id}/doctors` (admin: assignments).

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::audit_trail::AuditPatient;
use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cw_core::phi::PatientPhi;
use cw_core::{DeviceId, Patient, PatientId, Role, UserId};
use cw_phi::PhiVault;
use cw_storage::StoreError;
use serde::{Deserialize, Serialize};

/// A patient as the api shows it: PHI opened for a caller allowed to see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientView {
    pub id: PatientId,
    pub doctors: Vec<UserId>,
    pub devices: Vec<DeviceId>,
    pub timezone: String,
    pub name: Option<String>,
    pub date_of_birth: Option<String>,
    pub mrn: Option<String>,
    pub contact: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPatient {
    pub name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub mrn: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub doctors: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    pub mrn: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// In escalation order.
    pub doctors: Vec<String>,
}

fn vault(state: &AppState) -> Result<&PhiVault, ApiError> {
    state.phi.as_deref().ok_or(ApiError::PhiUnavailable)
}

pub(crate) async fn view(state: &AppState, p: Patient) -> Result<PatientView, ApiError> {
    let phi = match &p.phi {
        Some(sealed) => Some(vault(state)?.open(&p.id, sealed).await.map_err(|e| {
            tracing::error!(patient = %p.id, error = %e, "PHI could not be opened");
            ApiError::Internal
        })?),
        None => None,
    };
    let (name, date_of_birth, mrn, contact) = match phi {
        Some(PatientPhi {
            name,
            date_of_birth,
            mrn,
            contact,
        }) => (Some(name), Some(date_of_birth), Some(mrn), Some(contact)),
        None => (None, None, None, None),
    };
    Ok(PatientView {
        id: p.id,
        doctors: p.doctors,
        devices: p.devices,
        timezone: p.timezone,
        name,
        date_of_birth,
        mrn,
        contact,
    })
}

#[utoipa::path(get, path = "/v1/patients", summary = "The caller's patients (doctor)",
    extensions(("x-access" = json!(Access::Doctor))),
    responses((status = 200, body = Vec<PatientView>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PatientView>>, ApiError> {
    caller.patients(&state).await?;
    let mut out = Vec::new();
    for p in state.records.patients_of(&caller.user).await? {
        out.push(view(&state, p).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/v1/patients/{id}", summary = "A patient with PHI",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id")),
    responses((status = 200, body = PatientView)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PatientView>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    match state.records.patient(&patient).await {
        Ok(p) => Ok(Json(view(&state, p).await?)),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("patient")),
        Err(e) => Err(e.into()),
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Invalid {
        field: Some(field.into()),
        message: message.into(),
    }
}

fn parse_doctors(raw: &[String]) -> Result<Vec<UserId>, ApiError> {
    raw.iter()
        .map(|d| UserId::parse(d).map_err(|e| invalid("doctors", &e.to_string())))
        .collect()
}

fn is_date(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&raw[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&raw[8..10].parse::<u8>().unwrap_or(0))
}

#[utoipa::path(post, path = "/v1/patients", summary = "Create a patient; PHI sealed at rest (admin)",
    extensions(("x-access" = json!(Access::Admin))),
    request_body = NewPatient,
    responses((status = 201, body = PatientView)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewPatient>, JsonRejection>,
) -> Result<(StatusCode, Json<PatientView>), ApiError> {
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("name", "name is 1 to 200 characters"));
    }
    if !is_date(&input.date_of_birth) {
        return Err(invalid("date_of_birth", "date_of_birth is YYYY-MM-DD"));
    }
    let mrn = input.mrn.trim();
    if mrn.is_empty() || mrn.len() > 64 {
        return Err(invalid("mrn", "mrn is 1 to 64 characters"));
    }
    if input.contact.chars().count() > 500 {
        return Err(invalid("contact", "contact is at most 500 characters"));
    }
    let doctors = parse_doctors(&input.doctors)?;
    let vault = vault(&state)?;
    let mrn_hash = vault.mrn_hash(mrn);
    match state.records.patient_by_mrn_hash(&mrn_hash).await {
        Ok(_) => return Err(ApiError::Conflict("a patient with this MRN exists")),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let id = PatientId::random();
    let phi = PatientPhi {
        name: name.to_owned(),
        date_of_birth: input.date_of_birth,
        mrn: mrn.to_owned(),
        contact: input.contact,
    };
    let sealed = vault.seal(&id, &phi).await.map_err(|e| {
        tracing::error!(error = %e, "PHI could not be sealed");
        ApiError::Internal
    })?;
    let patient = Patient {
        id: id.clone(),
        doctors,
        devices: vec![],
        timezone: input.timezone.unwrap_or_else(|| "UTC".into()),
        phi: Some(sealed),
        mrn_hash: Some(mrn_hash),
    };
    state.records.put_patient(&patient).await?;
    tracing::info!(patient = %id, user = %caller.user, "patient created");
    Ok((StatusCode::CREATED, Json(view(&state, patient).await?)))
}

/// The response names the patient found (`AuditPatient`), allowed or not: the audit record
/// of a lookup must say whose PHI was read — or probed — since the path names nobody.
#[utoipa::path(post, path = "/v1/patients/lookup", summary = "Find a patient by MRN (keyed hash)",
    extensions(("x-access" = json!(Access::PatientRead))),
    request_body = Lookup,
    responses((status = 200, body = PatientView)))]
pub async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<Lookup>, JsonRejection>,
) -> Result<(Extension<AuditPatient>, Json<PatientView>), Response> {
    let patient = find_by_mrn(&state, &caller, body)
        .await
        .map_err(IntoResponse::into_response)?;
    let audited = Extension(AuditPatient(patient.id.clone()));
    let shown = match caller.require_patient(&state, &patient.id).await {
        Ok(_) => view(&state, patient).await,
        Err(e) => Err(e),
    };
    match shown {
        Ok(view) => Ok((audited, Json(view))),
        Err(e) => Err((audited, e).into_response()),
    }
}

async fn find_by_mrn(
    state: &AppState,
    caller: &Caller,
    body: Result<Json<Lookup>, JsonRejection>,
) -> Result<Patient, ApiError> {
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let hash = vault(state)?.mrn_hash(&input.mrn);
    match state.records.patient_by_mrn_hash(&hash).await {
        Ok(p) => Ok(p),
        // Doctors cannot tell unknown MRNs from other doctors' patients.
        Err(StoreError::NotFound) if caller.role == Role::Doctor => Err(ApiError::Forbidden),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("patient")),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(put, path = "/v1/patients/{id}/doctors", summary = "Assign doctors (admin)",
    extensions(("x-access" = json!(Access::Admin))),
    params(("id" = String, Path, description = "patient id")),
    request_body = Assignment,
    responses((status = 200, body = PatientView)))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Assignment>, JsonRejection>,
) -> Result<Json<PatientView>, ApiError> {
    let id = parse_patient(&id)?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let doctors = parse_doctors(&input.doctors)?;
    let mut patient = match state.records.patient(&id).await {
        Ok(p) => p,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("patient")),
        Err(e) => return Err(e.into()),
    };
    patient.doctors = doctors;
    state.records.put_patient(&patient).await?;
    tracing::info!(patient = %id, user = %caller.user, "assignments changed");
    Ok(Json(view(&state, patient).await?))
}
