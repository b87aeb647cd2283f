//! Reader for PhysioNet WFDB records: `.hea` headers, signal files in formats 212, 16 and
//! 80, and MIT-format annotation files. Plain std file I/O, everything read into memory
//! (a 30-minute two-lead record is a few MB).

mod annotation;
mod codes;
mod error;
mod header;
mod record;
mod signal_format;

pub use annotation::{Annotation, parse_annotations, read_annotations};
pub use codes::is_beat;
pub use error::WfdbError;
pub use header::{Header, SignalSpec, parse_header};
pub use record::{Record, SignalInfo};
