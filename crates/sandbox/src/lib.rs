//! Local stand-ins for the providers the notifier talks to.
//!
//! [`TwilioSandbox`] is a small Twilio-compatible recording server on loopback. Tests
//! use it to count what actually arrived on the far side (Prism validates requests but
//! keeps no state), and `cardiowatch demo` points the real Twilio client at it when no
//! Twilio account is configured, so the demo exercises the same code as production.

pub mod callbacks;
mod faults;
mod handlers;
mod httpdate;
mod records;
mod twilio;

pub use records::{RecordedCall, RecordedMessage};
pub use twilio::TwilioSandbox;
