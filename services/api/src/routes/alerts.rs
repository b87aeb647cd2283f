//! `GET /v1/alerts`, `POST /v1/alerts/{id}/ack`, `GET /v1/alerts/{id}/deliveries`.

use crate::access::{Caller, parse_patient};
use crate::app::AppState;
use crate::audit_trail::AuditPatient;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::{Extension, Json};
use cw_core::time::now_ns;
use cw_core::{Alert, AlertId, AlertState, Delivery, Priority};
use cw_storage::alert_pages::AlertPageQuery;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
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

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> Result<(HeaderMap, Json<Vec<Alert>>), ApiError> {
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
    Ok((headers, Json(page)))
}

async fn authorized_alert(state: &AppState, caller: &Caller, raw: &str) -> Result<Alert, ApiError> {
    let id = AlertId::parse(raw).map_err(|e| ApiError::Invalid {
        field: Some("alert_id".into()),
        message: e.to_string(),
    })?;
    let alert = match state.records.get_alert(&id).await {
        Ok(alert) => alert,
        Err(cw_storage::StoreError::NotFound) => return Err(ApiError::NotFound("alert")),
        Err(e) => return Err(e.into()),
    };
    caller.require_patient(state, &alert.patient).await?;
    Ok(alert)
}

pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(Extension<AuditPatient>, Json<Alert>), ApiError> {
    let alert = authorized_alert(&state, &caller, &id).await?;
    let acked = state
        .records
        .acknowledge_alert(&alert.id, caller.user.as_str(), now_ns())
        .await?;
    tracing::info!(alert = %acked.id, user = %caller.user, "alert acknowledged");
    Ok((Extension(AuditPatient(alert.patient)), Json(acked)))
}

pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(Extension<AuditPatient>, Json<Vec<Delivery>>), ApiError> {
    let alert = authorized_alert(&state, &caller, &id).await?;
    let deliveries = state.records.deliveries_for_alert(&alert.id).await?;
    Ok((Extension(AuditPatient(alert.patient)), Json(deliveries)))
}
