//! A threshold policy as a doctor writes it: a JSON object with the rule settings of
//! [`ThresholdPolicy`] but without `patient` and `version` (those come from the URL and the
//! store). The api (`PUT …/thresholds`, `POST …/backtest`) and the CLI (`backtest`, `ec57`
//! `--policy FILE`) read it through this one module, so a setting one accepts the other
//! accepts, and a typo (`{"vtach": {}}`, `hr_hihg`) is refused by both instead of silently
//! leaving a rule off.

use crate::{PatientId, ThresholdPolicy, ValidationError};
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Why a policy body was refused. The api answers `Shape` with 400 and `Invalid` with 422.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyInputError {
    /// Not an object, an unknown field, or a value of the wrong type (names the path).
    #[error("{0}")]
    Shape(String),
    /// Well-formed but not physiologically plausible or not consistent (names the field).
    #[error("{0}")]
    Invalid(ValidationError),
}

/// Fields the api owns; a body that sets them is refused.
const API_OWNED: [&str; 2] = ["patient", "version"];

/// The fields of a policy a doctor may set: what `ThresholdPolicy` serialises, minus the
/// ones the api owns. Read off the type itself, so a rule added there can be set at once.
pub fn settable_fields() -> &'static [String] {
    static FIELDS: LazyLock<Vec<String>> = LazyLock::new(|| {
        let Ok(patient) = PatientId::parse("any") else {
            return Vec::new();
        };
        match serde_json::to_value(ThresholdPolicy::empty(patient)) {
            Ok(Value::Object(fields)) => fields
                .keys()
                .filter(|k| !API_OWNED.contains(&k.as_str()))
                .cloned()
                .collect(),
            _ => Vec::new(),
        }
    });
    &FIELDS
}

/// Refuses a body with a field that is not a settable policy field.
pub fn check_fields(fields: &Map<String, Value>) -> Result<(), PolicyInputError> {
    let settable = settable_fields();
    match fields.keys().find(|k| !settable.contains(k)) {
        Some(unknown) => Err(PolicyInputError::Shape(format!(
            "unknown field `{unknown}`, expected one of {}",
            settable.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The validated policy of `patient` from a doctor's settings.
pub fn policy_from_settings(
    patient: &PatientId,
    mut fields: Map<String, Value>,
) -> Result<ThresholdPolicy, PolicyInputError> {
    check_fields(&fields)?;
    // `null` means "not set", as leaving the field out does (the rule is off, or the
    // default applies).
    fields.retain(|_, value| !value.is_null());
    fields.insert("patient".into(), Value::String(patient.to_string()));
    let policy: ThresholdPolicy = serde_path_to_error::deserialize(Value::Object(fields))
        .map_err(|e| PolicyInputError::Shape(format!("{}: {}", e.path(), e.inner())))?;
    policy.validate().map_err(PolicyInputError::Invalid)?;
    Ok(policy)
}

/// [`policy_from_settings`] of a JSON text (a policy file).
pub fn policy_from_json(
    patient: &PatientId,
    text: &str,
) -> Result<ThresholdPolicy, PolicyInputError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(fields)) => policy_from_settings(patient, fields),
        Ok(_) => Err(PolicyInputError::Shape(
            "a policy must be a JSON object".into(),
        )),
        Err(e) => Err(PolicyInputError::Shape(format!("not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient() -> PatientId {
        PatientId::parse("p-1").expect("valid id")
    }

    fn from(value: Value) -> Result<ThresholdPolicy, PolicyInputError> {
        match value {
            Value::Object(fields) => policy_from_settings(&patient(), fields),
            _ => panic!("test bodies are objects"),
        }
    }

    #[test]
    fn every_field_of_a_threshold_policy_is_accepted() {
        let policy = ThresholdPolicy::empty(patient());
        let mut body = serde_json::to_value(&policy).expect("serialises");
        let fields = body.as_object_mut().expect("an object");
        fields.remove("patient");
        fields.remove("version");
        assert_eq!(from(body), Ok(policy));
    }

    #[test]
    fn an_unknown_or_misspelt_field_or_one_the_api_owns_is_refused() {
        for body in [
            json!({"vtach": {}}),
            json!({"hr_hihg": null}),
            json!({"version": 3}),
        ] {
            match from(body) {
                Err(PolicyInputError::Shape(m)) => assert!(m.contains("unknown field"), "{m}"),
                other => panic!("expected a shape error, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_wrongly_shaped_value_names_its_path_an_implausible_one_its_field() {
        match from(json!({"hr_high": {"bpm": "fast"}})) {
            Err(PolicyInputError::Shape(m)) => assert!(m.starts_with("hr_high"), "{m}"),
            other => panic!("expected a shape error, got {other:?}"),
        }
        match from(json!({"hr_high": {"bpm": 900.0, "priority": "high"}})) {
            Err(PolicyInputError::Invalid(e)) => assert_eq!(e.field, "hr_high.bpm"),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn fall_and_stale_numerics_are_read_and_validated_as_the_api_reads_them() {
        let p = from(json!({"fall": {}, "stale_numerics": {"kinds": {"spo2": 30}}}))
            .expect("defaults and a per-kind limit");
        assert_eq!(
            p.rule(crate::RuleKind::Fall).map(|r| r.priority),
            Some(crate::Priority::High)
        );
        let stale = p.stale_numerics.expect("on");
        assert_eq!(stale.after_s(crate::VitalKind::Spo2), 30.0);
        match from(json!({"stale_numerics": {"kinds": {"fall": 60}}})) {
            Err(PolicyInputError::Invalid(e)) => assert_eq!(e.field, "stale_numerics.kinds"),
            other => panic!("expected invalid, got {other:?}"),
        }
        match from(json!({"stale_numerics": {"kinds": {"spo3": 60}}})) {
            Err(PolicyInputError::Shape(m)) => assert!(m.starts_with("stale_numerics"), "{m}"),
            other => panic!("expected a shape error, got {other:?}"),
        }
        match from(json!({"fall": {"clear_s": 7200}})) {
            Err(PolicyInputError::Invalid(e)) => assert_eq!(e.field, "fall.clear_s"),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn null_means_not_set_and_text_must_be_an_object() {
        assert_eq!(
            from(json!({"flapping": null, "hr_average_beats": null})),
            Ok(ThresholdPolicy::empty(patient()))
        );
        assert!(matches!(
            policy_from_json(&patient(), "[1]"),
            Err(PolicyInputError::Shape(_))
        ));
    }
}
