//! Leave-one-record-out check of the beat classifier's tuned levels (`RuleLevels`): for
//! each MIT-BIH record, the levels are chosen from a grid around the defaults on the other
//! records (best gross min(VEB Se, VEB +P) at the worst of 360, 250 and 125 Hz, paced
//! records left out as EC57 does), then the held-out record is scored with them. Prints
//! the held-out tables beside the plain ones (defaults on every record), at each rate:
//! `cargo run -p cw-detect --release --example classify_loo` (a few minutes).
//! `… classify_loo -- 360` judges and prints one rate only (360: as recorded), a third of
//! the work.

#[path = "../tests/common/classes.rs"]
#[allow(dead_code)]
mod classes;
#[path = "../tests/common/mitdb.rs"]
mod mitdb;
#[path = "../tests/common/resample.rs"]
mod resample;

use cw_detect::{Beat, BeatClassifier, QrsDetector, RuleLevels};
use cw_ec57::{BeatMatrix, Reference};

struct Prepared {
    fs: f64,
    leads: usize,
    uv: Vec<i16>,
    /// Beats with the frame at which the detector reported them (the detector does not
    /// depend on the levels, so it runs once).
    beats: Vec<(usize, Beat)>,
    last: Option<Beat>,
    reference: Reference,
}

fn prepare(name: &str, rate: Option<f64>) -> Prepared {
    let r = mitdb::load(name);
    let fs = rate.unwrap_or(r.fs);
    let reference = classes::reference(r.fs, fs, &r.annotations, r.frames());
    let uv = match rate {
        Some(fs) => resample::resample(&r.uv, r.leads, r.fs, fs),
        None => r.uv,
    };
    let mut detector = QrsDetector::new(fs, r.leads);
    let beats = uv
        .chunks_exact(r.leads)
        .enumerate()
        .filter_map(|(i, frame)| detector.push(frame).map(|b| (i, b)))
        .collect();
    Prepared {
        fs,
        leads: r.leads,
        uv,
        beats,
        last: detector.finish(),
        reference,
    }
}

fn classify(p: &Prepared, levels: RuleLevels) -> BeatMatrix {
    let mut c = BeatClassifier::with_levels(p.fs, p.leads, levels);
    let mut out = Vec::new();
    let mut next = p.beats.iter().peekable();
    for (i, frame) in p.uv.chunks_exact(p.leads).enumerate() {
        let beat = next.next_if(|(at, _)| *at == i).map(|(_, b)| *b);
        out.extend(c.push(frame, beat));
    }
    out.extend(c.finish(p.last));
    classes::matrix(&p.reference, &out)
}

fn grid() -> Vec<RuleLevels> {
    let mut all = Vec::new();
    for ventricular_points in [3, 4, 5] {
        for known_ventricular_points in [1, 2, 3] {
            for noisy in [0.03, 0.04] {
                for noisy_extra_points in [1, 2] {
                    for run_points in [1, 2] {
                        all.push(RuleLevels {
                            ventricular_points,
                            known_ventricular_points,
                            noisy,
                            noisy_extra_points,
                            run_points,
                        });
                    }
                }
            }
        }
    }
    all
}

fn objective(m: &BeatMatrix) -> f64 {
    let v = m.veb();
    v.se().min(v.ppv())
}

/// Rates every level set is judged at: as recorded (360 Hz) and resampled, since the
/// product meets 125–1000 Hz and one set of levels must hold at all of them.
const RATES: [Option<f64>; 3] = [None, Some(250.0), Some(125.0)];

/// The rates named on the command line (Hz; 360 is the records' own), or all of `RATES`.
fn rates() -> Vec<Option<f64>> {
    let named: Vec<Option<f64>> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<f64>().ok())
        .map(|hz| (hz != 360.0).then_some(hz))
        .collect();
    if named.is_empty() {
        RATES.to_vec()
    } else {
        named
    }
}

fn main() {
    let rates = rates();
    let names = mitdb::record_names();
    let grid = grid();
    let default = grid
        .iter()
        .position(|l| *l == RuleLevels::default())
        .expect("the defaults are on the grid");
    // scores[rate][g][r]: record r at that rate classified with grid point g.
    let mut scores: Vec<Vec<Vec<BeatMatrix>>> = Vec::new();
    let mut paced = Vec::new();
    for &rate in &rates {
        let records: Vec<Prepared> = names.iter().map(|n| prepare(n, rate)).collect();
        paced = records.iter().map(|p| p.reference.paced).collect();
        scores.push(
            grid.iter()
                .map(|&l| records.iter().map(|p| classify(p, l)).collect())
                .collect(),
        );
    }
    let gross = |k: usize, g: usize, left_out: Option<usize>| {
        let mut m = BeatMatrix {
            classified: true,
            ..BeatMatrix::default()
        };
        for (i, s) in scores[k][g].iter().enumerate() {
            if Some(i) != left_out && !paced[i] {
                m.add(s);
            }
        }
        m
    };
    // The worst rate's min(VEB Se, VEB +P).
    let train = |g: usize, left_out: Option<usize>| {
        (0..rates.len())
            .map(|k| objective(&gross(k, g, left_out)))
            .fold(f64::MAX, f64::min)
    };
    let best_on = |left_out: Option<usize>| {
        (0..grid.len())
            .max_by(|&a, &b| train(a, left_out).total_cmp(&train(b, left_out)))
            .unwrap_or(default)
    };
    let all = best_on(None);
    println!(
        "best on all records: {:?} ({:.2}); the defaults: {:.2}",
        grid[all],
        train(all, None),
        train(default, None)
    );
    let chosen: Vec<usize> = (0..names.len()).map(|r| best_on(Some(r))).collect();
    for (name, &g) in names.iter().zip(&chosen) {
        println!("{name}: levels chosen on the others {:?}", grid[g]);
    }
    for (k, rate) in rates.iter().enumerate() {
        let rate = rate.map_or("360 Hz".to_string(), |r| format!("{r} Hz"));
        let mut plain = classes::Table::new(&format!("plain (defaults), {rate}"));
        let mut held_out = classes::Table::new(&format!(
            "leave-one-record-out (levels chosen on the others), {rate}"
        ));
        for (r, name) in names.iter().enumerate() {
            plain.add(name, &scores[k][default][r], paced[r]);
            held_out.add(name, &scores[k][chosen[r]][r], paced[r]);
        }
        println!("{}", plain.finish().text);
        println!("{}", held_out.finish().text);
    }
}
