//! Device identity: a bearer token whose SHA-256 is registered to a device, or a TLS
//! client certificate whose SHA-256 fingerprint is. A bearer header, when sent, decides;
//! otherwise the certificate does. Unknown and revoked devices are refused alike.

use axum::http::HeaderMap;
use cw_core::Device;
use cw_core::device::token_sha256;
use cw_storage::{DeviceStore, StoreError};
use cw_tls::PeerCert;

pub enum AuthError {
    /// Neither an `Authorization: Bearer` header nor a client certificate.
    Missing,
    /// Unknown or revoked token or certificate.
    Denied,
    Store(StoreError),
}

pub async fn authenticate(
    headers: &HeaderMap,
    cert: Option<&PeerCert>,
    devices: &dyn DeviceStore,
) -> Result<Device, AuthError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let found = match (token, cert) {
        (Some(token), _) => devices.device_by_token_hash(&token_sha256(token)).await,
        (None, Some(cert)) => devices.device_by_cert_sha256(&cert.sha256).await,
        (None, None) => return Err(AuthError::Missing),
    };
    match found {
        Ok(device) if !device.revoked => Ok(device),
        Ok(_) | Err(StoreError::NotFound) => Err(AuthError::Denied),
        Err(e) => Err(AuthError::Store(e)),
    }
}
