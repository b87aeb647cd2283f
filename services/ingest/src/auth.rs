//! Device identity: a bearer token whose SHA-256 is registered to a device, or a TLS
//! client certificate whose SHA-256 fingerprint is (or, with a client CA configured, one
//! that CA issued to the device id in its subject CN). A bearer header, when sent,
//! decides; otherwise the certificate does. Unknown and revoked devices are refused alike.

use axum::http::HeaderMap;
use cw_core::Device;
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::device::token_sha256;
use cw_core::time::now_ns;
use cw_storage::IngestRecords;
use cw_storage::{DeviceStore, StoreError};
use cw_tls::PeerCert;
use std::sync::Arc;

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
        (None, Some(cert)) => by_certificate(cert, devices).await,
        (None, None) => return Err(AuthError::Missing),
    };
    match found {
        Ok(device) if !device.revoked => Ok(device),
        Ok(_) | Err(StoreError::NotFound) => Err(AuthError::Denied),
        Err(e) => Err(AuthError::Store(e)),
    }
}

/// A registered fingerprint names the device; failing that, a certificate the
/// configured client CA issued names it by its subject CN (the CA vouches for it) —
/// unless that device is pinned to a fingerprint, which this certificate does not have:
/// a pin is never bypassed by a name.
async fn by_certificate(cert: &PeerCert, devices: &dyn DeviceStore) -> Result<Device, StoreError> {
    match devices.device_by_cert_sha256(&cert.sha256).await {
        Err(StoreError::NotFound) if cert.ca_verified => {
            let id = cert
                .common_name
                .as_deref()
                .and_then(|cn| cw_core::DeviceId::parse(cn).ok())
                .ok_or(StoreError::NotFound)?;
            let device = devices.device(&id).await?;
            if device.cert_sha256.is_some() {
                tracing::warn!(device = %device.id, "a CA-issued certificate names a device pinned to another fingerprint; refused");
                return Err(StoreError::NotFound);
            }
            Ok(device)
        }
        other => other,
    }
}

/// Records a refused device in the audit trail (docs/ingest-protocol.md, "Authentication": unknown device → rejected,
/// audited). In the background, so a refusal costs the caller no store round trip. The
/// actor names the credential by hash only: a token's SHA-256 prefix (what the registry
/// stores, useless to an attacker) or the certificate fingerprint.
pub fn audit_refusal(
    records: Arc<dyn IngestRecords>,
    headers: &HeaderMap,
    cert: Option<&PeerCert>,
    source: String,
    resource: &str,
    reason: &str,
) {
    let token_hash = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| token_sha256(t.trim()));
    let actor = match (token_hash, cert) {
        (Some(hash), _) => format!("device-token:{}", &hash[..16]),
        (None, Some(cert)) => format!("device-cert:{}", cert.sha256),
        (None, None) => "anonymous".to_owned(),
    };
    let entry = AuditEntry {
        at_ns: now_ns(),
        actor,
        role: "device".into(),
        action: "gateway_connect".into(),
        resource: resource.to_owned(),
        patient: None,
        outcome: AuditOutcome::Denied,
        status: 401,
        source,
        request_id: String::new(),
        reason: reason.to_owned(),
    };
    tokio::spawn(async move {
        if let Err(e) = records.append_audit(&entry).await {
            tracing::warn!(error = %e, "could not audit a refused device");
        }
    });
}
