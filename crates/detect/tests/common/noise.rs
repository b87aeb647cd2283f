//! Synthetic disturbances added to real records: baseline wander, mains hum, muscle noise.

/// Which disturbance to add, amplitudes in microvolts.
#[derive(Clone, Copy, Debug)]
pub enum Disturbance {
    /// Sinusoidal baseline wander (respiration, movement).
    Wander { hz: f64, amplitude_uv: f64 },
    /// Power-line interference.
    Mains { hz: f64, amplitude_uv: f64 },
    /// Broadband EMG-like noise with the given RMS.
    Muscle { rms_uv: f64, seed: u64 },
}

pub fn add(interleaved: &[i16], leads: usize, fs: f64, what: Disturbance) -> Vec<i16> {
    let mut rng = match what {
        Disturbance::Muscle { seed, .. } => XorShift(seed | 1),
        _ => XorShift(1),
    };
    interleaved
        .iter()
        .enumerate()
        .map(|(k, &x)| {
            let lead = k % leads;
            let t = (k / leads) as f64 / fs;
            // Leads get different phases, as they would from one real source.
            let phase = lead as f64 * 0.7;
            let n = match what {
                Disturbance::Wander { hz, amplitude_uv }
                | Disturbance::Mains { hz, amplitude_uv } => {
                    amplitude_uv * (std::f64::consts::TAU * hz * t + phase).sin()
                }
                Disturbance::Muscle { rms_uv, .. } => rms_uv * rng.gaussian(),
            };
            (f64::from(x) + n).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Small deterministic generator so the noise (and the scores) are reproducible.
struct XorShift(u64);

impl XorShift {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal via Box–Muller.
    fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
