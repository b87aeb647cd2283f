//! Request counters by route and status, served at `/metrics` (Prometheus text).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
pub struct RequestMetrics {
    /// (method, route template, status) → count. Templates, not paths: no ids in labels.
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl RequestMetrics {
    pub fn render(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::from(
            "# HELP cw_api_requests_total Requests by method, route and status.\n# TYPE cw_api_requests_total counter\n",
        );
        for ((method, route, status), n) in counts.iter() {
            let _ = writeln!(
                out,
                "cw_api_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out
    }
}

pub async fn count(
    State(metrics): State<Arc<RequestMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "<no route>".into());
    let response = next.run(req).await;
    let key = (method, route, response.status().as_u16());
    *metrics
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default() += 1;
    response
}
