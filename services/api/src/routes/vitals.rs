//! `GET /v1/patients/{id}/vitals?from_ns=&to_ns=&kind=` — the patient's vital-sign
//! numerics in a range: every reading and sensor status, in time order (docs/api.md).

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::{Path, State};
use cw_analysis::latest_vitals::LatestVitals;
use cw_analysis::news2_escalation::{News2Assessment, assess};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::vital_rules::News2Rule;
use cw_core::{PatientId, VitalKind, VitalReading};
use serde::{Deserialize, Serialize};

/// The longest range one request may ask for: a day of 1 Hz numerics of every kind is at
/// most ~1 M readings, so trends over longer spans are read day by day.
const MAX_RANGE_NS: Nanos = 24 * 3600 * NANOS_PER_SEC;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VitalsQuery {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
    /// One kind only (its name, e.g. `spo2`); all kinds when absent.
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VitalsAnswer {
    pub readings: Vec<VitalReading>,
    /// NEWS2 at the range's last reading, from the latest valid numerics up to it, under
    /// the patient's NEWS2 settings (their defaults when the policy has none): each
    /// component, the missing parameters and the assumed ones (docs/vitals.md, "NEWS2
    /// escalation"). Absent when one `kind` was asked for or the range has no reading.
    pub news2: Option<News2Assessment>,
}

#[utoipa::path(get, path = "/v1/patients/{id}/vitals",
    summary = "Vital-sign numerics of a range (≤ 24 h): every reading and sensor status, in time order",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), VitalsQuery),
    responses((status = 200, body = VitalsAnswer)))]
pub async fn range(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<VitalsQuery>,
) -> Result<Json<VitalsAnswer>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    check_range(q.from_ns, q.to_ns)?;
    let kind = match q.kind.as_deref() {
        None => None,
        Some(name) => Some(VitalKind::parse(name).ok_or_else(|| ApiError::Invalid {
            field: Some("kind".into()),
            message: "kind is one of the vital-sign names in docs/ingest-protocol.md".into(),
        })?),
    };
    let mut readings = state.samples.vitals(&patient, q.from_ns, q.to_ns).await?;
    let news2 = match kind {
        Some(kind) => {
            readings.retain(|r| r.kind == kind);
            None
        }
        None => news2_of(&state, &patient, &readings).await?,
    };
    Ok(Json(VitalsAnswer { readings, news2 }))
}

/// NEWS2 at the last of `readings` (time order), under the patient's NEWS2 settings.
async fn news2_of(
    state: &AppState,
    patient: &PatientId,
    readings: &[VitalReading],
) -> Result<Option<News2Assessment>, ApiError> {
    let Some(last) = readings.last() else {
        return Ok(None);
    };
    let rule = match state.records.policy(patient).await {
        Ok(policy) => policy.news2.unwrap_or_default(),
        Err(cw_storage::StoreError::NotFound) => News2Rule::default(),
        Err(e) => return Err(e.into()),
    };
    let mut latest = LatestVitals::default();
    for r in readings {
        latest.observe(r);
    }
    Ok(Some(assess(&latest, last.time_ns, &rule, None)))
}

/// `to` after `from` and at most [`MAX_RANGE_NS`] later (also the NEWS2 trend's, `news2.rs`); checked, both come from the
/// client (a wrapped width must not pass the cap).
pub(crate) fn check_range(from_ns: Nanos, to_ns: Nanos) -> Result<(), ApiError> {
    match to_ns.checked_sub(from_ns) {
        Some(width) if width > 0 && width <= MAX_RANGE_NS => Ok(()),
        _ => Err(ApiError::Invalid {
            field: Some("to_ns".into()),
            message: "to_ns is after from_ns and at most 24 hours later".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_over_a_day_or_backwards_is_refused_even_when_its_width_overflows() {
        assert!(check_range(0, MAX_RANGE_NS).is_ok());
        for (from, to) in [
            (0, MAX_RANGE_NS + 1),
            (5, 5),
            (6, 5),
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
        ] {
            assert!(check_range(from, to).is_err(), "{from}..{to}");
        }
    }
}
