//! Device identity: a bearer token whose SHA-256 is registered to a device.

use axum::http::HeaderMap;
use cw_core::Device;
use cw_core::device::token_sha256;
use cw_storage::{DeviceStore, StoreError};

pub enum AuthError {
    /// No or malformed `Authorization: Bearer` header.
    Missing,
    /// Unknown or revoked token.
    Denied,
    Store(StoreError),
}

pub async fn authenticate(
    headers: &HeaderMap,
    devices: &dyn DeviceStore,
) -> Result<Device, AuthError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Missing)?;
    match devices.device_by_token_hash(&token_sha256(token)).await {
        Ok(device) if !device.revoked => Ok(device),
        Ok(_) | Err(StoreError::NotFound) => Err(AuthError::Denied),
        Err(e) => Err(AuthError::Store(e)),
    }
}
