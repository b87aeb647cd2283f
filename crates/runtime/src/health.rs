use axum::Router;
use axum::routing::get;

/// `/healthz` (the process answers), `/readyz` (it can serve) and `/metrics`
/// (Prometheus text from `metrics`), merged into a service's router.
pub fn health_routes<S>(metrics: impl Fn() -> String + Clone + Send + Sync + 'static) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/metrics", get(move || std::future::ready(metrics())))
}
