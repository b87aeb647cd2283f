//! Ventricular runs from the beat classes (`cw_detect::BeatClassifier`): the run of
//! consecutive V beats in progress, its rate, and how long ventricular tachycardia has
//! lasted. Bounded state: a few numbers per patient.

use crate::noise_gate::NOISY_BEAT;
use cw_detect::BeatClass;

/// A VT episode goes on through runs broken by at most this much time without a VT beat
/// (one misclassified or fused beat inside a long VT must not restart the 30 s clock).
const EPISODE_GAP_S: f64 = 2.0;

#[derive(Clone, Copy, Debug, Default)]
pub struct VentricularRuns {
    /// Consecutive V beats so far, with the first and last one's sample.
    beats: u32,
    first: u64,
    last: u64,
    /// Sum of the run's beats' noise (the classifier's per-beat measure).
    noise: f32,
    /// The VT episode: first and latest sample of a beat that met the VT criteria.
    episode: Option<(u64, u64)>,
}

/// The run in progress as the VT rule sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub beats: u32,
    /// Mean rate from the first to the last beat of the run (IEC 60601-2-27's VT rate).
    pub bpm: f32,
    /// Mean noise of its beats (the classifier's per-beat measure, `noise_gate.rs`).
    pub noise: f32,
}

/// A run of consecutive V beats that the beat just fed ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ended {
    pub beats: u32,
    /// From its first to its last V beat, in samples.
    pub span: u64,
    /// Mean noise of its beats, as [`Run::noise`].
    pub noise: f32,
}

/// Whether a classified beat is V to the run. A V call on a beat in noise — while the
/// noise gate holds the rules (`noise_gate.rs`) — is not trusted and breaks the run,
/// unless the beat itself is clean (its own noise under the gate's beat level): the gate
/// holds for seconds after the noise, and a VT starting in them (mitdb 203 at 741 s) is
/// VT. The VT rule stays held while the gate holds; it judges the run once the gate
/// clears (docs/clinical-performance.md, "VT through a noise hold").
pub fn counts_as_ventricular(class: BeatClass, noise: f32, gate_holds: bool) -> bool {
    class == BeatClass::V && (!gate_holds || noise < NOISY_BEAT)
}

impl VentricularRuns {
    /// One classified beat; `ventricular` is its class being V, `noise` its noise measure.
    /// Returns the run this beat ended, if it ended one.
    pub fn on_beat(&mut self, sample: u64, ventricular: bool, noise: f32) -> Option<Ended> {
        if !ventricular {
            let ended = (self.beats > 0).then(|| Ended {
                beats: self.beats,
                span: self.last.saturating_sub(self.first),
                noise: self.noise / self.beats as f32,
            });
            self.beats = 0;
            return ended;
        }
        if self.beats == 0 {
            self.first = sample;
            self.noise = 0.0;
        }
        self.beats += 1;
        self.noise += noise;
        self.last = sample;
        None
    }

    pub fn run(&self, fs: f64) -> Run {
        let span_s = self.last.saturating_sub(self.first) as f64 / fs;
        let bpm = if self.beats >= 2 && span_s > 0.0 {
            (60.0 * f64::from(self.beats - 1) / span_s) as f32
        } else {
            0.0
        };
        Run {
            beats: self.beats,
            bpm,
            noise: if self.beats > 0 {
                self.noise / self.beats as f32
            } else {
                0.0
            },
        }
    }

    /// The current beat met the VT criteria (`is_vt`): extends the episode, or starts
    /// one when the last VT beat is more than `EPISODE_GAP_S` ago. Returns how long the
    /// episode has lasted, in seconds (0 when the beat is not VT).
    pub fn episode_s(&mut self, sample: u64, is_vt: bool, fs: f64) -> f64 {
        let gap = (EPISODE_GAP_S * fs) as u64;
        if !is_vt {
            if self
                .episode
                .is_some_and(|(_, last)| sample.saturating_sub(last) > gap)
            {
                self.episode = None;
            }
            return 0.0;
        }
        let start = match self.episode {
            Some((start, last)) if sample.saturating_sub(last) <= gap => start,
            _ => self.first,
        };
        self.episode = Some((start, sample));
        sample.saturating_sub(start) as f64 / fs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 250.0;

    #[test]
    fn a_run_counts_consecutive_v_beats_and_its_rate_spans_first_to_last() {
        let mut v = VentricularRuns::default();
        v.on_beat(0, false, 0.0);
        for k in 1..=3 {
            v.on_beat(k * 125, true, 0.0); // every 0.5 s: 120 bpm
        }
        assert_eq!(
            v.run(FS),
            Run {
                beats: 3,
                bpm: 120.0,
                noise: 0.0
            }
        );
        assert_eq!(
            v.on_beat(500, false, 0.0),
            Some(Ended {
                beats: 3,
                span: 250,
                noise: 0.0
            })
        );
        assert_eq!(v.run(FS).beats, 0);
        assert_eq!(v.on_beat(625, false, 0.0), None, "no run to end");
    }

    #[test]
    fn in_a_noise_hold_only_a_clean_v_beat_continues_the_run() {
        assert!(counts_as_ventricular(BeatClass::V, 0.03, true));
        assert!(!counts_as_ventricular(BeatClass::V, NOISY_BEAT, true));
        assert!(!counts_as_ventricular(BeatClass::V, 0.3, true));
        // Outside a hold the run's mean noise is the VT rule's to judge (`rule_bank.rs`).
        assert!(counts_as_ventricular(BeatClass::V, 0.3, false));
        for class in [BeatClass::N, BeatClass::S, BeatClass::Q, BeatClass::F] {
            assert!(!counts_as_ventricular(class, 0.0, false));
        }
    }

    #[test]
    fn an_episode_survives_a_short_break_and_ends_after_a_long_one() {
        let mut v = VentricularRuns::default();
        // VT at 120 bpm for 9.5 s, one normal beat, VT again: the same episode.
        for k in 0..20 {
            v.on_beat(k * 125, true, 0.0);
            v.episode_s(k * 125, true, FS);
        }
        v.on_beat(2450, false, 0.0);
        assert_eq!(v.episode_s(2450, false, FS), 0.0);
        v.on_beat(2500, true, 0.0);
        assert_eq!(v.episode_s(2500, true, FS), 10.0);
        // A normal beat 3 s after the last VT beat ends it.
        v.on_beat(3250, false, 0.0);
        assert_eq!(v.episode_s(3250, false, FS), 0.0);
        v.on_beat(3500, true, 0.0);
        assert_eq!(v.episode_s(3500, true, FS), 0.0);
    }
}
