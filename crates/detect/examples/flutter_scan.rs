//! Where the flutter flag comes up on MIT-BIH records, read as the alert engine reads it
//! (once per one-second quality window, only where a lead is analysable), for tuning:
//! `cargo run -p cw-detect --release --example flutter_scan -- 207 208`; no names: every
//! record. `RATE=250` resamples first, `NOISE=150` adds that much muscle noise (µV RMS), `WANDER=1000`
//! that much 0.3 Hz baseline wander (µV).
//! Prints per record the flagged share of the annotated ventricular flutter ("(VFL") time
//! and every flagged second outside it with the rhythm annotated there; a run of three or
//! more flagged seconds is what a VF rule with `for_s` = 2 turns into an alarm. `FROM=40
//! TO=70` also prints each second of that span.

#[path = "../tests/common/noise.rs"]
#[allow(dead_code)]
mod noise;
#[path = "../tests/common/resample.rs"]
#[allow(dead_code)]
mod resample;

use std::path::Path;

use cw_detect::{QrsDetector, SignalQuality};
use cw_wfdb::{Annotation, Record, read_annotations};

/// Rhythm (aux text of a rhythm annotation) in force at `t` seconds.
fn rhythm_at(ann: &[Annotation], fs: f64, t: f64) -> String {
    ann.iter()
        .rfind(|a| a.code == 28 && a.aux.is_some() && a.sample as f64 / fs <= t)
        .and_then(|a| a.aux.clone())
        .unwrap_or_default()
        .trim_end_matches('\0')
        .to_owned()
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = std::fs::read_dir(&dir)
            .expect("data dir")
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "hea").then(|| p.file_stem()?.to_str().map(str::to_owned))?
            })
            .collect();
        names.sort();
    }
    let env_f64 = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    let rate = env_f64("RATE");
    let noise_uv = env_f64("NOISE");
    // `FROM=40 TO=70`: every second in that span, with the detector's two conditions.
    let verbose = env_f64("FROM").zip(env_f64("TO"));
    let (mut alarms_out, mut vfl_up, mut vfl_all) = (0, 0, 0);
    for name in names {
        let path = dir.join(&name);
        let rec = Record::open(&path).expect("record opens");
        let ann = read_annotations(path.with_extension("atr")).expect("annotations");
        let leads = rec.signal_count();
        let mut uv = rec.microvolts_interleaved();
        let mut fs = rec.fs;
        if let Some(r) = rate {
            uv = resample::resample(&uv, leads, fs, r);
            fs = r;
        }
        if let Some(amplitude_uv) = env_f64("WANDER") {
            let what = noise::Disturbance::Wander {
                hz: 0.3,
                amplitude_uv,
            };
            uv = noise::add(&uv, leads, fs, what);
        }
        if let Some(rms_uv) = noise_uv {
            let what = noise::Disturbance::Muscle { rms_uv, seed: 7 };
            uv = noise::add(&uv, leads, fs, what);
        }
        let mut d = QrsDetector::new(fs, leads);
        let mut q = SignalQuality::new(fs, leads);
        // (end time s, flag at the window's end, analysable)
        let mut seconds = Vec::new();
        for frame in uv.chunks_exact(leads) {
            d.push(frame);
            if let Some(w) = q.push(frame) {
                let t = (w.end_sample + 1) as f64 / fs;
                if verbose.is_some_and(|(a, b)| (a..b).contains(&t)) {
                    println!(
                        "{t:.0} {} activity {} flutter {} analysable {}",
                        rhythm_at(&ann, rec.fs, t - 0.5),
                        d.continuous_activity(),
                        d.flutter(),
                        w.analysable()
                    );
                }
                seconds.push((t, d.flutter(), w.analysable()));
            }
        }
        let (mut up_in, mut all_in, mut outside, mut run, mut alarms) = (0, 0, Vec::new(), 0, 0);
        for &(t, flag, ok) in &seconds {
            let here = rhythm_at(&ann, rec.fs, t - 0.5);
            let in_vfl = here == "(VFL";
            // Grace: the flag may trail the end of an episode by a few seconds.
            let near_vfl = in_vfl || rhythm_at(&ann, rec.fs, t - 5.0) == "(VFL";
            if in_vfl {
                all_in += 1;
                up_in += usize::from(flag);
            }
            let up = flag && ok;
            run = if up { run + 1 } else { 0 };
            if up && !near_vfl {
                outside.push(format!("{t:.0}{here}"));
                if run == 3 {
                    alarms += 1;
                }
            }
        }
        alarms_out += alarms;
        vfl_up += up_in;
        vfl_all += all_in;
        println!(
            "{name}: VFL flagged {up_in}/{all_in} s; outside: {} s, {alarms} alarm-like runs {outside:?}",
            outside.len()
        );
    }
    println!("total: VFL flagged {vfl_up}/{vfl_all} s, {alarms_out} alarm-like runs outside");
}
