//! The routes every api client may call without a token: `GET /healthz`, `GET /readyz`
//! (the same answers as every service's, `cw_runtime::health_routes`) and
//! `GET /openapi.json`, declared like every other route so the document, the guard and the
//! authorization matrix know them from the same place (`app.rs`, `access_rule.rs`).

use crate::access_rule::Access;
use crate::app::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `/openapi.json` as served: made from these declarations after the router is built
/// (`app.rs`), so it reaches the handler as a request extension.
#[derive(Clone)]
pub struct Document(pub Arc<str>);

#[utoipa::path(get, path = "/healthz", summary = "Liveness",
    extensions(("x-access" = json!(Access::Public))),
    responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    cw_runtime::healthz().await
}

#[utoipa::path(get, path = "/readyz", summary = "Readiness: every store and bus socket the api needs",
    extensions(("x-access" = json!(Access::Public))),
    responses(
        (status = 200, body = cw_runtime::Report),
        (status = 503, description = "a required check failed", body = cw_runtime::Report)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    state.readiness.respond().await
}

#[utoipa::path(get, path = "/openapi.json", summary = "This document",
    extensions(("x-access" = json!(Access::Public))),
    responses((status = 200, body = Object, content_type = "application/json")))]
pub async fn document(Extension(Document(body)): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
