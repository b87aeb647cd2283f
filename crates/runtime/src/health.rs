use crate::readiness::Readiness;
use axum::Router;
use axum::routing::get;

/// `/healthz` (the process answers: liveness), `/readyz` (it can serve: `readiness`'s
/// checks, 503 naming what is not ready) and `/metrics` (Prometheus text from
/// `metrics`), merged into a service's router.
pub fn health_routes<S>(
    readiness: Readiness,
    metrics: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { readiness.respond().await }
            }),
        )
        .route("/metrics", get(move || std::future::ready(metrics())))
}
