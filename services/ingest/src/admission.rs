//! Admission of a gateway request: identify the device (bearer token or client
//! certificate), or count, audit and refuse it — the same for the stream and the batch
//! endpoint.

use crate::app::AppState;
use crate::auth::{AuthError, audit_refusal, authenticate};
use crate::events::DeviceCredentialsRefused;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cw_core::Device;
use cw_runtime::InternalEvent;
use cw_tls::PeerCert;
use serde_json::json;
use std::net::SocketAddr;

/// The device making the request, or the response refusing it.
pub async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    cert: Option<Extension<PeerCert>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    path: &'static str,
) -> Result<Device, Response> {
    let cert = cert.as_ref().map(|c| &c.0);
    match authenticate(headers, cert, state.records.as_ref()).await {
        Ok(device) => Ok(device),
        Err(e) => {
            if matches!(e, AuthError::Denied | AuthError::Missing) {
                DeviceCredentialsRefused.emit(&state.pipeline.metrics);
                audit_refusal(
                    state.records.clone(),
                    headers,
                    cert,
                    peer.map(|p| p.0.0.to_string()).unwrap_or_default(),
                    path,
                    if matches!(e, AuthError::Missing) {
                        "no credentials"
                    } else {
                        "unknown or revoked device"
                    },
                );
            }
            Err(auth_rejection(e))
        }
    }
}

/// 401 for missing or unknown credentials, 503 when the device registry is unreachable.
fn auth_rejection(e: AuthError) -> Response {
    let (status, code, message) = match e {
        AuthError::Missing => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <device token> or a registered client certificate",
        ),
        AuthError::Denied => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown or revoked device credentials",
        ),
        AuthError::Store(err) => {
            tracing::warn!(error = %err, "device lookup failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "retry_later",
                "device registry unavailable",
            )
        }
    };
    if status == StatusCode::UNAUTHORIZED {
        tracing::warn!(code, "gateway authentication rejected");
    }
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}
