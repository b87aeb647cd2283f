//! Clinicians' actions on one alarm beyond acknowledging it (issue 16):
//! `POST /v1/alerts/{id}/triage` records their verdict after reading the strip, counted
//! per rule by the fatigue report; `POST /v1/alerts/{id}/escalate` asks the notifier to
//! page the next step of the escalation chain now. Each is an audit event written before
//! the change, like a snooze (docs/api.md, "Alerts").

use crate::access::Caller;
use crate::access_rule::Access;
use crate::alert_view::AlertView;
use crate::app::AppState;
use crate::audit_trail::AuditPatient;
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::routes::alerts::authorized_alert;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::escalation::EscalationRequest;
use cw_core::time::{Nanos, now_ns};
use cw_core::triage::{MAX_NOTE_CHARS, Triage, Verdict};
use cw_core::{Alert, AlertState};
use serde::Deserialize;

/// Appends the audit event of a change to `alert` (`action`, with `reason` saying what
/// changed) before it is made: no audit, no change.
pub(crate) async fn audit_alert_change(
    state: &AppState,
    caller: &Caller,
    request_id: RequestId,
    alert: &Alert,
    action: &str,
    at_ns: Nanos,
    reason: String,
) -> Result<(), ApiError> {
    let event = AuditEntry {
        at_ns,
        actor: caller.user.to_string(),
        role: crate::audit_trail::role_name(caller.role).into(),
        action: action.into(),
        resource: format!("/v1/alerts/{}", alert.id),
        patient: Some(alert.patient.clone()),
        outcome: AuditOutcome::Allowed,
        status: 200,
        source: String::new(),
        request_id: request_id.0,
        reason,
    };
    state
        .records
        .append_audit(&event)
        .await
        .map(|_| ())
        .map_err(|_| ApiError::AuditUnavailable)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageInput {
    /// `confirmed`, `artifact` or `false`.
    pub verdict: String,
    /// Optional, at most 1,000 characters; kept on the alert and in the audit log.
    pub note: Option<String>,
}

/// The audit action of a triage (its verdict and note are in the event).
const TRIAGE_ACTION: &str = "alert_triage";

/// `POST /v1/alerts/{id}/triage`: the clinician's verdict on an alarm in any state
/// (most are triaged after they are acknowledged or resolved); a later one replaces it.
#[utoipa::path(post, path = "/v1/alerts/{id}/triage",
    summary = "Triage an alert: confirmed, artifact or false, with an optional note",
    extensions(("x-access" = json!(Access::PatientChange))),
    params(("id" = String, Path, description = "alert id")),
    request_body = TriageInput,
    responses((status = 200, body = AlertView)))]
pub async fn triage(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    body: Result<Json<TriageInput>, JsonRejection>,
) -> Result<(Extension<AuditPatient>, Json<AlertView>), ApiError> {
    let alert = authorized_alert(&state, &caller, &id).await?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let verdict = Verdict::parse(&input.verdict).ok_or_else(|| ApiError::Invalid {
        field: Some("verdict".into()),
        message: "verdict is one of confirmed, artifact, false".into(),
    })?;
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if note
        .as_deref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(ApiError::Invalid {
            field: Some("note".into()),
            message: format!("note is at most {MAX_NOTE_CHARS} characters"),
        });
    }
    let now = now_ns();
    let reason = match &note {
        Some(note) => format!("{}: {note}", verdict.as_str()),
        None => verdict.as_str().to_owned(),
    };
    audit_alert_change(
        &state,
        &caller,
        request_id,
        &alert,
        TRIAGE_ACTION,
        now,
        reason,
    )
    .await?;
    let triage = Triage {
        verdict,
        note,
        by: caller.user.to_string(),
        at_ns: now,
    };
    let stored = state.records.triage_alert(&alert.id, &triage).await?;
    // The note may hold clinical detail: only the verdict is logged.
    tracing::info!(alert = %stored.id, user = %caller.user, verdict = verdict.as_str(), "alert triaged");
    Ok((Extension(AuditPatient(alert.patient)), Json(stored.into())))
}

/// The audit action of an "escalate now" (the step asked for is in the event).
const ESCALATE_ACTION: &str = "alert_escalate";

/// `POST /v1/alerts/{id}/escalate`: page the next step of a firing alert's escalation
/// chain now. The api pages nobody itself: it stores the request on the alert, and the
/// notifier's next sweep (`sweep_interval_ms`, 1 s) pages that step, as it stops on an
/// ack it finds in the store. The step is one past the highest paged so far, so a
/// second press before the notifier acted asks for the same step again (no doctor is
/// skipped).
#[utoipa::path(post, path = "/v1/alerts/{id}/escalate",
    summary = "Escalate a firing alert now: the notifier pages the next doctor of the chain at once",
    extensions(("x-access" = json!(Access::PatientChange))),
    params(("id" = String, Path, description = "alert id")),
    responses((status = 200, body = AlertView)))]
pub async fn escalate(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> Result<(Extension<AuditPatient>, Json<AlertView>), ApiError> {
    let alert = authorized_alert(&state, &caller, &id).await?;
    if alert.state != AlertState::Firing {
        return Err(ApiError::Conflict("only a firing alert can be escalated"));
    }
    let paged = state
        .records
        .deliveries_for_alert(&alert.id)
        .await?
        .iter()
        .map(|d| d.attempt)
        .max()
        .unwrap_or(0);
    let level = paged.max(1) + 1;
    let chain = state.records.patient(&alert.patient).await?.doctors.len();
    if usize::try_from(level).unwrap_or(usize::MAX) > chain {
        return Err(ApiError::Conflict(
            "every doctor of the patient's escalation chain has been paged",
        ));
    }
    let now = now_ns();
    audit_alert_change(
        &state,
        &caller,
        request_id,
        &alert,
        ESCALATE_ACTION,
        now,
        format!("escalate now to step {level}"),
    )
    .await?;
    let request = EscalationRequest {
        level,
        at_ns: now,
        by: caller.user.to_string(),
    };
    let stored = state.records.escalate_alert(&alert.id, &request).await?;
    if stored.escalation.as_deref() != Some(&request) {
        // Acknowledged or resolved between our read and the write.
        return Err(ApiError::Conflict("only a firing alert can be escalated"));
    }
    tracing::info!(alert = %stored.id, user = %caller.user, level, "alert escalated now");
    Ok((Extension(AuditPatient(alert.patient)), Json(stored.into())))
}
