//! Signal-quality gating of the physiological rules that noise fakes (VF/VFL, VT, AF,
//! pause, heart rate, runs): while the signal is judged noisy they are held — neither
//! fire nor clear — and the technical noise alarm speaks instead
//! (docs/clinical-performance.md, "Noise").
//!
//! Two signs, both general signal processing, neither tuned per record:
//! - the quality window (`cw_detect::SignalQuality`): no lead is good and one is noisy;
//! - the beats themselves: muscle noise rides on the complexes the detector still finds,
//!   so the classifier's per-beat noise (high-frequency activity before and after the QRS
//!   over its size) rises on most of them, while a clean beat stays near 0.
//!
//! Muscle noise comes in bursts with calmer seconds between them, in which the detector
//! has not recovered and the rhythm rules still hold intervals from the burst, so a sign
//! holds the rules for `HOLD_S` after it. Asystole is not gated here: noise is not silence,
//! and a real asystole after noise must still be raised at its limit.

/// After the last sign of noise, the rules stay held this long.
const HOLD_S: f64 = 4.0;
/// A beat this noisy (the classifier's measure) counts towards a sign… Chosen from 0.06,
/// 0.08, 0.10, 0.12 by the criterion stated before the figures: the lowest level that loses
/// no clean AF, VF or VT episode (docs/clinical-performance.md, "Noise"). It picks 0.10 in
/// all 37 leave-one-record-out folds; 0.08 loses 4 clean episodes (203: one AF, two VT;
/// 421: one VT). The price, more false alarms with muscle noise at 0 dB SNR, is accepted:
/// a missed VT or AF weighs more than a false alarm. A VT run's beats must also stay under
/// it on average (`rule_bank.rs`, whatever the quality windows say).
pub(crate) const NOISY_BEAT: f32 = 0.10;
/// …when at least `NOISY_OF` of the last `RECENT` beats are (one or two noisy beats — a
/// notched ectopic beat, a motion spike — are not noise on the signal; 2 of 4 at 0.03 lost
/// 10 of 22 AF episodes on clean records).
const RECENT: usize = 4;
const NOISY_OF: usize = 3;

#[derive(Clone, Debug)]
pub struct NoiseGate {
    fs: f64,
    /// Whether each of the last `RECENT` classified beats was noisy (ring).
    recent: [bool; RECENT],
    next: usize,
    /// Sample before which the rules are held (0: never held).
    held_until: u64,
    /// Samples held so far (holds that overlap counted once), so replays can say how
    /// much monitoring time the gate takes (docs/clinical-performance.md, "Noise").
    held_samples: u64,
    /// Sample of the latest beat counted noisy (the beat's own, not when it was decided).
    noisy_beat: Option<u64>,
}

impl NoiseGate {
    pub fn new(fs: f64) -> Self {
        Self {
            fs,
            recent: [false; RECENT],
            next: 0,
            held_until: 0,
            held_samples: 0,
            noisy_beat: None,
        }
    }

    fn hold_from(&mut self, sample: u64) {
        let until = sample + (HOLD_S * self.fs).round() as u64;
        self.held_samples += until.saturating_sub(sample.max(self.held_until));
        self.held_until = self.held_until.max(until);
    }

    /// Time held so far, seconds (a hold still running counted to its end).
    pub fn held_s(&self) -> f64 {
        self.held_samples as f64 / self.fs
    }

    /// A quality window ending at `end_sample`: `noise_blind` when no lead is good and
    /// noise is why.
    pub fn on_window(&mut self, end_sample: u64, noise_blind: bool) {
        if noise_blind {
            self.hold_from(end_sample);
        }
    }

    /// A classified beat at sample `beat`, decided at `now` (about one beat after it), with its noise;
    /// `clean_lead_carries` when the latest quality window found one lead noisy and
    /// another good without high-frequency activity (`QualityWindow::calm_lead_beside_noise`). The beat's measure sums its leads, so noise on one lead would count
    /// against a beat another lead shows cleanly: then the window's verdict stands and
    /// the clean lead carries the monitoring.
    pub fn on_beat(&mut self, now: u64, beat: u64, noise: f32, clean_lead_carries: bool) {
        let noisy = !clean_lead_carries && noise >= NOISY_BEAT;
        if noisy {
            self.noisy_beat = Some(beat);
        }
        self.recent[self.next] = noisy;
        self.next = (self.next + 1) % RECENT;
        if self.recent.iter().filter(|n| **n).count() >= NOISY_OF {
            self.hold_from(now);
        }
    }

    /// The rules that noise fakes are held at `sample`.
    pub fn holds(&self, sample: u64) -> bool {
        sample < self.held_until
    }

    /// A beat at or after `sample` was counted noisy, held or not: an RR interval from
    /// there is no clean one for the rate-only runs. At the onset of noise its first
    /// extra detections make fast intervals before three noisy beats hold the rules
    /// (classes trail beats by one); one noisy beat breaks a run, as a noisy V beat breaks
    /// a V run (docs/clinical-performance.md, "False clinical alarms by cause").
    pub fn noisy_beat_since(&self, sample: u64) -> bool {
        self.noisy_beat.is_some_and(|b| b >= sample)
    }

    /// No hold since `sample` (an RR interval from there to now lies in clean signal:
    /// every hold starts at or before now).
    pub fn clear_since(&self, sample: u64) -> bool {
        sample >= self.held_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_noisy_beats_of_four_are_not_noise_three_are_and_the_hold_lasts_its_time() {
        let fs = 250.0;
        let mut gate = NoiseGate::new(fs);
        // Just at and just above the level count as noisy; the measure is compared, not rounded.
        let noisy = NOISY_BEAT + 0.01;
        for (k, noise) in [0.001, 0.2, 0.001, NOISY_BEAT].into_iter().enumerate() {
            gate.on_beat(1000 + 200 * k as u64, 800 + 200 * k as u64, noise, false);
        }
        assert!(!gate.holds(1600), "two noisy beats of four");
        assert!(gate.clear_since(0));
        gate.on_beat(1800, 1600, noisy, false);
        assert!(gate.holds(1800), "three of the last four");
        assert!(
            !gate.clear_since(1700),
            "an interval over the hold is not clean"
        );
        let end = 1800 + (HOLD_S * fs) as u64;
        assert!(gate.holds(end - 1) && !gate.holds(end));
        assert!(gate.clear_since(end));
        assert_eq!(gate.held_s(), HOLD_S);
        gate.on_beat(2000, 1800, noisy, false);
        assert_eq!(
            gate.held_s(),
            HOLD_S + 200.0 / fs,
            "an overlapping hold adds only its new time"
        );
    }

    #[test]
    fn one_noisy_beat_marks_the_intervals_from_it_and_holds_nothing() {
        let mut gate = NoiseGate::new(250.0);
        gate.on_beat(1200, 1000, 0.001, false);
        assert!(!gate.noisy_beat_since(1000), "a clean beat");
        gate.on_beat(1400, 1200, NOISY_BEAT, false);
        assert!(gate.noisy_beat_since(1200) && gate.noisy_beat_since(1000));
        assert!(
            !gate.noisy_beat_since(1201),
            "an interval from a later beat"
        );
        assert!(!gate.holds(1400), "one noisy beat of four holds no rule");
        // Noise beside a calm, clean lead is that lead's, as for the hold.
        let mut gate = NoiseGate::new(250.0);
        gate.on_beat(1200, 1000, 1.0, true);
        assert!(!gate.noisy_beat_since(1000));
    }

    #[test]
    fn a_noise_blind_window_holds_and_a_clean_one_does_not() {
        let mut gate = NoiseGate::new(360.0);
        gate.on_window(359, false);
        assert!(!gate.holds(400));
        gate.on_window(719, true);
        assert!(gate.holds(720) && gate.holds(719 + 4 * 360 - 1));
        assert!(!gate.holds(719 + 4 * 360));
    }
}
