//! Start-up, logs, metrics, health and shutdown, the same way in every service.

mod health;
pub mod internal_event;
pub mod metrics;
mod readiness;
mod service;
mod signals;

pub use health::{admin_routes, health_routes, healthz};
pub use readiness::{CheckOutcome, Readiness, Report};
pub use service::run_service;

pub use internal_event::InternalEvent;
pub use metrics::{Counter, Histogram, MetricsText};
pub use signals::shutdown_on_signal;

/// Installs the global tracing subscriber: `RUST_LOG` filters (default `info`), and
/// `CW_LOG_FORMAT=json` switches to JSON lines for production log shipping.
/// Calling it twice is harmless (the second call does nothing).
pub fn init_logging() {
    init_logging_with_default("info");
}

/// As [`init_logging`], with another level when `RUST_LOG` is unset (the CLI prints its
/// own progress and keeps logs to warnings).
pub fn init_logging_with_default(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let json = std::env::var("CW_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
