//! Devices (admin): `GET|POST /v1/devices`, `POST /v1/devices/{id}/revoke`,
//! `POST /v1/devices/{id}/token` (a new bearer token, shown once), and
//! `PUT /v1/devices/{id}/certificate` (pin the client certificate's SHA-256).

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cw_core::device::token_sha256;
use cw_core::{Device, DeviceId, PatientId};
use cw_storage::StoreError;
use serde::{Deserialize, Serialize};

/// A device as admins see it (the token hash stays in the store).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: DeviceId,
    pub patient: PatientId,
    pub revoked: bool,
    pub cert_sha256: Option<String>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            id: d.id,
            patient: d.patient,
            revoked: d.revoked,
            cert_sha256: d.cert_sha256,
        }
    }
}

/// Returned once, when a token is made: only its hash is stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub device: DeviceView,
    pub token: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    pub patient: String,
    #[serde(default)]
    pub cert_sha256: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// Hex SHA-256 of the certificate's DER encoding (64 characters).
    pub cert_sha256: String,
}

fn fingerprint(raw: &str) -> Result<String, ApiError> {
    let fp = raw.trim().to_ascii_lowercase().replace(':', "");
    if fp.len() == 64 && fp.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(fp)
    } else {
        Err(ApiError::Invalid {
            field: Some("cert_sha256".into()),
            message: "cert_sha256 is 64 hex characters".into(),
        })
    }
}

fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

async fn device(state: &AppState, raw: &str) -> Result<Device, ApiError> {
    let id = DeviceId::parse(raw).map_err(|e| ApiError::Invalid {
        field: Some("device_id".into()),
        message: e.to_string(),
    })?;
    match state.records.device(&id).await {
        Ok(d) => Ok(d),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("device")),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/v1/devices", summary = "All devices (admin)",
    extensions(("x-access" = json!(Access::Admin))),
    responses((status = 200, body = Vec<DeviceView>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let devices = state.records.list_devices().await?;
    Ok(Json(devices.into_iter().map(DeviceView::from).collect()))
}

#[utoipa::path(post, path = "/v1/devices", summary = "Register a device; token shown once (admin)",
    extensions(("x-access" = json!(Access::Admin))), request_body = NewDevice,
    responses((status = 201, body = IssuedToken)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewDevice>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let patient_id = parse_patient(&input.patient)?;
    let cert_sha256 = input.cert_sha256.as_deref().map(fingerprint).transpose()?;
    let token = new_token();
    let device = Device {
        id: DeviceId::random(),
        patient: patient_id,
        token_sha256: token_sha256(&token),
        revoked: false,
        cert_sha256,
    };
    // The device and its place on the patient are one change (one transaction where
    // the store has them).
    match state.records.register_device(&device).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(ApiError::Invalid {
                field: Some("patient".into()),
                message: "no such patient".into(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(device = %device.id, patient = %device.patient, by = %caller.user, "device registered");
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            device: device.into(),
            token,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/devices/{id}/revoke", summary = "Revoke a device (admin)",
    extensions(("x-access" = json!(Access::Admin))), params(("id" = String, Path, description = "device id")),
    responses((status = 200, body = DeviceView)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    let mut device = device(&state, &id).await?;
    device.revoked = true;
    state.records.put_device(&device).await?;
    tracing::info!(device = %device.id, by = %caller.user, "device revoked");
    Ok(Json(device.into()))
}

#[utoipa::path(post, path = "/v1/devices/{id}/token", summary = "Replace a device's token (admin)",
    extensions(("x-access" = json!(Access::Admin))), params(("id" = String, Path, description = "device id")),
    responses((status = 200, body = IssuedToken)))]
pub async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IssuedToken>, ApiError> {
    let mut device = device(&state, &id).await?;
    let token = new_token();
    // The old token stops working with this write: lookups go by the new hash.
    device.token_sha256 = token_sha256(&token);
    state.records.put_device(&device).await?;
    tracing::info!(device = %device.id, by = %caller.user, "device token replaced");
    Ok(Json(IssuedToken {
        device: device.into(),
        token,
    }))
}

#[utoipa::path(put, path = "/v1/devices/{id}/certificate", summary = "Pin a client certificate SHA-256 (admin)",
    extensions(("x-access" = json!(Access::Admin))), params(("id" = String, Path, description = "device id")), request_body = Pin,
    responses((status = 200, body = DeviceView)))]
pub async fn pin_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Pin>, JsonRejection>,
) -> Result<Json<DeviceView>, ApiError> {
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let fp = fingerprint(&input.cert_sha256)?;
    let mut device = device(&state, &id).await?;
    device.cert_sha256 = Some(fp);
    state.records.put_device(&device).await?;
    tracing::info!(device = %device.id, by = %caller.user, "device certificate pinned");
    Ok(Json(device.into()))
}
