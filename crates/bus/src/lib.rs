//! The bus between cardiowatch services (docs/architecture.md, "Processes and the bus").
//!
//! Every message is an [`envelope`]: a clear header (version, kind, key id, nonce) and an
//! XChaCha20-Poly1305-sealed body, because zmq.rs has no CURVE and the bus crosses hosts.
//! A message that fails to open is dropped and counted, never acted on. The body is
//! encoded per kind ([`codec`]) so services of different releases read each other during a
//! rolling upgrade; [`envelope`] states the versioning rule.
//!
//! The bus makes things fast; it never makes them safe. Samples are durable in the sample
//! store before they are published and alerts are in the record store before they are
//! pushed, so a lost bus message costs latency, not data.

pub mod codec;
pub mod config;
pub mod dedupe;
pub mod discovery;
mod dns;
pub mod envelope;
mod events;
mod links;
pub mod pubsub;
pub mod pushpull;
mod reject_log;
pub mod stats;

pub use codec::Encoding;
pub use config::BusConfig;
pub use dedupe::Deduper;
pub use discovery::Discovery;
pub use envelope::{Envelope, Kind, Sealer};
pub use links::Links;
pub use pubsub::{Publisher, Subscriber};
pub use pushpull::{Puller, Pusher};
pub use stats::BusStats;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus key: {0}")]
    Key(String),
    #[error("bus config: {0}")]
    Config(String),
    #[error("zeromq: {0}")]
    Zmq(#[from] zeromq::ZmqError),
    #[error("message cannot be encoded: {0}")]
    Encode(String),
    #[error("message rejected: {0}")]
    Rejected(&'static str),
    #[error("no peer is connected to receive the message")]
    NoPeer,
    #[error("bus closed")]
    Closed,
}
