//! `GET /v1/alerts/live` — the worklist's one WebSocket: alert changes (fired,
//! acknowledged, resolved, and `updated`: snoozed, triaged, escalated) and the pages
//! (deliveries) of the open alerts of every patient the caller may see, so a worklist of
//! any length holds one socket, not one per patient
//! (docs/live.md, "Worklist socket"; the hub's side in `live/worklist_feed.rs`).
//!
//! Who sees what is `GET /v1/alerts`'s rule without a patient named
//! (`Caller::patients`: a doctor their assigned patients; admins and ops are refused).
//! Everything else is the patient socket's (`routes/live.rs`): authentication, the
//! per-user socket cap (this socket counts as one), the audit of the upgrade, the session
//! re-check (a disabled account is closed with 4003 within `session_recheck_ms`), and an
//! access re-check every `access_recheck_s` that re-reads the caller's patients — a patient
//! unassigned meanwhile is no longer sent, one assigned is sent from then on.

use crate::access::Caller;
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::live::access_recheck::Lost;
use crate::live::hub::Text;
use crate::live::messages::LiveMessage;
use crate::routes::live::{Scope, admit, serve, upgrade};
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::Response;
use cw_core::PatientId;
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

#[utoipa::path(get, path = "/v1/alerts/live",
    summary = "Live WebSocket of the worklist: alert changes of all the caller's patients",
    description = DESCRIPTION,
    extensions(("x-access" = json!(Access::PatientRead))),
    responses(
        (status = 101, description = "the WebSocket is open (subprotocol cardiowatch.v1)"),
        (status = 426, description = "not a WebSocket upgrade", body = ErrorBody)))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    extensions: axum::http::Extensions,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let patients = caller.patients(&state).await?;
    let (ws, viewer) = match admit(&state, caller, &extensions, ws) {
        Ok(admitted) => admitted,
        Err(refused) => return Ok(*refused),
    };
    tracing::info!(user = %viewer.caller.user, patients = patients.len(), "worklist live socket opened");
    Ok(upgrade(
        &state,
        ws,
        move |state, socket, shutdown| async move {
            let hub = state.live.clone();
            let scope = WorklistScope {
                patients: Mutex::new(patients.into_iter().collect()),
            };
            let mut watch = hub.watch_worklist();
            let (open, pages) = hub.worklist_greeting(&mut watch).await;
            let mut first = vec![
                LiveMessage::WorklistHello {
                    patients: scope.patients().len(),
                    queue: hub.cfg.queue,
                    session_s: hub.cfg.session_s,
                }
                .to_text(),
            ];
            {
                let mine = scope.patients();
                let shown: HashSet<&cw_core::AlertId> = open
                    .iter()
                    .filter(|alert| mine.contains(&alert.patient))
                    .map(|alert| &alert.id)
                    .collect();
                first.extend(
                    open.iter()
                        .filter(|alert| shown.contains(&alert.id))
                        .map(|alert| LiveMessage::alert("open", alert).to_text()),
                );
                first.extend(
                    pages
                        .iter()
                        .filter(|page| shown.contains(&page.alert))
                        .map(|delivery| LiveMessage::Delivery { delivery }.to_text()),
                );
            }
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
            tracing::info!(user = %viewer.caller.user, ?ended, "worklist live socket closed");
        },
    ))
}

/// The worklist socket's patients, as last re-read.
struct WorklistScope {
    patients: Mutex<HashSet<PatientId>>,
}

impl WorklistScope {
    fn patients(&self) -> std::sync::MutexGuard<'_, HashSet<PatientId>> {
        self.patients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Scope for WorklistScope {
    fn audited_as(&self) -> (&'static str, String, Option<PatientId>) {
        ("GET /v1/alerts/live", "/v1/alerts/live".into(), None)
    }

    fn keeps(&self, text: &Text) -> bool {
        text.patient
            .as_ref()
            .is_some_and(|p| self.patients().contains(p))
    }

    /// The caller's patients read again (one read per socket per interval), with the
    /// account's check: disabled, the socket closes (4003).
    async fn recheck(&self, state: &AppState, caller: &Caller, _: Duration) -> Result<(), Lost> {
        let decided = match crate::authn::require_active(state, &caller.user).await {
            Ok(()) => caller.patients(state).await,
            Err(e) => Err(e),
        };
        match decided {
            Ok(patients) => {
                *self.patients() = patients.into_iter().collect();
                Ok(())
            }
            Err(
                ApiError::Forbidden
                | ApiError::Unauthorized(_)
                | ApiError::NotFound(_)
                | ApiError::AccountDisabled(_),
            ) => Err(Lost::Revoked),
            Err(e) => {
                tracing::warn!(user = %caller.user, error = %e, "worklist live: access re-check failed; closing the socket");
                Err(Lost::Unchecked)
            }
        }
    }

    /// Nothing shares this socket's decision.
    async fn lost(&self) -> Lost {
        std::future::pending().await
    }
}

/// The OpenAPI description of the route.
pub const DESCRIPTION: &str = "WebSocket (RFC 6455) over the api's TLS listener, for a \
worklist: the alert changes of every patient the caller may see (as `GET /v1/alerts` \
without `patient`: a doctor's assigned patients; admins and ops 403), on one socket. \
Authenticate as for `/v1/patients/{id}/live` (header, or the subprotocols `cardiowatch.v1` \
and `bearer.<access token>`); audited; counted against `live.max_sockets_per_user` as one \
socket. Without an upgrade: 426. Text messages: `hello` {patients (how many), queue, \
session_s}; `alert` {event: open|fired|acknowledged|resolved|updated, alert} (as \
`GET /v1/alerts` shows it; `open` for each alert open at connect; `updated`: snoozed, \
triaged, escalated or its episode grown); `delivery` {delivery} (a page of an open alert \
as `GET /v1/alerts/{id}/deliveries` lists it: channel, recipient, attempt = escalation \
step, status; each open alert's pages after the `open` messages, then each page the \
notifier records or moves on, within `live.alert_poll_ms`); `dropped` {dropped}. The caller's patients are \
re-read every `live.access_recheck_s` (an unassigned patient's changes stop; a newly \
assigned one's start) and the session every `live.session_recheck_ms`. Close codes as \
for `/v1/patients/{id}/live`: 4003 account disabled, 4001 session over or ended, 4008 \
too slow, 1011 access could not be re-checked, 1001 shutdown.";
