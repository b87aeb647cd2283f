use crate::readiness::Readiness;
use axum::Router;
use axum::routing::get;

/// `/healthz` (the process answers: liveness) and `/readyz` (it can serve: `readiness`'s
/// checks, 503 naming what is not ready), merged into the router of every listener: load
/// balancers probe the public ones.
pub fn health_routes<S>(readiness: Readiness) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/healthz", get(healthz)).route(
        "/readyz",
        get(move || {
            let readiness = readiness.clone();
            async move { readiness.respond().await }
        }),
    )
}

/// `/healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The router of a service's admin listener: the health routes and `/metrics`
/// (Prometheus text from `metrics`). `/metrics` is served on admin listeners only, never
/// beside the public api or gateway routes (issue 13 #10, docs/security.md).
pub fn admin_routes<S>(
    readiness: Readiness,
    metrics: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    health_routes(readiness).route("/metrics", get(move || std::future::ready(metrics())))
}
