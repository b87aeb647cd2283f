//! cardiowatch alert-engine (docs/architecture.md, "Services").
//!
//! Subscribes to the sample shards it owns, runs one `cw_analysis::PatientMonitor` per
//! patient (all clinical logic lives in `crates/analysis`), and for every transition writes
//! the alert to the store *first* and only then pushes the event to the notifiers.

pub mod config;
pub mod fire_trace;

mod actions;
mod app;
mod events;
mod leases;
mod live_events;
mod metrics;
mod news2_trend;
mod policies;
mod writer;

pub use app::{Running, run, start};
pub use config::AlertEngineConfig;
/// Which shards an engine takes; `cardiowatch bench engines` splits shards with it too.
pub use leases::plan as lease_plan;
