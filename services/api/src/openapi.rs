//! `GET /openapi.json`: the OpenAPI 3.1 description of every route. Each api route
//! brings its own from its `#[utoipa::path]` beside the handler (method, path,
//! parameters, request and response schemas, access rule as `x-access`), collected by the
//! router (`app.rs`, `access_rule.rs`); only the health routes, shared by every service
//! (`cw_runtime::health_routes`), and this document itself are described here. [`finish`]
//! gives every operation the error answers and the bearer requirement. A test
//! (`tests/tests/e2e/api_authz.rs`) derives the authorization matrix from `x-access` and
//! checks that it names exactly the documented routes.

use crate::access_rule::{Access, EXTENSION};
use crate::error::ErrorBody;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, Required,
    ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// The routes not declared beside a handler of this crate: path, summary, content type.
const INFRA_ROUTES: &[(&str, &str, &str)] = &[
    ("/healthz", "Liveness", "text/plain"),
    (
        "/readyz",
        "Readiness: every store and bus socket the api needs",
        "application/json",
    ),
    ("/openapi.json", "This document", "application/json"),
];

/// The FHIR facade (`crate::fhir`): path, summary, access rule as `fhir::routes` enforces
/// it. Its answers are FHIR JSON, errors an OperationOutcome.
const FHIR_ROUTES: &[(&str, &str, Access)] = &[
    (
        "/fhir/R4/metadata",
        "FHIR R4 CapabilityStatement",
        Access::Public,
    ),
    (
        "/fhir/R4/Patient/{id}",
        "FHIR Patient (name, birth date and MRN to those who may read the patient)",
        Access::PatientRead,
    ),
    (
        "/fhir/R4/Device/{id}",
        "FHIR Device (the patch) and its patient",
        Access::PatientRead,
    ),
    (
        "/fhir/R4/Observation",
        "FHIR Observation search: heart rate (LOINC 8867-4) per minute and ECG strips (MDC 131328, valueSampledData) over date=ge…&date=lt… (at most an hour); Bundle paging",
        Access::PatientRead,
    ),
    (
        "/fhir/R4/DetectedIssue",
        "FHIR DetectedIssue search: the patient's alarms (rule, priority, state, acknowledgement); Bundle paging",
        Access::PatientRead,
    ),
];

/// The error answers every operation may give, beside its own.
const ERROR_STATUSES: &[&str] = &[
    "400", "401", "403", "404", "409", "422", "423", "429", "500", "503",
];

fn infra_routes() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (path, summary, content_type) in INFRA_ROUTES {
        let op = OperationBuilder::new()
            .summary(Some(*summary))
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add(EXTENSION, serde_json::json!(Access::Public))
                    .build(),
            ))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("success")
                    .content(*content_type, ContentBuilder::new().build())
                    .build(),
            );
        paths = paths.path(*path, PathItem::new(HttpMethod::Get, op.build()));
    }
    let fhir = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(crate::fhir::MEDIA, ContentBuilder::new().build())
            .build()
    };
    for (path, summary, access) in FHIR_ROUTES {
        let mut op = OperationBuilder::new()
            .summary(Some(*summary))
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add(EXTENSION, serde_json::json!(access))
                    .build(),
            ))
            .response("200", fhir("success"));
        if path.contains("{id}") {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(String::schema())),
            );
        }
        for status in ERROR_STATUSES {
            op = op.response(*status, fhir("an OperationOutcome"));
        }
        paths = paths.path(*path, PathItem::new(HttpMethod::Get, op.build()));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("cardiowatch api")
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths.build())
        .build()
}

/// The whole document: the declared routes (`declared`, from the router) and the
/// infrastructure ones; every operation answers errors in the `Error` shape, and every one
/// not declared [`Access::Public`] needs the bearer token.
pub fn finish(declared: OpenApi) -> OpenApi {
    let mut doc = infra_routes();
    doc.merge(declared);
    let error = ResponseBuilder::new()
        .description("`{\"error\": {\"code\", \"message\", \"field\"?}}`")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            for status in ERROR_STATUSES {
                op.responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| error.clone().into());
            }
            if access(op) != Some(Access::Public) && op.security.is_none() {
                op.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    components.security_schemes.insert(
        "bearer".into(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

/// An operation's declared access rule.
pub fn access(op: &Operation) -> Option<Access> {
    let value = op.extensions.as_ref()?.get(EXTENSION)?;
    serde_json::from_value(value.clone()).ok()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// `GET /openapi.json`, serialised once at start.
pub fn serve(doc: &OpenApi) -> anyhow::Result<axum::routing::MethodRouter<crate::app::AppState>> {
    let body: std::sync::Arc<str> = serde_json::to_string(doc)?.into();
    Ok(axum::routing::get(move || {
        let body = body.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
        }
    }))
}
