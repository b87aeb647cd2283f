//! Beat-class scoring through `cw-ec57` (the project's one scorer): the classifier's beats
//! as EC57 test beats, the record's reference (optionally at another sampling rate), and a
//! per-record and gross VEB/SVEB table.

use cw_detect::{BeatClass, ClassifiedBeat};
use cw_ec57::{AamiClass, BeatMatrix, Counts, Reference, TestBeat};
use cw_wfdb::Annotation;

pub fn aami(class: BeatClass) -> AamiClass {
    match class {
        BeatClass::N => AamiClass::N,
        BeatClass::S => AamiClass::S,
        BeatClass::V => AamiClass::V,
        BeatClass::F => AamiClass::F,
        BeatClass::Q => AamiClass::Q,
    }
}

/// The reference of a record recorded at `fs_in`, its beat positions moved to `fs`.
pub fn reference(fs_in: f64, fs: f64, annotations: &[Annotation], frames: usize) -> Reference {
    let moved: Vec<Annotation> = annotations
        .iter()
        .map(|a| Annotation {
            sample: crate::resample::rescale_index(a.sample, fs_in, fs),
            ..a.clone()
        })
        .collect();
    let samples = crate::resample::rescale_index(frames as u64, fs_in, fs);
    Reference::from_annotations(fs, samples, &moved)
}

/// EC57's confusion matrix of a record's classified beats.
pub fn matrix(reference: &Reference, classified: &[ClassifiedBeat]) -> BeatMatrix {
    let test: Vec<TestBeat> = classified
        .iter()
        .map(|b| TestBeat {
            sample: b.sample,
            class: Some(aami(b.class)),
        })
        .collect();
    let vf = reference.episodes(cw_ec57::Rhythm::Vf);
    BeatMatrix::compare(reference.fs, &reference.beats, &test, &vf)
}

/// Per-record and gross VEB/SVEB table; the gross leaves out paced records (EC57).
pub struct Table {
    pub text: String,
    pub gross: BeatMatrix,
}

impl Table {
    pub fn new(title: &str) -> Self {
        Table {
            text: format!(
                "\n{title}\nrecord  VEB TP   FN   FP     Se     +P    FPR | SVEB TP   FN   FP     Se     +P\n"
            ),
            gross: BeatMatrix {
                classified: true,
                ..BeatMatrix::default()
            },
        }
    }

    /// Add a record's row; paced records are marked `*` and kept out of the gross.
    pub fn add(&mut self, name: &str, m: &BeatMatrix, paced: bool) {
        let mark = if paced { '*' } else { ' ' };
        self.row(&format!("{name:5}{mark}"), m);
        if !paced {
            self.gross.add(m);
        }
    }

    fn row(&mut self, label: &str, m: &BeatMatrix) {
        use std::fmt::Write as _;
        let (v, s): (Counts, Counts) = (m.veb(), m.sveb());
        let _ = writeln!(
            self.text,
            "{label:6} {:6} {:4} {:4} {:6.2} {:6.2} {:6.3} | {:7} {:4} {:4} {:6.2} {:6.2}",
            v.tp,
            v.fn_,
            v.fp,
            v.se(),
            v.ppv(),
            m.veb_fpr(),
            s.tp,
            s.fn_,
            s.fp,
            s.se(),
            s.ppv()
        );
    }

    /// The finished table, gross row appended.
    pub fn finish(mut self) -> Self {
        let gross = self.gross;
        self.row("gross", &gross);
        self
    }
}

/// Classify record `name` at `fs_out` (None: as recorded) and score it: its matrix and
/// whether it is paced.
pub fn score_record(name: &str, fs_out: Option<f64>) -> (BeatMatrix, bool) {
    let r = crate::mitdb::load(name);
    let fs = fs_out.unwrap_or(r.fs);
    let reference = reference(r.fs, fs, &r.annotations, r.frames());
    let classified = match fs_out {
        Some(fs) => {
            let uv = crate::resample::resample(&r.uv, r.leads, r.fs, fs);
            cw_detect::classify_all(fs, r.leads, &uv)
        }
        None => cw_detect::classify_all(r.fs, r.leads, &r.uv),
    };
    (matrix(&reference, &classified), reference.paced)
}
