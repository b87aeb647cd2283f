//! `POST https://…/v1/batches`: one block per request, as the binary frame
//! (`application/octet-stream`) or as JSON (`application/json`).

use crate::app::AppState;
use crate::auth::{AuthError, audit_refusal, authenticate};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cw_protocol::{Frame, NackCode, Reply};
use cw_tls::PeerCert;
use serde_json::json;
use std::net::SocketAddr;

pub async fn post(
    State(state): State<AppState>,
    cert: Option<Extension<PeerCert>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match authenticate(
        &headers,
        cert.as_ref().map(|c| &c.0),
        state.records.as_ref(),
    )
    .await
    {
        Ok(device) => device,
        Err(e) => {
            if matches!(e, AuthError::Denied | AuthError::Missing) {
                state.pipeline.metrics.auth_failures.inc();
                audit_refusal(
                    state.records.clone(),
                    &headers,
                    cert.as_ref().map(|c| &c.0),
                    peer.map(|p| p.0.0.to_string()).unwrap_or_default(),
                    "/v1/batches",
                    if matches!(e, AuthError::Missing) {
                        "no credentials"
                    } else {
                        "unknown or revoked device"
                    },
                );
            }
            return auth_rejection(e);
        }
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let reply = if is_json {
        state.pipeline.metrics.frames.inc();
        match serde_json::from_slice::<Frame>(&body) {
            Ok(frame) => state.pipeline.handle_frame(&device, frame).await,
            Err(e) => Reply::Nack {
                seq: None,
                code: NackCode::BadFrame,
                message: format!("invalid JSON frame: {e}"),
            },
        }
    } else {
        state.pipeline.handle_binary(&device, &body).await
    };
    (status_of(&reply), Json(reply)).into_response()
}

fn status_of(reply: &Reply) -> StatusCode {
    match reply {
        Reply::Ack { .. } => StatusCode::OK,
        Reply::Nack { code, .. } => match code {
            NackCode::BadFrame => StatusCode::BAD_REQUEST,
            NackCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            NackCode::RetryLater => StatusCode::SERVICE_UNAVAILABLE,
            NackCode::StaleSeq => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
    }
}

/// 401 for missing or unknown credentials, 503 when the device registry is unreachable.
pub fn auth_rejection(e: AuthError) -> Response {
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
