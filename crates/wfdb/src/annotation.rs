//! MIT-format annotation files (`.atr`): a stream of little-endian 16-bit words, each a
//! 6-bit code and a 10-bit value (see the data README).

use std::path::Path;

use crate::error::WfdbError;

/// Pseudo-codes that carry data instead of an annotation.
const SKIP: u8 = 59;
const NUM: u8 = 60;
const SUB: u8 = 61;
const CHN: u8 = 62;
const AUX: u8 = 63;

/// One annotation: absolute sample index, WFDB code, optional AUX text (e.g. "(AFIB").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    pub sample: u64,
    pub code: u8,
    pub aux: Option<String>,
}

/// Read an annotation file; `path` is the file itself (e.g. "testdata/mitdb/100.atr").
pub fn read_annotations(path: impl AsRef<Path>) -> Result<Vec<Annotation>, WfdbError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| WfdbError::io(path, e))?;
    parse_annotations(&bytes)
}

/// Decode the bytes of an MIT-format annotation file.
pub fn parse_annotations(bytes: &[u8]) -> Result<Vec<Annotation>, WfdbError> {
    let mut out: Vec<Annotation> = Vec::new();
    let mut time: i64 = 0;
    let mut pos = 0usize;
    while let Some(word) = word_at(bytes, pos) {
        pos += 2;
        if word == 0 {
            break;
        }
        let code = (word >> 10) as u8;
        let value = usize::from(word & 0x3FF);
        match code {
            SKIP => {
                // A 32-bit signed interval stored as two words, high word first.
                let (hi, lo) = word_at(bytes, pos)
                    .zip(word_at(bytes, pos + 2))
                    .ok_or_else(|| truncated("SKIP"))?;
                pos += 4;
                time += i64::from((u32::from(hi) << 16 | u32::from(lo)) as i32);
            }
            NUM | SUB | CHN => {
                // Fields of the current annotation that this crate does not expose.
            }
            AUX => {
                let text = bytes
                    .get(pos..pos + value)
                    .ok_or_else(|| truncated("AUX"))?;
                pos += value + value % 2;
                let text = String::from_utf8_lossy(text)
                    .trim_end_matches('\0')
                    .to_string();
                let last = out
                    .last_mut()
                    .ok_or_else(|| WfdbError::Format("AUX text before any annotation".into()))?;
                last.aux = Some(text);
            }
            0 => {
                // A zero code with a nonzero interval only moves time forward.
                time += value as i64;
            }
            code => {
                time += value as i64;
                let sample = u64::try_from(time).map_err(|_| {
                    WfdbError::Format(format!("annotation at negative sample {time}"))
                })?;
                out.push(Annotation {
                    sample,
                    code,
                    aux: None,
                });
            }
        }
    }
    Ok(out)
}

fn word_at(bytes: &[u8], pos: usize) -> Option<u16> {
    let b = bytes.get(pos..pos + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn truncated(what: &str) -> WfdbError {
    WfdbError::Format(format!("annotation file ends inside {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(code: u16, value: u16) -> [u8; 2] {
        (code << 10 | value).to_le_bytes()
    }

    fn file(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn plain_annotations_accumulate_time() {
        let bytes = file(&[&w(1, 18), &w(5, 300), &w(0, 0), &w(1, 5)]);
        let a = parse_annotations(&bytes).expect("parses");
        assert_eq!(
            a,
            vec![
                Annotation {
                    sample: 18,
                    code: 1,
                    aux: None
                },
                Annotation {
                    sample: 318,
                    code: 5,
                    aux: None
                },
            ],
            "stops at the zero word"
        );
    }

    #[test]
    fn skip_num_and_aux() {
        // SKIP 100000 = 0x0001_86A0: high word 0x0001, low word 0x86A0.
        let bytes = file(&[
            &w(28, 10),
            &w(63, 5),
            b"(AFIB\0",
            &w(60, 3),
            &w(59, 0),
            &0x0001u16.to_le_bytes(),
            &0x86A0u16.to_le_bytes(),
            &w(1, 20),
            &w(62, 1),
            &w(63, 2),
            b"(N",
            &w(37, 1),
        ]);
        let a = parse_annotations(&bytes).expect("parses");
        assert_eq!(a.len(), 3);
        assert_eq!(
            a[0],
            Annotation {
                sample: 10,
                code: 28,
                aux: Some("(AFIB".into())
            }
        );
        assert_eq!(
            a[1],
            Annotation {
                sample: 100_030,
                code: 1,
                aux: Some("(N".into())
            }
        );
        assert_eq!(
            a[2],
            Annotation {
                sample: 100_031,
                code: 37,
                aux: None
            }
        );
    }

    #[test]
    fn negative_skip() {
        let bytes = file(&[
            &w(1, 1000),
            &w(59, 0),
            &0xFFFFu16.to_le_bytes(),
            &0xFF9Cu16.to_le_bytes(), // -100
            &w(1, 0),
        ]);
        let a = parse_annotations(&bytes).expect("parses");
        assert_eq!(a[1].sample, 900);
    }

    #[test]
    fn truncated_files_are_errors() {
        assert!(parse_annotations(&file(&[&w(59, 0), &[0, 0]])).is_err());
        assert!(parse_annotations(&file(&[&w(1, 1), &w(63, 8), b"ab"])).is_err());
        assert!(parse_annotations(&file(&[&w(63, 2), b"ab"])).is_err());
        assert!(parse_annotations(&[]).expect("empty is fine").is_empty());
    }
}
