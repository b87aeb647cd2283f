//! What the cardiologists annotated in a record: labelled beats with their AAMI class,
//! rhythm episodes from the AUX text of rhythm-change annotations, and VF/VFL episodes
//! marked by `[` … `]` (cudb, and the flutter of mitdb 207).

use cw_wfdb::Annotation;

use crate::aami::AamiClass;
use crate::episodes::{Interval, merge};

/// WFDB codes read here besides beats (`ecgcodes.h`).
const RHYTHM: u8 = 28;
const VF_ON: u8 = 32;
const VF_OFF: u8 = 33;

/// Rhythms the scores need; every other AUX rhythm label is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rhythm {
    /// `(AFIB`
    Af,
    /// `(AFL`: excluded from AF scoring, as EC38 does.
    Afl,
    /// `(VT`
    Vt,
    /// `(VF`, `(VFL`, `(VFIB`, and `[` … `]`.
    Vf,
    /// `(ASYS`
    Asystole,
    /// `(NOISE`: unreadable signal.
    Noise,
    Other,
}

impl Rhythm {
    /// The rhythm of a rhythm-change AUX text such as "(AFIB".
    pub fn from_aux(text: &str) -> Rhythm {
        match text.trim_end_matches(['\0', ' ']).trim_start_matches('(') {
            "AFIB" => Self::Af,
            "AFL" => Self::Afl,
            "VT" => Self::Vt,
            "VF" | "VFL" | "VFIB" => Self::Vf,
            "ASYS" => Self::Asystole,
            "NOISE" => Self::Noise,
            _ => Self::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefBeat {
    pub sample: u64,
    pub class: AamiClass,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RhythmEpisode {
    pub rhythm: Rhythm,
    pub interval: Interval,
}

/// The reference annotations of one record, in seconds where times leave this module.
#[derive(Clone, Debug)]
pub struct Reference {
    pub fs: f64,
    /// Record length in seconds.
    pub duration_s: f64,
    pub beats: Vec<RefBeat>,
    /// A record with paced beats (`/`, `f`): EC57 leaves it out of the VEB/SVEB gross.
    pub paced: bool,
    pub rhythms: Vec<RhythmEpisode>,
    /// `[` … `]` intervals (an unclosed `[` runs to the record end).
    pub vf_marked: Vec<Interval>,
}

impl Reference {
    /// `samples`: the record length in samples at `fs`.
    pub fn from_annotations(fs: f64, samples: u64, annotations: &[Annotation]) -> Reference {
        let duration_s = samples as f64 / fs;
        let at = |sample: u64| sample as f64 / fs;
        let mut beats = Vec::new();
        let mut paced = false;
        let mut rhythms: Vec<RhythmEpisode> = Vec::new();
        let mut vf_marked = Vec::new();
        let mut vf_open: Option<f64> = None;
        for a in annotations {
            if let Some(class) = AamiClass::from_code(a.code) {
                paced |= AamiClass::is_paced_code(a.code);
                beats.push(RefBeat {
                    sample: a.sample,
                    class,
                });
                continue;
            }
            match a.code {
                RHYTHM => {
                    let Some(text) = a.aux.as_deref().filter(|t| t.starts_with('(')) else {
                        continue;
                    };
                    // An episode runs from its annotation to the next rhythm change.
                    if let Some(last) = rhythms.last_mut() {
                        last.interval.end = at(a.sample);
                    }
                    rhythms.push(RhythmEpisode {
                        rhythm: Rhythm::from_aux(text),
                        interval: Interval::new(at(a.sample), duration_s),
                    });
                }
                VF_ON => vf_open = vf_open.or(Some(at(a.sample))),
                VF_OFF => {
                    if let Some(start) = vf_open.take() {
                        vf_marked.push(Interval::new(start, at(a.sample)));
                    }
                }
                _ => {}
            }
        }
        vf_marked.extend(vf_open.map(|start| Interval::new(start, duration_s)));
        beats.sort_by_key(|b| b.sample);
        Reference {
            fs,
            duration_s,
            beats,
            paced,
            rhythms,
            vf_marked,
        }
    }

    /// False for rhythm-only annotation files (vfdb): no beat-by-beat or rate reference.
    pub fn has_beat_labels(&self) -> bool {
        !self.beats.is_empty()
    }

    /// Beat times in seconds.
    pub fn beat_times(&self) -> Vec<f64> {
        self.beats
            .iter()
            .map(|b| b.sample as f64 / self.fs)
            .collect()
    }

    /// Episodes of one rhythm, contiguous ones joined; VF includes the `[` … `]` marks.
    pub fn episodes(&self, rhythm: Rhythm) -> Vec<Interval> {
        let mut out: Vec<Interval> = self
            .rhythms
            .iter()
            .filter(|e| e.rhythm == rhythm)
            .map(|e| e.interval)
            .collect();
        if rhythm == Rhythm::Vf {
            out.extend(&self.vf_marked);
        }
        merge(out)
    }

    /// Runs of at least `min_beats` consecutive V beats at a mean rate of at least
    /// `min_bpm`, from the first to the last beat of the run (the VT definition of IEC
    /// 60601-2-27: ≥ 3 ventricular beats at ≥ 100 bpm).
    pub fn ventricular_runs(&self, min_beats: usize, min_bpm: f64) -> Vec<Interval> {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < self.beats.len() {
            let mut j = i;
            while j < self.beats.len() && self.beats[j].class == AamiClass::V {
                j += 1;
            }
            if j - i >= min_beats.max(2) {
                let start = self.beats[i].sample as f64 / self.fs;
                let end = self.beats[j - 1].sample as f64 / self.fs;
                let bpm = 60.0 * (j - i - 1) as f64 / (end - start);
                if bpm >= min_bpm {
                    runs.push(Interval::new(start, end));
                }
            }
            i = j.max(i + 1);
        }
        runs
    }

    /// Ventricular tachycardia: `(VT` episodes and runs of ≥ 3 V beats at ≥ 100 bpm.
    pub fn vt_episodes(&self) -> Vec<Interval> {
        let mut all = self.episodes(Rhythm::Vt);
        all.extend(self.ventricular_runs(3, 100.0));
        merge(all)
    }

    /// Reference heart rate at each labelled beat from the `rr_count` RR intervals ending
    /// there (mean), as (time s, bpm); intervals that span a VF episode are not rates.
    pub fn heart_rate(&self, rr_count: usize) -> Vec<(f64, f64)> {
        let times = self.beat_times();
        let vf = self.episodes(Rhythm::Vf);
        let mut out = Vec::new();
        for k in rr_count..times.len() {
            let (from, to) = (times[k - rr_count], times[k]);
            if vf.iter().any(|v| v.start < to && v.end > from) {
                continue;
            }
            out.push((to, 60.0 * rr_count as f64 / (to - from)));
        }
        out
    }

    /// Gaps between consecutive labelled beats at least `min_s` long (pauses), outside
    /// VF episodes (where beats are not labelled).
    pub fn gaps(&self, min_s: f64) -> Vec<Interval> {
        let vf = self.episodes(Rhythm::Vf);
        self.beat_times()
            .windows(2)
            .map(|w| Interval::new(w[0], w[1]))
            .filter(|g| g.len() >= min_s && !vf.iter().any(|v| v.overlap(g) > 0.0))
            .collect()
    }
}

/// Positions of the labelled beats (code 37 `x`, a blocked APC with no QRS, and every
/// non-beat annotation left out), for scoring detection alone.
pub fn beat_samples(annotations: &[Annotation]) -> Vec<u64> {
    annotations
        .iter()
        .filter(|a| AamiClass::from_code(a.code).is_some())
        .map(|a| a.sample)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(sample: u64, code: u8, aux: Option<&str>) -> Annotation {
        Annotation {
            sample,
            code,
            aux: aux.map(str::to_string),
        }
    }

    #[test]
    fn rhythm_episodes_run_to_the_next_change_or_the_end() {
        let anns = [
            ann(0, RHYTHM, Some("(N")),
            ann(100, RHYTHM, Some("(VFL")),
            ann(150, RHYTHM, Some("(VF\0")),
            ann(200, RHYTHM, Some("(N")),
            ann(300, RHYTHM, Some("(AFIB")),
        ];
        let r = Reference::from_annotations(10.0, 500, &anns);
        assert_eq!(r.episodes(Rhythm::Vf), vec![Interval::new(10.0, 20.0)]);
        assert_eq!(r.episodes(Rhythm::Af), vec![Interval::new(30.0, 50.0)]);
        assert!(!r.has_beat_labels());
    }

    #[test]
    fn vf_markers_make_an_episode_and_an_open_one_runs_to_the_end() {
        let anns = [
            ann(10, 1, None),
            ann(20, VF_ON, None),
            ann(30, VF_OFF, None),
            ann(40, VF_ON, None),
        ];
        let r = Reference::from_annotations(10.0, 100, &anns);
        assert_eq!(
            r.episodes(Rhythm::Vf),
            vec![Interval::new(2.0, 3.0), Interval::new(4.0, 10.0)]
        );
    }

    #[test]
    fn ventricular_runs_need_three_beats_at_the_rate() {
        // N V V V N at 0.5 s spacing (120 bpm), then V V (a couplet), then V V V slow.
        let codes = [1, 5, 5, 5, 1, 5, 5, 1];
        let mut anns: Vec<Annotation> = codes
            .iter()
            .enumerate()
            .map(|(i, &c)| ann(i as u64 * 50, c, None))
            .collect();
        for k in 0..3 {
            anns.push(ann(1000 + k * 200, 5, None)); // 2 s apart: 30 bpm
        }
        let r = Reference::from_annotations(100.0, 2000, &anns);
        assert_eq!(r.ventricular_runs(3, 100.0), vec![Interval::new(0.5, 1.5)]);
        assert_eq!(r.ventricular_runs(3, 0.0).len(), 2);
        assert!(!r.paced);
    }

    #[test]
    fn heart_rate_and_gaps_from_labelled_beats() {
        let anns: Vec<Annotation> = [0u64, 100, 200, 300, 800, 900]
            .iter()
            .map(|&s| ann(s, 12, None))
            .collect();
        let r = Reference::from_annotations(100.0, 1000, &anns);
        assert!(r.paced);
        let hr = r.heart_rate(2);
        assert_eq!(hr[0], (2.0, 60.0));
        assert_eq!(r.gaps(3.0), vec![Interval::new(3.0, 8.0)]);
    }
}
