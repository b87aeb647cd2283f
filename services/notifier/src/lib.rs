//! cardiowatch notifier (docs/architecture.md, "Services"): PULLs alert events and reaches the patient's doctor
//! on every routed channel, through an outbox in the store so a restart never sends twice
//! and an alert whose event was lost is still delivered (periodic reconcile).

pub mod ack_tally;
pub mod acm;
pub mod config;
pub mod console_link;
pub mod providers;

mod app;
mod backoff;
mod breaker;
mod digest;
pub mod dispatch;
mod events;
pub mod evidence;
pub mod fatigue;
pub mod message;
pub mod metrics;
mod outbox_commit;
mod plan;
mod provider_check;
mod rate_limit;
pub mod strip_image;
mod watchdog;
pub mod webhooks;

pub use app::{Running, run, start};
pub use config::NotifierConfig;
