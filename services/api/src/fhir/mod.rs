//! The FHIR R4 facade at `/fhir/R4` (docs/integration.md, "FHIR R4"): read and search
//! over what the api already serves, as FHIR resources in `application/fhir+json`, behind
//! the same authentication, authorization and audit as `/v1`. Mapping is pure
//! (`resources.rs`), query parsing and paging in `search.rs`, handlers in `routes.rs`.

pub mod resources;
pub mod routes;
pub mod search;

use crate::error::ApiError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The FHIR JSON media type.
pub const MEDIA: &str = "application/fhir+json";

/// A FHIR resource as the answer.
pub struct Fhir(pub Value);

impl IntoResponse for Fhir {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, MEDIA)], self.0.to_string()).into_response()
    }
}

/// An [`ApiError`] told as FHIR clients expect it: an `OperationOutcome` with the same
/// status, code and message as the REST api's error.
pub struct FhirError(pub ApiError);

impl From<ApiError> for FhirError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<cw_storage::StoreError> for FhirError {
    fn from(e: cw_storage::StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let status = self.0.clone().into_response().status();
        let code = match status {
            StatusCode::UNAUTHORIZED => "login",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid",
            StatusCode::TOO_MANY_REQUESTS => "throttled",
            s if s.is_server_error() => "transient",
            _ => "processing",
        };
        let mut issue = json!({
            "severity": "error",
            "code": code,
            "diagnostics": self.0.to_string(),
        });
        if let ApiError::Invalid {
            field: Some(field), ..
        } = &self.0
        {
            issue["expression"] = json!([field]);
        }
        let body = json!({"resourceType": "OperationOutcome", "issue": [issue]});
        (status, Fhir(body)).into_response()
    }
}
