//! The InfluxDB adapter for samples, over the HTTP API every InfluxDB line serves
//! (`POST /write` line protocol, `GET|POST /query` InfluxQL): 1.x natively, 2.x and
//! 3.x through their v1-compatibility endpoints.
//!
//! Schema: measurement `ecg`, one tag `patient` (an opaque id, never PHI), integer
//! fields `l0`, `l1`, … (µV), one point per frame at its ns timestamp. The device is not
//! a tag: the series key is (patient) alone, so a block resent through any device lands
//! on the same points and overwrites them. Vital-sign numerics are measurement `vitals`
//! (`vitals.rs`). Retention and downsampling: `lifecycle.rs`. Several nodes, each holding
//! the patients of a fixed range of shards: `nodes.rs`.

mod client;
mod lifecycle;
mod line;
mod news2;
mod nodes;
mod query;
mod samples;
mod vitals;

pub use lifecycle::{DOWNSAMPLED_RP, ECG_DOWNSAMPLED, VITALS_DOWNSAMPLED};
pub use nodes::node_of_shard;
pub use samples::InfluxSamples;
