//! Lists false positives and false negatives per MIT-BIH record with the annotations around
//! them, for tuning: `cargo run -p cw-detect --release --example diagnose -- 108 203`.
//! `LEAD=0` runs on that lead alone; `DUMP=dir` writes the detections to `dir/det_NNN.txt`.

#[path = "../tests/common/scoring.rs"]
mod scoring;

use std::path::Path;

use cw_wfdb::{Record, is_beat, read_annotations};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    let names: Vec<String> = std::env::args().skip(1).collect();
    let mut gross = scoring::Score::default();
    for name in names {
        let path = dir.join(&name);
        let rec = Record::open(&path).expect("record opens");
        let ann = read_annotations(path.with_extension("atr")).expect("annotations");
        let fs = rec.fs;
        let mut uv = rec.microvolts_interleaved();
        let mut leads = rec.signal_count();
        if let Some(lead) = std::env::var("LEAD")
            .ok()
            .and_then(|l| l.parse::<usize>().ok())
        {
            uv = uv.iter().skip(lead).step_by(leads).copied().collect();
            leads = 1;
        }
        let det = cw_detect::detect_all(fs, leads, &uv);
        let reference = scoring::reference_beats(&ann);
        if let Ok(dir) = std::env::var("DUMP") {
            let text: String = det.iter().map(|d| format!("{d}\n")).collect();
            std::fs::write(format!("{dir}/det_{name}.txt"), text).expect("dump");
        }
        let s = scoring::score(fs, &reference, &det);
        println!(
            "== {name}: TP {} FN {} FP {} Se {:.3} +P {:.3}",
            s.tp,
            s.fn_,
            s.fp,
            s.se(),
            s.ppv()
        );
        gross.add(s);
        let window = (0.15 * fs) as u64;
        let start = (300.0 * fs) as u64;
        let code = |c: u8| -> char {
            b"?NLRaVFJASEjQ/Q??????:????B????!!!?e??x?f?r"
                .get(c as usize)
                .map_or('?', |&b| b as char)
        };
        for &d in &det {
            if d < start {
                continue;
            }
            if !reference.iter().any(|&r| r.abs_diff(d) <= window) {
                let prev = ann.iter().rev().find(|a| a.sample <= d && is_beat(a.code));
                let next = ann.iter().find(|a| a.sample > d && is_beat(a.code));
                let rhythm = ann
                    .iter()
                    .rev()
                    .find(|a| a.sample <= d && a.aux.is_some())
                    .and_then(|a| a.aux.clone())
                    .unwrap_or_default();
                println!(
                    "FP {:8} t={:8.2}s prev {} {:+.3}s next {} {:+.3}s {}",
                    d,
                    d as f64 / fs,
                    prev.map_or('-', |a| code(a.code)),
                    prev.map_or(0.0, |a| (a.sample as f64 - d as f64) / fs),
                    next.map_or('-', |a| code(a.code)),
                    next.map_or(0.0, |a| (a.sample as f64 - d as f64) / fs),
                    rhythm.trim_end_matches('\0'),
                );
            }
        }
        for a in ann.iter().filter(|a| is_beat(a.code) && a.sample >= start) {
            if !det.iter().any(|&d| d.abs_diff(a.sample) <= window) {
                let prev = det.iter().rev().find(|&&d| d < a.sample);
                println!(
                    "FN {:8} t={:8.2}s code {} last det {:+.3}s",
                    a.sample,
                    a.sample as f64 / fs,
                    code(a.code),
                    prev.map_or(0.0, |&p| (p as f64 - a.sample as f64) / fs)
                );
            }
        }
    }
    println!("gross: Se {:.3} +P {:.3}", gross.se(), gross.ppv());
}
