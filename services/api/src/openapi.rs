//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, built with utoipa
//! from [`ROUTES`] — one table beside the router, and a test
//! (`tests/tests/e2e/api_authz.rs`) checks that it and the authorization matrix name the same
//! routes, so an undocumented route fails the build's tests.

use axum::Json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder,
};

/// Query parameter: name, integer (else string), required.
type Query = (&'static str, bool, bool);

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub query: &'static [Query],
    pub body: bool,
    pub success: &'static str,
    pub bearer: bool,
}

const fn r(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    query: &'static [Query],
    body: bool,
    success: &'static str,
    bearer: bool,
) -> Route {
    Route {
        method,
        path,
        summary,
        query,
        body,
        success,
        bearer,
    }
}

/// Every route the api serves.
pub const ROUTES: &[Route] = &[
    r("get", "/healthz", "Liveness", &[], false, "200", false),
    r("get", "/readyz", "Readiness", &[], false, "200", false),
    r(
        "get",
        "/openapi.json",
        "This document",
        &[],
        false,
        "200",
        false,
    ),
    r(
        "post",
        "/v1/auth/login",
        "Log in (argon2id); access + refresh token",
        &[],
        true,
        "200",
        false,
    ),
    r(
        "post",
        "/v1/auth/refresh",
        "Rotate a refresh token",
        &[],
        true,
        "200",
        false,
    ),
    r(
        "post",
        "/v1/auth/logout",
        "Revoke a refresh token's family",
        &[],
        true,
        "204",
        false,
    ),
    r(
        "put",
        "/v1/users/{id}/login",
        "Set a user's role and password (admin)",
        &[],
        true,
        "204",
        true,
    ),
    r(
        "post",
        "/v1/users/{id}/disable",
        "Disable an account at once, with a reason (admin; not one's own: 409)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/users/{id}/enable",
        "Enable a disabled account (admin; optional {reason})",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/users",
        "User directory: role, active, which contact points are set (admin)",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/users/{id}",
        "A user's record: role, phone, email, notification preferences (admin, or the user)",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "put",
        "/v1/users/{id}",
        "Create or change a user's role, phone (E.164), email and notification preferences; fields left out stay, null removes phone/email (admin)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "put",
        "/v1/users/me/notify",
        "Set one's own notification preferences: channels per priority, quiet hours, snooze (high priority always goes to every routed channel)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients",
        "The caller's patients",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/patients",
        "Create a patient; PHI sealed at rest (admin)",
        &[],
        true,
        "201",
        true,
    ),
    r(
        "post",
        "/v1/patients/lookup",
        "Find a patient by MRN (keyed hash)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients/{id}",
        "A patient with PHI",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "put",
        "/v1/patients/{id}/doctors",
        "Assign doctors (admin)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/patients/{id}/break-glass",
        "Emergency access with a reason (doctor)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients/{id}/thresholds",
        "Current threshold policy",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "put",
        "/v1/patients/{id}/thresholds",
        "New threshold policy version (replaces the whole policy; one with no rule needs allow_no_alarms=true)",
        &[("allow_no_alarms", false, false)],
        true,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/patients/{id}/backtest",
        "Replay stored ECG against a candidate policy",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients/{id}/ecg",
        "ECG range; min/max per bucket when long",
        &[
            ("from_ns", true, true),
            ("to_ns", true, true),
            ("max_points", true, false),
        ],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients/{id}/ecg/export",
        "ECG range as one download: EDF, or a WFDB record (header, format 212, beat and alarm annotations) in a tar",
        &[
            ("from_ns", true, true),
            ("to_ns", true, true),
            ("format", false, true),
        ],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients/{id}/beats",
        "Beats of a range (≤ 300 s), detected and classified: a strip's beat marks",
        &[("from_ns", true, true), ("to_ns", true, true)],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients/{id}/vitals",
        "Vital-sign numerics (readings and sensor statuses) in a range of at most 24 h",
        &[
            ("from_ns", true, true),
            ("to_ns", true, true),
            ("kind", false, false),
        ],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/fhir/R4/metadata",
        "FHIR R4 CapabilityStatement",
        &[],
        false,
        "200",
        false,
    ),
    r(
        "get",
        "/fhir/R4/Patient/{id}",
        "FHIR Patient (name, birth date and MRN to those who may read the patient)",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/fhir/R4/Device/{id}",
        "FHIR Device (the patch) and its patient",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/fhir/R4/Observation",
        "FHIR Observation search: heart rate (LOINC 8867-4) per minute and ECG strips (MDC 131328, valueSampledData) over date=ge…&date=lt… (at most an hour); Bundle paging",
        &[
            ("patient", false, true),
            ("code", false, false),
            ("date", false, true),
            ("_count", true, false),
            ("_offset", true, false),
        ],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/fhir/R4/DetectedIssue",
        "FHIR DetectedIssue search: the patient's alarms (rule, priority, state, acknowledgement); Bundle paging",
        &[
            ("patient", false, true),
            ("code", false, false),
            ("date", false, false),
            ("identified", false, false),
            ("_lastUpdated", false, false),
            ("_count", true, false),
            ("_offset", true, false),
        ],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/patients/{id}/live",
        "Live WebSocket: heart rate per beat, alert state changes, subsampled ECG",
        &[],
        false,
        "101",
        true,
    ),
    r(
        "get",
        "/v1/alerts",
        "Alerts, newest first; next page via x-next-cursor",
        &[
            ("patient", false, false),
            ("state", false, false),
            ("priority", false, false),
            ("cursor", false, false),
            ("limit", true, false),
        ],
        false,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/alerts/{id}/ack",
        "Acknowledge an alert",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/alerts/{id}/snooze",
        "Snooze a firing medium/low alert for a bounded time, with a reason (high: 409)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/alerts/{id}/deliveries",
        "Deliveries of an alert",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/devices",
        "All devices (admin)",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/devices",
        "Register a device; token shown once (admin)",
        &[],
        true,
        "201",
        true,
    ),
    r(
        "post",
        "/v1/devices/{id}/revoke",
        "Revoke a device (admin)",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "post",
        "/v1/devices/{id}/token",
        "Replace a device's token (admin)",
        &[],
        false,
        "200",
        true,
    ),
    r(
        "put",
        "/v1/devices/{id}/certificate",
        "Pin a client certificate SHA-256 (admin)",
        &[],
        true,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/audit",
        "Audit events (admin)",
        &[("from_seq", true, false), ("limit", true, false)],
        false,
        "200",
        true,
    ),
    r(
        "get",
        "/v1/reports/fatigue",
        "Alarm-fatigue report: alarms per patient/rule/day, ack rate, median time to ack",
        &[("days", true, false)],
        false,
        "200",
        true,
    ),
];

fn method(raw: &str) -> HttpMethod {
    match raw {
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "delete" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn json_object() -> ContentBuilder {
    ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
}

/// The alert routes answer with alerts (`crate::alert_view::AlertView`).
fn alert_response(route: &Route) -> Option<RefOr<Schema>> {
    let alert = Ref::from_schema_name("Alert");
    match route.path {
        "/v1/alerts" => Some(ArrayBuilder::new().items(alert).build().into()),
        "/v1/alerts/{id}/ack" | "/v1/alerts/{id}/snooze" => Some(alert.into()),
        _ => None,
    }
}

/// An alert as the api shows it: the stored alert, its episode and the summary. Fields
/// that may be null say so (schemathesis checks every answer against this): the unset
/// ack, resolve and snooze, and numbers, since a NaN value travels as null.
fn alert_schema() -> ObjectBuilder {
    let typed = |t: Type| ObjectBuilder::new().schema_type(t);
    let nullable =
        |t: Type| ObjectBuilder::new().schema_type(SchemaType::Array(vec![t, Type::Null]));
    let episode = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Every qualifying event while the alert was open (count 0: stored before \
             episodes were recorded)",
        ))
        .property(
            "count",
            typed(Type::Integer).description(Some("events, the first one included")),
        )
        .property(
            "first_ns",
            typed(Type::Integer).description(Some("first event (sample time, ns)")),
        )
        .property(
            "last_ns",
            typed(Type::Integer).description(Some("latest event (sample time, ns)")),
        )
        .property(
            "worst",
            nullable(Type::Number).description(Some(
                "worst value, in the unit of `value` (lowest for hr_low and brady_run)",
            )),
        )
        .required("count")
        .required("first_ns")
        .required("last_ns")
        .required("worst");
    let mut alert = ObjectBuilder::new().schema_type(Type::Object);
    for (name, t) in [
        ("id", Type::String),
        ("patient", Type::String),
        ("rule", Type::String),
        ("priority", Type::String),
        ("state", Type::String),
        ("started_ns", Type::Integer),
        ("fired_ns", Type::Integer),
        ("policy_version", Type::Integer),
        ("window_start_ns", Type::Integer),
        ("window_end_ns", Type::Integer),
    ] {
        alert = alert.property(name, typed(t)).required(name);
    }
    for (name, t) in [
        ("acked_ns", Type::Integer),
        ("acked_by", Type::String),
        ("resolved_ns", Type::Integer),
        ("value", Type::Number),
        ("limit", Type::Number),
        ("snooze", Type::Object),
    ] {
        alert = alert.property(name, nullable(t));
    }
    alert.property("episode", episode).property(
        "summary",
        nullable(Type::String).description(Some(
            "the episode in words, e.g. \"17 pauses, longest 5.7 s\"; null when count is 0",
        )),
    )
}

fn document() -> OpenApi {
    let error = ResponseBuilder::new()
        .description("`{\"error\": {\"code\", \"message\", \"field\"?}}`")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build();
    let fhir_error = ResponseBuilder::new()
        .description("an OperationOutcome")
        .content(crate::fhir::MEDIA, ContentBuilder::new().build())
        .build();
    let mut paths = PathsBuilder::new();
    for route in ROUTES {
        let mut op = OperationBuilder::new()
            .summary(Some(route.summary))
            .operation_id(Some(format!("{} {}", route.method, route.path)));
        if route.path.contains("{id}") {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        for (name, integer, required) in route.query {
            let kind = if *integer {
                Type::Integer
            } else {
                Type::String
            };
            op = op.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Query)
                    .required(if *required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .schema(Some(ObjectBuilder::new().schema_type(kind))),
            );
        }
        if route.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", json_object().build())
                    .build(),
            ));
        }
        let success = ResponseBuilder::new().description("success");
        if route.success == "101" {
            // A WebSocket: the upgrade answers 101; a plain GET is refused with 426.
            op = op
                .description(Some(crate::routes::live::DESCRIPTION))
                .response("426", error.clone());
        }
        let success = if matches!(route.success, "204" | "101") {
            success
        } else if let Some(schema) = alert_response(route) {
            success.content(
                "application/json",
                ContentBuilder::new().schema(Some(schema)).build(),
            )
        } else if route.path.starts_with("/fhir/") {
            success.content(crate::fhir::MEDIA, ContentBuilder::new().build())
        } else if route.path == "/v1/patients/{id}/ecg/export" {
            // A file: EDF, or a WFDB record in a tar.
            success
                .content("application/octet-stream", ContentBuilder::new().build())
                .content("application/x-tar", ContentBuilder::new().build())
        } else if route.path == "/healthz" {
            success.content("text/plain", ContentBuilder::new().build())
        } else {
            success.content("application/json", ContentBuilder::new().build())
        };
        op = op.response(route.success, success.build());
        // FHIR routes answer errors as an OperationOutcome.
        let error = if route.path.starts_with("/fhir/") {
            &fhir_error
        } else {
            &error
        };
        for status in [
            "400", "401", "403", "404", "409", "422", "423", "429", "503",
        ] {
            op = op.response(status, error.clone());
        }
        if route.bearer {
            op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        paths = paths.path(route.path, PathItem::new(method(route.method), op.build()));
    }
    let error_schema = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "error",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("code", ObjectBuilder::new().schema_type(Type::String))
                .property("message", ObjectBuilder::new().schema_type(Type::String))
                .property("field", ObjectBuilder::new().schema_type(Type::String))
                .required("code")
                .required("message"),
        )
        .required("error");
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("cardiowatch api")
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .schema("Error", error_schema)
                .schema("Alert", alert_schema())
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .bearer_format("JWT")
                            .build(),
                    ),
                )
                .build(),
        ))
        .build()
}

pub async fn serve() -> Json<OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_routes_answer_with_alerts_that_carry_their_episode_and_summary() {
        let doc = serde_json::to_value(document()).expect("serialises");
        let alert = &doc["components"]["schemas"]["Alert"]["properties"];
        assert_eq!(alert["episode"]["properties"]["count"]["type"], "integer");
        assert_eq!(
            alert["summary"]["type"],
            serde_json::json!(["string", "null"])
        );
        assert_eq!(
            alert["acked_ns"]["type"],
            serde_json::json!(["integer", "null"])
        );
        let list = &doc["paths"]["/v1/alerts"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        assert_eq!(
            list["items"]["$ref"], "#/components/schemas/Alert",
            "{list}"
        );
        let ack = &doc["paths"]["/v1/alerts/{id}/ack"]["post"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        assert_eq!(ack["$ref"], "#/components/schemas/Alert", "{ack}");
    }
}
