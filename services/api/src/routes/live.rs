//! `GET /v1/patients/{id}/live` — a WebSocket streaming one patient's heart rate per beat,
//! alert state changes and subsampled ECG (`crate::live`; messages in `docs/live.md`).
//!
//! Authentication is the REST api's: an access token, sent as `Authorization: Bearer …`
//! or — because browsers cannot set headers on a WebSocket — as the subprotocol
//! `bearer.<token>` next to `cardiowatch.v1` (`new WebSocket(url, ["cardiowatch.v1",
//! "bearer." + token])`); the server answers `cardiowatch.v1`, never echoing the token, and
//! tokens never go in the URL (proxies log URLs). Authorization is exactly the REST
//! routes' (`require_patient`: assigned doctors, break-glass, admin; never ops), checked
//! when the socket opens; the upgrade request is audited like any PHI read. A socket lives
//! at most `live.session_s` (close 4001) so it cannot outlive its authorization for long.

use crate::access::{Caller, parse_patient};
use crate::app::AppState;
use crate::error::ApiError;
use crate::live::forward::{self, Ended, Limits};
use crate::live::hub::{LiveHub, Watch};
use crate::live::messages::LiveMessage;
use axum::Json;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cw_core::PatientId;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The subprotocol a live socket speaks (the JSON messages of `crate::live::messages`).
pub const SUBPROTOCOL: &str = "cardiowatch.v1";
/// Prefix of the subprotocol that carries an access token.
pub const BEARER_PREFIX: &str = "bearer.";

/// Close codes (4000–4999 are the application's).
pub const CLOSE_SESSION_OVER: u16 = 4001;
pub const CLOSE_BEHIND: u16 = 4008;

/// Outermost middleware: a `bearer.<token>` subprotocol becomes `Authorization: Bearer`
/// (unless the request has one), so authentication, audit and access control run on a
/// browser's socket exactly as on any REST request.
pub async fn bearer_from_subprotocol(mut req: Request, next: Next) -> Response {
    if !req.headers().contains_key(header::AUTHORIZATION) {
        let token = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|p| p.trim().strip_prefix(BEARER_PREFIX))
            .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok());
        if let Some(value) = token {
            req.headers_mut().insert(header::AUTHORIZATION, value);
        }
    }
    next.run(req).await
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let Ok(ws) = ws else {
        return Ok(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "this is a WebSocket endpoint: send a WebSocket upgrade (subprotocol cardiowatch.v1)",
        ));
    };
    let hub = state.live.clone();
    if hub.metrics.connections.load(Ordering::Relaxed) >= hub.cfg.max_connections {
        hub.metrics.refused_busy.inc();
        return Ok(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "live_busy",
            "too many live sockets on this server; try again shortly",
        ));
    }
    let shutdown = hub.shutdown_token();
    tracing::info!(user = %caller.user, patient = %patient, "live socket opened");
    Ok(ws
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| session(hub, patient, socket, shutdown)))
}

async fn session(
    hub: Arc<LiveHub>,
    patient: PatientId,
    socket: WebSocket,
    shutdown: CancellationToken,
) {
    hub.metrics.connections.fetch_add(1, Ordering::Relaxed);
    hub.metrics.opened.inc();
    let ended = run(&hub, &patient, socket, shutdown).await;
    hub.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    tracing::info!(patient = %patient, ?ended, "live socket closed");
}

async fn run(
    hub: &Arc<LiveHub>,
    patient: &PatientId,
    socket: WebSocket,
    shutdown: CancellationToken,
) -> Ended {
    let (mut tx, mut rx) = socket.split();
    let mut watch = hub.watch(patient);
    let stop = shutdown.child_token();
    // Inbound: only close (and pings, answered by the library) are expected.
    let reader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = rx.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
            stop.cancel();
        })
    };
    let session_over = {
        let stop = stop.clone();
        let session = Duration::from_secs(hub.cfg.session_s.max(1));
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => false,
                _ = tokio::time::sleep(session) => { stop.cancel(); true }
            }
        })
    };
    let limits = Limits {
        send_timeout: Duration::from_millis(hub.cfg.send_timeout_ms.max(1)),
        max_dropped: hub.cfg.max_dropped,
    };
    let ended = {
        let mut texts = (&mut tx).with(|text: String| {
            futures::future::ready(Ok::<_, axum::Error>(Message::Text(text.into())))
        });
        match greet(hub, &mut watch, &mut texts, &limits).await {
            Ok(()) => {
                forward::forward(&mut watch.rx, &mut texts, &limits, &hub.metrics, &stop).await
            }
            Err(ended) => ended,
        }
    };
    drop(watch);
    stop.cancel();
    reader.abort();
    let session_over = session_over.await.unwrap_or(false);
    let close = match &ended {
        Ended::Behind { dropped } => {
            hub.metrics.closed_behind.inc();
            Some((
                CLOSE_BEHIND,
                format!("client too slow ({dropped} messages dropped)"),
            ))
        }
        Ended::Stopped if session_over => Some((
            CLOSE_SESSION_OVER,
            "session over; reconnect with a valid access token".to_owned(),
        )),
        Ended::Stopped if shutdown.is_cancelled() => Some((1001, "server shutting down".into())),
        _ => None,
    };
    if let Some((code, reason)) = close {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        // A client that is behind may not take even this: do not wait long.
        let _ = tokio::time::timeout(Duration::from_secs(1), tx.send(frame)).await;
    }
    ended
}

/// The first messages: what the socket carries, then the alerts open right now.
async fn greet<S>(
    hub: &LiveHub,
    watch: &mut Watch,
    sink: &mut S,
    limits: &Limits,
) -> Result<(), Ended>
where
    S: futures::Sink<String> + Unpin,
{
    let open = hub.greeting(watch).await;
    let mut first = vec![
        LiveMessage::Hello {
            patient: watch.patient().as_str(),
            ecg_max_hz: hub.cfg.ecg_max_hz,
            queue: hub.cfg.queue,
            session_s: hub.cfg.session_s,
        }
        .to_text(),
    ];
    first.extend(open.iter().map(|alert| {
        LiveMessage::Alert {
            event: "open",
            alert,
        }
        .to_text()
    }));
    for text in first {
        match tokio::time::timeout(limits.send_timeout, sink.send(text)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Ended::ClientGone),
            Err(_) => return Err(Ended::Behind { dropped: 0 }),
        }
    }
    Ok(())
}

/// The OpenAPI description of the route (the messages are JSON text frames).
pub const DESCRIPTION: &str = "WebSocket (RFC 6455) over the api's TLS listener. \
Authenticate with `Authorization: Bearer <access token>`, or from a browser with the \
subprotocols `cardiowatch.v1` and `bearer.<access token>` (the server selects \
`cardiowatch.v1`). Access as for the patient's REST routes: assigned doctors (or under \
break-glass) and admins; never ops; audited. Without an upgrade: 426. Text messages, \
each a JSON object with `type`: `hello` {patient, ecg_max_hz, queue, session_s}; `hr` \
{at_ns (beat sample time), bpm, instant_bpm, rr_ms}; `alert` {event: open|fired|acknowledged|resolved, \
alert}; `ecg` {bucket_ns, buckets: [{start_ns, min: [µV per lead], max: [...]}]}; \
`dropped` {dropped}: this socket fell behind and skipped that many messages so far. \
Close codes: 4008 the client stayed behind (send timeout or too many dropped), 4001 the \
session reached `live.session_s` (reconnect with a valid token), 1001 server shutdown.";
