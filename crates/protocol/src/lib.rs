//! What gateways and ingest say to each other (`docs/ingest-protocol.md` is the prose).

pub mod frame;
pub mod reply;

pub use frame::{Encoding, Frame, FrameError, HEADER_LEN, MAX_FRAME_BYTES};
pub use reply::{NackCode, Reply};
