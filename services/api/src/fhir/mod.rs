//! The FHIR R4 facade at `/fhir/R4` (docs/integration.md, "FHIR R4"): read and search
//! over what the api already serves, as FHIR resources in `application/fhir+json`, behind
//! the same authentication, authorization and audit as `/v1`. Mapping is pure
//! (`resources.rs`), query parsing and paging in `search.rs`, handlers in `routes.rs`,
//! each declared with `#[utoipa::path]` and registered through [`guarded`] like the `/v1`
//! routes (`app.rs`), so its access rule is enforced, printed and tested from one place.

pub mod audit_event;
pub mod communication;
pub mod record_routes;
pub mod request;
pub mod resources;
pub mod routes;
pub mod search;
pub mod trail_routes;

use crate::app::AppState;
use crate::error::ApiError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa_axum::router::UtoipaMethodRouter;

/// The FHIR JSON media type.
pub const MEDIA: &str = "application/fhir+json";

/// A FHIR route of `routes!(handler)` with its declared access rule enforced as for
/// `/v1` ([`crate::access_rule::guarded`]), its refusals (401, 403) told as an
/// `OperationOutcome` in [`MEDIA`].
pub fn guarded(
    state: &AppState,
    route: UtoipaMethodRouter<AppState>,
) -> anyhow::Result<UtoipaMethodRouter<AppState>> {
    crate::access_rule::guarded_with(state, route, |e| FhirError(e).into_response())
}

/// The schema of a FHIR answer in `/openapi.json`: a resource named by its
/// `resourceType`; the FHIR R4 specification, not this document, describes the rest (the
/// e2e test validates every answer against it, tests/tests/e2e/fhir.rs).
pub struct FhirResource;

impl utoipa::PartialSchema for FhirResource {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("A FHIR R4 resource (hl7.org/fhir/R4)"))
            .property(
                "resourceType",
                ObjectBuilder::new().schema_type(Type::String),
            )
            .required("resourceType")
            .into()
    }
}

impl utoipa::ToSchema for FhirResource {}

/// The schema of a FHIR refusal: what [`FhirError`] answers.
pub struct OperationOutcome;

impl utoipa::PartialSchema for OperationOutcome {
    fn schema() -> RefOr<Schema> {
        let issue = ObjectBuilder::new()
            .property("severity", ObjectBuilder::new().schema_type(Type::String))
            .property("code", ObjectBuilder::new().schema_type(Type::String))
            .property(
                "diagnostics",
                ObjectBuilder::new().schema_type(Type::String),
            )
            .property(
                "expression",
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
            )
            .required("severity")
            .required("code");
        ObjectBuilder::new()
            .description(Some(
                "A FHIR R4 OperationOutcome: the REST api's error, its status kept",
            ))
            .property(
                "resourceType",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["OperationOutcome"])),
            )
            .property("issue", ArrayBuilder::new().items(issue).min_items(Some(1)))
            .required("resourceType")
            .required("issue")
            .into()
    }
}

impl utoipa::ToSchema for OperationOutcome {}

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
