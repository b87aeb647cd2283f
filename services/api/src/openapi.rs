//! `GET /openapi.json`: the OpenAPI 3.1 description of every route. Each api route
//! (`/v1`, the FHIR facade, health and this document, `routes/infra.rs`) brings its own
//! from its `#[utoipa::path]` beside the handler (method, path, parameters, request and
//! response schemas, access rule as `x-access`), collected by the router (`app.rs`,
//! `access_rule.rs`); nothing is described by hand here. [`finish`] gives every operation
//! the error answers (FHIR ones as an `OperationOutcome`) and the bearer requirement. A
//! test (`tests/tests/e2e/api_authz.rs`) derives the authorization matrix from `x-access`
//! and checks that it names exactly the documented routes.

use crate::access_rule::{Access, EXTENSION};
use crate::error::ErrorBody;
use crate::fhir::OperationOutcome;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, PathItem, Ref, RefOr, ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// The error answers every operation may give, beside its own.
const ERROR_STATUSES: &[&str] = &[
    "400", "401", "403", "404", "409", "422", "423", "429", "500", "503",
];

/// The whole document, from the declared routes (`declared`, from the router): every
/// operation answers errors in the `Error` shape, or as an `OperationOutcome` when it
/// answers FHIR, and every one not declared [`Access::Public`] needs the bearer token.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("cardiowatch api")
        .version(env!("CARGO_PKG_VERSION"))
        .build();
    let error = ResponseBuilder::new()
        .description("`{\"error\": {\"code\", \"message\", \"field\"?}}`")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build();
    let outcome = ResponseBuilder::new()
        .description("an OperationOutcome")
        .content(
            crate::fhir::MEDIA,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(OperationOutcome::name())))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let refusal = if answers_fhir(op) { &outcome } else { &error };
            for status in ERROR_STATUSES {
                op.responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| refusal.clone().into());
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
    components.schemas.insert(
        OperationOutcome::name().into_owned(),
        OperationOutcome::schema(),
    );
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

/// Whether an operation answers FHIR (`application/fhir+json`), so refuses as FHIR does.
fn answers_fhir(op: &Operation) -> bool {
    op.responses.responses.values().any(|answer| match answer {
        RefOr::T(answer) => answer.content.contains_key(crate::fhir::MEDIA),
        RefOr::Ref(_) => false,
    })
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
