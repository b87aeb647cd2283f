//! What gateways and ingest say to each other (`docs/ingest-protocol.md` is the prose).

pub mod any_frame;
pub mod frame;
pub mod numerics;
pub mod reply;

pub use any_frame::{AnyFrame, AnyFrameError, decode_binary, parse_json};
pub use frame::{Encoding, Frame, FrameError, HEADER_LEN, MAX_FRAME_BYTES};
pub use numerics::{NumericsDecodeError, NumericsFrame, NumericsRejection};
pub use reply::{NackCode, Reply};
