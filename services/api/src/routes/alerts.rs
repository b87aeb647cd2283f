//! `GET /v1/alerts`, `POST /v1/alerts/{id}/ack`, `POST /v1/alerts/{id}/snooze`,
//! `GET /v1/alerts/{id}/deliveries`.

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::alert_view::AlertView;
use crate::app::AppState;
use crate::audit_trail::AuditPatient;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::{Extension, Json};
use cw_core::time::now_ns;
use cw_core::{Alert, AlertId, AlertState, Delivery, Priority, Role};
use cw_storage::alert_pages::AlertPageQuery;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// One patient; default: all of the caller's patients.
    pub patient: Option<String>,
    /// `firing`, `acknowledged` or `resolved`.
    pub state: Option<String>,
    /// `high`, `medium` or `low`.
    pub priority: Option<String>,
    /// Continue after this alert: the `x-next-cursor` header of the previous page.
    pub cursor: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<usize>,
}

/// Response header naming the cursor of the next page (absent on the last page).
const NEXT_CURSOR: &str = "x-next-cursor";

/// A cursor is `<fired_ns>.<alert id>` of the last alert of a page.
fn parse_cursor(raw: &str) -> Result<(i64, AlertId), ApiError> {
    let invalid = || ApiError::Invalid {
        field: Some("cursor".into()),
        message: "cursor is the x-next-cursor header of the previous page".into(),
    };
    let (ns, id) = raw.split_once('.').ok_or_else(invalid)?;
    Ok((
        ns.parse().map_err(|_| invalid())?,
        AlertId::parse(id).map_err(|_| invalid())?,
    ))
}

#[utoipa::path(get, path = "/v1/alerts", summary = "Alerts, newest first; next page via x-next-cursor",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(ListQuery),
    responses((status = 200, body = Vec<AlertView>, headers(("x-next-cursor" = String, description = "the cursor of the next page; absent on the last page")))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> Result<(HeaderMap, Json<Vec<AlertView>>), ApiError> {
    let patients = match &q.patient {
        Some(raw) => {
            let patient = parse_patient(raw)?;
            caller.require_patient(&state, &patient).await?;
            vec![patient]
        }
        None => caller.patients(&state).await?,
    };
    let alert_state = match q.state.as_deref() {
        None => None,
        Some(raw) => Some(AlertState::parse(raw).ok_or_else(|| ApiError::Invalid {
            field: Some("state".into()),
            message: "state is one of firing, acknowledged, resolved".into(),
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Invalid {
            field: Some("limit".into()),
            message: "limit is between 1 and 500".into(),
        });
    }
    let priority = match q.priority.as_deref() {
        None => None,
        Some("high") => Some(Priority::High),
        Some("medium") => Some(Priority::Medium),
        Some("low") => Some(Priority::Low),
        Some(_) => {
            return Err(ApiError::Invalid {
                field: Some("priority".into()),
                message: "priority is one of high, medium, low".into(),
            });
        }
    };
    let before = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let page = state
        .records
        .alerts_page(&AlertPageQuery {
            patients,
            state: alert_state,
            priority,
            before,
            limit,
        })
        .await?;
    let mut headers = HeaderMap::new();
    if page.len() == limit
        && let Some(last) = page.last()
        && let Ok(value) = HeaderValue::from_str(&format!("{}.{}", last.fired_ns, last.id))
    {
        headers.insert(NEXT_CURSOR, value);
    }
    Ok((
        headers,
        Json(page.into_iter().map(AlertView::from).collect()),
    ))
}

/// The alert `raw` names, if the caller may read it — or, on a route declared
/// `PatientChange`, act on it (acknowledge, snooze: not under break-glass).
pub(crate) async fn authorized_alert(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<Alert, ApiError> {
    let id = AlertId::parse(raw).map_err(|e| ApiError::Invalid {
        field: Some("alert_id".into()),
        message: e.to_string(),
    })?;
    let alert = match state.records.get_alert(&id).await {
        Ok(alert) => alert,
        // Only an admin (who may see every alert) learns that an id does not exist: to
        // anyone else a missing alert and a foreign one look the same (issue 13 #15).
        Err(cw_storage::StoreError::NotFound) if caller.role == Role::Admin => {
            return Err(ApiError::NotFound("alert"));
        }
        Err(cw_storage::StoreError::NotFound) => return Err(ApiError::Forbidden),
        Err(e) => return Err(e.into()),
    };
    caller.require_patient(state, &alert.patient).await?;
    Ok(alert)
}

#[utoipa::path(post, path = "/v1/alerts/{id}/ack", summary = "Acknowledge an alert",
    extensions(("x-access" = json!(Access::PatientChange))),
    params(("id" = String, Path, description = "alert id")),
    responses((status = 200, body = AlertView)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(Extension<AuditPatient>, Json<AlertView>), ApiError> {
    let alert = authorized_alert(&state, &caller, &id).await?;
    let acked = state
        .records
        .acknowledge_alert(&alert.id, caller.user.as_str(), now_ns())
        .await?;
    tracing::info!(alert = %acked.id, user = %caller.user, "alert acknowledged");
    Ok((Extension(AuditPatient(alert.patient)), Json(acked.into())))
}

#[utoipa::path(get, path = "/v1/alerts/{id}/deliveries", summary = "Deliveries of an alert",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "alert id")),
    responses((status = 200, body = Vec<Delivery>)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(Extension<AuditPatient>, Json<Vec<Delivery>>), ApiError> {
    let alert = authorized_alert(&state, &caller, &id).await?;
    let deliveries = state.records.deliveries_for_alert(&alert.id).await?;
    Ok((Extension(AuditPatient(alert.patient)), Json(deliveries)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeInput {
    /// How long, in seconds; bounded per priority by `[snooze]`.
    pub duration_s: u64,
    /// Why (3–500 characters); kept on the alert and in the audit log.
    pub reason: String,
}

/// The audit action of a snooze (its reason and end are in the event).
const SNOOZE_ACTION: &str = "alert_snooze";

/// `POST /v1/alerts/{id}/snooze`: silences a firing medium or low alert for a bounded
/// time — the notifier pages in-app only and holds escalation until it ends. High
/// priority is refused: IEC 60601-1-8 high alarms need an immediate response, and the
/// notifier never quietens them (not for quiet hours, not for a user's snooze); the way
/// to stop a high alarm's paging is to acknowledge it.
#[utoipa::path(post, path = "/v1/alerts/{id}/snooze", summary = "Snooze a firing medium/low alert for a bounded time, with a reason (high: 409)",
    extensions(("x-access" = json!(Access::PatientChange))),
    params(("id" = String, Path, description = "alert id")),
    request_body = SnoozeInput,
    responses((status = 200, body = AlertView)))]
pub async fn snooze(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<crate::request_id::RequestId>,
    Path(id): Path<String>,
    body: Result<Json<SnoozeInput>, axum::extract::rejection::JsonRejection>,
) -> Result<(Extension<AuditPatient>, Json<AlertView>), ApiError> {
    let alert = authorized_alert(&state, &caller, &id).await?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let reason = input.reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(ApiError::Invalid {
            field: Some("reason".into()),
            message: "reason is 3 to 500 characters".into(),
        });
    }
    let bounds = &state.snooze;
    let max_s = match alert.priority {
        Priority::High => {
            return Err(ApiError::Conflict(
                "a high-priority alert cannot be snoozed; acknowledge it",
            ));
        }
        Priority::Medium => bounds.max_medium_s,
        Priority::Low => bounds.max_low_s,
    };
    if alert.state != AlertState::Firing {
        return Err(ApiError::Conflict("only a firing alert can be snoozed"));
    }
    if !(bounds.min_s..=max_s).contains(&input.duration_s) {
        return Err(ApiError::Invalid {
            field: Some("duration_s".into()),
            message: format!(
                "a {} alert can be snoozed for {} to {max_s} seconds",
                alert.priority.as_str(),
                bounds.min_s
            ),
        });
    }
    let now = now_ns();
    let until_ns = now + input.duration_s as i64 * cw_core::time::NANOS_PER_SEC;
    let snooze = cw_core::snooze::AlertSnooze::replacing(
        alert.snooze.as_deref(),
        now,
        until_ns,
        caller.user.as_str(),
        reason,
    );
    // No audit, no silence: the event (with the reason and the end) comes first.
    crate::routes::alert_actions::audit_alert_change(
        &state,
        &caller,
        request_id,
        &alert,
        SNOOZE_ACTION,
        now,
        format!("{reason} (for {} s, until_ns {until_ns})", input.duration_s),
    )
    .await?;
    let stored = state.records.snooze_alert(&alert.id, &snooze).await?;
    if stored.snooze.as_deref() != Some(&snooze) {
        // Acknowledged or resolved between our read and the write.
        return Err(ApiError::Conflict("only a firing alert can be snoozed"));
    }
    tracing::info!(alert = %stored.id, user = %caller.user, duration_s = input.duration_s, "alert snoozed");
    Ok((Extension(AuditPatient(alert.patient)), Json(stored.into())))
}
