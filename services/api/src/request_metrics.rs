//! Request counters by method, route and status, served at `/metrics` on the admin
//! listener (Prometheus text). Every label takes a bounded set of values, so no client can
//! grow the series without bound (issue 13 #10): the method is one of the standard ones
//! or `other`, the route is the matched template (or `<no route>`), never the path.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
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
    let method = method_label(req.method()).to_owned();
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

/// The method as a label: the standard methods by name, anything else (any token a
/// client makes up) as `other`.
fn method_label(method: &Method) -> &'static str {
    static KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", |known| known.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["FOO", "get", "X-1234567"] {
            let method = Method::from_bytes(made_up.as_bytes()).expect("a valid token");
            assert_eq!(method_label(&method), "other", "{made_up}");
        }
    }
}
