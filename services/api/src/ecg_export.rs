//! The ECG export (`GET /v1/patients/{id}/ecg/export`, docs/integration.md): stored
//! frames laid on a regular sample grid, then written as EDF (`cw-edf`) or as a WFDB
//! record (`cw-wfdb`: header, format 212, annotations of detected beats and alarms) in one
//! ustar archive. Pure: the route reads the store and calls [`build`].

use cw_core::Alert;
use cw_core::time::{NANOS_PER_SEC, Nanos, UtcDateTime};
use cw_detect::BeatClass;
use cw_wfdb::codes::{FUSION, NORMAL, NOTE, PVC, SVPB, UNKNOWN};
use cw_wfdb::{Annotation, INVALID_212, SignalOut};

/// Highest sampling rate an export accepts: an inferred rate above it means timestamps no
/// device produces, and the grid would be mostly gaps.
pub const MAX_RATE_HZ: u32 = 10_000;
/// Most samples (frames × leads) one export holds, gaps included: 7.2 M is an hour of
/// two leads at 1 kHz (~14 MB of EDF).
pub const MAX_VALUES: usize = 7_200_000;
/// WFDB gain: 200 adu/mV (5 µV per step), as the MIT-BIH records; ±10.2 mV fits 12 bits.
const WFDB_GAIN_PER_MV: f64 = 200.0;
/// The EDF value of "no sample": the digital minimum, −32768 (physical −32768 µV, which no
/// ECG reaches).
pub const EDF_NO_SAMPLE: i16 = i16::MIN;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Edf,
    Wfdb,
}

impl Format {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "edf" => Some(Self::Edf),
            "wfdb" => Some(Self::Wfdb),
            _ => None,
        }
    }

    /// (content type, file extension) of the download.
    pub fn media(self) -> (&'static str, &'static str) {
        match self {
            Self::Edf => ("application/octet-stream", "edf"),
            Self::Wfdb => ("application/x-tar", "tar"),
        }
    }
}

/// Why an export cannot be made.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("no ECG stored in this range")]
    Empty,
    #[error("the stored timestamps give {0} Hz, over the {MAX_RATE_HZ} Hz an export accepts")]
    Rate(u32),
    #[error(
        "the range holds more than {MAX_VALUES} samples (frames × leads, gaps included); ask for a shorter one"
    )]
    TooLarge,
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// Frames on a regular grid: `frames` rows of `leads` µV from `start_ns` (a whole
/// second, EDF's resolution) at `rate_hz`; `present[i]` is false where nothing was stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub start_ns: Nanos,
    pub rate_hz: u32,
    pub leads: usize,
    pub values: Vec<i16>,
    pub present: Vec<bool>,
}

impl Grid {
    pub fn frames(&self) -> usize {
        self.present.len()
    }

    /// The grid index nearest `t`, when it falls on the grid.
    fn index_of(&self, t: Nanos) -> Option<u64> {
        let offset = i128::from(t) - i128::from(self.start_ns);
        let index = (offset * i128::from(self.rate_hz) + i128::from(NANOS_PER_SEC) / 2)
            / i128::from(NANOS_PER_SEC);
        u64::try_from(index)
            .ok()
            .filter(|&i| i < self.frames() as u64)
    }
}

/// Lays `frames` (time order, as the store returns them) on a grid, at the rate their
/// spacing gives. Frames with another lead count than the first are left out (a device
/// change mid-range). Checked arithmetic: the grid's size is bounded before allocation.
pub fn grid(frames: &[(Nanos, Vec<i16>)]) -> Result<Grid, ExportError> {
    let (first, last) = match (frames.first(), frames.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(ExportError::Empty),
    };
    let leads = first.1.len();
    if leads == 0 {
        return Err(ExportError::Empty);
    }
    let rate_hz = match cw_analysis::backtest::infer_rate(frames) {
        // One frame: no spacing to read; any rate lays it at index 0.
        0 => 1,
        r if r > MAX_RATE_HZ => return Err(ExportError::Rate(r)),
        r => r,
    };
    // Down to the whole second; checked, as a time near i64::MIN has none below it.
    let start_ns = first
        .0
        .checked_sub(first.0.rem_euclid(NANOS_PER_SEC))
        .ok_or(ExportError::TooLarge)?;
    let span = i128::from(last.0) - i128::from(start_ns);
    let count = (span * i128::from(rate_hz) + i128::from(NANOS_PER_SEC) / 2)
        / i128::from(NANOS_PER_SEC)
        + 1;
    let count = usize::try_from(count).map_err(|_| ExportError::TooLarge)?;
    if count.checked_mul(leads).is_none_or(|n| n > MAX_VALUES) {
        return Err(ExportError::TooLarge);
    }
    let mut g = Grid {
        start_ns,
        rate_hz,
        leads,
        values: vec![0; count * leads],
        present: vec![false; count],
    };
    for (t, values) in frames {
        if values.len() != leads {
            continue;
        }
        if let Some(i) = g.index_of(*t) {
            let i = i as usize;
            g.values[i * leads..(i + 1) * leads].copy_from_slice(values);
            g.present[i] = true;
        }
    }
    Ok(g)
}

/// The export file of `grid` for `patient` (the opaque id, never PHI), with the alerts
/// that fired, were acknowledged or ended inside it.
pub fn build(
    format: Format,
    grid: &Grid,
    patient: &str,
    alerts: &[Alert],
) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Edf => edf(grid, patient),
        Format::Wfdb => wfdb(grid, alerts),
    }
}

fn edf(g: &Grid, patient: &str) -> Result<Vec<u8>, ExportError> {
    let t = UtcDateTime::from_nanos(g.start_ns);
    let per_record = g.rate_hz as usize;
    // Whole one-second data records: the tail of the last one is "no sample".
    let padded = g.frames().div_ceil(per_record) * per_record;
    let signals = (0..g.leads)
        .map(|lead| {
            let mut samples: Vec<i16> = (0..g.frames())
                .map(|i| {
                    if g.present[i] {
                        g.values[i * g.leads + lead]
                    } else {
                        EDF_NO_SAMPLE
                    }
                })
                .collect();
            samples.resize(padded, EDF_NO_SAMPLE);
            cw_edf::Signal {
                label: format!("ECG {}", lead + 1),
                transducer: "ECG electrode".into(),
                physical_dimension: "uV".into(),
                physical_min: -32768.0,
                physical_max: 32767.0,
                digital_min: i16::MIN,
                digital_max: i16::MAX,
                prefiltering: String::new(),
                samples,
            }
        })
        .collect();
    let months = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let rec = cw_edf::Recording {
        // EDF+ style subfields (code sex birthdate name): the opaque id only.
        patient: format!("{patient} X X X"),
        recording: format!(
            "Startdate {:02}-{}-{:04} X cardiowatch X",
            t.day,
            months[(t.month - 1) as usize],
            t.year
        ),
        start: t,
        record_seconds: 1,
        samples_per_record: g.rate_hz,
        signals,
    };
    cw_edf::encode(&rec).map_err(|e| ExportError::Encode(e.to_string()))
}

/// The record's name inside the archive: `cw` and the Unix second of its start.
pub fn record_name(g: &Grid) -> String {
    format!("cw{}", g.start_ns.div_euclid(NANOS_PER_SEC))
}

fn wfdb(g: &Grid, alerts: &[Alert]) -> Result<Vec<u8>, ExportError> {
    let encode = |e: cw_wfdb::WfdbError| ExportError::Encode(e.to_string());
    let name = record_name(g);
    let adu: Vec<i32> = g
        .values
        .chunks_exact(g.leads)
        .zip(&g.present)
        .flat_map(|(frame, &present)| {
            frame.iter().map(move |&uv| {
                if present {
                    // −2048 stays reserved for gaps.
                    let v = (f64::from(uv) * WFDB_GAIN_PER_MV / 1000.0).round();
                    v.clamp(-2047.0, 2047.0) as i32
                } else {
                    INVALID_212
                }
            })
        })
        .collect();
    let t = UtcDateTime::from_nanos(g.start_ns);
    let time = format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second);
    let date = format!("{:02}/{:02}/{:04}", t.day, t.month, t.year);
    let signals: Vec<SignalOut> = (0..g.leads)
        .map(|lead| SignalOut {
            gain: WFDB_GAIN_PER_MV,
            units: "mV".into(),
            description: format!("ECG {}", lead + 1),
        })
        .collect();
    let dat_name = format!("{name}.dat");
    let header = cw_wfdb::header_text(
        &name,
        f64::from(g.rate_hz),
        g.frames(),
        Some((&time, &date)),
        &dat_name,
        &signals,
    )
    .map_err(encode)?;
    let dat = cw_wfdb::encode_212(&adu).map_err(encode)?;
    let ann = cw_wfdb::encode_annotations(&annotations(g, alerts)).map_err(encode)?;
    let files = [
        (format!("{name}.hea"), header.into_bytes()),
        (dat_name, dat),
        (format!("{name}.ann"), ann),
    ];
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let mtime = u64::try_from(g.start_ns.div_euclid(NANOS_PER_SEC)).unwrap_or(0);
    cw_wfdb::write_tar(&refs, mtime).map_err(encode)
}

/// Beats the detector finds in the grid (gaps read as 0 µV) with their class, and a NOTE
/// for each alarm event inside it ("alarm hr_high high fired"), in sample order.
fn annotations(g: &Grid, alerts: &[Alert]) -> Vec<Annotation> {
    let mut out: Vec<Annotation> =
        cw_detect::classify_all(f64::from(g.rate_hz), g.leads, &g.values)
            .into_iter()
            .map(|b| Annotation {
                sample: b.sample,
                code: match b.class {
                    BeatClass::N => NORMAL,
                    BeatClass::S => SVPB,
                    BeatClass::V => PVC,
                    BeatClass::F => FUSION,
                    BeatClass::Q => UNKNOWN,
                },
                aux: None,
            })
            .collect();
    for a in alerts {
        let events = [
            (Some(a.fired_ns), "fired"),
            (a.acked_ns, "acknowledged"),
            (a.resolved_ns, "ended"),
        ];
        for (at, what) in events {
            if let Some(sample) = at.and_then(|t| g.index_of(t)) {
                out.push(Annotation {
                    sample,
                    code: NOTE,
                    aux: Some(format!(
                        "alarm {} {} {what}",
                        a.rule.as_str(),
                        a.priority.as_str()
                    )),
                });
            }
        }
    }
    // Stable: a beat and a note on one sample keep beat first.
    out.sort_by_key(|a| a.sample);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(rate: i64, n: i64, start: Nanos) -> Vec<(Nanos, Vec<i16>)> {
        (0..n)
            .map(|i| {
                (
                    start + i * NANOS_PER_SEC / rate,
                    vec![i as i16, -(i as i16)],
                )
            })
            .collect()
    }

    #[test]
    fn frames_land_on_a_grid_from_the_whole_second_with_gaps_marked() {
        let start = 1_765_000_000 * NANOS_PER_SEC + 250_000_000;
        let mut f = frames(250, 500, start);
        f.drain(100..150);
        let g = grid(&f).expect("grid");
        assert_eq!((g.rate_hz, g.leads), (250, 2));
        assert_eq!(g.start_ns, 1_765_000_000 * NANOS_PER_SEC);
        // A quarter second (62.5 → 63 samples) of nothing, then the 500 frames.
        assert_eq!(g.frames(), 63 + 500);
        assert!(!g.present[0] && g.present[63] && !g.present[63 + 100] && g.present[63 + 150]);
        assert_eq!(&g.values[2 * (63 + 7)..2 * (63 + 8)], &[7, -7]);
    }

    #[test]
    fn empty_absurd_rates_and_oversized_grids_are_refused_before_allocating() {
        assert_eq!(grid(&[]), Err(ExportError::Empty));
        let fast = vec![(0, vec![1]), (10, vec![1]), (20, vec![1])];
        assert_eq!(grid(&fast), Err(ExportError::Rate(100_000_000)));
        // Two frames at 1 kHz spacing, then one almost three hours later.
        let sparse = vec![
            (0, vec![1, 1, 1]),
            (1_000_000, vec![1, 1, 1]),
            (2_000_000, vec![1, 1, 1]),
            (10_000 * NANOS_PER_SEC, vec![1, 1, 1]),
        ];
        assert_eq!(grid(&sparse), Err(ExportError::TooLarge));
        let wrapped = vec![
            (i64::MIN, vec![1]),
            (i64::MIN + 4_000_000, vec![1]),
            (i64::MAX, vec![1]),
        ];
        assert_eq!(grid(&wrapped), Err(ExportError::TooLarge));
    }

    #[test]
    fn wfdb_marks_gaps_invalid_and_keeps_5_microvolt_steps() {
        let mut f = frames(100, 300, 1_765_000_000 * NANOS_PER_SEC);
        f.remove(10);
        let g = grid(&f).expect("grid");
        let tar = build(Format::Wfdb, &g, "p-1", &[]).expect("builds");
        // The archive's second member is the .dat (after one 512-byte header block, the
        // header text padded to 512, and the .dat's header block).
        let dat = &tar[3 * 512..];
        let rec = cw_wfdb::Record::from_header(
            "r 2 100 300\nr.dat 212 200(0)/mV 12 0 0 0 0 a\nr.dat 212 200 12 0 0 0 0 b\n",
            |_| Ok(dat.to_vec()),
        )
        .expect("reads");
        assert_eq!(rec.adu(0)[10], INVALID_212);
        assert_eq!(rec.adu(0)[11], 2, "11 µV → 2 adu");
        assert_eq!(rec.adu(1)[20], -4, "−20 µV → −4 adu");
    }
}
