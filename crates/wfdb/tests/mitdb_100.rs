//! Reads the record shipped in the repository's testdata.

use std::path::PathBuf;

use cw_wfdb::{Record, is_beat, read_annotations};

fn record_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/mitdb/100")
}

#[test]
fn record_100_signals() {
    let rec = Record::open(record_path()).expect("record 100 opens");
    assert_eq!(rec.name, "100");
    assert_eq!(rec.fs, 360.0);
    assert_eq!(rec.len(), 650_000);
    assert!(!rec.is_empty());
    assert_eq!(rec.signal_count(), 2);
    assert_eq!(rec.signals[0].description, "MLII");
    assert_eq!(rec.signals[1].description, "V5");
    assert_eq!(rec.signals[0].format, 212);
    assert_eq!(rec.signals[0].gain, 200.0);
    assert_eq!(rec.signals[0].baseline, 1024);
    // First samples from the header's initial values.
    assert_eq!(rec.adu(0)[0], 995);
    assert_eq!(rec.adu(1)[0], 1011);
    let uv = rec.microvolts_interleaved();
    assert_eq!(uv.len(), 1_300_000);
    // (995 - 1024) / 200 mV = -145 uV; (1011 - 1024) / 200 mV = -65 uV.
    assert_eq!(&uv[..2], &[-145, -65]);
    // The .hea path works too.
    let again = Record::open(record_path().with_extension("hea")).expect("opens by .hea");
    assert_eq!(again.len(), rec.len());
}

#[test]
fn record_100_annotations() {
    let ann = read_annotations(record_path().with_extension("atr")).expect("annotations read");
    let beats = ann.iter().filter(|a| is_beat(a.code)).count();
    assert_eq!(beats, 2273);
    assert!(ann.windows(2).all(|w| w[0].sample <= w[1].sample));
    // The first annotation is the rhythm label "(N".
    assert_eq!(ann[0].code, 28);
    assert_eq!(ann[0].aux.as_deref(), Some("(N"));
}
