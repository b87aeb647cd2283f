//! Searches of what happened around a patient: the pages of their alarms
//! (`Communication`, the notifier's delivery rows) and the audit trail (`AuditEvent`,
//! admins only, as `GET /v1/audit`).

use super::audit_event::audit_event;
use super::communication::{communication, received_ns, sent_ns};
use super::request::{Search, invalid};
use super::routes::{ALERTS_READ, both_ends};
use super::search::within;
use super::{FhirError, FhirResource};
use crate::access::parse_patient;
use crate::access_rule::Access;
use crate::app::AppState;
use axum::extract::State;
use axum::response::Response;
use cw_core::AlertId;
use cw_core::alert::Alert;
use cw_core::audit::AuditEvent;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use std::collections::HashMap;

/// Whether an element's instant (`None`: the resource has none) matches a search range;
/// with no range given everything matches, with one a resource lacking it does not.
fn matches(at: Option<Nanos>, range: (Option<Nanos>, Option<Nanos>)) -> bool {
    range == (None, None) || at.is_some_and(|t| within(t, range))
}

#[utoipa::path(get, path = "/fhir/R4/Communication",
    summary = "FHIR Communication search: the pages of the patient's alarms (newest 500 alarms), newest first; Bundle paging",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(
        ("patient" = String, Query, description = "Patient/ID or ID"),
        ("sent" = Option<Vec<String>>, Query, description = "sent (rows with the provider): ge… and/or lt…"),
        ("received" = Option<Vec<String>>, Query, description = "received (delivered rows): ge… and/or lt…"),
        ("_lastUpdated" = Option<Vec<String>>, Query, description = "the row's latest status: ge… and/or lt…"),
        ("_count" = Option<u32>, Query, description = "page size"),
        ("_offset" = Option<u32>, Query, description = "entries skipped")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn communications(
    State(state): State<AppState>,
    search: Search,
) -> Result<Response, FhirError> {
    let known = [
        "patient",
        "sent",
        "received",
        "_lastUpdated",
        "_count",
        "_offset",
    ];
    let patient = search.patient(&state, &known).await?;
    let p = &search.params;
    let (sent, received, updated) = (
        p.range("sent")?,
        p.range("received")?,
        p.range("_lastUpdated")?,
    );
    let alerts = state
        .records
        .alerts_for_patients(std::slice::from_ref(&patient), None, ALERTS_READ)
        .await?;
    // One read for the pages of every alert, not one per alert (up to ALERTS_READ).
    let ids: Vec<AlertId> = alerts.iter().map(|a| a.id.clone()).collect();
    let by_id: HashMap<&AlertId, &Alert> = alerts.iter().map(|a| (&a.id, a)).collect();
    let mut rows = Vec::new();
    for d in state.records.deliveries_for_alerts(&ids).await? {
        let Some(alert) = by_id.get(&d.alert) else {
            continue;
        };
        if matches(sent_ns(&d), sent)
            && matches(received_ns(&d), received)
            && within(d.updated_ns, updated)
        {
            rows.push((d.updated_ns, communication(&d, alert)));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let all = rows.into_iter().map(|(_, c)| c).collect();
    search.answer("Communication", all, Some(patient))
}

/// The widest `date` range of an AuditEvent search.
const AUDIT_RANGE_NS: Nanos = 24 * 3600 * NANOS_PER_SEC;
/// Records matched at most; a range holding more is refused, to be narrowed.
const AUDIT_MATCHES: usize = 10_000;
/// Records are numbered as appended and timed just before: writers that append at once
/// may leave a record's time a little out of sequence, so the scan starts and ends this
/// far outside the range and checks each record's own time.
const AUDIT_SKEW_NS: Nanos = 60 * NANOS_PER_SEC;
const AUDIT_READ: usize = 1000;

/// The sequence number from which records are at or after `at` (give or take the
/// skew): a binary search over the numbers, one record per probe (a probe at `seq`
/// reads the first record numbered `seq` or later).
async fn first_seq_after(state: &AppState, at: Nanos) -> Result<u64, FhirError> {
    let before = |seq: u64| async move {
        let first = state.records.audit_events(seq, 1).await?.into_iter().next();
        Ok::<_, FhirError>(first.is_some_and(|e| e.entry.at_ns < at))
    };
    if !before(1).await? {
        return Ok(1);
    }
    // Records from `lo` on start before `at`; from `hi` on they do not (or there are none).
    let (mut lo, mut step) = (1u64, 1u64);
    let mut hi = loop {
        let next = lo.saturating_add(step);
        if !before(next).await? {
            break next;
        }
        (lo, step) = (next, step.saturating_mul(2));
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if before(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

/// The records timed in `[from, to)`, in sequence.
async fn audit_range(
    state: &AppState,
    from: Nanos,
    to: Nanos,
) -> Result<Vec<AuditEvent>, FhirError> {
    let mut seq = first_seq_after(state, from.saturating_sub(AUDIT_SKEW_NS)).await?;
    let mut found = Vec::new();
    loop {
        let batch = state.records.audit_events(seq, AUDIT_READ).await?;
        let Some(last) = batch.last() else { break };
        seq = last.seq + 1;
        let past = last.entry.at_ns >= to.saturating_add(AUDIT_SKEW_NS);
        let short = batch.len() < AUDIT_READ;
        found.extend(
            batch
                .into_iter()
                .filter(|e| within(e.entry.at_ns, (Some(from), Some(to)))),
        );
        if found.len() > AUDIT_MATCHES {
            return Err(invalid(
                "date",
                &format!("more than {AUDIT_MATCHES} audit records in the range: narrow it"),
            ));
        }
        if past || short {
            break;
        }
    }
    Ok(found)
}

#[utoipa::path(get, path = "/fhir/R4/AuditEvent",
    summary = "FHIR AuditEvent search (admin, as GET /v1/audit): the audit trail over date=ge…&date=lt… (or _lastUpdated; at most a day), in chain order; Bundle paging",
    extensions(("x-access" = json!(Access::Admin))),
    params(
        ("date" = Option<Vec<String>>, Query, description = "recorded: ge… and lt… (this or _lastUpdated gives both ends, at most a day apart)"),
        ("_lastUpdated" = Option<Vec<String>>, Query, description = "recorded, as date"),
        ("patient" = Option<String>, Query, description = "the patient entity: Patient/ID or ID"),
        ("_count" = Option<u32>, Query, description = "page size"),
        ("_offset" = Option<u32>, Query, description = "entries skipped")),
    responses((status = 200, body = FhirResource, content_type = "application/fhir+json")))]
pub async fn audit_events(
    State(state): State<AppState>,
    search: Search,
) -> Result<Response, FhirError> {
    search.known(&["date", "_lastUpdated", "patient", "_count", "_offset"])?;
    let p = &search.params;
    let (from, to) = both_ends(
        p.range_of(&["date", "_lastUpdated"])?,
        AUDIT_RANGE_NS,
        "one day",
    )?;
    let patient = p
        .one("patient")?
        .map(|raw| parse_patient(raw.strip_prefix("Patient/").unwrap_or(raw)))
        .transpose()?;
    p.page()?;
    let all = audit_range(&state, from, to)
        .await?
        .iter()
        .filter(|e| patient.is_none() || e.entry.patient == patient)
        .map(audit_event)
        .collect();
    search.answer("AuditEvent", all, patient)
}
