//! What the signal's own rhythm looks like while the QRS detector flags flutter, per
//! annotated rhythm, for choosing how VT is told from VF/VFL in flutter
//! (docs/clinical-performance.md, "VT or VF when the detector flags flutter"):
//! `cargo run -p cw-analysis --release --example flutter_rhythm -- DIR [RECORD…]`.
//! For every one-second quality window over analysable signal in which the detector flags
//! flutter, the dominant cycle (searched down to `MIN_FLUTTER_LAG`) and its regularity on
//! the most regular lead, as `fast_activity` takes them; printed per record and annotated
//! rhythm (VT, VF = VF/VFL/VFIB and `[`…`]`, other) as a count of windows with a cycle
//! shorter than the VT range (flutter) and, for the rest, how many reach each regularity
//! level. `SECONDS=1` also prints every flagged window.

#[path = "common/records.rs"]
mod records;

use cw_analysis::fast_activity::{FastVentricularActivity, MIN_FLUTTER_LAG, MIN_VT_LAG};
use cw_detect::{QrsDetector, SignalQuality};
use cw_ec57::Rhythm;

const LEVELS: [f32; 6] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

fn main() {
    let (dir, names) = records::from_args("vfdb");
    let every = std::env::var("SECONDS").is_ok();
    println!("record  rhythm  flagged  short-cycle  VT-range regular at {LEVELS:?}");
    for name in names {
        let record = records::open(&dir, &name);
        let (fs, leads, uv) = (record.fs, record.leads, &record.uv);
        let vt = record.reference.episodes(Rhythm::Vt);
        let vf = record.reference.episodes(Rhythm::Vf);
        let mut detector = QrsDetector::new(fs, leads);
        let mut quality = SignalQuality::new(fs, leads);
        let mut fast = FastVentricularActivity::new(fs, leads);
        // Per rhythm: flagged windows, short-cycle ones, VT-range ones regular at each level.
        let mut tally = [(0u32, 0u32, [0u32; LEVELS.len()]); 3];
        for frame in uv.chunks_exact(leads) {
            fast.on_frame(frame);
            if let Some(beat) = detector.push(frame) {
                fast.on_beat(beat.sample);
            }
            let Some(window) = quality.push(frame) else {
                continue;
            };
            if !window.analysable() || !detector.flutter() {
                continue;
            }
            let Some((lag, regularity)) = fast.rhythm(MIN_FLUTTER_LAG) else {
                continue;
            };
            let t = window.end_sample as f64 / fs - 0.5;
            let row = if vt.iter().any(|i| i.contains(t)) {
                0
            } else if vf.iter().any(|i| i.contains(t)) {
                1
            } else {
                2
            };
            let bpm = 60.0 * fast.rate_hz() / lag as f64;
            if every {
                println!(
                    "{name} {t:7.1} {} {bpm:4.0} bpm regularity {regularity:.2}",
                    ["VT", "VF", "other"][row]
                );
            }
            let entry = &mut tally[row];
            entry.0 += 1;
            if lag < MIN_VT_LAG {
                entry.1 += 1;
                continue;
            }
            for (k, level) in LEVELS.iter().enumerate() {
                entry.2[k] += u32::from(regularity >= *level);
            }
        }
        for (row, (flagged, short, regular)) in tally.iter().enumerate() {
            if *flagged > 0 {
                let label = ["VT", "VF", "other"][row];
                println!("{name:6}  {label:6}  {flagged:7}  {short:11}  {regular:?}");
            }
        }
    }
}
