//! A panic in a handler becomes a 500 with the JSON error shape instead of a dropped
//! connection. It sits inside the audit middleware (`app.rs`), so the failed request is
//! still audited (issue 13 #3: a panicking ECG read once left no audit record).

use crate::error::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;

pub async fn catch(req: Request, next: Next) -> Response {
    // The route template, not the path: a path may carry ids, the template carries none.
    let action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or("<no route>", MatchedPath::as_str)
    );
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%action, "handler panicked; answered 500");
            ApiError::Internal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    async fn buggy_handler() -> &'static str {
        panic!("handler bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_json_and_outer_layers_see_it() {
        // Stands in for the audit middleware: what status does the outer layer record?
        let seen = Arc::new(Mutex::new(None));
        let outer = {
            let seen = seen.clone();
            move |req: Request, next: Next| {
                let seen = seen.clone();
                async move {
                    let response = next.run(req).await;
                    *seen.lock().expect("lock") = Some(response.status());
                    response
                }
            }
        };
        let router = Router::new()
            .route("/boom", get(buggy_handler))
            .layer(axum::middleware::from_fn(catch))
            .layer(axum::middleware::from_fn(outer));
        let response = router
            .oneshot(Request::get("/boom").body(Body::empty()).expect("request"))
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["error"]["code"], "internal");
        assert_eq!(
            *seen.lock().expect("lock"),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
    }
}
