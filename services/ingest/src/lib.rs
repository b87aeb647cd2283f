//! cardiowatch ingest: the TLS endpoint gateways stream ECG to (docs/ingest-protocol.md).
//!
//! A frame is acked only after the sample store said it is durable; then it is published
//! on the bus for the alert-engines. A bad frame is nacked with a typed code and harms
//! nothing else.

pub mod config;

mod admission;
mod app;
mod auth;
mod batch;
mod events;
mod limits;
mod metrics;
mod pipeline;
mod seqs;
mod stream;
pub mod unmonitored;
pub mod writer;

pub use app::{Running, run, start};
pub use config::IngestConfig;
pub use writer::WriterConfig;
