//! Reader for PhysioNet WFDB records: `.hea` headers, signal files in formats 212, 16 and
//! 80, and MIT-format annotation files; writers for headers, format 212 and annotation
//! files (the ECG export), and a ustar writer to ship a record as one file. Plain std file
//! I/O, everything read into memory (a 30-minute two-lead record is a few MB).

mod annotation;
pub mod codes;
mod error;
mod header;
mod record;
mod signal_format;
mod tar;
mod writer;

pub use annotation::{Annotation, parse_annotations, read_annotations};
pub use codes::is_beat;
pub use error::WfdbError;
pub use header::{Header, SignalSpec, parse_header};
pub use record::{Record, SignalInfo};
pub use tar::write_tar;
pub use writer::{INVALID_212, SignalOut, encode_212, encode_annotations, header_text};
