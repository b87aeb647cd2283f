//! Numerics beside the ECG for the gateway simulator (issue 18): the samples of a WFDB
//! numerics record (`vitals_record`) as numerics frames on the stream's own timeline, so
//! `gateway.rs` interleaves them with the sample frames on one connection and one
//! sequence counter (ingest keeps one counter per device, docs/ingest-protocol.md).

use crate::vitals_record::items_at;
use anyhow::{Context, bail};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_protocol::NumericsFrame;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct VitalsOptions {
    /// The WFDB numerics record (header path without `.hea`), e.g. `testdata/vitals/…`,
    /// or `embedded:vitals/s00001` for the one built into the binary.
    pub record: PathBuf,
    /// Stream seconds between consecutive samples of the record; None: the record's own
    /// interval (60 s for one-minute numerics). Less compresses its time (a demo, a test).
    pub step_s: Option<f64>,
    /// Start at this many seconds of the record's own time.
    pub offset_s: f64,
}

/// One numerics frame to send once its readings exist: `due` after the stream started
/// (at `speed`), with every item at `start_ns` (the frame's `seq` is set when sent).
pub struct DueNumerics {
    pub due: Duration,
    pub frame: NumericsFrame,
}

/// The numerics frames of the stream that starts at `start_ns` and covers `duration_s`
/// of sample time, sent at `speed`. Samples with nothing to send (a cuff-only signal's
/// empty minutes) send no frame.
pub fn numerics_frames(
    opts: &VitalsOptions,
    start_ns: Nanos,
    duration_s: f64,
    speed: f64,
) -> anyhow::Result<Vec<DueNumerics>> {
    let record = crate::embedded_record::open_vitals(&opts.record)
        .with_context(|| format!("reading numerics record {}", opts.record.display()))?;
    if !(record.fs > 0.0 && record.fs.is_finite()) {
        bail!(
            "numerics record {} has no sampling frequency",
            opts.record.display()
        );
    }
    let step_s = opts.step_s.unwrap_or(1.0 / record.fs);
    if !(step_s > 0.0 && step_s.is_finite()) {
        bail!("--vitals-step-s must be a positive number");
    }
    let first = (opts.offset_s.max(0.0) * record.fs) as usize;
    let mut out = Vec::new();
    for i in 0.. {
        let at_s = i as f64 * step_s;
        let sample = first + i;
        if at_s >= duration_s || sample >= record.len() {
            break;
        }
        let numerics = items_at(&record, sample);
        if numerics.is_empty() {
            continue;
        }
        out.push(DueNumerics {
            due: Duration::from_secs_f64(at_s / speed),
            frame: NumericsFrame {
                seq: 0,
                start_ns: start_ns + (at_s * NANOS_PER_SEC as f64) as Nanos,
                numerics,
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_icu_record_compressed_to_a_second_a_minute_gives_one_frame_a_second() {
        let opts = VitalsOptions {
            record: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata/vitals/s00001-2896-10-10-00-31n"),
            step_s: Some(1.0),
            offset_s: 1375.0 * 60.0,
        };
        let frames = numerics_frames(&opts, 1_000, 10.0, 2.0).expect("reads");
        assert_eq!(frames.len(), 10);
        assert_eq!(frames[3].due, Duration::from_millis(1500));
        assert_eq!(frames[3].frame.start_ns, 1_000 + 3 * NANOS_PER_SEC);
        // Minute 1382 is the first of 20 with the SpO2 probe off.
        let spo2 = |f: &DueNumerics| {
            f.frame
                .numerics
                .iter()
                .find(|it| it.kind == cw_core::VitalKind::Spo2)
                .map(|it| it.status)
        };
        assert_eq!(spo2(&frames[6]), Some(cw_core::VitalStatus::Valid));
        assert_eq!(spo2(&frames[7]), Some(cw_core::VitalStatus::SensorOff));
    }
}
