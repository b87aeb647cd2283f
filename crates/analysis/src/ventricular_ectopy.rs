//! Ventricular ectopy patterns from the beat classes (`cw_detect::BeatClassifier`):
//! couplets, bigeminy, trigeminy, and ventricular beats in the last minute. Runs of three
//! or more are `ventricular.rs`'s. Bounded state: the classes of the last 64 beats as two
//! bit masks and 60 one-second counts (docs/clinical-performance.md, "Ventricular ectopy
//! rules").

/// What a beat is for the patterns: ventricular, conducted (N or S: the sinus or
/// supraventricular beat between the ectopics), or unknown (Q, F, or a beat over signal
/// that was not analysable), which no pattern may span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ventricular,
    Conducted,
    Unknown,
}

/// Seconds of ventricular-beat counts kept: PVCs per minute.
const MINUTE_S: usize = 60;

/// Bit k of a mask is the beat k beats ago (0: the newest).
const EVERY_2ND: u64 = 0x5555_5555_5555_5555;
const EVERY_3RD: u64 = 0x9249_2492_4924_9249;

#[derive(Clone, Copy, Debug)]
pub struct VentricularEctopy {
    ventricular: u64,
    conducted: u64,
    /// Ventricular beats per second of sample time, a ring over the last minute, and the
    /// second its newest slot is for (None before the first beat).
    per_second: [u8; MINUTE_S],
    second: Option<u64>,
}

impl Default for VentricularEctopy {
    fn default() -> Self {
        Self {
            ventricular: 0,
            conducted: 0,
            per_second: [0; MINUTE_S],
            second: None,
        }
    }
}

impl VentricularEctopy {
    /// One classified beat at `sample`, in order.
    pub fn on_beat(&mut self, sample: u64, kind: Kind, fs: f64) {
        self.ventricular = (self.ventricular << 1) | u64::from(kind == Kind::Ventricular);
        self.conducted = (self.conducted << 1) | u64::from(kind == Kind::Conducted);
        let second = (sample as f64 / fs.max(1.0)) as u64;
        let slot = |t: u64| (t % MINUTE_S as u64) as usize;
        // Seconds that passed since the newest slot start empty (a minute at most: the
        // ring holds no more).
        if let Some(newest) = self.second {
            let from = (newest + 1).max(second.saturating_sub(MINUTE_S as u64 - 1));
            for t in from..=second {
                self.per_second[slot(t)] = 0;
            }
        }
        self.second = Some(self.second.map_or(second, |s| s.max(second)));
        if kind == Kind::Ventricular {
            let count = &mut self.per_second[slot(second)];
            *count = count.saturating_add(1);
        }
    }

    /// The newest beat closes a couplet: conducted, ventricular, ventricular, conducted.
    pub fn couplet(&self) -> bool {
        self.matches(4, 0b0110, 0b1001)
    }

    /// The last `cycles` cycles alternate ventricular and conducted beats (either phase).
    pub fn bigeminy(&self, cycles: u8) -> bool {
        self.repeats(EVERY_2ND, 2, cycles)
    }

    /// The last `cycles` cycles are a ventricular beat and two conducted ones (any phase).
    pub fn trigeminy(&self, cycles: u8) -> bool {
        self.repeats(EVERY_3RD, 3, cycles)
    }

    /// Ventricular beats in the minute up to the newest beat's second.
    pub fn per_minute(&self) -> u32 {
        self.per_second.iter().map(|&n| u32::from(n)).sum()
    }

    /// `ventricular` repeats every `period` beats for `cycles` cycles, every other beat
    /// conducted, in any of the `period` phases.
    fn repeats(&self, ventricular: u64, period: u32, cycles: u8) -> bool {
        let beats = period * u32::from(cycles);
        if beats > u64::BITS {
            return false;
        }
        (0..period).any(|phase| {
            let v = ventricular << phase;
            self.matches(beats, v, !v)
        })
    }

    /// The last `beats` beats are ventricular exactly where `ventricular` has a bit and
    /// conducted exactly where `conducted` has one.
    fn matches(&self, beats: u32, ventricular: u64, conducted: u64) -> bool {
        let window = u64::MAX.checked_shr(u64::BITS - beats).unwrap_or(0);
        self.ventricular & window == ventricular & window
            && self.conducted & window == conducted & window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 250.0;

    /// Beats from a pattern string (V ventricular, N conducted, Q unknown), 0.8 s apart.
    fn fed(pattern: &str) -> VentricularEctopy {
        let mut e = VentricularEctopy::default();
        for (i, c) in pattern.chars().enumerate() {
            let kind = match c {
                'V' => Kind::Ventricular,
                'N' => Kind::Conducted,
                _ => Kind::Unknown,
            };
            e.on_beat(i as u64 * 200, kind, FS);
        }
        e
    }

    #[test]
    fn a_couplet_is_a_pair_between_conducted_beats_and_a_triplet_is_not_one() {
        assert!(fed("NNNVVN").couplet());
        assert!(!fed("NNNVV").couplet(), "not closed yet");
        assert!(!fed("NNVVVN").couplet(), "a run of three");
        assert!(!fed("NNQVVN").couplet(), "opened by an unknown beat");
        assert!(!fed("NNVNVN").couplet());
    }

    #[test]
    fn bigeminy_needs_its_cycles_in_either_phase_and_breaks_on_another_beat() {
        assert!(fed("NNNVNVNVNVN").bigeminy(4));
        assert!(fed("NNNVNVNVNV").bigeminy(4));
        assert!(!fed("NNNVNVNVN").bigeminy(4), "three and a half cycles");
        assert!(!fed("VNVNVVNVNV").bigeminy(4), "a couplet inside");
        assert!(!fed("VNVNQNVNVN").bigeminy(4), "an unknown beat inside");
        assert!(fed(&"VN".repeat(20)).bigeminy(20));
        assert!(!fed(&"VNN".repeat(6)).bigeminy(2));
    }

    #[test]
    fn trigeminy_needs_its_cycles_in_any_phase() {
        // Four whole cycles, then the next one begun: every phase.
        for tail in ["", "V", "VN"] {
            let beats = format!("NN{}{tail}", "VNN".repeat(4));
            assert!(fed(&beats).trigeminy(4), "{beats}");
        }
        assert!(!fed("NNVNNVNNVNN").trigeminy(4), "three cycles");
        assert!(
            !fed(&"VN".repeat(8)).trigeminy(2),
            "bigeminy is not trigeminy"
        );
        assert!(!fed("VNNVNNVNVVNN").trigeminy(4));
        assert!(fed(&"VNN".repeat(21)).trigeminy(20));
    }

    #[test]
    fn ventricular_beats_per_minute_count_the_last_60_seconds_of_sample_time() {
        let mut e = VentricularEctopy::default();
        // One V beat every 5 s for 2 minutes: 12 in any minute.
        for k in 0..24u64 {
            e.on_beat(k * 5 * 250, Kind::Ventricular, FS);
            e.on_beat(k * 5 * 250 + 250, Kind::Conducted, FS);
        }
        assert_eq!(e.per_minute(), 12);
        // Then only conducted beats: the count falls to 0 a minute after the last V.
        for k in 0..70u64 {
            e.on_beat((120 + k) * 250, Kind::Conducted, FS);
        }
        assert_eq!(e.per_minute(), 0);
        // A gap of more than a minute between beats empties every slot.
        let mut e = VentricularEctopy::default();
        e.on_beat(0, Kind::Ventricular, FS);
        e.on_beat(250 * 500, Kind::Ventricular, FS);
        assert_eq!(e.per_minute(), 1);
    }
}
