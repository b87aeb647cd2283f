//! `/readyz`: whether the service can do its work now — its stores answer and its bus
//! sockets are up (docs/architecture.md, "Health"). `/healthz` stays liveness only: a
//! service whose store is down is alive and must not be restarted for it, only taken
//! out of traffic until the store is back.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A probe that has not answered in this time counts as failed: under the 5 s timeout of
/// the compose healthchecks, so a hung store shows as `timeout`, not as a hung check.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Answers within this age are reused, so `/readyz` (unauthenticated on the public
/// listeners) costs the stores at most one round of probes a second, however often it
/// is asked.
const REUSE_FOR: Duration = Duration::from_secs(1);

type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Probe = Arc<dyn Fn() -> ProbeFuture + Send + Sync>;

struct Check {
    name: &'static str,
    /// A failing optional check is reported but leaves the service ready.
    required: bool,
    probe: Probe,
    /// Whether the last probe failed: its detail is logged when that changes, not on
    /// every probe.
    failing: AtomicBool,
}

/// The checks of one service. Cheap to clone; every clone shares the last answer.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Arc<Check>>,
    last: Arc<tokio::sync::Mutex<Option<(Instant, Report)>>>,
}

/// The `/readyz` body: `status` is `ready` or `not_ready`, `not_ready` names the
/// required checks that failed, and `checks` gives every check's outcome (`ok`,
/// `failed` or `timeout`). Failure details go to the service's log, never into this
/// body, which anyone who reaches the port may read.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub status: &'static str,
    pub not_ready: Vec<&'static str>,
    pub checks: BTreeMap<&'static str, CheckOutcome>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckOutcome {
    pub status: &'static str,
    pub required: bool,
}

impl Readiness {
    /// Adds a check the service cannot serve without.
    pub fn require<F, Fut>(self, name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.with(name, true, probe)
    }

    /// Adds a check that is reported but does not make the service unready (a peer the
    /// service can work without: the store, not the bus, carries what matters).
    pub fn report<F, Fut>(self, name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.with(name, false, probe)
    }

    fn with<F, Fut>(mut self, name: &'static str, required: bool, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let probe: Probe = Arc::new(move || Box::pin(probe()) as ProbeFuture);
        self.checks.push(Arc::new(Check {
            name,
            required,
            probe,
            failing: AtomicBool::new(false),
        }));
        self
    }

    /// Runs every probe at once (or reuses an answer under a second old).
    pub async fn report_now(&self) -> Report {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref()
            && at.elapsed() < REUSE_FOR
        {
            return report.clone();
        }
        let mut running = tokio::task::JoinSet::new();
        for check in &self.checks {
            let check = check.clone();
            running.spawn(async move {
                let outcome = tokio::time::timeout(PROBE_TIMEOUT, (check.probe)()).await;
                let status = match &outcome {
                    Ok(Ok(())) => "ok",
                    Ok(Err(_)) => "failed",
                    Err(_) => "timeout",
                };
                log_change(&check, outcome);
                (check.name, check.required, status)
            });
        }
        let mut report = Report {
            status: "ready",
            not_ready: Vec::new(),
            checks: BTreeMap::new(),
        };
        while let Some(done) = running.join_next().await {
            // A probe that panicked is a failed check, named by nothing: not ready.
            let (name, required, status) = done.unwrap_or(("readiness_probe", true, "failed"));
            if status != "ok" && required {
                report.not_ready.push(name);
            }
            report
                .checks
                .insert(name, CheckOutcome { status, required });
        }
        report.not_ready.sort_unstable();
        if !report.not_ready.is_empty() {
            report.status = "not_ready";
        }
        *last = Some((Instant::now(), report.clone()));
        report
    }

    /// `/readyz`: 200 when every required check passed, else 503; the body either way.
    pub async fn respond(&self) -> Response {
        let report = self.report_now().await;
        let code = if report.not_ready.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (code, Json(report)).into_response()
    }
}

fn log_change(check: &Check, outcome: Result<Result<(), String>, tokio::time::error::Elapsed>) {
    let failed = !matches!(outcome, Ok(Ok(())));
    if check.failing.swap(failed, Ordering::Relaxed) == failed {
        return;
    }
    match outcome {
        Ok(Ok(())) => tracing::info!(check = check.name, "readiness check passes again"),
        Ok(Err(detail)) => {
            tracing::warn!(check = check.name, required = check.required, %detail, "readiness check failed")
        }
        Err(_) => tracing::warn!(
            check = check.name,
            required = check.required,
            timeout_ms = PROBE_TIMEOUT.as_millis() as u64,
            "readiness check did not answer in time"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_required_check_makes_503_naming_it_and_an_optional_one_does_not() {
        let ready = Readiness::default()
            .require("store", || async { Ok(()) })
            .require("bus", || async { Err("socket closed".to_owned()) })
            .report("peers", || async { Err("0 of 1 connected".to_owned()) });
        let report = ready.report_now().await;
        assert_eq!(report.status, "not_ready");
        assert_eq!(report.not_ready, vec!["bus"]);
        assert_eq!(report.checks["store"].status, "ok");
        assert_eq!(report.checks["peers"].status, "failed");
        assert!(!report.checks["peers"].required);
        assert_eq!(
            ready.respond().await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn a_hung_probe_is_a_timeout_not_a_hung_readyz() {
        let ready =
            Readiness::default().require("store", std::future::pending::<Result<(), String>>);
        let report = ready.report_now().await;
        assert_eq!(report.checks["store"].status, "timeout");
        assert_eq!(report.not_ready, vec!["store"]);
    }

    #[tokio::test]
    async fn only_optional_failures_leave_the_service_ready() {
        let ready = Readiness::default()
            .require("store", || async { Ok(()) })
            .report("peers", || async { Err("none".to_owned()) });
        let report = ready.report_now().await;
        assert_eq!(report.status, "ready");
        assert!(report.not_ready.is_empty());
        assert_eq!(ready.respond().await.status(), StatusCode::OK);
    }
}
