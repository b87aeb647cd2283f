//! `POST https://…/v1/batches`: one block per request, as the binary frame
//! (`application/octet-stream`) or as JSON (`application/json`); sample or numerics
//! frames (docs/ingest-protocol.md).

use crate::admission::admit;
use crate::app::AppState;
use crate::events::FrameReceived;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cw_protocol::{NackCode, Reply};
use cw_runtime::InternalEvent;
use cw_tls::PeerCert;
use std::net::SocketAddr;

pub async fn post(
    State(state): State<AppState>,
    cert: Option<Extension<PeerCert>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let device = match admit(&state, &headers, cert, peer, "/v1/batches").await {
        Ok(device) => device,
        Err(refused) => return refused,
    };
    // Over the HTTP body limit (2 MB) the body is not read; the gateway still gets the
    // protocol's typed answer, not the HTTP layer's plain text.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            FrameReceived.emit(&state.pipeline.metrics);
            let reply = state.pipeline.nack(
                &device,
                None,
                NackCode::TooLarge,
                format!("request body refused: {}", rejection.body_text()),
            );
            return (rejection.status(), Json(reply)).into_response();
        }
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let reply = if is_json {
        FrameReceived.emit(&state.pipeline.metrics);
        match cw_protocol::parse_json(&body) {
            Ok(frame) => state.pipeline.handle_any(&device, frame).await,
            Err(e) => state.pipeline.nack(
                &device,
                None,
                NackCode::BadFrame,
                format!("invalid JSON frame: {e}"),
            ),
        }
    } else if looks_like_json(&body) {
        // Read as a binary frame it would fail on its version byte; say what went wrong.
        FrameReceived.emit(&state.pipeline.metrics);
        state.pipeline.nack(
            &device,
            None,
            NackCode::BadFrame,
            "the body is JSON but its Content-Type is not application/json; binary frames \
             start with frame type byte 1 (samples) or 2 (numerics)"
                .into(),
        )
    } else {
        state.pipeline.handle_binary(&device, &body).await
    };
    (status_of(&reply), Json(reply)).into_response()
}

/// A JSON object (what a JSON frame is), not a binary frame (whose first byte is 1).
fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
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
