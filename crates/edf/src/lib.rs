//! European Data Format (EDF, Kemp et al. 1992) writer: a 256-byte ASCII header, 256
//! bytes per signal, then data records of 16-bit little-endian two's-complement samples.
//! Plain EDF, not EDF+: every reader reads it (the e2e test reads it with `pyedflib`).

use cw_core::time::UtcDateTime;

/// A header field that does not fit, a sample count that does not match, a range that
/// maps nothing.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EdfError {
    #[error("EDF field {field}: {reason}")]
    Field { field: &'static str, reason: String },
}

fn field_error(field: &'static str, reason: impl Into<String>) -> EdfError {
    EdfError::Field {
        field,
        reason: reason.into(),
    }
}

/// One signal: its header fields and every sample (digital values).
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub label: String,
    pub transducer: String,
    /// E.g. "uV".
    pub physical_dimension: String,
    /// Physical values of `digital_min` and `digital_max`: a reader maps linearly.
    pub physical_min: f64,
    pub physical_max: f64,
    pub digital_min: i16,
    pub digital_max: i16,
    pub prefiltering: String,
    pub samples: Vec<i16>,
}

/// A whole recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// Local patient identification (80 characters at most; never PHI here).
    pub patient: String,
    /// Local recording identification.
    pub recording: String,
    /// The start, UTC (EDF has no time zone and one-second resolution: the fraction is
    /// dropped).
    pub start: UtcDateTime,
    /// Seconds per data record (whole seconds).
    pub record_seconds: u32,
    /// Samples of each signal in one data record (its rate × `record_seconds`).
    pub samples_per_record: u32,
    pub signals: Vec<Signal>,
}

/// The EDF file of `rec`. Every signal must hold the same number of samples, a whole
/// number of data records.
pub fn encode(rec: &Recording) -> Result<Vec<u8>, EdfError> {
    if rec.signals.is_empty() || rec.signals.len() > 9999 {
        return Err(field_error("ns", "1 to 9999 signals"));
    }
    if rec.samples_per_record == 0 || rec.record_seconds == 0 {
        return Err(field_error("duration", "records of at least one sample"));
    }
    let per_record = rec.samples_per_record as usize;
    let total = rec.signals[0].samples.len();
    if !total.is_multiple_of(per_record) || rec.signals.iter().any(|s| s.samples.len() != total) {
        return Err(field_error(
            "samples",
            "every signal holds the same whole number of data records",
        ));
    }
    let records = total / per_record;
    let ns = rec.signals.len();
    let header_bytes = 256 * (ns + 1);
    let s = &rec.start;
    if !(1985..=2084).contains(&s.year) {
        // EDF's two-digit year covers 1985–2084 (the "clipping date" of the spec).
        return Err(field_error(
            "startdate",
            format!("year {} outside 1985–2084", s.year),
        ));
    }
    let mut h = String::with_capacity(header_bytes);
    put(&mut h, "version", "0", 8)?;
    put(&mut h, "patient", &rec.patient, 80)?;
    put(&mut h, "recording", &rec.recording, 80)?;
    let date = format!("{:02}.{:02}.{:02}", s.day, s.month, s.year % 100);
    put(&mut h, "startdate", &date, 8)?;
    let time = format!("{:02}.{:02}.{:02}", s.hour, s.minute, s.second);
    put(&mut h, "starttime", &time, 8)?;
    put(&mut h, "header bytes", &header_bytes.to_string(), 8)?;
    put(&mut h, "reserved", "", 44)?;
    put(&mut h, "data records", &records.to_string(), 8)?;
    put(&mut h, "duration", &rec.record_seconds.to_string(), 8)?;
    put(&mut h, "ns", &ns.to_string(), 4)?;
    for sig in &rec.signals {
        if sig.digital_min >= sig.digital_max
            || sig.physical_min.partial_cmp(&sig.physical_max) != Some(std::cmp::Ordering::Less)
        {
            return Err(field_error(
                "range",
                format!("{}: min is not below max", sig.label),
            ));
        }
    }
    // Each field for every signal in turn, as the format lays them out.
    let each = |h: &mut String, name: &'static str, width: usize, f: &dyn Fn(&Signal) -> String| {
        rec.signals
            .iter()
            .try_for_each(|sig| put(h, name, &f(sig), width))
    };
    each(&mut h, "label", 16, &|s| s.label.clone())?;
    each(&mut h, "transducer", 80, &|s| s.transducer.clone())?;
    each(&mut h, "physical dimension", 8, &|s| {
        s.physical_dimension.clone()
    })?;
    each(&mut h, "physical minimum", 8, &|s| number(s.physical_min))?;
    each(&mut h, "physical maximum", 8, &|s| number(s.physical_max))?;
    each(&mut h, "digital minimum", 8, &|s| s.digital_min.to_string())?;
    each(&mut h, "digital maximum", 8, &|s| s.digital_max.to_string())?;
    each(&mut h, "prefiltering", 80, &|s| s.prefiltering.clone())?;
    each(&mut h, "samples per record", 8, &|_| per_record.to_string())?;
    each(&mut h, "reserved", 32, &|_| String::new())?;
    debug_assert_eq!(h.len(), header_bytes);
    let mut out = h.into_bytes();
    out.reserve(total * ns * 2);
    for r in 0..records {
        for sig in &rec.signals {
            for v in &sig.samples[r * per_record..(r + 1) * per_record] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    Ok(out)
}

/// A number as EDF writes it: at most 8 characters.
fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let text = format!("{v}");
        text.chars().take(8).collect()
    }
}

/// Appends `value` left-aligned and space-padded to `width`: printable ASCII only (the
/// header is ASCII by definition), and refuses rather than cuts a value that is too long.
fn put(h: &mut String, field: &'static str, value: &str, width: usize) -> Result<(), EdfError> {
    if !value.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Err(field_error(field, "printable ASCII only"));
    }
    if value.len() > width {
        return Err(field_error(
            field,
            format!("{value:?} is over {width} characters"),
        ));
    }
    h.push_str(value);
    h.extend(std::iter::repeat_n(' ', width - value.len()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(samples: Vec<i16>) -> Recording {
        Recording {
            patient: "p-1 X X X".into(),
            recording: "Startdate 07-DEC-2026 X cardiowatch X".into(),
            start: UtcDateTime {
                year: 2026,
                month: 12,
                day: 7,
                hour: 4,
                minute: 5,
                second: 6,
                nanos: 0,
            },
            record_seconds: 1,
            samples_per_record: 2,
            signals: vec![Signal {
                label: "ECG 1".into(),
                transducer: "ECG electrode".into(),
                physical_dimension: "uV".into(),
                physical_min: -32768.0,
                physical_max: 32767.0,
                digital_min: -32768,
                digital_max: 32767,
                prefiltering: String::new(),
                samples,
            }],
        }
    }

    #[test]
    fn the_header_has_fixed_width_ascii_fields_and_the_data_follows_it() {
        let bytes = encode(&recording(vec![1, -2, 300, -32768])).expect("encodes");
        assert_eq!(bytes.len(), 512 + 8);
        let text = std::str::from_utf8(&bytes[..512]).expect("ascii");
        assert_eq!(&text[0..8], "0       ");
        assert_eq!(&text[168..176], "07.12.26");
        assert_eq!(&text[176..184], "04.05.06");
        assert_eq!(&text[184..192], "512     ");
        assert_eq!(&text[236..244], "2       ", "two data records");
        assert_eq!(&text[252..256], "1   ");
        assert_eq!(&text[256..272], "ECG 1           ");
        assert_eq!(&bytes[512..], &[1, 0, 0xFE, 0xFF, 44, 1, 0, 0x80]);
    }

    #[test]
    fn partial_records_long_fields_non_ascii_and_empty_ranges_are_refused() {
        assert!(encode(&recording(vec![1, 2, 3])).is_err());
        let mut long = recording(vec![1, 2]);
        long.patient = "x".repeat(81);
        assert!(encode(&long).is_err());
        let mut accent = recording(vec![1, 2]);
        accent.signals[0].label = "Ableitung Ü".into();
        assert!(encode(&accent).is_err());
        let mut flat = recording(vec![1, 2]);
        flat.signals[0].digital_max = flat.signals[0].digital_min;
        assert!(encode(&flat).is_err());
        let mut old = recording(vec![1, 2]);
        old.start.year = 1970;
        assert!(encode(&old).is_err());
    }
}
