//! The noise stress test of Moody, Muldrow & Mark (1984), as WFDB's `nst` runs it: real
//! noise (NSTDB `bw`, `ma`) scaled to a signal-to-noise ratio and added to a clean record
//! with the standard protocol — 5 clean minutes, then 2 noisy and 2 clean minutes in turn.
//!
//! - Signal power S = a²/8, a the mean peak-to-peak amplitude in ±50 ms of the first 300
//!   normal beats (largest and smallest 5 % left out);
//! - noise power N = n², n the mean RMS (about the chunk mean) of the first 300 one-second
//!   chunks of the noise (largest and smallest 5 % left out);
//! - gain g with SNR = 10·log10(S / (g²·N)), per lead (clean lead i takes noise signal
//!   i mod the noise record's signals); the noise rewinds when shorter than the record;
//! - an offset keeps the output continuous where the noise switches on.

/// The standard protocol: clean until minute 5, then alternating 2-minute segments.
pub const CLEAN_FIRST_S: f64 = 300.0;
pub const SEGMENT_S: f64 = 120.0;

/// True when `t` seconds falls in a noisy segment of the standard protocol.
pub fn is_noisy(t: f64) -> bool {
    t >= CLEAN_FIRST_S && (((t - CLEAN_FIRST_S) / SEGMENT_S) as u64).is_multiple_of(2)
}

/// Mean of the middle 90 % (the largest and smallest 5 % discarded).
fn trimmed_mean(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let cut = v.len() / 20;
    let kept = &v[cut..v.len() - cut];
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}

fn lead(interleaved: &[i16], leads: usize, which: usize) -> Vec<f64> {
    interleaved
        .iter()
        .skip(which)
        .step_by(leads)
        .map(|&x| f64::from(x))
        .collect()
}

/// Mean peak-to-peak QRS amplitude of the first 300 `normal_beats` (sample indices).
fn qrs_amplitude(x: &[f64], fs: f64, normal_beats: &[u64]) -> Option<f64> {
    let half = (0.050 * fs).round() as usize;
    let p2p = normal_beats
        .iter()
        .take(300)
        .filter_map(|&b| {
            let b = usize::try_from(b).ok()?;
            let w = x.get(b.checked_sub(half)?..(b + half + 1).min(x.len()))?;
            let (lo, hi) = w
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            Some(hi - lo)
        })
        .collect();
    trimmed_mean(p2p)
}

/// Mean RMS about the mean of the first 300 one-second chunks.
fn noise_rms(x: &[f64], fs: f64) -> Option<f64> {
    let chunk = fs.round().max(1.0) as usize;
    let rms = x
        .chunks_exact(chunk)
        .take(300)
        .map(|c| {
            let mean = c.iter().sum::<f64>() / c.len() as f64;
            (c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c.len() as f64).sqrt()
        })
        .collect();
    trimmed_mean(rms)
}

/// The clean record (interleaved µV) with the noise (interleaved µV, same rate) added at
/// `snr_db` in the noisy segments. None when the record has no normal beats to measure
/// or the noise is empty.
pub fn add_noise(
    clean_uv: &[i16],
    leads: usize,
    fs: f64,
    normal_beats: &[u64],
    noise_uv: &[i16],
    noise_leads: usize,
    snr_db: f64,
) -> Option<Vec<i16>> {
    let frames = clean_uv.len() / leads.max(1);
    let mut out = clean_uv.to_vec();
    for l in 0..leads {
        let x = lead(clean_uv, leads, l);
        let noise = lead(noise_uv, noise_leads.max(1), l % noise_leads.max(1));
        if noise.is_empty() {
            return None;
        }
        let s = qrs_amplitude(&x, fs, normal_beats)?.powi(2) / 8.0;
        let n = noise_rms(&noise, fs)?.powi(2);
        let gain = (s / (n * 10f64.powf(snr_db / 10.0))).sqrt();
        let mut offset = 0.0;
        let mut was_noisy = false;
        for i in 0..frames {
            let noisy = is_noisy(i as f64 / fs);
            let v = noise[i % noise.len()];
            if noisy && !was_noisy {
                offset = -gain * v;
            }
            was_noisy = noisy;
            if noisy {
                let y = x[i] + gain * v + offset;
                out[i * leads + l] = y.round().clamp(-32768.0, 32767.0) as i16;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_protocol() {
        assert!(!is_noisy(299.0));
        assert!(is_noisy(300.0) && is_noisy(419.9));
        assert!(!is_noisy(420.0) && !is_noisy(539.9));
        assert!(is_noisy(540.0));
    }

    #[test]
    fn noise_is_scaled_to_the_ratio_and_only_in_noisy_segments() {
        let fs = 100.0;
        let frames = 100 * 600;
        // One 1000 µV p-p spike a second: S = 1000² / 8.
        let clean: Vec<i16> = (0..frames)
            .map(|i| if i % 100 == 50 { 1000 } else { 0 })
            .collect();
        let beats: Vec<u64> = (0..frames as u64).filter(|i| i % 100 == 50).collect();
        // ±100 µV square noise: RMS 100.
        let noise: Vec<i16> = (0..frames)
            .map(|i| if i % 2 == 0 { 100 } else { -100 })
            .collect();
        let out = add_noise(&clean, 1, fs, &beats, &noise, 1, 0.0).expect("noisy");
        assert_eq!(&out[..30_000], &clean[..30_000], "clean first 5 minutes");
        // At 0 dB, g²·100² = 1000²/8, g ≈ 3.54: the added noise swings ±354 µV.
        let added: Vec<f64> = (30_001..42_000)
            .filter(|i| i % 100 != 50)
            .map(|i| f64::from(out[i]))
            .collect();
        let p2p = added.iter().cloned().fold(f64::MIN, f64::max)
            - added.iter().cloned().fold(f64::MAX, f64::min);
        assert!((p2p - 707.0).abs() < 5.0, "{p2p}");
        assert_eq!(
            &out[42_000..54_000],
            &clean[42_000..54_000],
            "clean segment"
        );
    }
}
