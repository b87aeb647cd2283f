//! Beat-by-beat comparison in the manner of ANSI/AAMI EC57: reference beats only (WFDB beat
//! codes), 150 ms match window, each annotation used at most once, scored from minute 5.

use cw_wfdb::{Annotation, is_beat};

/// Match window either side of a reference beat.
pub const MATCH_WINDOW_S: f64 = 0.150;
/// Start of the scored interval (the first 5 minutes are a learning period).
pub const SCORE_FROM_S: f64 = 300.0;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    pub tp: u64,
    pub fn_: u64,
    pub fp: u64,
}

impl Score {
    pub fn se(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn ppv(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn add(&mut self, other: Score) {
        self.tp += other.tp;
        self.fn_ += other.fn_;
        self.fp += other.fp;
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        100.0
    } else {
        100.0 * num as f64 / den as f64
    }
}

/// Reference beat positions (samples at `fs`), code 37 and non-beats left out.
pub fn reference_beats(annotations: &[Annotation]) -> Vec<u64> {
    annotations
        .iter()
        .filter(|a| is_beat(a.code))
        .map(|a| a.sample)
        .collect()
}

/// Compare sorted detections with sorted reference beats. Each detection is matched to the
/// nearest still-unmatched reference within the window (greedy in time order, which for
/// beats at least 200 ms apart equals an optimal matching); only events at or after
/// `SCORE_FROM_S` count. Events just before the start may still consume a partner so a beat
/// straddling the boundary is not counted twice.
pub fn score(fs: f64, reference: &[u64], detected: &[u64]) -> Score {
    let window = (MATCH_WINDOW_S * fs).round() as u64;
    let start = (SCORE_FROM_S * fs).round() as u64;
    let mut used = vec![false; reference.len()];
    let mut s = Score::default();
    let mut lo = 0usize;
    for &d in detected {
        while lo < reference.len() && reference[lo] + window < d {
            lo += 1;
        }
        let best = (lo..reference.len())
            .take_while(|&i| reference[i] <= d + window)
            .filter(|&i| !used[i])
            .min_by_key(|&i| reference[i].abs_diff(d));
        match best {
            Some(i) => {
                used[i] = true;
                if reference[i] >= start {
                    s.tp += 1;
                }
            }
            None => {
                if d >= start {
                    s.fp += 1;
                }
            }
        }
    }
    s.fn_ = reference
        .iter()
        .zip(&used)
        .filter(|&(&r, &u)| r >= start && !u)
        .count() as u64;
    s
}
