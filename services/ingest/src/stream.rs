//! `wss://…/v1/stream`: one binary frame per WebSocket message, one JSON reply each.
//! Frames are handled in order, one at a time, so a slow store slows the reading of this
//! socket (TCP backpressure to the gateway) instead of growing a queue.

use crate::app::AppState;
use crate::auth::{AuthError, authenticate};
use crate::batch::auth_rejection;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use cw_core::Device;
use cw_protocol::{MAX_FRAME_BYTES, NackCode, Reply};

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let device = match authenticate(&headers, state.records.as_ref()).await {
        Ok(device) => device,
        Err(e) => {
            if matches!(e, AuthError::Denied | AuthError::Missing) {
                state.pipeline.metrics.auth_failures.inc();
            }
            return auth_rejection(e);
        }
    };
    tracing::info!(device = %device.id, "gateway stream opened");
    ws.max_message_size(MAX_FRAME_BYTES + 1024)
        .on_upgrade(move |socket| serve(socket, device, state))
        .into_response()
}

async fn serve(mut socket: WebSocket, device: Device, state: AppState) {
    loop {
        let message = tokio::select! {
            _ = state.shutdown.cancelled() => break,
            m = socket.recv() => m,
        };
        let reply = match message {
            Some(Ok(Message::Binary(bytes))) => state.pipeline.handle_binary(&device, &bytes).await,
            Some(Ok(Message::Text(_))) => Reply::Nack {
                seq: None,
                code: NackCode::BadFrame,
                message: "send frames as binary messages".into(),
            },
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => continue, // ping/pong are answered by the library
            Some(Err(e)) => {
                tracing::info!(device = %device.id, error = %e, "gateway stream error");
                break;
            }
        };
        let Ok(text) = serde_json::to_string(&reply) else {
            break;
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
    tracing::info!(device = %device.id, "gateway stream closed");
}
