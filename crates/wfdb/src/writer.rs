//! Writers for what the reader reads: a `.hea` header, a format-212 signal file and an
//! MIT-format annotation file. Pure bytes out, so each is round-trip tested against the
//! reader in this crate.

use crate::annotation::Annotation;
use crate::error::WfdbError;

/// The value format 212 reserves for "no sample" (WFDB's invalid sample, the most
/// negative 12-bit value): written where the signal has a gap.
pub const INVALID_212: i32 = -2048;

/// Annotation pseudo-codes (see `annotation.rs`).
const SKIP: u16 = 59;
const AUX: u16 = 63;
/// The largest interval a plain annotation word carries (10 bits).
const MAX_INTERVAL: u64 = 0x3FF;

/// What a header says about one signal written in format 212.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalOut {
    /// adu per physical unit.
    pub gain: f64,
    pub units: String,
    pub description: String,
}

/// The text of a `.hea` file for `signals` all stored interleaved in format 212 in
/// `dat_file`, with `samples` frames at `fs` Hz. `base` is the time of the first sample
/// as (hh:mm:ss, dd/mm/yyyy) text, which the reader ignores but WFDB tools show.
pub fn header_text(
    name: &str,
    fs: f64,
    samples: usize,
    base: Option<(&str, &str)>,
    dat_file: &str,
    signals: &[SignalOut],
) -> Result<String, WfdbError> {
    if !valid_name(name) {
        return Err(WfdbError::Header(format!("bad record name {name:?}")));
    }
    if !(fs.is_finite() && fs > 0.0) {
        return Err(WfdbError::Header(format!("bad sampling frequency {fs}")));
    }
    let mut text = format!("{name} {} {fs} {samples}", signals.len());
    if let Some((time, date)) = base {
        text.push_str(&format!(" {time} {date}"));
    }
    text.push('\n');
    for s in signals {
        if !(s.gain.is_finite() && s.gain > 0.0) || s.units.contains(char::is_whitespace) {
            return Err(WfdbError::Header(format!("bad signal {s:?}")));
        }
        // file format gain(baseline)/units resolution zero initial checksum block desc
        text.push_str(&format!(
            "{dat_file} 212 {}(0)/{} 12 0 0 0 0 {}\n",
            s.gain,
            s.units,
            s.description.replace(['\n', '\r'], " ")
        ));
    }
    Ok(text)
}

/// Record names are letters, digits and underscores (the WFDB convention).
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Pack interleaved values (already in adu) as format 212: two 12-bit values in three
/// bytes. Every value must be in −2048..=2047.
pub fn encode_212(values: &[i32]) -> Result<Vec<u8>, WfdbError> {
    if let Some(v) = values.iter().find(|v| !(-2048..=2047).contains(*v)) {
        return Err(WfdbError::Format(format!(
            "{v} does not fit format 212 (12 bits)"
        )));
    }
    let mut out = Vec::with_capacity(values.len() / 2 * 3 + 2);
    for pair in values.chunks(2) {
        let a = (pair[0] & 0xFFF) as u32;
        out.push((a & 0xFF) as u8);
        match pair.get(1) {
            Some(&b) => {
                let b = (b & 0xFFF) as u32;
                out.push(((a >> 8) | ((b >> 8) << 4)) as u8);
                out.push((b & 0xFF) as u8);
            }
            // An odd last value takes two bytes (the reader's `bytes_needed`).
            None => out.push((a >> 8) as u8),
        }
    }
    Ok(out)
}

/// An MIT-format annotation file: each annotation as an interval from the previous one
/// (SKIP words for intervals over 1023 samples), its AUX text after it, and the
/// terminating zero word. Annotations must be in sample order; codes are 1–49.
pub fn encode_annotations(annotations: &[Annotation]) -> Result<Vec<u8>, WfdbError> {
    let mut out = Vec::new();
    let mut time: u64 = 0;
    for a in annotations {
        if !(1..=49).contains(&a.code) {
            return Err(WfdbError::Format(format!("annotation code {}", a.code)));
        }
        let interval = a
            .sample
            .checked_sub(time)
            .ok_or_else(|| WfdbError::Format(format!("annotation at {} out of order", a.sample)))?;
        let word_interval = if interval > MAX_INTERVAL {
            let skip = i32::try_from(interval).map_err(|_| {
                WfdbError::Format(format!("interval {interval} exceeds a SKIP word"))
            })?;
            push_word(&mut out, SKIP << 10);
            // High 16 bits first, then low (the reader's SKIP).
            push_word(&mut out, (skip as u32 >> 16) as u16);
            push_word(&mut out, (skip as u32 & 0xFFFF) as u16);
            0
        } else {
            interval as u16
        };
        push_word(&mut out, u16::from(a.code) << 10 | word_interval);
        time = a.sample;
        if let Some(aux) = &a.aux {
            let bytes = aux.as_bytes();
            if bytes.len() > 255 {
                return Err(WfdbError::Format("AUX text over 255 bytes".into()));
            }
            push_word(&mut out, AUX << 10 | bytes.len() as u16);
            out.extend_from_slice(bytes);
            if bytes.len() % 2 == 1 {
                out.push(0);
            }
        }
    }
    push_word(&mut out, 0);
    Ok(out)
}

fn push_word(out: &mut Vec<u8>, word: u16) {
    out.extend_from_slice(&word.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, parse_annotations};

    #[test]
    fn a_written_record_reads_back_sample_for_sample() {
        let values: Vec<i32> = vec![0, 1, -1, 2047, INVALID_212, -1000, 995, 1011, 7];
        let signals = [
            SignalOut {
                gain: 200.0,
                units: "mV".into(),
                description: "ECG 1".into(),
            },
            SignalOut {
                gain: 200.0,
                units: "mV".into(),
                description: "ECG 2".into(),
            },
            SignalOut {
                gain: 100.0,
                units: "mV".into(),
                description: "ECG 3".into(),
            },
        ];
        let header = header_text(
            "cw_1",
            360.0,
            3,
            Some(("10:20:30", "07/12/2026")),
            "cw_1.dat",
            &signals,
        )
        .expect("header");
        let dat = encode_212(&values).expect("fits");
        let rec = Record::from_header(&header, |_| Ok(dat.clone())).expect("reads");
        assert_eq!((rec.len(), rec.signal_count(), rec.fs), (3, 3, 360.0));
        assert_eq!(rec.adu(0), &[0, 2047, 995]);
        assert_eq!(rec.adu(1), &[1, INVALID_212, 1011]);
        assert_eq!(rec.adu(2), &[-1, -1000, 7]);
        assert_eq!(rec.signals[2].gain, 100.0);
        assert_eq!(rec.signals[1].description, "ECG 2");
    }

    #[test]
    fn out_of_range_values_and_bad_names_are_refused() {
        assert!(encode_212(&[2048]).is_err());
        assert!(encode_212(&[-2049]).is_err());
        assert!(header_text("a b", 250.0, 1, None, "x.dat", &[]).is_err());
        assert!(header_text("ok", 0.0, 1, None, "x.dat", &[]).is_err());
    }

    #[test]
    fn annotations_read_back_across_long_intervals_with_aux_text() {
        let anns = vec![
            Annotation {
                sample: 5,
                code: 1,
                aux: None,
            },
            Annotation {
                sample: 5 + 1023,
                code: 5,
                aux: None,
            },
            Annotation {
                sample: 5 + 1023 + 100_000,
                code: 22,
                aux: Some("alarm hr_high".into()),
            },
            Annotation {
                sample: 5 + 1023 + 100_000,
                code: 1,
                aux: Some("odd".into()),
            },
        ];
        let bytes = encode_annotations(&anns).expect("encodes");
        assert_eq!(parse_annotations(&bytes).expect("parses"), anns);
        let backwards = [anns[1].clone(), anns[0].clone()];
        assert!(encode_annotations(&backwards).is_err());
        assert!(
            encode_annotations(&[Annotation {
                sample: 1,
                code: 59,
                aux: None
            }])
            .is_err()
        );
    }
}
