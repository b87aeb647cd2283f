//! A whole record in memory: header metadata plus raw samples per signal.

use std::path::{Path, PathBuf};

use crate::error::WfdbError;
use crate::header::{Header, SignalSpec, parse_header};
use crate::signal_format;

/// A WFDB record read into memory.
#[derive(Clone, Debug)]
pub struct Record {
    pub name: String,
    pub fs: f64,
    pub signals: Vec<SignalInfo>,
    /// Raw samples, one vector per signal, all of length `len`.
    samples: Vec<Vec<i32>>,
    len: usize,
}

/// What the header says about one signal.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalInfo {
    pub description: String,
    /// adu per physical unit (per mV for ECG leads).
    pub gain: f64,
    pub baseline: i32,
    pub units: String,
    pub format: u16,
}

impl Record {
    /// `path` may be the record path without extension ("testdata/mitdb/100") or the .hea path.
    pub fn open(path: impl AsRef<Path>) -> Result<Record, WfdbError> {
        let header_path = header_path(path.as_ref());
        let text =
            std::fs::read_to_string(&header_path).map_err(|e| WfdbError::io(&header_path, e))?;
        let dir = header_path.parent().unwrap_or(Path::new("."));
        Self::from_header(&text, |file| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|e| WfdbError::io(&path, e))
        })
    }

    /// A record from its header text, with `signal_file` giving the bytes of each signal
    /// file the header names: for records held in memory (e.g. embedded in a binary).
    pub fn from_header(
        header_text: &str,
        signal_file: impl Fn(&str) -> Result<Vec<u8>, WfdbError>,
    ) -> Result<Record, WfdbError> {
        let header = parse_header(header_text)?;
        let (samples, len) = read_signals(&header, signal_file)?;
        let signals = header
            .signals
            .iter()
            .map(|s| SignalInfo {
                description: s.description.clone(),
                gain: s.gain,
                baseline: s.baseline,
                units: s.units.clone(),
                format: s.format,
            })
            .collect();
        Ok(Record {
            name: header.name,
            fs: header.fs,
            signals,
            samples,
            len,
        })
    }

    /// Samples per signal.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn signal_count(&self) -> usize {
        self.signals.len()
    }

    /// Samples interleaved by signal (s0[0], s1[0], s0[1], ...), converted to microvolts
    /// ((adu - baseline) / gain * 1000), rounded and saturated to i16.
    pub fn microvolts_interleaved(&self) -> Vec<i16> {
        let scales: Vec<(f64, f64)> = self
            .signals
            .iter()
            .map(|s| (f64::from(s.baseline), 1000.0 / s.gain))
            .collect();
        let mut out = Vec::with_capacity(self.len * self.signals.len());
        for i in 0..self.len {
            for (samples, &(baseline, scale)) in self.samples.iter().zip(&scales) {
                let uv = ((f64::from(samples[i]) - baseline) * scale).round();
                // `as` saturates float→int, which is the documented behaviour here.
                out.push(uv as i16);
            }
        }
        out
    }

    /// Raw samples (adu) of one signal. Panics if `signal >= signal_count()`.
    pub fn adu(&self, signal: usize) -> &[i32] {
        &self.samples[signal]
    }
}

/// "x/100" → "x/100.hea"; "x/100.hea" stays. Appending (not `with_extension`) keeps record
/// names that contain dots intact.
fn header_path(path: &Path) -> PathBuf {
    if path.extension().is_some_and(|e| e == "hea") {
        return path.to_path_buf();
    }
    let mut s = path.as_os_str().to_os_string();
    s.push(".hea");
    PathBuf::from(s)
}

/// Read every signal file named in the header; signals sharing a file are interleaved in it.
fn read_signals(
    header: &Header,
    signal_file: impl Fn(&str) -> Result<Vec<u8>, WfdbError>,
) -> Result<(Vec<Vec<i32>>, usize), WfdbError> {
    let mut samples: Vec<Vec<i32>> = vec![Vec::new(); header.signals.len()];
    let mut len: Option<usize> = header.samples;
    for group in file_groups(&header.signals)? {
        let first = &header.signals[group[0]];
        if first.file == "-" {
            return Err(WfdbError::Unsupported("signals on standard input".into()));
        }
        let bytes = signal_file(&first.file)?;
        let offset = usize::try_from(first.byte_offset)
            .ok()
            .filter(|&o| o <= bytes.len())
            .ok_or_else(|| {
                WfdbError::Format(format!("byte offset beyond end of {}", first.file))
            })?;
        let body = &bytes[offset..];
        let frames = match len {
            Some(n) => n,
            None => signal_format::frames_in(first.format, group.len(), body.len())?,
        };
        let decoded = signal_format::decode(first.format, body, group.len(), frames)?;
        for (&index, values) in group.iter().zip(decoded) {
            samples[index] = values;
        }
        len = Some(frames);
    }
    Ok((samples, len.unwrap_or(0)))
}

/// Indices of signals grouped by file, in order of first appearance. Every signal of a file
/// must share its format and offset, since the file is one interleaved stream.
fn file_groups(signals: &[SignalSpec]) -> Result<Vec<Vec<usize>>, WfdbError> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, s) in signals.iter().enumerate() {
        match groups.iter_mut().find(|g| signals[g[0]].file == s.file) {
            Some(g) => {
                let first = &signals[g[0]];
                if first.format != s.format || first.byte_offset != s.byte_offset {
                    return Err(WfdbError::Header(format!(
                        "signals in {} disagree on format or offset",
                        s.file
                    )));
                }
                g.push(i);
            }
            None => groups.push(vec![i]),
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_path_variants() {
        assert_eq!(header_path(Path::new("a/100")), PathBuf::from("a/100.hea"));
        assert_eq!(
            header_path(Path::new("a/100.hea")),
            PathBuf::from("a/100.hea")
        );
        assert_eq!(
            header_path(Path::new("a/r.v2")),
            PathBuf::from("a/r.v2.hea")
        );
    }

    #[test]
    fn reads_two_files_and_converts_to_microvolts() {
        let dir = std::env::temp_dir().join(format!("cw-wfdb-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("r.hea"),
            "r 3 250\r\nr.dat 16 200(10) 16 0 0 0 0 I\r\nr.dat 16 100 16 0 0 0 0 II\r\n\
             s.dat 80 1000 8 0 0 0 0 III\r\n",
        )
        .expect("write header");
        // 2 frames of 2 signals, i16 LE.
        let d: Vec<u8> = [210i16, -100, 10, 32767]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        std::fs::write(dir.join("r.dat"), d).expect("write dat");
        std::fs::write(dir.join("s.dat"), [128u8, 129]).expect("write dat");
        let rec = Record::open(dir.join("r")).expect("opens");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!((rec.len(), rec.signal_count(), rec.fs), (2, 3, 250.0));
        assert_eq!(rec.adu(0), &[210, 10]);
        assert_eq!(rec.adu(1), &[-100, 32767]);
        assert_eq!(rec.adu(2), &[0, 1]);
        // (210-10)/200 mV = 1000 uV; -100/100 mV = -1000 uV; 327.67 mV saturates.
        assert_eq!(
            rec.microvolts_interleaved(),
            vec![1000, -1000, 0, 0, i16::MAX, 1]
        );
    }

    #[test]
    fn missing_file_is_io_error() {
        assert!(matches!(
            Record::open("/nonexistent/record"),
            Err(WfdbError::Io(_))
        ));
    }
}
