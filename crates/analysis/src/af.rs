//! Atrial fibrillation from the intervals between classified beats. Bounded state: one
//! ring of RR intervals per patient, each marked whether both its beats were conducted.
//!
//! AF is an irregularly irregular *ventricular response to the atria*: only intervals
//! between two conducted (N) beats carry it. An interval into or out of a ventricular
//! beat (V), or out of a beat the classifier could not judge (Q), says nothing about the
//! atria, and bigeminy, trigeminy and frequent PVCs made the raw series look irregular
//! (issue 12). So those intervals are dropped, and a window in which too few intervals
//! are left is not judged at all (the rule is held): ventricular bigeminy leaves none.
//!
//! Atrial premature beats the classifier calls N (MIT-BIH 201: frequent APCs, aberrated
//! ones called V, blocked ones) make sinus rhythm as irregular as AF. So an AF event
//! only *begins* when the intervals between steady beats — conducted beats that did not
//! come early (under [`PREMATURE`] × the recent median interval) after a steady one — are
//! irregular too; once begun it goes on, and clears, on all conducted intervals as
//! before, so AF itself, whose shortest intervals this drops as well, is neither delayed
//! by a flickering check nor cut short (docs/clinical-performance.md, "AF begins only
//! when the steady beats are irregular").

use cw_detect::BeatClass;

/// RR intervals kept (the policy allows windows up to 128, plus the lags, plus context
/// for undoing premature beats; a window that long must find its conducted intervals
/// within the ring).
const RR_KEPT: usize = 140;
/// Earlier intervals an RR interval is compared with (bigeminy and trigeminy repeat).
const LAGS: usize = 3;
/// Intervals before the window given to the premature-beat correction as context.
const CONTEXT: usize = 8;
/// The window's conducted intervals must lie within the last window / this many
/// intervals: ventricular trigeminy (one interval in three between conducted beats) is
/// still judged, on its sinus intervals; bigeminy (none) is not.
const MIN_CONDUCTED: f32 = 0.3;
/// A beat whose interval is under this fraction of the median of the last [`REFERENCE`]
/// intervals came early: an atrial premature beat if the classifier called it N.
const PREMATURE: f32 = 0.6;
/// Intervals (of any beats) whose median a beat's prematurity is judged against.
const REFERENCE: usize = 8;

/// What the last window says about AF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AfJudgement {
    /// Not enough intervals seen yet since the series started.
    Filling,
    /// Too few intervals between conducted beats in the window to judge the atria
    /// (frequent ectopy): neither AF nor not AF.
    Unjudgeable,
    /// The irregularity index of the conducted intervals ([`AfRhythm::judge`]).
    Irregularity(f32),
}

#[derive(Clone, Debug)]
pub struct AfRhythm {
    rr: Box<[f32; RR_KEPT]>,
    conducted: Box<[bool; RR_KEPT]>,
    /// Conducted, and neither beat came early (see the module's note).
    steady: Box<[bool; RR_KEPT]>,
    next: usize,
    filled: usize,
    /// The last classified beat: its sample, whether it was conducted, and whether it
    /// was steady (conducted, not early).
    last: Option<(u64, bool, bool)>,
}

impl Default for AfRhythm {
    fn default() -> Self {
        Self {
            rr: Box::new([0.0; RR_KEPT]),
            conducted: Box::new([false; RR_KEPT]),
            steady: Box::new([false; RR_KEPT]),
            next: 0,
            filled: 0,
            last: None,
        }
    }
}

impl AfRhythm {
    /// The sample of the last classified beat (the start of the next interval).
    pub fn last_beat(&self) -> Option<u64> {
        self.last.map(|(sample, _, _)| sample)
    }

    /// One classified beat at `sample`; `trusted` when the interval from the last beat to
    /// it lies over analysable, clean signal after the learning period (an interval that
    /// is not is left out, as beats may have been missed in it).
    pub fn on_beat(&mut self, sample: u64, class: BeatClass, trusted: bool, fs: f64) {
        let conducted = match class {
            BeatClass::N => true,
            // A premature supraventricular beat resets the sinus node: its intervals are
            // not the rhythm's own (frequent SVEs must not read as AF).
            _ => false,
        };
        let mut steady = conducted;
        if let Some((previous, was_conducted, was_steady)) = self.last
            && trusted
            && sample > previous
        {
            let rr = ((sample - previous) as f64 / fs) as f32;
            steady &= self.reference().is_none_or(|r| rr >= PREMATURE * r);
            self.rr[self.next] = rr;
            self.conducted[self.next] = was_conducted && conducted;
            self.steady[self.next] = was_steady && steady;
            self.next = (self.next + 1) % RR_KEPT;
            self.filled = (self.filled + 1).min(RR_KEPT);
        }
        self.last = Some((sample, conducted, steady));
    }

    /// The median of the last [`REFERENCE`] intervals (None until there are that many).
    fn reference(&self) -> Option<f32> {
        if self.filled < REFERENCE {
            return None;
        }
        let mut recent: [f32; REFERENCE] =
            std::array::from_fn(|k| self.rr[(self.next + RR_KEPT - 1 - k) % RR_KEPT]);
        recent.sort_by(f32::total_cmp);
        Some(recent[REFERENCE / 2])
    }

    /// The irregularity over the last `window` intervals between steady beats (as
    /// [`Self::judge`] over conducted ones): AF is raised only when these are irregular
    /// too, so sinus rhythm with frequent atrial premature beats called N does not raise
    /// it (module note).
    pub fn judge_steady(&self, window: usize) -> AfJudgement {
        self.judge_over(window, &self.steady)
    }

    /// Irregularity over the last `window` intervals between conducted beats: the median,
    /// over beats, of the smallest difference between an interval and any of the 3
    /// before it, relative to the mean interval. Unjudgeable when those intervals are
    /// spread over more than `window / MIN_CONDUCTED` intervals. Sinus rhythm with
    /// isolated ectopic beats stays low (the median ignores them); so do bigeminy and
    /// trigeminy, which repeat with a period of 2 or 3 intervals; frequent premature beats
    /// with varying coupling or couplets are first undone (`ectopy.rs`). AF is irregularly
    /// irregular: no earlier interval matches.
    pub fn judge(&self, window: usize) -> AfJudgement {
        self.judge_over(window, &self.conducted)
    }

    /// [`Self::judge`] over the intervals `kept` marks.
    fn judge_over(&self, window: usize, kept: &[bool; RR_KEPT]) -> AfJudgement {
        let window = window.clamp(2, RR_KEPT - LAGS - CONTEXT);
        let want = window + LAGS;
        if self.filled < want {
            return AfJudgement::Filling;
        }
        let at = |back: usize| (self.next + RR_KEPT - back) % RR_KEPT;
        // The last `want` intervals between conducted beats (and some context before
        // them), found within the last `want / MIN_CONDUCTED` intervals (or the ring).
        let reach = ((want as f32 / MIN_CONDUCTED).ceil() as usize).min(self.filled);
        let mut picked: Vec<f32> = Vec::with_capacity(want + CONTEXT);
        let mut found = 0;
        for back in 1..=self.filled {
            if picked.len() >= want + CONTEXT {
                break;
            }
            if kept[at(back)] {
                if back <= reach {
                    found += 1;
                } else if found < want {
                    break;
                }
                picked.push(self.rr[at(back)]);
            }
        }
        if found < want {
            return AfJudgement::Unjudgeable;
        }
        picked.reverse();
        let series = crate::ectopy::corrected(&picked);
        let Some(rr) = series.get(series.len().saturating_sub(want)..) else {
            return AfJudgement::Unjudgeable;
        };
        if rr.len() < want {
            return AfJudgement::Unjudgeable;
        }
        let mean = rr[LAGS..].iter().sum::<f32>() / window as f32;
        let mut diffs: Vec<f32> = (LAGS..rr.len())
            .map(|k| {
                (1..=LAGS)
                    .map(|lag| (rr[k] - rr[k - lag]).abs())
                    .fold(f32::INFINITY, f32::min)
            })
            .collect();
        diffs.sort_by(f32::total_cmp);
        let median = diffs[diffs.len() / 2];
        if mean > 0.0 {
            AfJudgement::Irregularity(median / mean)
        } else {
            AfJudgement::Unjudgeable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 250.0;

    /// Feeds beats `rr_s` apart with the given classes, all trusted.
    fn feed(rhythm: &mut AfRhythm, beats: impl IntoIterator<Item = (f64, BeatClass)>) {
        let mut t = rhythm.last_beat().map_or(0.0, |s| s as f64 / FS);
        for (rr, class) in beats {
            t += rr;
            rhythm.on_beat((t * FS).round() as u64, class, true, FS);
        }
    }

    fn irregularity(rhythm: &AfRhythm) -> f32 {
        match rhythm.judge(32) {
            AfJudgement::Irregularity(irr) => irr,
            other => panic!("{other:?}"),
        }
    }

    /// Pseudo-random RR between 0.45 and 1.0 s, as in AF.
    fn af_intervals(seed: u32, n: usize) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                0.45 + f64::from((x >> 16) % 550) / 1000.0
            })
            .collect()
    }

    #[test]
    fn a_regular_rhythm_with_one_ectopic_beat_is_regular() {
        let mut r = AfRhythm::default();
        feed(
            &mut r,
            (0..40).map(|k| match k {
                20 => (0.5, BeatClass::V),
                21 => (1.1, BeatClass::N),
                _ => (0.8 + 0.01 * f64::from(k % 3), BeatClass::N),
            }),
        );
        let irr = irregularity(&r);
        assert!(irr < 0.03, "{irr}");
    }

    #[test]
    fn an_irregular_rhythm_is_irregular() {
        let mut r = AfRhythm::default();
        feed(
            &mut r,
            af_intervals(7, 40).into_iter().map(|rr| (rr, BeatClass::N)),
        );
        let irr = irregularity(&r);
        assert!(irr > 0.04, "{irr}");
    }

    #[test]
    fn ventricular_bigeminy_cannot_be_judged() {
        let mut r = AfRhythm::default();
        feed(
            &mut r,
            (0..60).map(|k| {
                // Coupling varies, as it does in real bigeminy: the raw series is irregular.
                let coupling = 0.5 + 0.03 * f64::from(k % 5);
                if k % 2 == 0 {
                    (coupling, BeatClass::V)
                } else {
                    (1.6 - coupling, BeatClass::N)
                }
            }),
        );
        assert_eq!(r.judge(32), AfJudgement::Unjudgeable);
    }

    #[test]
    fn frequent_pvcs_in_sinus_rhythm_stay_regular() {
        // A PVC every third beat with varying coupling and no compensatory sum.
        let mut r = AfRhythm::default();
        feed(
            &mut r,
            (0..90).map(|k| match k % 6 {
                2 => (0.45 + 0.05 * f64::from(k % 4), BeatClass::V),
                3 => (1.3 - 0.04 * f64::from(k % 5), BeatClass::N),
                _ => (0.85, BeatClass::N),
            }),
        );
        let irr = irregularity(&r);
        assert!(irr < 0.03, "{irr}");
    }

    #[test]
    fn af_with_some_ventricular_beats_is_still_irregular() {
        let mut r = AfRhythm::default();
        feed(
            &mut r,
            af_intervals(3, 60).into_iter().enumerate().map(|(k, rr)| {
                let class = if k % 7 == 3 {
                    BeatClass::V
                } else {
                    BeatClass::N
                };
                (rr, class)
            }),
        );
        let irr = irregularity(&r);
        assert!(irr > 0.04, "{irr}");
    }

    #[test]
    fn frequent_atrial_premature_beats_called_n_leave_the_steady_beats_regular() {
        // Sinus at 1.2 s; an APC every 2 to 4 beats, coupled at 0.45–0.6 s, resetting
        // the sinus node (the interval after it about one cycle), sometimes a couplet of
        // them: all called N, as the classifier did on MIT-BIH 201.
        let mut r = AfRhythm::default();
        let mut x: u32 = 5;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            f64::from((x >> 16) % 1000) / 1000.0
        };
        let mut beats = Vec::new();
        while beats.len() < 120 {
            for _ in 0..2 + (next() * 3.0) as usize {
                beats.push((1.2 + 0.04 * (next() - 0.5), BeatClass::N));
            }
            beats.push((0.45 + 0.15 * next(), BeatClass::N));
            if next() < 0.3 {
                beats.push((0.4 + 0.1 * next(), BeatClass::N));
            }
            beats.push((1.3 + 0.2 * next(), BeatClass::N));
        }
        feed(&mut r, beats);
        let irr = irregularity(&r);
        assert!(irr > 0.06, "{irr}: conducted intervals look like AF");
        match r.judge_steady(32) {
            AfJudgement::Irregularity(steady) => assert!(steady < 0.03, "{steady}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn in_af_the_steady_beats_are_irregular_too() {
        let mut r = AfRhythm::default();
        feed(
            &mut r,
            af_intervals(7, 120)
                .into_iter()
                .map(|rr| (rr, BeatClass::N)),
        );
        match r.judge_steady(32) {
            AfJudgement::Irregularity(steady) => assert!(steady > 0.06, "{steady}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_untrusted_interval_is_left_out() {
        let mut r = AfRhythm::default();
        feed(&mut r, (0..40).map(|_| (0.8, BeatClass::N)));
        // A 3 s gap over noise: not an interval of the rhythm.
        let last = r.last_beat().expect("beats");
        r.on_beat(last + (3.0 * FS) as u64, BeatClass::N, false, FS);
        feed(&mut r, (0..2).map(|_| (0.8, BeatClass::N)));
        assert!(irregularity(&r) < 0.01);
    }
}
