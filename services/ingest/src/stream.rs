//! `wss://…/v1/stream`: one binary frame per WebSocket message, one JSON reply each, in
//! the order the frames came. Up to `frames_in_flight` frames of a connection are being
//! handled at once (so they can share a coalesced batch); at that bound the socket is
//! not read, so a slow store slows the gateway (TCP backpressure) instead of growing a
//! queue.

use crate::admission::admit;
use crate::app::AppState;
use crate::events::FrameReceived;
use axum::Extension;
use axum::extract::ws::{CloseFrame, close_code};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use cw_core::Device;
use cw_protocol::MAX_FRAME_BYTES;
use cw_runtime::InternalEvent;
use cw_storage::StoreError;
use cw_tls::PeerCert;
use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// tungstenite allocates `read_buffer_size` per connection and zero-fills up to that much
/// before every socket read, even one that finds nothing (`WouldBlock`). Its 128 KiB
/// default made each gateway cost ~0.1 MiB resident plus a large memset per read, while
/// frames are a few hundred bytes to a few KiB (≤ 64 KiB); see docs/benchmarks.md. 16 KiB
/// is one TLS record. It caps one read, not a message: a larger frame is reserved whole
/// and read in several reads, and `max_message_size` still bounds it.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// The largest WebSocket message (and frame) ingest reads: a 64 KiB protocol frame plus
/// 1 KiB of slack (docs/ingest-protocol.md). The frame limit must be the same, not
/// tungstenite's 16 MiB default: it reserves a frame's declared length as soon as the
/// header arrives, before the message limit is checked, so any client could make ingest
/// hold 16 MiB per connection (docs/security.md, issue 13 finding 8's ingest twin).
const MAX_MESSAGE_BYTES: usize = MAX_FRAME_BYTES + 1024;

pub async fn upgrade(
    State(state): State<AppState>,
    cert: Option<Extension<PeerCert>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let device = match admit(&state, &headers, cert, peer, "/v1/stream").await {
        Ok(device) => device,
        Err(refused) => return refused,
    };
    tracing::info!(device = %device.id, "gateway stream opened");
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| serve(socket, device, state))
        .into_response()
}

/// How often an open stream re-reads its device: a device revoked (or deleted) while
/// streaming is cut off within this (and one store read), well inside 5 s.
const CREDENTIAL_RECHECK: Duration = Duration::from_secs(2);

/// Whether the device may keep streaming. A store error keeps the stream (its frames
/// fail to store anyway and are nacked `retry_later`); the next check decides again.
async fn still_admitted(state: &AppState, device: &Device) -> bool {
    match state.records.device(&device.id).await {
        Ok(current) => !current.revoked,
        Err(StoreError::NotFound) => false,
        Err(e) => {
            tracing::warn!(device = %device.id, error = %e, "could not re-check a streaming device");
            true
        }
    }
}

/// Whether a read failed because the message is over `max_message_size`. axum does not
/// re-export tungstenite's error type (and ours is another version), so this reads its
/// text: "Space limit exceeded: Message too long: N > M"; the e2e test
/// `a_message_over_the_limit_is_closed_with_1009` pins it.
fn is_too_long(e: &axum::Error) -> bool {
    e.to_string().contains("Message too long")
}

/// Sends a close frame and waits briefly for the gateway's, so the close code reaches it
/// instead of a reset connection.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn serve(mut socket: WebSocket, device: Device, state: AppState) {
    let device = Arc::new(device);
    let mut in_flight = FuturesOrdered::new();
    let mut recheck = tokio::time::interval(CREDENTIAL_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset();
    // On shutdown: stop reading, but answer the frames already being written, so acks
    // of durable data reach the gateway instead of provoking resends.
    let mut draining = false;
    loop {
        if draining && in_flight.is_empty() {
            break;
        }
        let can_read = !draining && in_flight.len() < state.frames_in_flight;
        let reply = tokio::select! {
            _ = state.shutdown.cancelled(), if !draining => {
                draining = true;
                continue;
            }
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => reply,
            _ = recheck.tick(), if !draining => {
                if still_admitted(&state, &device).await {
                    continue;
                }
                tracing::warn!(device = %device.id, "device revoked while streaming; closing its stream");
                close(&mut socket, close_code::POLICY, "device revoked").await;
                break;
            }
            message = socket.recv(), if can_read => {
                match message {
                    Some(Ok(Message::Binary(bytes))) => {
                        let pipeline = state.pipeline.clone();
                        let device = device.clone();
                        in_flight.push_back(async move {
                            pipeline.handle_binary(&device, &bytes).await
                        }.boxed());
                        continue;
                    }
                    Some(Ok(Message::Text(_))) => {
                        FrameReceived.emit(&state.pipeline.metrics);
                        let reply = state.pipeline.refuse_text(&device);
                        in_flight.push_back(futures::future::ready(reply).boxed());
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue, // ping/pong are answered by the library
                    Some(Err(e)) if is_too_long(&e) => {
                        tracing::info!(device = %device.id, error = %e, "gateway message over the size limit; closing 1009");
                        close(&mut socket, close_code::SIZE, "message over 65 KiB").await;
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::info!(device = %device.id, error = %e, "gateway stream error");
                        break;
                    }
                }
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
