//! Runs of fast or slow beats from the RR series (tachycardia and bradycardia runs).
//! Atrial fibrillation is judged on the classified beats instead (`af.rs`).

#[derive(Clone, Debug, Default)]
pub struct Rhythm {
    /// Consecutive beats whose beat-to-beat rate was above / below the run limits.
    fast: u32,
    slow: u32,
}

impl Rhythm {
    /// Feeds the beat-to-beat rate of one trusted RR interval; `tachy_bpm` / `brady_bpm`
    /// are the run limits in force (None: that run rule is off).
    pub fn on_rr(&mut self, instant_bpm: f32, tachy_bpm: Option<f32>, brady_bpm: Option<f32>) {
        self.fast = match tachy_bpm {
            Some(limit) if instant_bpm > limit => self.fast + 1,
            _ => 0,
        };
        self.slow = match brady_bpm {
            Some(limit) if instant_bpm < limit => self.slow + 1,
            _ => 0,
        };
    }

    /// An interval that cannot be trusted (noise, a gap in analysable signal): the runs of
    /// consecutive fast or slow beats it lies in are broken.
    pub fn interrupt(&mut self) {
        self.fast = 0;
        self.slow = 0;
    }

    pub fn fast_run(&self) -> u32 {
        self.fast
    }

    pub fn slow_run(&self) -> u32 {
        self.slow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_count_consecutive_beats_beyond_the_limit() {
        let mut r = Rhythm::default();
        for bpm in [80.0, 130.0, 135.0, 140.0] {
            r.on_rr(bpm, Some(120.0), Some(40.0));
        }
        assert_eq!((r.fast_run(), r.slow_run()), (3, 0));
        r.on_rr(80.0, Some(120.0), Some(40.0));
        assert_eq!(r.fast_run(), 0);
    }
}
