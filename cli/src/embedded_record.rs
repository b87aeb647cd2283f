//! MIT-BIH record 100 built into the binary, so `cardiowatch demo` (and `docker run …
//! cardiowatch demo`) streams real ECG from any working directory. Its licence (ODC-By
//! 1.0) asks for attribution: deploy/testdata-ATTRIBUTION.md, shipped in the image.

use cw_wfdb::{Record, WfdbError};
use std::path::Path;

/// What `--record` names to stream the built-in record instead of a file.
pub const EMBEDDED_RECORD: &str = "embedded:mitdb/100";

const HEADER: &str = include_str!("../../testdata/mitdb/100.hea");
const SIGNALS: &[u8] = include_bytes!("../../testdata/mitdb/100.dat");

/// Whether `path` names the built-in record rather than a file.
pub fn is_embedded(path: &Path) -> bool {
    path == Path::new(EMBEDDED_RECORD)
}

/// Record 100 from the bytes in the binary.
pub fn record_100() -> Result<Record, WfdbError> {
    Record::from_header(HEADER, |file| match file {
        "100.dat" => Ok(SIGNALS.to_vec()),
        other => Err(WfdbError::Format(format!(
            "the built-in record has no signal file {other}"
        ))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_record_reads_as_the_file_does() {
        let built_in = record_100().expect("built-in record 100");
        let file = Record::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/mitdb/100"
        ))
        .expect("testdata/mitdb/100");
        assert_eq!(built_in.name, "100");
        assert_eq!(built_in.len(), file.len());
        assert_eq!(built_in.fs, file.fs);
        assert_eq!(
            built_in.microvolts_interleaved(),
            file.microvolts_interleaved()
        );
    }
}
