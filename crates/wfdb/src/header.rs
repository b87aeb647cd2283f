//! `.hea` header parsing: record line plus one line per signal. Pure text → struct, so it is
//! unit-tested without files.

use crate::error::WfdbError;

/// WFDB's default gain (adu per physical unit) when the header gives none or zero.
const DEFAULT_GAIN: f64 = 200.0;
/// WFDB's default sampling frequency when the record line gives none.
const DEFAULT_FS: f64 = 250.0;

/// The parsed contents of a header file.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub name: String,
    pub fs: f64,
    /// Samples per signal, when the header states it (otherwise derived from the file size).
    pub samples: Option<usize>,
    pub signals: Vec<SignalSpec>,
}

/// One signal line.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalSpec {
    pub file: String,
    pub format: u16,
    /// Byte offset of the first sample in the file (`+offset` suffix on the format).
    pub byte_offset: u64,
    pub gain: f64,
    pub baseline: i32,
    pub units: String,
    pub adc_resolution: u32,
    pub adc_zero: i32,
    pub description: String,
}

/// Parse the text of a `.hea` file. Accepts LF or CRLF line endings and `#` comments.
pub fn parse_header(text: &str) -> Result<Header, WfdbError> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r').trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let record_line = lines
        .next()
        .ok_or_else(|| WfdbError::Header("empty header".into()))?;
    let (name, nsig, fs, samples) = parse_record_line(record_line)?;
    let signals = lines
        .take(nsig)
        .map(parse_signal_line)
        .collect::<Result<Vec<_>, _>>()?;
    if signals.len() != nsig {
        return Err(WfdbError::Header(format!(
            "record line announces {nsig} signals, found {} signal lines",
            signals.len()
        )));
    }
    Ok(Header {
        name,
        fs,
        samples,
        signals,
    })
}

fn parse_record_line(line: &str) -> Result<(String, usize, f64, Option<usize>), WfdbError> {
    let mut fields = line.split_whitespace();
    let name = fields
        .next()
        .ok_or_else(|| WfdbError::Header("missing record name".into()))?;
    if name.contains('/') {
        return Err(WfdbError::Unsupported(format!(
            "multi-segment record {name}"
        )));
    }
    let nsig: usize = parse_field(fields.next(), "number of signals")?
        .ok_or_else(|| WfdbError::Header("missing number of signals".into()))?;
    // The frequency field may carry `/counter_freq(base_counter)`; only the part before is fs.
    let fs = match fields.next() {
        None => DEFAULT_FS,
        Some(f) => {
            let f = f.split(['/', '(']).next().unwrap_or(f);
            let fs: f64 = f
                .parse()
                .map_err(|_| WfdbError::Header(format!("bad sampling frequency {f:?}")))?;
            if fs > 0.0 { fs } else { DEFAULT_FS }
        }
    };
    let samples: Option<usize> = parse_field(fields.next(), "number of samples")?;
    // A length of 0 means "unknown" in WFDB.
    Ok((name.to_string(), nsig, fs, samples.filter(|&n| n > 0)))
}

fn parse_signal_line(line: &str) -> Result<SignalSpec, WfdbError> {
    // The description is free text after the eighth field, so split off at most 9 pieces.
    let mut fields = line
        .splitn(9, char::is_whitespace)
        .filter(|f| !f.is_empty());
    let file = fields
        .next()
        .ok_or_else(|| WfdbError::Header("empty signal line".into()))?
        .to_string();
    let format_field = fields
        .next()
        .ok_or_else(|| WfdbError::Header(format!("signal line without format: {line:?}")))?;
    let (format, byte_offset) = parse_format_field(format_field)?;
    let gain_field = fields.next();
    let adc_resolution: u32 = parse_field(fields.next(), "ADC resolution")?.unwrap_or(0);
    let adc_zero: i32 = parse_field(fields.next(), "ADC zero")?.unwrap_or(0);
    let (gain, baseline, units) = parse_gain_field(gain_field, adc_zero)?;
    // initial value, checksum, block size: not needed to read the samples.
    let description = line
        .split_whitespace()
        .skip(8)
        .collect::<Vec<_>>()
        .join(" ");
    Ok(SignalSpec {
        file,
        format,
        byte_offset,
        gain,
        baseline,
        units,
        adc_resolution,
        adc_zero,
        description,
    })
}

/// `format[xspf][:skew][+offset]`.
fn parse_format_field(field: &str) -> Result<(u16, u64), WfdbError> {
    let digits_end = field
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(field.len());
    let format: u16 = field[..digits_end]
        .parse()
        .map_err(|_| WfdbError::Header(format!("bad format field {field:?}")))?;
    let mut rest = &field[digits_end..];
    if let Some(r) = rest.strip_prefix('x') {
        let end = r.find([':', '+']).unwrap_or(r.len());
        if &r[..end] != "1" {
            return Err(WfdbError::Unsupported(format!(
                "multiple samples per frame ({field})"
            )));
        }
        rest = &r[end..];
    }
    if let Some(r) = rest.strip_prefix(':') {
        let end = r.find('+').unwrap_or(r.len());
        if r[..end].parse::<i64>().ok() != Some(0) {
            return Err(WfdbError::Unsupported(format!("signal skew ({field})")));
        }
        rest = &r[end..];
    }
    let offset = match rest.strip_prefix('+') {
        Some(o) => o
            .parse()
            .map_err(|_| WfdbError::Header(format!("bad byte offset in {field:?}")))?,
        None if rest.is_empty() => 0,
        None => return Err(WfdbError::Header(format!("bad format field {field:?}"))),
    };
    Ok((format, offset))
}

/// `gain[(baseline)][/units]`; absent or zero gain means the WFDB default.
fn parse_gain_field(field: Option<&str>, adc_zero: i32) -> Result<(f64, i32, String), WfdbError> {
    let Some(field) = field else {
        return Ok((DEFAULT_GAIN, adc_zero, "mV".into()));
    };
    let (gain_part, units) = match field.split_once('/') {
        Some((g, u)) => (g, u.to_string()),
        None => (field, "mV".to_string()),
    };
    let (gain_text, baseline) = match gain_part.split_once('(') {
        Some((g, b)) => {
            let b = b
                .strip_suffix(')')
                .ok_or_else(|| WfdbError::Header(format!("unclosed baseline in {field:?}")))?;
            let b: i32 = b
                .parse()
                .map_err(|_| WfdbError::Header(format!("bad baseline in {field:?}")))?;
            (g, b)
        }
        None => (gain_part, adc_zero),
    };
    let gain: f64 = gain_text
        .parse()
        .map_err(|_| WfdbError::Header(format!("bad gain in {field:?}")))?;
    let gain = if gain == 0.0 { DEFAULT_GAIN } else { gain };
    if !gain.is_finite() || gain < 0.0 {
        return Err(WfdbError::Header(format!("bad gain in {field:?}")));
    }
    Ok((gain, baseline, units))
}

fn parse_field<T: std::str::FromStr>(
    field: Option<&str>,
    what: &str,
) -> Result<Option<T>, WfdbError> {
    field
        .map(|f| {
            f.parse()
                .map_err(|_| WfdbError::Header(format!("bad {what}: {f:?}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mitdb_header_without_baseline() {
        let text = "100 2 360 650000\n\
                    100.dat 212 200 11 1024 995 -22131 0 MLII\n\
                    100.dat 212 200 11 1024 1011 20052 0 V5\n\
                    # 69 M 1085 1629 x1\n";
        let h = parse_header(text).expect("valid header");
        assert_eq!(h.name, "100");
        assert_eq!(h.fs, 360.0);
        assert_eq!(h.samples, Some(650_000));
        assert_eq!(h.signals.len(), 2);
        let s = &h.signals[0];
        assert_eq!(s.file, "100.dat");
        assert_eq!(s.format, 212);
        assert_eq!(s.gain, 200.0);
        assert_eq!(s.baseline, 1024, "baseline defaults to adc_zero");
        assert_eq!(s.units, "mV");
        assert_eq!(s.adc_resolution, 11);
        assert_eq!(s.description, "MLII");
        assert_eq!(h.signals[1].description, "V5");
    }

    #[test]
    fn header_with_baseline_units_crlf_and_comments() {
        let text = "# leading comment\r\nrec 3 500/1000(0) 1000 12:00:00\r\n\
                    rec.dat 16+24 1000(-5)/uV 16 0 12 0 0 ECG lead I\r\n\
                    rec.dat 16 0 16 7 0 0 0 II\r\n\
                    other.dat 80 100(3) 8 0 0 0 0\r\n";
        let h = parse_header(text).expect("valid header");
        assert_eq!(h.fs, 500.0);
        assert_eq!(h.samples, Some(1000));
        let s = &h.signals[0];
        assert_eq!((s.format, s.byte_offset), (16, 24));
        assert_eq!((s.gain, s.baseline), (1000.0, -5));
        assert_eq!(s.units, "uV");
        assert_eq!(s.description, "ECG lead I", "description keeps its spaces");
        let s = &h.signals[1];
        assert_eq!(s.gain, 200.0, "zero gain means the default");
        assert_eq!(s.baseline, 7, "no (baseline): adc_zero");
        assert_eq!(s.description, "II", "no CR left over");
        let s = &h.signals[2];
        assert_eq!((s.format, s.baseline, s.units.as_str()), (80, 3, "mV"));
        assert_eq!(s.description, "");
    }

    #[test]
    fn minimal_signal_line_gets_defaults() {
        let h = parse_header("r 1\nr.dat 16\n").expect("valid header");
        assert_eq!(h.fs, 250.0);
        assert_eq!(h.samples, None);
        assert_eq!(h.signals[0].gain, 200.0);
        assert_eq!(h.signals[0].baseline, 0);
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(matches!(parse_header(""), Err(WfdbError::Header(_))));
        assert!(matches!(
            parse_header("r 2 360\nr.dat 212\n"),
            Err(WfdbError::Header(_))
        ));
        assert!(matches!(
            parse_header("r/3 2 360\n"),
            Err(WfdbError::Unsupported(_))
        ));
        assert!(matches!(
            parse_header("r 1 360\nr.dat 212x4 200\n"),
            Err(WfdbError::Unsupported(_))
        ));
        assert!(matches!(
            parse_header("r 1 360\nr.dat 212 abc\n"),
            Err(WfdbError::Header(_))
        ));
    }
}
