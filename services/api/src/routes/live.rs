//! `GET /v1/patients/{id}/live` — a WebSocket streaming one patient's heart rate per beat,
//! alert state changes and subsampled ECG (`crate::live`; messages in `docs/live.md`).
//!
//! Authentication is the REST api's: an access token, sent as `Authorization: Bearer …`
//! or — because browsers cannot set headers on a WebSocket — as the subprotocol
//! `bearer.<token>` next to `cardiowatch.v1` (`new WebSocket(url, ["cardiowatch.v1",
//! "bearer." + token])`); the server answers `cardiowatch.v1`, never echoing the token, and
//! tokens never go in the URL (proxies log URLs). Authorization is exactly the REST
//! routes' (`require_patient`: assigned doctors, break-glass, admin; never ops), checked
//! when the socket opens and again every `live.access_recheck_s` while it is open
//! (`crate::live::access_recheck`): access gone closes it with 4003, audited as a denial.
//! Its session is re-checked every `live.session_recheck_ms` (`session_holds`): logout or
//! a role change closes it with 4001, a disable with 4003, as they end REST access at once.
//! The upgrade request is audited like any PHI read. A socket lives at most
//! `live.session_s` (close 4001), so a token's expiry ends it too.

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::audit_trail::role_name;
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::events::{LiveClose, LiveClosed, LiveOpened, LiveRefusedBusy, LiveRefusedPerUser};
use crate::live::access_recheck::{Lost, Membership};
use crate::live::forward::{self, Ended, Limits};
use crate::live::hub::{LiveHub, Text, Watch};
use crate::live::messages::LiveMessage;
use crate::live::user_sockets::Place;
use crate::request_id::RequestId;
use axum::Json;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cw_core::PatientId;
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::time::now_ns;
use cw_runtime::InternalEvent;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The subprotocol a live socket speaks (the JSON messages of `crate::live::messages`).
pub const SUBPROTOCOL: &str = "cardiowatch.v1";
/// Prefix of the subprotocol that carries an access token.
pub const BEARER_PREFIX: &str = "bearer.";

/// Close codes (4000–4999 are the application's).
pub const CLOSE_SESSION_OVER: u16 = 4001;
pub const CLOSE_BEHIND: u16 = 4008;
/// The caller's access to the patient is gone (assignment removed, break-glass expired).
pub const CLOSE_ACCESS_REVOKED: u16 = 4003;
/// Standard "internal error": access could not be re-checked, so the socket fails closed.
pub const CLOSE_UNCHECKED: u16 = 1011;

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

#[utoipa::path(get, path = "/v1/patients/{id}/live",
    summary = "Live WebSocket: heart rate per beat, alert state changes, subsampled ECG",
    description = DESCRIPTION,
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id")),
    responses(
        (status = 101, description = "the WebSocket is open (subprotocol cardiowatch.v1)"),
        (status = 426, description = "not a WebSocket upgrade", body = ErrorBody)))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let (ws, viewer) = match admit(&state, caller, &extensions, ws) {
        Ok(admitted) => admitted,
        Err(refused) => return Ok(*refused),
    };
    tracing::info!(user = %viewer.caller.user, patient = %patient, "live socket opened");
    Ok(upgrade(
        &state,
        ws,
        move |state, socket, shutdown| async move {
            let hub = state.live.clone();
            let scope = PatientScope {
                membership: hub.rechecks.join(&viewer.caller, &patient),
                patient,
            };
            let mut watch = hub.watch(&scope.patient);
            let first = greeting(&hub, &mut watch).await;
            let ended = serve(
                &state,
                &viewer,
                &scope,
                &mut watch.rx,
                first,
                socket,
                shutdown,
            )
            .await;
            tracing::info!(patient = %scope.patient, ?ended, "live socket closed");
        },
    ))
}

/// Admits an upgrade request whose caller is authorized: a WebSocket upgrade (else 426),
/// under `max_connections` (else 503) and the caller's `max_sockets_per_user` (else 429:
/// the patients' sockets and the worklist's count together). The refusal is the
/// response (boxed: it is large beside the admission).
pub(crate) fn admit(
    state: &AppState,
    caller: Caller,
    extensions: &axum::http::Extensions,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<(WebSocketUpgrade, Viewer), Box<Response>> {
    let Ok(ws) = ws else {
        return Err(Box::new(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "this is a WebSocket endpoint: send a WebSocket upgrade (subprotocol cardiowatch.v1)",
        )));
    };
    let hub = &state.live;
    if hub.metrics.connections.load(Ordering::Relaxed) >= hub.cfg.max_connections {
        LiveRefusedBusy.emit(&hub.metrics);
        return Err(Box::new(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "live_busy",
            "too many live sockets on this server; try again shortly",
        )));
    }
    let Some(place) = hub.users.take(&caller.user, hub.cfg.max_sockets_per_user) else {
        LiveRefusedPerUser {
            user: &caller.user,
            limit: hub.cfg.max_sockets_per_user,
        }
        .emit(&hub.metrics);
        return Err(Box::new(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "live_sockets_per_user",
            "too many live sockets open for this user; close one first",
        )));
    };
    let viewer = Viewer {
        caller,
        request_id: extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        source: extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.to_string())
            .unwrap_or_default(),
        place,
    };
    Ok((ws, viewer))
}

/// The 101 answer; `session` runs the socket once upgraded (with the api's shutdown).
pub(crate) fn upgrade<F, Fut>(state: &AppState, ws: WebSocketUpgrade, session: F) -> Response
where
    F: FnOnce(AppState, WebSocket, CancellationToken) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let max_message = state.live.cfg.max_message_bytes;
    let shutdown = state.live.shutdown_token();
    let state = state.clone();
    ws.protocols([SUBPROTOCOL])
        // Clients only close and ping: a larger message ends the socket (1009) before
        // it is buffered (issue 13 #8).
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| session(state, socket, shutdown))
}

/// Who opened the socket, the upgrade request's audit identifiers, and the socket's
/// place among its user's (given back when the socket ends).
pub(crate) struct Viewer {
    pub(crate) caller: Caller,
    request_id: String,
    source: String,
    place: Place,
}

/// What differs between the kinds of live socket: what it sends, how its access is
/// re-checked, and what a closing for lost access is audited as. A patient's socket
/// ([`PatientScope`]) and the worklist's (`routes/alerts_live.rs`) share the rest
/// ([`serve`]).
pub(crate) trait Scope {
    /// The audit record of a closing for lost access: action, resource, patient.
    fn audited_as(&self) -> (&'static str, String, Option<PatientId>);
    /// Whether a message of the socket's channel goes to this client.
    fn keeps(&self, text: &Text) -> bool;
    /// Asks the access decision again (a decision younger than `fresh` may be reused).
    async fn recheck(&self, state: &AppState, caller: &Caller, fresh: Duration)
    -> Result<(), Lost>;
    /// Resolves when another socket found the shared access gone (never, unshared).
    async fn lost(&self) -> Lost;
}

/// One patient's socket: its access decision shared with the user's other sockets on
/// the patient (`live/access_recheck.rs`).
struct PatientScope<'a> {
    patient: PatientId,
    membership: Membership<'a>,
}

impl Scope for PatientScope<'_> {
    fn audited_as(&self) -> (&'static str, String, Option<PatientId>) {
        (
            "GET /v1/patients/{id}/live",
            format!("/v1/patients/{}/live", self.patient),
            Some(self.patient.clone()),
        )
    }

    fn keeps(&self, _: &Text) -> bool {
        true
    }

    async fn recheck(
        &self,
        state: &AppState,
        caller: &Caller,
        fresh: Duration,
    ) -> Result<(), Lost> {
        self.membership.recheck(state, caller, fresh).await
    }

    async fn lost(&self) -> Lost {
        self.membership.lost().await
    }
}

/// Re-checks access every `live.access_recheck_s` and the session every
/// `live.session_recheck_ms` until the socket stops; cancels `stop` and says why when
/// either is gone.
async fn recheck_access(
    state: &AppState,
    viewer: &Viewer,
    scope: &impl Scope,
    stop: &CancellationToken,
) -> Option<Lost> {
    let interval = |period: Duration| {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    };
    let period = Duration::from_secs(state.live.cfg.access_recheck_s.max(1));
    let session_period = Duration::from_millis(state.live.cfg.session_recheck_ms.max(100));
    let (mut tick, mut session_tick) = (interval(period), interval(session_period));
    let lost = loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            lost = scope.lost() => break lost,
            _ = tick.tick() => {
                if let Err(lost) = scope.recheck(state, &viewer.caller, period).await {
                    break lost;
                }
            }
            _ = session_tick.tick() => {
                // A read shared by the user's sockets is at most half an interval old,
                // so an ended session closes within 1.5 intervals.
                if let Err(lost) = session_holds(state, viewer, session_period / 2).await {
                    break lost;
                }
            }
        }
    };
    stop.cancel();
    Some(lost)
}

/// Whether the socket's session still holds, by the account record read at most `fresh`
/// ago by any socket of the user (`authn::session_holds`, the per-request check).
async fn session_holds(state: &AppState, viewer: &Viewer, fresh: Duration) -> Result<(), Lost> {
    let found = viewer
        .place
        .account(state.records.as_ref(), fresh)
        .await
        .map_err(|e| {
            tracing::warn!(user = %viewer.caller.user, error = %e, "live: session re-check failed; closing the socket");
            Lost::Unchecked
        })?;
    // No record: nothing has ended a session of this user (each end writes the record).
    let Some(found) = found else { return Ok(()) };
    let caller = &viewer.caller;
    match crate::authn::session_holds(&found, caller.role, caller.session.as_ref()) {
        Ok(()) => Ok(()),
        Err(ApiError::AccountDisabled(_)) => Err(Lost::Revoked),
        Err(_) => Err(Lost::SessionEnded),
    }
}

/// A socket closed for lost access is a denial in the audit chain, like a refused request.
async fn audit_revoked(state: &AppState, viewer: &Viewer, scope: &impl Scope, lost: &Lost) {
    let (action, resource, patient) = scope.audited_as();
    let entry = AuditEntry {
        at_ns: now_ns(),
        actor: viewer.caller.user.to_string(),
        role: role_name(viewer.caller.role).to_owned(),
        action: action.into(),
        resource,
        patient,
        outcome: match lost {
            Lost::Revoked | Lost::SessionEnded => AuditOutcome::Denied,
            Lost::Unchecked => AuditOutcome::Failed,
        },
        status: match lost {
            Lost::Revoked => CLOSE_ACCESS_REVOKED,
            Lost::SessionEnded => CLOSE_SESSION_OVER,
            Lost::Unchecked => CLOSE_UNCHECKED,
        },
        source: viewer.source.clone(),
        request_id: viewer.request_id.clone(),
        reason: match lost {
            Lost::Revoked => "access re-check: access revoked; live socket closed".into(),
            Lost::SessionEnded => {
                "session re-check: session ended (logout or role change); live socket closed".into()
            }
            Lost::Unchecked => "access re-check failed; live socket closed".into(),
        },
    };
    if let Err(e) = state.records.append_audit(&entry).await {
        // The socket closes regardless: nothing more is served to this caller.
        tracing::error!(error = %e, "audit write failed for a revoked live socket");
    }
    tracing::warn!(user = %viewer.caller.user, ?lost, "live socket closed: access gone");
}

/// Runs one socket: `first` (the greeting), then the channel's messages the scope keeps,
/// until the client leaves, falls behind, its access or session ends, or the server shuts
/// down; closes it with the code that says which.
pub(crate) async fn serve(
    state: &AppState,
    viewer: &Viewer,
    scope: &impl Scope,
    rx: &mut broadcast::Receiver<Text>,
    first: Vec<String>,
    socket: WebSocket,
    shutdown: CancellationToken,
) -> Ended {
    let hub = &state.live;
    hub.metrics.connections.fetch_add(1, Ordering::Relaxed);
    LiveOpened.emit(&hub.metrics);
    let ended = run(state, viewer, scope, rx, first, socket, shutdown).await;
    hub.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    ended
}

async fn run(
    state: &AppState,
    viewer: &Viewer,
    scope: &impl Scope,
    watched: &mut broadcast::Receiver<Text>,
    first: Vec<String>,
    socket: WebSocket,
    shutdown: CancellationToken,
) -> Ended {
    let hub = &state.live;
    let (mut tx, mut rx) = socket.split();
    let stop = shutdown.child_token();
    // Inbound: only close (and pings, answered by the library) are expected.
    let reader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while let Some(read) = rx.next().await {
                match read {
                    Ok(Message::Close(_)) => break,
                    Ok(_) => {}
                    Err(e) => {
                        // Above `live.max_message_bytes`, or a protocol error: the socket
                        // ends (the library answers 1009 / 1002).
                        tracing::warn!(error = %e, "live socket: client message refused; closing");
                        break;
                    }
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
    let (ended, lost) = {
        let mut texts = (&mut tx).with(|text: axum::extract::ws::Utf8Bytes| {
            futures::future::ready(Ok::<_, axum::Error>(Message::Text(text)))
        });
        let streaming = async {
            match greet(first, &mut texts, &limits).await {
                Ok(()) => {
                    forward::forward(watched, &mut texts, &limits, &hub.metrics, &stop, |t| {
                        scope.keeps(t)
                    })
                    .await
                }
                Err(ended) => ended,
            }
        };
        tokio::join!(
            async {
                let ended = streaming.await;
                // The re-check loop ends with the stream.
                stop.cancel();
                ended
            },
            recheck_access(state, viewer, scope, &stop)
        )
    };
    stop.cancel();
    reader.abort();
    let session_over = session_over.await.unwrap_or(false);
    if let Some(lost) = &lost {
        audit_revoked(state, viewer, scope, lost).await;
    }
    let close = match (&ended, &lost) {
        (Ended::Stopped, Some(Lost::Revoked)) => {
            LiveClosed(LiveClose::Revoked).emit(&hub.metrics);
            Some((
                CLOSE_ACCESS_REVOKED,
                "access revoked: you may no longer view this".to_owned(),
            ))
        }
        (Ended::Stopped, Some(Lost::SessionEnded)) => Some((
            CLOSE_SESSION_OVER,
            "session ended (logout or role change); sign in again".to_owned(),
        )),
        (Ended::Stopped, Some(Lost::Unchecked)) => Some((
            CLOSE_UNCHECKED,
            "access could not be re-checked; reconnect shortly".to_owned(),
        )),
        (Ended::Behind { dropped }, _) => {
            LiveClosed(LiveClose::Behind).emit(&hub.metrics);
            Some((
                CLOSE_BEHIND,
                format!("client too slow ({dropped} messages dropped)"),
            ))
        }
        (Ended::Stopped, None) if session_over => Some((
            CLOSE_SESSION_OVER,
            "session over; reconnect with a valid access token".to_owned(),
        )),
        (Ended::Stopped, None) if shutdown.is_cancelled() => {
            Some((1001, "server shutting down".into()))
        }
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

/// A patient socket's first messages: what it carries, the alerts open right now, and
/// the analysis state and NEWS2 when the hub knows them.
async fn greeting(hub: &LiveHub, watch: &mut Watch) -> Vec<String> {
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
    first.extend(
        open.iter()
            .map(|alert| LiveMessage::alert("open", alert).to_text()),
    );
    if let Some((at_ns, state)) = hub.analysis_of(watch.patient()) {
        first.push(
            LiveMessage::Analysis {
                at_ns,
                state: state.as_str(),
            }
            .to_text(),
        );
    }
    if let Some(news2) = hub.news2_of(watch.patient()) {
        first.push(LiveMessage::News2 { news2: &news2 }.to_text());
    }
    first
}

/// Sends the first messages, each within the send timeout.
pub(crate) async fn greet<S>(first: Vec<String>, sink: &mut S, limits: &Limits) -> Result<(), Ended>
where
    S: futures::Sink<axum::extract::ws::Utf8Bytes> + Unpin,
{
    for text in first {
        match tokio::time::timeout(limits.send_timeout, sink.send(text.into())).await {
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
`analysis` {at_ns, state: learning|analysing}: a technical state, learning while the \
stream has too little clean signal for physiological alarms (at most 10 s after it starts); \
`vitals` {readings: [{time_ns, kind, site, status, value}]}: the numerics of one gateway frame \
as stored; `news2` {news2: {at_ns, total, components, missing, response, assumed}}: the \
alert-engine's NEWS2 after a batch of numerics (and at connect when known); \
`dropped` {dropped}: this socket fell behind and skipped that many messages so far. \
Access is re-checked every `live.access_recheck_s` while the socket is open. \
At most `live.max_sockets_per_user` sockets per user (more: 429 `live_sockets_per_user`); \
a client message above `live.max_message_bytes` (4 KiB) ends the socket (1009). \
The session is re-checked every `live.session_recheck_ms` (2 s). \
Close codes: 4003 access revoked (assignment removed, break-glass expired, account \
disabled; audited as a denial), 4008 the client stayed behind (send timeout or too many dropped), 4001 the \
session reached `live.session_s` or ended (logout, role change; audited as a denial): \
sign in again, 1009 a client message too big, 1011 access could not be \
re-checked, 1001 server shutdown.";
