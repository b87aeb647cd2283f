//! MIT-BIH record 100 and the ICU numerics record (testdata/vitals) built into the binary,
//! so `cardiowatch demo` (and `docker run … cardiowatch demo`) streams real ECG and real
//! vital signs from any working directory. Their licences (ODC-By 1.0) ask for
//! attribution: deploy/testdata-ATTRIBUTION.md, shipped in the image.

use cw_wfdb::{Record, WfdbError};
use std::path::Path;

/// What `--record` names to stream the built-in record instead of a file.
pub const EMBEDDED_RECORD: &str = "embedded:mitdb/100";

const HEADER: &str = include_str!("../../testdata/mitdb/100.hea");
const SIGNALS: &[u8] = include_bytes!("../../testdata/mitdb/100.dat");

/// What names the built-in numerics record (testdata/vitals/s00001-2896-10-10-00-31n).
pub const EMBEDDED_VITALS: &str = "embedded:vitals/s00001";

const VITALS_HEADER: &str = include_str!("../../testdata/vitals/s00001-2896-10-10-00-31n.hea");
const VITALS_SIGNALS: &[u8] = include_bytes!("../../testdata/vitals/3975656n.dat");

/// The numerics record at `path`, or the built-in one when `path` names it.
pub fn open_vitals(path: &Path) -> Result<Record, WfdbError> {
    if path != Path::new(EMBEDDED_VITALS) {
        return Record::open(path);
    }
    Record::from_header(VITALS_HEADER, |file| match file {
        "3975656n.dat" => Ok(VITALS_SIGNALS.to_vec()),
        other => Err(WfdbError::Format(format!(
            "the built-in numerics record has no signal file {other}"
        ))),
    })
}

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

    #[test]
    fn the_built_in_numerics_record_reads_as_the_file_does() {
        let built_in = open_vitals(Path::new(EMBEDDED_VITALS)).expect("built-in numerics");
        let file = open_vitals(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/vitals/s00001-2896-10-10-00-31n"
        )))
        .expect("testdata/vitals");
        assert_eq!((built_in.len(), built_in.fs), (file.len(), file.fs));
        for signal in 0..file.signal_count() {
            assert_eq!(built_in.adu(signal), file.adu(signal));
        }
    }
}
