//! cardiowatch alert-engine (DESIGN §13).
//!
//! Subscribes to the sample shards it owns, runs the streaming beat detector and heart
//! rate per patient, feeds each rule's state machine, and for every transition writes the
//! alert to the store *first* and only then pushes the event to the notifiers.

pub mod backtest;
pub mod config;
pub mod fire_trace;
pub mod monitor;

mod actions;
mod app;
mod ectopy;
mod live_events;
mod metrics;
mod policies;
mod rate;
mod rhythm;
mod rule_bank;
mod writer;

pub use app::{Running, run, start};
pub use config::AlertEngineConfig;
