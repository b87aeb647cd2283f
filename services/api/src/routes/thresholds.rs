//! `GET|PUT /v1/patients/{id}/thresholds` — the patient's threshold policy.

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use cw_core::messages::{CONFIG_TOPIC, ConfigChange};
use cw_core::policy_input::{self, PolicyInputError};
use cw_core::{PatientId, ThresholdPolicy};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

#[utoipa::path(get, path = "/v1/patients/{id}/thresholds", summary = "Current threshold policy",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id")),
    responses((status = 200, body = ThresholdPolicy)))]
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

/// The body a doctor sends: a threshold policy without `patient` and `version`, read by
/// `cw_core::policy_input` exactly as the CLI reads a policy file. Unknown fields are
/// refused while the body is parsed (400), so a typo never silently leaves a rule off.
#[derive(Debug)]
pub struct PolicyInput(serde_json::Map<String, serde_json::Value>);

impl<'de> Deserialize<'de> for PolicyInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = serde_json::Map::deserialize(deserializer)?;
        policy_input::check_fields(&fields).map_err(D::Error::custom)?;
        Ok(Self(fields))
    }
}

/// A [`ThresholdPolicy`] as a client writes it: every field but `patient` and
/// `version`, which the api owns (`policy_input::check_fields` refuses them).
impl utoipa::PartialSchema for PolicyInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{RefOr, schema::Schema};
        let mut schema = <ThresholdPolicy as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            for owned in ["patient", "version"] {
                object.properties.remove(owned);
                object.required.retain(|field| field != owned);
            }
        }
        schema
    }
}

impl utoipa::ToSchema for PolicyInput {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <ThresholdPolicy as utoipa::ToSchema>::schemas(schemas);
    }
}

impl PolicyInput {
    /// The validated policy for `patient`: 400 naming the field whose value has the wrong
    /// shape, 422 naming the field when implausible.
    pub fn into_policy(self, patient: PatientId) -> Result<ThresholdPolicy, ApiError> {
        policy_input::policy_from_settings(&patient, self.0).map_err(|e| match e {
            PolicyInputError::Shape(message) => ApiError::BadRequest(message),
            PolicyInputError::Invalid(e) => ApiError::Invalid {
                field: Some(e.field.to_owned()),
                message: e.to_string(),
            },
        })
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PutQuery {
    /// Confirms a policy with no rule at all (the patient then raises no alarm).
    /// Confirms a policy with no rule (the patient would raise no alarm).
    #[serde(default)]
    pub allow_no_alarms: bool,
}

#[utoipa::path(put, path = "/v1/patients/{id}/thresholds", summary = "New threshold policy version (replaces the whole policy; one with no rule needs allow_no_alarms=true)",
    extensions(("x-access" = json!(Access::PatientChange))),
    params(("id" = String, Path, description = "patient id"), PutQuery),
    request_body = PolicyInput,
    responses((status = 200, body = ThresholdPolicy)))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<PutQuery>,
    body: Result<Json<PolicyInput>, JsonRejection>,
) -> Result<Json<ThresholdPolicy>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let policy = input.into_policy(patient.clone())?;
    // PUT replaces the whole policy: an empty or mistyped body would otherwise silence
    // every alarm of a monitored patient without anyone meaning to.
    if policy.raises_nothing() && !query.allow_no_alarms {
        return Err(ApiError::Invalid {
            field: None,
            message: "this policy has no rule, so the patient would raise no alarm at all; PUT replaces the whole policy (GET it, change it, PUT it back), or confirm with ?allow_no_alarms=true".into(),
        });
    }
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

/// Versions one history request returns at most.
const MAX_HISTORY: usize = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Newest versions to return (1–500, default 50).
    #[serde(default = "default_history")]
    pub limit: usize,
}

fn default_history() -> usize {
    50
}

#[utoipa::path(get, path = "/v1/patients/{id}/thresholds/history", summary = "Saved threshold policy versions, newest first (the console diffs them)",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), HistoryQuery),
    responses((status = 200, body = Vec<ThresholdPolicy>)))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<HistoryQuery>,
) -> Result<Json<Vec<ThresholdPolicy>>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    if !(1..=MAX_HISTORY).contains(&query.limit) {
        return Err(ApiError::Invalid {
            field: Some("limit".into()),
            message: format!("limit is from 1 to {MAX_HISTORY}"),
        });
    }
    Ok(Json(
        state.records.policy_history(&patient, query.limit).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient() -> PatientId {
        PatientId::parse("p-1").expect("valid id")
    }

    #[test]
    fn every_field_of_a_threshold_policy_is_accepted_by_put() {
        let policy = ThresholdPolicy::empty(patient());
        let mut body = serde_json::to_value(&policy).expect("serialises");
        let fields = body.as_object_mut().expect("an object");
        fields.remove("patient");
        fields.remove("version");
        let input: PolicyInput = serde_json::from_value(body).expect("accepted");
        assert_eq!(input.into_policy(patient()).expect("valid"), policy);
    }

    #[test]
    fn only_a_policy_without_any_rule_raises_nothing() {
        let empty: PolicyInput = serde_json::from_value(json!({"flapping": null})).expect("known");
        assert!(
            empty
                .into_policy(patient())
                .expect("valid")
                .raises_nothing()
        );
        let one_rule: PolicyInput =
            serde_json::from_value(json!({"hr_high": {"bpm": 130.0, "priority": "high"}}))
                .expect("known");
        assert!(
            !one_rule
                .into_policy(patient())
                .expect("valid")
                .raises_nothing()
        );
    }

    #[test]
    fn an_unknown_field_or_one_the_api_owns_is_refused() {
        for body in [json!({"hr_hihg": null}), json!({"version": 3})] {
            let err = serde_json::from_value::<PolicyInput>(body).expect_err("refused");
            assert!(err.to_string().contains("unknown field"), "{err}");
        }
    }

    #[test]
    fn the_ventricular_ectopy_rules_take_their_defaults_and_are_validated_by_name() {
        let input: PolicyInput = serde_json::from_value(json!({
            "nsvt": {}, "couplet": {}, "bigeminy": {}, "trigeminy": {"cycles": 6},
            "pvc_per_minute": {"limit": 20, "priority": "medium"}
        }))
        .expect("known fields");
        let policy = input.into_policy(patient()).expect("valid");
        assert!(!policy.raises_nothing());
        assert_eq!(policy.bigeminy.map(|r| r.cycles), Some(4));
        assert_eq!(policy.trigeminy.map(|r| r.cycles), Some(6));
        assert_eq!(
            policy.pvc_per_minute.map(|r| (r.limit, r.priority)),
            Some((20, cw_core::Priority::Medium))
        );
        let err = serde_json::from_value::<PolicyInput>(json!({"bigemini": {}}))
            .expect_err("a misspelt rule is refused");
        assert!(
            err.to_string().contains("unknown field `bigemini`"),
            "{err}"
        );
        let invalid: PolicyInput =
            serde_json::from_value(json!({"bigeminy": {"cycles": 1}})).expect("known field");
        match invalid.into_policy(patient()) {
            Err(ApiError::Invalid { field, .. }) => {
                assert_eq!(field.as_deref(), Some("bigeminy.cycles"))
            }
            other => panic!("expected a 422, got {other:?}"),
        }
        let shape: PolicyInput =
            serde_json::from_value(json!({"nsvt": {"beats": "many"}})).expect("known field");
        match shape.into_policy(patient()) {
            Err(ApiError::BadRequest(message)) => assert!(message.starts_with("nsvt"), "{message}"),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_wrongly_shaped_value_names_its_field_and_null_means_not_set() {
        let input: PolicyInput =
            serde_json::from_value(json!({"hr_high": {"bpm": "fast"}})).expect("known field");
        match input.into_policy(patient()) {
            Err(ApiError::BadRequest(message)) => {
                assert!(message.starts_with("hr_high"), "{message}")
            }
            other => panic!("expected a 400, got {other:?}"),
        }
        let input: PolicyInput =
            serde_json::from_value(json!({"flapping": null, "hr_average_beats": null}))
                .expect("known fields");
        assert_eq!(
            input.into_policy(patient()).expect("valid"),
            ThresholdPolicy::empty(patient())
        );
    }
}
