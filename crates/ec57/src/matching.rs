//! Beat-by-beat comparison as ANSI/AAMI EC57 specifies it (the `bxb` method of the WFDB
//! software): a detection matches a reference beat within 150 ms, each used once; scoring
//! starts at minute 5; detections inside reference-marked VF are not counted. Every
//! pairing lands in EC57's confusion matrix (reference class × detected class, plus "O":
//! no partner), from which the QRS, VEB and SVEB statistics follow.

use crate::aami::AamiClass;
use crate::episodes::Interval;
use crate::reference::RefBeat;

/// Match window either side of a reference beat.
pub const MATCH_WINDOW_S: f64 = 0.150;
/// Start of the scored interval (the first 5 minutes are a learning period).
pub const SCORE_FROM_S: f64 = 300.0;

/// Row/column of "no partner" (an extra detection, or a missed reference beat).
const O: usize = 5;

/// One detected beat; `class` is None while the detector does not classify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestBeat {
    pub sample: u64,
    pub class: Option<AamiClass>,
}

/// True positives, false negatives and false positives of one statistic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: u64,
    pub fn_: u64,
    pub fp: u64,
}

impl Counts {
    /// Sensitivity in percent (100 when there is nothing to find).
    pub fn se(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Positive predictivity in percent (100 when nothing was detected).
    pub fn ppv(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn add(&mut self, other: Counts) {
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

/// EC57's confusion matrix: `counts[reference][detected]`, rows and columns N S V F Q O.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BeatMatrix {
    pub counts: [[u64; 6]; 6],
    /// False when some detection carried no class: only the QRS figures mean anything.
    pub classified: bool,
}

impl BeatMatrix {
    /// Compares sorted detections with sorted reference beats (sample indices at `fs`).
    /// Each detection takes the nearest still-unmatched reference beat within the window
    /// (greedy in time order, which for beats ≥ 200 ms apart equals an optimal matching).
    /// Events before minute 5 may still consume a partner, so a beat straddling the
    /// boundary is not counted twice. `vf` (seconds): reference VF, where extra
    /// detections are not counted.
    pub fn compare(fs: f64, reference: &[RefBeat], test: &[TestBeat], vf: &[Interval]) -> Self {
        let window = (MATCH_WINDOW_S * fs).round() as u64;
        let start = (SCORE_FROM_S * fs).round() as u64;
        let mut m = BeatMatrix {
            counts: [[0; 6]; 6],
            classified: test.iter().all(|t| t.class.is_some()),
        };
        let col = |t: &TestBeat| t.class.map_or(AamiClass::N.index(), AamiClass::index);
        let mut used = vec![false; reference.len()];
        let mut lo = 0usize;
        for t in test {
            let d = t.sample;
            while lo < reference.len() && reference[lo].sample + window < d {
                lo += 1;
            }
            let best = (lo..reference.len())
                .take_while(|&i| reference[i].sample <= d + window)
                .filter(|&i| !used[i])
                .min_by_key(|&i| reference[i].sample.abs_diff(d));
            match best {
                Some(i) => {
                    used[i] = true;
                    if reference[i].sample >= start {
                        m.counts[reference[i].class.index()][col(t)] += 1;
                    }
                }
                None => {
                    let in_vf = vf.iter().any(|v| v.contains(d as f64 / fs));
                    if d >= start && !in_vf {
                        m.counts[O][col(t)] += 1;
                    }
                }
            }
        }
        for (r, _) in reference
            .iter()
            .zip(&used)
            .filter(|&(r, &u)| r.sample >= start && !u)
        {
            m.counts[r.class.index()][O] += 1;
        }
        m
    }

    pub fn add(&mut self, other: &BeatMatrix) {
        for (row, o) in self.counts.iter_mut().zip(&other.counts) {
            for (c, x) in row.iter_mut().zip(o) {
                *c += x;
            }
        }
        self.classified &= other.classified;
    }

    fn at(&self, r: AamiClass, c: AamiClass) -> u64 {
        self.counts[r.index()][c.index()]
    }

    /// Beat detection: any beat-to-beat pairing is a TP whatever the classes.
    pub fn qrs(&self) -> Counts {
        let beats = 0..O;
        Counts {
            tp: beats
                .clone()
                .map(|r| beats.clone().map(|c| self.counts[r][c]).sum::<u64>())
                .sum(),
            fn_: beats.clone().map(|r| self.counts[r][O]).sum(),
            fp: beats.map(|c| self.counts[O][c]).sum(),
        }
    }

    /// VEB: TP Vv; FN V beats called anything else or missed; FP N and S beats and extra
    /// detections called V. F and Q beats called V count neither way (EC57).
    pub fn veb(&self) -> Counts {
        use AamiClass::*;
        Counts {
            tp: self.at(V, V),
            fn_: [N, S, F, Q].iter().map(|&c| self.at(V, c)).sum::<u64>() + self.counts[2][O],
            fp: self.at(N, V) + self.at(S, V) + self.counts[O][V.index()],
        }
    }

    /// VEB false-positive rate in percent: non-V beats (and extra detections) called V,
    /// over all non-V pairings that were called something other than V, plus those.
    pub fn veb_fpr(&self) -> f64 {
        use AamiClass::*;
        let fp = self.veb().fp;
        let rows = [N.index(), S.index(), F.index(), Q.index(), O];
        let cols = [N, S, F, Q].map(AamiClass::index);
        let tn: u64 = rows
            .iter()
            .map(|&r| cols.iter().map(|&c| self.counts[r][c]).sum::<u64>())
            .sum();
        if tn + fp == 0 {
            0.0
        } else {
            100.0 * fp as f64 / (tn + fp) as f64
        }
    }

    /// SVEB: TP Ss; FN S beats called anything else or missed; FP N, V, F beats and extra
    /// detections called S (EC57).
    pub fn sveb(&self) -> Counts {
        use AamiClass::*;
        Counts {
            tp: self.at(S, S),
            fn_: [N, V, F, Q].iter().map(|&c| self.at(S, c)).sum::<u64>() + self.counts[1][O],
            fp: self.at(N, S) + self.at(V, S) + self.at(F, S) + self.counts[O][S.index()],
        }
    }

    /// Reference beats of a class in the scored interval.
    pub fn reference_count(&self, class: AamiClass) -> u64 {
        self.counts[class.index()].iter().sum()
    }
}

/// QRS detection counts of plain beat positions (no classes): the detector tests' score.
pub fn qrs_counts(fs: f64, reference: &[u64], detected: &[u64]) -> Counts {
    let reference: Vec<RefBeat> = reference
        .iter()
        .map(|&sample| RefBeat {
            sample,
            class: AamiClass::N,
        })
        .collect();
    let test: Vec<TestBeat> = detected
        .iter()
        .map(|&sample| TestBeat {
            sample,
            class: None,
        })
        .collect();
    BeatMatrix::compare(fs, &reference, &test, &[]).qrs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 100.0;
    const T0: u64 = 30_000; // minute 5 at 100 Hz

    fn r(sample: u64, class: AamiClass) -> RefBeat {
        RefBeat { sample, class }
    }

    fn t(sample: u64, class: AamiClass) -> TestBeat {
        TestBeat {
            sample,
            class: Some(class),
        }
    }

    #[test]
    fn qrs_matching_window_and_learning_period() {
        let reference = [T0 - 100, T0 + 100, T0 + 200, T0 + 300];
        // 10 samples = 100 ms off: a match; 20 = 200 ms: a miss and an extra.
        let detected = [T0 - 100, T0 + 110, T0 + 220, T0 + 500];
        let c = qrs_counts(FS, &reference, &detected);
        assert_eq!(
            c,
            Counts {
                tp: 1,
                fn_: 2,
                fp: 2
            }
        );
    }

    #[test]
    fn a_beat_straddling_minute_five_is_not_counted_twice() {
        let c = qrs_counts(FS, &[T0 + 5], &[T0 - 5]);
        assert_eq!(
            c,
            Counts {
                tp: 1,
                fn_: 0,
                fp: 0
            }
        );
    }

    #[test]
    fn the_ectopic_statistics_follow_ec57() {
        use AamiClass::*;
        let reference = [
            r(T0 + 100, N),
            r(T0 + 200, V),
            r(T0 + 300, V),
            r(T0 + 400, S),
            r(T0 + 500, F),
            r(T0 + 600, N),
        ];
        let test = [
            t(T0 + 100, V), // N called V: VEB FP
            t(T0 + 200, V), // VEB TP
            // V at 300 missed: VEB FN, QRS FN
            t(T0 + 400, S), // SVEB TP
            t(T0 + 500, V), // F called V: neither
            t(T0 + 600, N),
            t(T0 + 700, S), // extra called S: QRS FP, SVEB FP
        ];
        let m = BeatMatrix::compare(FS, &reference, &test, &[]);
        assert!(m.classified);
        assert_eq!(
            m.qrs(),
            Counts {
                tp: 5,
                fn_: 1,
                fp: 1
            }
        );
        assert_eq!(
            m.veb(),
            Counts {
                tp: 1,
                fn_: 1,
                fp: 1
            }
        );
        assert_eq!(
            m.sveb(),
            Counts {
                tp: 1,
                fn_: 0,
                fp: 1
            }
        );
        // Non-V pairings not called V: N→N, S→S, O→S = 3; FP 1 → 25 %.
        assert_eq!(m.veb_fpr(), 25.0);
    }

    #[test]
    fn extra_detections_inside_reference_vf_are_not_counted() {
        let vf = [Interval::new(301.0, 303.0)];
        let test = [TestBeat {
            sample: T0 + 150,
            class: None,
        }];
        let m = BeatMatrix::compare(FS, &[], &test, &vf);
        assert_eq!(m.qrs(), Counts::default());
        assert!(!m.classified);
    }
}
