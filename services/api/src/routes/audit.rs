//! `GET /v1/audit?from_seq=&limit=` — the audit log, for admins (security officers).
//! `GET /v1/audit/verify` — the chain check of `cardiowatch audit verify` over the live
//! log, for the console's audit page (docs/console.md, "Admin and ops").

use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::State;
use cw_core::audit::AuditEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// First sequence number (default 1).
    pub from_seq: Option<u64>,
    /// 1–1000, default 100.
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/audit", summary = "Audit events (admin)",
    extensions(("x-access" = json!(Access::Admin))), params(AuditQuery),
    responses((status = 200, body = Vec<AuditEvent>)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid {
            field: Some("limit".into()),
            message: "limit is between 1 and 1000".into(),
        });
    }
    Ok(Json(
        state
            .records
            .audit_events(q.from_seq.unwrap_or(1), limit)
            .await?,
    ))
}

/// What `GET /v1/audit/verify` found: the keyed hash chain of the live log and the signed
/// checkpoints of its head, checked with the api's own audit keys (docs/security.md,
/// "Audit trail").
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainStatus {
    /// No fault found.
    pub intact: bool,
    /// Events checked.
    pub events: u64,
    /// The newest event's `seq` (none when the log is empty).
    pub head_seq: Option<u64>,
    /// Set when the live log starts after 1: the older events were archived
    /// (`cardiowatch audit archive`) and only `cardiowatch audit verify --archive` checks
    /// them; the link from the archive to this first event is not a fault here.
    pub archived_before_seq: Option<u64>,
    /// Signed checkpoints checked (0 when no checkpoint file is configured: then cutting
    /// off the newest events is not detectable).
    pub checkpoints: usize,
    /// Each fault, as `cardiowatch audit verify` prints it.
    pub faults: Vec<String>,
}

#[utoipa::path(get, path = "/v1/audit/verify", summary = "Verify the audit chain of the live log and its checkpoints (admin)",
    extensions(("x-access" = json!(Access::Admin))),
    responses((status = 200, body = ChainStatus)))]
pub async fn verify(State(state): State<AppState>) -> Result<Json<ChainStatus>, ApiError> {
    let report = cw_storage::audit::verify_chain(state.records.as_ref(), &state.audit).await?;
    let first = state
        .records
        .audit_events(1, 1)
        .await?
        .first()
        .map(|e| e.seq);
    let archived_before_seq = first.filter(|&seq| seq > 1);
    let faults: Vec<String> = report
        .faults
        .iter()
        .filter(|f| {
            // An archived prefix: the first live event links to the archive's last hash.
            archived_before_seq
                .is_none_or(|seq| **f != cw_core::audit::ChainFault::Deleted { before_seq: seq })
        })
        .map(ToString::to_string)
        .collect();
    Ok(Json(ChainStatus {
        intact: faults.is_empty(),
        events: report.events,
        head_seq: report.head.map(|(seq, _)| seq),
        archived_before_seq,
        checkpoints: report.checkpoints,
        faults,
    }))
}
