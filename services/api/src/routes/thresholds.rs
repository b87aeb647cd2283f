//! `GET|PUT /v1/patients/{id}/thresholds` — the patient's threshold policy.

use crate::access::{Caller, parse_patient};
use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use cw_core::messages::{CONFIG_TOPIC, ConfigChange};
use cw_core::rules::{
    AfRule, AsystoleRule, ConditionRule, Flapping, NoDataRule, PauseRule, RunRule,
};
use cw_core::{HrLimit, PatientId, ThresholdPolicy};
use serde::Deserialize;

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ThresholdPolicy>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    match state.records.policy(&patient).await {
        Ok(policy) => Ok(Json(policy)),
        Err(cw_storage::StoreError::NotFound) => Ok(Json(ThresholdPolicy::empty(patient))),
        Err(e) => Err(e.into()),
    }
}

/// The body a doctor sends: the limits; patient and version come from the URL and store.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub hr_high: Option<HrLimit>,
    pub hr_low: Option<HrLimit>,
    pub hr_average_beats: Option<u8>,
    #[serde(default)]
    pub pause: Option<PauseRule>,
    #[serde(default)]
    pub asystole: Option<AsystoleRule>,
    #[serde(default)]
    pub brady_run: Option<RunRule>,
    #[serde(default)]
    pub tachy_run: Option<RunRule>,
    #[serde(default)]
    pub af: Option<AfRule>,
    #[serde(default)]
    pub vf: Option<ConditionRule>,
    #[serde(default)]
    pub lead_off: Option<ConditionRule>,
    #[serde(default)]
    pub flat_line: Option<ConditionRule>,
    #[serde(default)]
    pub saturation: Option<ConditionRule>,
    #[serde(default)]
    pub noise: Option<ConditionRule>,
    #[serde(default)]
    pub no_data: Option<NoDataRule>,
    /// Omitted: the default flapping collapse.
    #[serde(default)]
    pub flapping: Option<Flapping>,
}

impl PolicyInput {
    /// The validated policy for `patient` (422 naming the field when implausible).
    pub fn into_policy(self, patient: PatientId) -> Result<ThresholdPolicy, ApiError> {
        let mut policy = ThresholdPolicy {
            hr_high: self.hr_high,
            hr_low: self.hr_low,
            pause: self.pause,
            asystole: self.asystole,
            brady_run: self.brady_run,
            tachy_run: self.tachy_run,
            af: self.af,
            vf: self.vf,
            lead_off: self.lead_off,
            flat_line: self.flat_line,
            saturation: self.saturation,
            noise: self.noise,
            no_data: self.no_data,
            flapping: self.flapping.unwrap_or_default(),
            ..ThresholdPolicy::empty(patient)
        };
        if let Some(n) = self.hr_average_beats {
            policy.hr_average_beats = n;
        }
        policy.validate().map_err(|e| ApiError::Invalid {
            field: Some(e.field.to_owned()),
            message: e.to_string(),
        })?;
        Ok(policy)
    }
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<PolicyInput>, JsonRejection>,
) -> Result<Json<ThresholdPolicy>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let policy = input.into_policy(patient.clone())?;
    let saved = state.records.put_policy(&policy).await?;
    tracing::info!(user = %caller.user, patient = %patient, version = saved.version, "threshold policy changed");
    let change = ConfigChange::Policy {
        patient,
        version: saved.version,
    };
    if let Err(e) = state.config_publisher.publish(CONFIG_TOPIC, &change) {
        // Engines also re-read policies periodically; the change is not lost.
        tracing::warn!(error = %e, "config change not published");
    }
    Ok(Json(saved))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PolicyInput` lists the policy's rules again (serde cannot combine `flatten` with
    /// `deny_unknown_fields`): a rule added to `ThresholdPolicy` but not here would be
    /// impossible to set through the api. Every field the policy serialises, except the
    /// ones the api owns, must be accepted.
    #[test]
    fn every_field_of_a_threshold_policy_is_accepted_by_put() {
        let policy = ThresholdPolicy::empty(PatientId::parse("p-1").expect("valid id"));
        let mut body = serde_json::to_value(&policy).expect("serialises");
        let fields = body.as_object_mut().expect("an object");
        fields.remove("patient");
        fields.remove("version");
        let input: Result<PolicyInput, _> = serde_json::from_value(body);
        assert!(input.is_ok(), "PolicyInput lags ThresholdPolicy: {input:?}");
    }
}
