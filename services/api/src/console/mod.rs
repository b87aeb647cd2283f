//! The clinician's console (issue 16; docs/console.md): static pages served on the api's
//! TLS listener, embedded in the binary (`assets`), under a strict Content-Security-Policy.
//! The pages hold no data of their own: they call the same `/v1` routes, with the same
//! tokens, authorization and audit as any client.

mod assets;

use crate::app::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// No inline script or style, nothing from another origin, no framing, no plugins, no
/// form posts anywhere: the pages' only code is the embedded modules (docs/security.md).
/// `connect-src 'self'` covers the `/v1` routes and the live WebSocket (same host).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// The console's routes; paths outside `/v1`, so the audit trail (which records every
/// `/v1` request) is not asked to record asset loads that carry no PHI.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(|| async { asset("index.html") }))
        .route("/console/rules.json", get(rules))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>| async move { asset(&file) }),
        )
}

fn asset(name: &str) -> Response {
    match assets::find(name) {
        Some((content_type, body)) => page(content_type, body),
        None => crate::error::ApiError::NotFound("console file").into_response(),
    }
}

fn page(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// What the pages need to know of each rule, from the one table that defines them
/// (`cw_core::RuleKind::info`): its name, what it means, whether it is a technical
/// alarm (cyan in the worklist, IEC 60601-1-8) and the unit of its value.
async fn rules() -> Response {
    let rules: serde_json::Map<String, serde_json::Value> = cw_core::RuleKind::ALL
        .iter()
        .map(|rule| {
            let info = rule.info();
            (
                info.name.to_owned(),
                serde_json::json!({
                    "describe": info.describe,
                    "technical": info.technical,
                    "unit": info.unit,
                }),
            )
        })
        .collect();
    page(
        "application/json",
        serde_json::Value::Object(rules).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_code_and_no_framing() {
        assert!(CSP.contains("script-src 'self';"));
        assert!(CSP.contains("frame-ancestors 'none'"));
        assert!(!CSP.contains("unsafe"));
    }

    #[test]
    fn every_page_names_only_files_that_are_embedded() {
        // A missing module would be a blank console: every src/href in the pages resolves.
        for (name, _, body) in assets::ALL {
            if !name.ends_with(".html") && !name.ends_with(".js") {
                continue;
            }
            let text = std::str::from_utf8(body).expect("utf-8");
            for quote in ["src=\"", "href=\"", "from \"./", "from './"] {
                for part in text.split(quote).skip(1) {
                    let target = part.split(['"', '\'']).next().unwrap_or_default();
                    let target = target.trim_start_matches("./");
                    if target.is_empty() || target.starts_with('#') {
                        continue;
                    }
                    assert!(
                        assets::find(target).is_some(),
                        "{name} names {target}, which is not embedded"
                    );
                }
            }
        }
    }
}
