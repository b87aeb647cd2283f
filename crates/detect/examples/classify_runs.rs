//! Do ventricular tachycardia episodes come out as runs of V beats? For every record of a
//! WFDB folder (default ../shared/data/vfdb, rhythm annotations only): the reference VT
//! episodes (`(VT`, and on beat-labelled records runs of ≥ 3 V beats at ≥ 100 bpm), how
//! many hold a classified run of ≥ 3 consecutive V beats at ≥ 100 bpm within
//! [onset − 2 s, end + 1 s], the share of V among the beats inside them, and the runs
//! found outside every VT, VF, asystole and noise episode (per hour of that time):
//! `cargo run -p cw-detect --release --example classify_runs [-- DIR]`.

use std::path::{Path, PathBuf};

use cw_detect::{BeatClass, ClassifiedBeat};
use cw_ec57::{Interval, Reference, Rhythm};
use cw_wfdb::{Record, read_annotations};

/// Runs of ≥ 3 consecutive V beats at ≥ 100 bpm (IEC 60601-2-27's VT), in seconds.
fn v_runs(fs: f64, beats: &[ClassifiedBeat]) -> Vec<Interval> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < beats.len() {
        let mut j = i;
        while j < beats.len() && beats[j].class == BeatClass::V {
            j += 1;
        }
        if j - i >= 3 {
            let (start, end) = (beats[i].sample as f64 / fs, beats[j - 1].sample as f64 / fs);
            if 60.0 * (j - i - 1) as f64 / (end - start) >= 100.0 {
                runs.push(Interval::new(start, end));
            }
        }
        i = j.max(i + 1);
    }
    runs
}

fn main() {
    let dir: PathBuf = std::env::args().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/vfdb"),
        PathBuf::from,
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("data folder readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "hea").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    println!("record  VT episodes  with a V run   V share inside   runs outside  per hour");
    let (mut episodes, mut found, mut v_in, mut all_in, mut false_runs, mut outside_s) =
        (0, 0, 0usize, 0usize, 0, 0.0);
    for name in names {
        let path = dir.join(&name);
        let rec = Record::open(&path).expect("record opens");
        let ann = read_annotations(path.with_extension("atr")).expect("annotations read");
        let fs = rec.fs;
        let reference = Reference::from_annotations(fs, rec.len() as u64, &ann);
        let beats = cw_detect::classify_all(fs, rec.signal_count(), &rec.microvolts_interleaved());
        let runs = v_runs(fs, &beats);
        let vt = reference.vt_episodes();
        let with_run = vt
            .iter()
            .filter(|e| {
                let w = e.widened(2.0, 1.0);
                runs.iter()
                    .any(|r| w.contains(r.start) || w.contains(r.end))
            })
            .count();
        let inside: Vec<&ClassifiedBeat> = beats
            .iter()
            .filter(|b| vt.iter().any(|e| e.contains(b.sample as f64 / fs)))
            .collect();
        let v_inside = inside.iter().filter(|b| b.class == BeatClass::V).count();
        let mut excused = vt.clone();
        for r in [Rhythm::Vf, Rhythm::Asystole, Rhythm::Noise] {
            excused.extend(reference.episodes(r));
        }
        let excused: Vec<Interval> = excused.iter().map(|e| e.widened(2.0, 1.0)).collect();
        let outside = runs
            .iter()
            .filter(|r| !excused.iter().any(|e| e.overlap(r) > 0.0))
            .count();
        let excused_s: f64 = cw_ec57::episodes::merge(excused.clone())
            .iter()
            .map(|e| e.overlap(&Interval::new(0.0, reference.duration_s)))
            .sum();
        let free_s = (reference.duration_s - excused_s).max(0.0);
        println!(
            "{name:6} {:12} {:13} {:9}/{:<6} {:14} {:9.2}",
            vt.len(),
            with_run,
            v_inside,
            inside.len(),
            outside,
            outside as f64 / (free_s / 3600.0).max(1e-9)
        );
        episodes += vt.len();
        found += with_run;
        v_in += v_inside;
        all_in += inside.len();
        false_runs += outside;
        outside_s += free_s;
    }
    println!(
        "total  {episodes:12} {found:13} {v_in:9}/{all_in:<6} {false_runs:14} {:9.2}",
        false_runs as f64 / (outside_s / 3600.0).max(1e-9)
    );
}
