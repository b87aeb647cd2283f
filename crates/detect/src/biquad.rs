//! Second-order IIR sections designed from the sampling rate (bilinear transform, RBJ
//! cookbook), so the same band-pass holds at 125 Hz and at 1000 Hz.

/// Normalised coefficients (a0 = 1) of one section.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coeffs {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
}

impl Coeffs {
    pub(crate) fn lowpass(fs: f64, fc: f64, q: f64) -> Self {
        let (cos, alpha) = prewarp(fs, fc, q);
        let b = (1.0 - cos) / 2.0;
        Self::normalise(b, 1.0 - cos, b, 1.0 + alpha, -2.0 * cos, 1.0 - alpha)
    }

    pub(crate) fn highpass(fs: f64, fc: f64, q: f64) -> Self {
        let (cos, alpha) = prewarp(fs, fc, q);
        let b = (1.0 + cos) / 2.0;
        Self::normalise(b, -(1.0 + cos), b, 1.0 + alpha, -2.0 * cos, 1.0 - alpha)
    }

    fn normalise(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        Coeffs {
            b0: (b0 / a0) as f32,
            b1: (b1 / a0) as f32,
            b2: (b2 / a0) as f32,
            a1: (a1 / a0) as f32,
            a2: (a2 / a0) as f32,
        }
    }
}

/// Cutoffs above Nyquist are clamped just below it so a low sampling rate still gets a
/// stable (if less selective) filter.
fn prewarp(fs: f64, fc: f64, q: f64) -> (f64, f64) {
    let fc = fc.min(0.45 * fs);
    let w0 = 2.0 * std::f64::consts::PI * fc / fs;
    (w0.cos(), w0.sin() / (2.0 * q))
}

/// State of one section (transposed direct form II: two words, good f32 behaviour).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct State {
    s1: f32,
    s2: f32,
}

impl State {
    #[inline]
    pub(crate) fn step(&mut self, c: &Coeffs, x: f32) -> f32 {
        let y = c.b0 * x + self.s1;
        self.s1 = c.b1 * x - c.a1 * y + self.s2;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steady-state gain of a section at frequency f, measured by running a sine through it.
    fn gain(c: &Coeffs, fs: f64, f: f64) -> f64 {
        let mut s = State::default();
        let n = (fs * 4.0) as usize;
        let mut peak = 0.0f64;
        for i in 0..n {
            let x = (2.0 * std::f64::consts::PI * f * i as f64 / fs).sin() as f32;
            let y = f64::from(s.step(c, x));
            if i > n / 2 {
                peak = peak.max(y.abs());
            }
        }
        peak
    }

    #[test]
    fn cutoffs_are_minus_3_db_at_any_rate() {
        for fs in [125.0, 360.0, 1000.0] {
            let lp = Coeffs::lowpass(fs, 20.0, std::f64::consts::FRAC_1_SQRT_2);
            let hp = Coeffs::highpass(fs, 5.0, std::f64::consts::FRAC_1_SQRT_2);
            assert!((gain(&lp, fs, 20.0) - 0.707).abs() < 0.02, "lp at {fs}");
            assert!((gain(&hp, fs, 5.0) - 0.707).abs() < 0.02, "hp at {fs}");
            assert!(gain(&lp, fs, 2.0) > 0.99);
            assert!(gain(&hp, fs, 0.3) < 0.01);
        }
    }
}
