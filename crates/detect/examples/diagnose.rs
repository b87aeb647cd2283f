//! Lists false positives and false negatives per MIT-BIH record with the annotations around
//! them, for tuning: `cargo run -p cw-detect --release --example diagnose -- 108 203`.
//! `LEAD=0` runs on that lead alone; `DUMP=dir` writes the detections to `dir/det_NNN.txt`.

use std::path::Path;

use cw_wfdb::{Record, is_beat, read_annotations};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    let names: Vec<String> = std::env::args().skip(1).collect();
    let mut gross = cw_ec57::Counts::default();
    let mut all_offsets: Vec<f64> = Vec::new();
    let mut jitters: Vec<f64> = Vec::new();
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
        let reference = cw_ec57::beat_samples(&ann);
        if let Ok(dir) = std::env::var("DUMP") {
            let text: String = det.iter().map(|d| format!("{d}\n")).collect();
            std::fs::write(format!("{dir}/det_{name}.txt"), text).expect("dump");
        }
        let s = cw_ec57::qrs_counts(fs, &reference, &det);
        println!(
            "== {name}: TP {} FN {} FP {} Se {:.3} +P {:.3}",
            s.tp,
            s.fn_,
            s.fp,
            s.se(),
            s.ppv()
        );
        gross.add(s);
        let mut offsets: Vec<i64> = det
            .iter()
            .filter_map(|&d| {
                reference
                    .iter()
                    .map(|&r| d as i64 - r as i64)
                    .filter(|o| o.unsigned_abs() <= (0.15 * fs) as u64)
                    .min_by_key(|o| o.unsigned_abs())
            })
            .collect();
        // Beat-to-beat jitter: change of offset between consecutive matched beats, which is
        // the error the detector adds to each RR interval.
        let jitter: Vec<f64> = offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 * 1000.0 / fs)
            .collect();
        let rms = (jitter.iter().map(|j| j * j).sum::<f64>() / jitter.len().max(1) as f64).sqrt();
        println!("rr jitter rms {rms:.1} ms");
        jitters.push(rms);
        offsets.sort_unstable();
        if !offsets.is_empty() {
            let q =
                |p: f64| offsets[((offsets.len() - 1) as f64 * p) as usize] as f64 * 1000.0 / fs;
            all_offsets.extend(offsets.iter().map(|&o| o as f64 * 1000.0 / fs));
            println!(
                "offset ms: q05 {:.0} q50 {:.0} q95 {:.0}",
                q(0.05),
                q(0.5),
                q(0.95)
            );
        }
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
    println!(
        "mean rr jitter rms {:.2} ms",
        jitters.iter().sum::<f64>() / jitters.len().max(1) as f64
    );
    all_offsets.sort_by(f64::total_cmp);
    if !all_offsets.is_empty() {
        let q = |p: f64| all_offsets[((all_offsets.len() - 1) as f64 * p) as usize];
        println!(
            "all offsets ms: q01 {:.0} q05 {:.0} q50 {:.0} q95 {:.0} q99 {:.0}",
            q(0.01),
            q(0.05),
            q(0.5),
            q(0.95),
            q(0.99)
        );
    }
}
