//! Decoding of the sample formats stored in `.dat` files. One file holds `nsig` signals
//! interleaved frame by frame; the decoders return one `Vec<i32>` per signal.

use crate::error::WfdbError;

/// Bytes needed for `frames` frames of `nsig` signals in `format`.
pub(crate) fn bytes_needed(format: u16, nsig: usize, frames: usize) -> Result<usize, WfdbError> {
    let values = nsig * frames;
    Ok(match format {
        // 212 packs pairs of values into three bytes; an odd last value takes two bytes.
        212 => values / 2 * 3 + (values % 2) * 2,
        16 | 61 => values * 2,
        80 => values,
        other => return Err(unsupported(other)),
    })
}

/// Whole frames available in `len` bytes.
pub(crate) fn frames_in(format: u16, nsig: usize, len: usize) -> Result<usize, WfdbError> {
    if nsig == 0 {
        return Ok(0);
    }
    let values = match format {
        212 => len / 3 * 2 + usize::from(len % 3 == 2),
        16 | 61 => len / 2,
        80 => len,
        other => return Err(unsupported(other)),
    };
    Ok(values / nsig)
}

/// Decode `frames` frames of `nsig` interleaved signals.
pub(crate) fn decode(
    format: u16,
    bytes: &[u8],
    nsig: usize,
    frames: usize,
) -> Result<Vec<Vec<i32>>, WfdbError> {
    let needed = bytes_needed(format, nsig, frames)?;
    if bytes.len() < needed {
        return Err(WfdbError::Format(format!(
            "signal file holds {} bytes, {frames} frames of {nsig} signals need {needed}",
            bytes.len()
        )));
    }
    let mut out: Vec<Vec<i32>> = (0..nsig).map(|_| Vec::with_capacity(frames)).collect();
    let total = nsig * frames;
    let mut push = |k: usize, v: i32| out[k % nsig].push(v);
    match format {
        212 => {
            for (pair, chunk) in bytes[..needed].chunks(3).enumerate() {
                let b0 = i32::from(chunk[0]);
                let b1 = i32::from(chunk.get(1).copied().unwrap_or(0));
                push(2 * pair, sign_extend_12(b0 | (b1 & 0x0F) << 8));
                if 2 * pair + 1 < total
                    && let Some(&b2) = chunk.get(2)
                {
                    push(
                        2 * pair + 1,
                        sign_extend_12(i32::from(b2) | (b1 & 0xF0) << 4),
                    );
                }
            }
        }
        16 => {
            for (k, c) in bytes[..needed].chunks_exact(2).enumerate() {
                push(k, i32::from(i16::from_le_bytes([c[0], c[1]])));
            }
        }
        61 => {
            for (k, c) in bytes[..needed].chunks_exact(2).enumerate() {
                push(k, i32::from(i16::from_be_bytes([c[0], c[1]])));
            }
        }
        80 => {
            for (k, &b) in bytes[..needed].iter().enumerate() {
                // Offset binary: 128 is zero.
                push(k, i32::from(b) - 128);
            }
        }
        other => return Err(unsupported(other)),
    }
    Ok(out)
}

fn sign_extend_12(v: i32) -> i32 {
    if v > 2047 { v - 4096 } else { v }
}

fn unsupported(format: u16) -> WfdbError {
    WfdbError::Unsupported(format!("signal format {format}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack_212(values: &[i32]) -> Vec<u8> {
        crate::writer::encode_212(values).expect("12-bit values")
    }

    #[test]
    fn format_212_negative_numbers() {
        // Hand-made bytes: x0 = 0xFFF = -1, x1 = 0x800 = -2048.
        let out = decode(212, &[0xFF, 0x8F, 0x00], 2, 1).expect("decodes");
        assert_eq!(out, vec![vec![-1], vec![-2048]]);
        let values = [0, 1, -1, 2047, -2048, -1000, 995, 1011];
        let out = decode(212, &pack_212(&values), 2, 4).expect("decodes");
        assert_eq!(out[0], vec![0, -1, -2048, 995]);
        assert_eq!(out[1], vec![1, 2047, -1000, 1011]);
    }

    #[test]
    fn format_212_odd_value_count() {
        let values = [-5, 6, -7];
        let bytes = pack_212(&values);
        assert_eq!(bytes.len(), 5);
        assert_eq!(frames_in(212, 3, bytes.len()).expect("known"), 1);
        let out = decode(212, &bytes, 3, 1).expect("decodes");
        assert_eq!(out, vec![vec![-5], vec![6], vec![-7]]);
    }

    #[test]
    fn format_16_and_80() {
        let bytes = [0x00, 0x80, 0xFF, 0x7F, 0x01, 0x00, 0xFE, 0xFF];
        let out = decode(16, &bytes, 2, 2).expect("decodes");
        assert_eq!(out, vec![vec![-32768, 1], vec![32767, -2]]);
        let out = decode(80, &[0, 128, 255], 1, 3).expect("decodes");
        assert_eq!(out, vec![vec![-128, 0, 127]]);
    }

    #[test]
    fn short_file_and_unknown_format_are_errors() {
        assert!(matches!(
            decode(16, &[0, 0, 0], 2, 1),
            Err(WfdbError::Format(_))
        ));
        assert!(matches!(
            decode(310, &[0; 8], 1, 1),
            Err(WfdbError::Unsupported(_))
        ));
    }
}
