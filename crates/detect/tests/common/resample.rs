//! Linear-interpolation resampler for interleaved multi-lead records. Down-sampling first
//! smooths with a moving average about one output period long, a crude anti-alias filter that
//! is enough for ECG (little energy above 40 Hz).

pub fn resample(interleaved: &[i16], leads: usize, fs_in: f64, fs_out: f64) -> Vec<i16> {
    let frames = interleaved.len() / leads;
    let smooth = if fs_out < fs_in {
        ((fs_in / fs_out).round() as usize).max(1)
    } else {
        1
    };
    let mut out_leads: Vec<Vec<f64>> = Vec::with_capacity(leads);
    for lead in 0..leads {
        let x: Vec<f64> = (0..frames)
            .map(|i| f64::from(interleaved[i * leads + lead]))
            .collect();
        out_leads.push(interpolate(&moving_average(&x, smooth), fs_in, fs_out));
    }
    let out_frames = out_leads.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(out_frames * leads);
    for i in 0..out_frames {
        for lead in &out_leads {
            out.push(lead[i].round().clamp(-32768.0, 32767.0) as i16);
        }
    }
    out
}

/// Centred moving average of odd-or-even length `n` (n = 1 is the identity).
fn moving_average(x: &[f64], n: usize) -> Vec<f64> {
    if n <= 1 {
        return x.to_vec();
    }
    let half = n / 2;
    let mut prefix = vec![0.0; x.len() + 1];
    for (i, v) in x.iter().enumerate() {
        prefix[i + 1] = prefix[i] + v;
    }
    (0..x.len())
        .map(|i| {
            let a = i.saturating_sub(half);
            let b = (i + n - half).min(x.len());
            (prefix[b] - prefix[a]) / (b - a) as f64
        })
        .collect()
}

fn interpolate(x: &[f64], fs_in: f64, fs_out: f64) -> Vec<f64> {
    if x.is_empty() {
        return Vec::new();
    }
    let n_out = ((x.len() as f64 - 1.0) * fs_out / fs_in).floor() as usize + 1;
    (0..n_out)
        .map(|j| {
            let t = j as f64 * fs_in / fs_out;
            let i = t.floor() as usize;
            let f = t - i as f64;
            let a = x[i];
            let b = x.get(i + 1).copied().unwrap_or(a);
            a + (b - a) * f
        })
        .collect()
}

/// Map a sample index from one rate to another.
pub fn rescale_index(i: u64, fs_in: f64, fs_out: f64) -> u64 {
    (i as f64 * fs_out / fs_in).round() as u64
}
