//! Beat-detection accuracy on the MIT-BIH records in /work/shared/data/mitdb, scored the
//! EC57 way (`cw-ec57`, the project's one scorer), at the native 360 Hz, resampled to 125/250/500 Hz, and
//! with added baseline wander, mains hum and muscle noise. Prints per-record tables and
//! asserts floors the detector holds (with a small margin, so a regression fails loudly).

mod common;

use std::path::{Path, PathBuf};

use common::noise::{self, Disturbance};
use common::resample::{resample, rescale_index};
use cw_ec57::{Counts as Score, SCORE_FROM_S, beat_samples, qrs_counts as score};
use cw_wfdb::{Record, read_annotations};

struct Loaded {
    name: String,
    fs: f64,
    leads: usize,
    uv: Vec<i16>,
    reference: Vec<u64>,
}

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    assert!(
        dir.is_dir(),
        "MIT-BIH data missing at {} (the accuracy test never skips)",
        dir.display()
    );
    dir
}

/// All records in the data folder, or only `names` when given.
fn load(names: &[&str]) -> Vec<Loaded> {
    let dir = data_dir();
    let mut records: Vec<String> = std::fs::read_dir(&dir)
        .expect("data folder readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "hea").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .filter(|n| names.is_empty() || names.contains(&n.as_str()))
        .collect();
    records.sort();
    assert!(!records.is_empty(), "no records in {}", dir.display());
    records
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let rec = Record::open(&path).expect("record opens");
            let ann = read_annotations(path.with_extension("atr")).expect("annotations read");
            Loaded {
                fs: rec.fs,
                leads: rec.signal_count(),
                uv: rec.microvolts_interleaved(),
                reference: beat_samples(&ann),
                name,
            }
        })
        .collect()
}

/// Detect and score every record after `transform`, print the table, return per-record
/// scores and the gross total.
fn run(
    title: &str,
    records: &[Loaded],
    transform: impl Fn(&Loaded) -> Input,
) -> (Vec<(String, Score)>, Score) {
    use std::fmt::Write as _;
    // One print per table, so tables from tests running in parallel do not interleave.
    let mut table = format!("\n{title}\nrecord     TP    FN    FP       Se       +P\n");
    let mut gross = Score::default();
    let mut rows = Vec::new();
    for r in records {
        let Input {
            fs,
            leads,
            uv,
            reference,
        } = transform(r);
        let detected = cw_detect::detect_all(fs, leads, &uv);
        let s = score(fs, &reference, &detected);
        let _ = writeln!(
            table,
            "{:6} {:6} {:5} {:5} {:8.3} {:8.3}",
            r.name,
            s.tp,
            s.fn_,
            s.fp,
            s.se(),
            s.ppv()
        );
        gross.add(s);
        rows.push((r.name.clone(), s));
    }
    let _ = writeln!(
        table,
        "gross  {:6} {:5} {:5} {:8.3} {:8.3}",
        gross.tp,
        gross.fn_,
        gross.fp,
        gross.se(),
        gross.ppv()
    );
    println!("{table}");
    (rows, gross)
}

/// What the detector is run on: a record as it is, or transformed.
struct Input {
    fs: f64,
    leads: usize,
    uv: Vec<i16>,
    reference: Vec<u64>,
}

fn native(r: &Loaded) -> Input {
    Input {
        fs: r.fs,
        leads: r.leads,
        uv: r.uv.clone(),
        reference: r.reference.clone(),
    }
}

/// Only lead `lead` of the record, as a one-lead gateway would send it.
fn one_lead(r: &Loaded, lead: usize) -> Input {
    Input {
        leads: 1,
        uv: r.uv.iter().skip(lead).step_by(r.leads).copied().collect(),
        ..native(r)
    }
}

fn assert_gross(what: &str, gross: Score, se_floor: f64, ppv_floor: f64) {
    assert!(
        gross.se() >= se_floor && gross.ppv() >= ppv_floor,
        "{what}: gross Se {:.3} / +P {:.3} below floor {se_floor} / {ppv_floor}",
        gross.se(),
        gross.ppv()
    );
}

#[test]
fn mitdb_at_native_rate() {
    let records = load(&[]);
    let (rows, gross) = run("MIT-BIH, 360 Hz, all leads", &records, native);
    let hundred = rows
        .iter()
        .find(|(n, _)| n == "100")
        .map(|(_, s)| *s)
        .expect("record 100 present");
    assert_eq!(
        (hundred.fn_, hundred.fp),
        (0, 0),
        "record 100 must be 100 %/100 %"
    );
    assert!(hundred.tp > 1800);
    for (name, s) in &rows {
        assert!(
            s.se() >= 99.0 && s.ppv() >= 99.0,
            "record {name}: Se {:.3} +P {:.3}",
            s.se(),
            s.ppv()
        );
    }
    // The target. Reached: Se 99.913 %, +P 99.886 % (worst records: 201 Se
    // 99.211 %, 108 +P 99.129 %).
    assert_gross("native", gross, 99.8, 99.8);
}

/// Sampling rates the gateways send; the recording is resampled from 360 Hz.
#[test]
fn mitdb_resampled() {
    let records = load(&[]);
    for fs_out in [125.0, 250.0, 500.0, 1000.0] {
        let (_, gross) = run(
            &format!("MIT-BIH resampled to {fs_out} Hz"),
            &records,
            |r| {
                let uv = resample(&r.uv, r.leads, r.fs, fs_out);
                let reference = r
                    .reference
                    .iter()
                    .map(|&i| rescale_index(i, r.fs, fs_out))
                    .collect();
                Input {
                    fs: fs_out,
                    leads: r.leads,
                    uv,
                    reference,
                }
            },
        );
        // Reached: 125 Hz 99.919/99.894, 250 Hz 99.915/99.886, 500 Hz 99.910/99.877,
        // 1000 Hz 99.910/99.879.
        assert_gross(&format!("{fs_out} Hz"), gross, 99.85, 99.8);
    }
}

/// Synthetic disturbances on top of the (already real-world) recordings.
#[test]
fn mitdb_with_added_noise() {
    let records = load(&[]);
    // Floors (Se, +P) per case. Reached: wander 99.906/99.875, 50 Hz 99.904/99.877,
    // 60 Hz 99.908/99.883, muscle 99.813/99.800.
    let wander = Disturbance::Wander {
        hz: 0.3,
        amplitude_uv: 1000.0,
    };
    let hum50 = Disturbance::Mains {
        hz: 50.0,
        amplitude_uv: 200.0,
    };
    let hum60 = Disturbance::Mains {
        hz: 60.0,
        amplitude_uv: 200.0,
    };
    let muscle = Disturbance::Muscle {
        rms_uv: 100.0,
        seed: 0x5eed,
    };
    let cases = [
        ("baseline wander 0.3 Hz, 1 mV", wander, 99.85, 99.8),
        ("mains hum 50 Hz, 0.2 mV", hum50, 99.85, 99.8),
        ("mains hum 60 Hz, 0.2 mV", hum60, 99.85, 99.8),
        ("muscle noise 0.1 mV RMS", muscle, 99.77, 99.76),
    ];
    for (title, what, se_floor, ppv_floor) in cases {
        let (_, gross) = run(&format!("MIT-BIH + {title}"), &records, |r| Input {
            uv: noise::add(&r.uv, r.leads, r.fs, what),
            ..native(r)
        });
        assert_gross(title, gross, se_floor, ppv_floor);
    }
}

/// One-lead gateways: each lead alone. The upper lead is MLII on most records; the lower
/// one is V1, V2, V4 or V5, where some records' QRS complexes are barely 50 µV (101, 102) or
/// smaller than their T waves and noise (203, 208): one such lead alone is not enough, which
/// is why every lead a gateway sends is used.
#[test]
fn mitdb_one_lead() {
    let records = load(&[]);
    // Reached: upper lead 99.806/99.777, lower lead 94.619/97.174.
    for (lead, se_floor, ppv_floor) in [(0, 99.75, 99.7), (1, 94.0, 96.5)] {
        let (_, gross) = run(
            &format!("MIT-BIH, 360 Hz, lead {lead} only"),
            &records,
            |r| one_lead(r, lead),
        );
        assert_gross(&format!("lead {lead} only"), gross, se_floor, ppv_floor);
    }
}

/// Gateways and patients differ in amplitude: the same records at a fifth and at four
/// times their size (clipped to the i16 range).
#[test]
fn mitdb_at_other_amplitudes() {
    let records = load(&[]);
    // Reached: ×0.2 99.896/99.888, ×4 99.917/99.881.
    for gain in [0.2, 4.0] {
        let (_, gross) = run(&format!("MIT-BIH, 360 Hz, × {gain}"), &records, |r| {
            Input {
                uv: r
                    .uv
                    .iter()
                    .map(|&x| (f64::from(x) * gain).round().clamp(-32768.0, 32767.0) as i16)
                    .collect(),
                ..native(r)
            }
        });
        assert_gross(&format!("× {gain}"), gross, 99.85, 99.8);
    }
}

/// Muscle noise of rising RMS: detection accuracy beside the fraction of one-second windows
/// the signal-quality gate calls analysable (physiological rules run only on those), and the
/// accuracy over the analysable windows alone. Pins the gate's calibration: where detection
/// holds, most windows are analysable; where it fails, almost none are.
#[test]
fn muscle_noise_levels_detection_against_the_quality_gate() {
    use std::fmt::Write as _;
    let records = load(&[]);
    let mut summary = String::from(
        "\nmuscle RMS µV  gross Se    +P   analysable %  Se    +P (analysable windows)\n",
    );
    let mut rows = Vec::new();
    for rms_uv in [100.0, 150.0, 200.0, 300.0, 500.0] {
        let what = Disturbance::Muscle {
            rms_uv,
            seed: 0x5eed,
        };
        let (mut gross, mut gated) = (Score::default(), Score::default());
        let (mut good, mut total) = (0u64, 0u64);
        for r in &records {
            let uv = noise::add(&r.uv, r.leads, r.fs, what);
            let detected = cw_detect::detect_all(r.fs, r.leads, &uv);
            gross.add(score(r.fs, &r.reference, &detected));
            let mut q = cw_detect::SignalQuality::new(r.fs, r.leads);
            let analysable: Vec<bool> = uv
                .chunks_exact(r.leads)
                .filter_map(|frame| q.push(frame))
                .map(|w| w.analysable())
                .collect();
            // Counted over the scored part only (from minute 5), like the beats.
            let from = SCORE_FROM_S as usize;
            total += analysable.len().saturating_sub(from) as u64;
            good += analysable.iter().skip(from).filter(|a| **a).count() as u64;
            let window = r.fs.round() as u64;
            let kept = |beats: &[u64]| -> Vec<u64> {
                beats
                    .iter()
                    .copied()
                    .filter(|&b| analysable.get((b / window) as usize) == Some(&true))
                    .collect()
            };
            gated.add(score(r.fs, &kept(&r.reference), &kept(&detected)));
        }
        let pct = 100.0 * good as f64 / total.max(1) as f64;
        let _ = writeln!(
            summary,
            "{rms_uv:12} {:8.3} {:8.3} {pct:8.1} {:10.3} {:8.3}",
            gross.se(),
            gross.ppv(),
            gated.se(),
            gated.ppv()
        );
        rows.push((rms_uv, gross, pct, gated));
    }
    println!("{summary}");
    for (rms_uv, gross, pct, gated) in rows {
        if rms_uv <= 150.0 {
            // Detection holds (≥ 99.4 % gross): the gate lets much of it through (reached:
            // 82.5 % at 0.1 mV, 49.9 % at 0.15 mV; the old turning-point gate: 0 %).
            let floor = if rms_uv <= 100.0 { 80.0 } else { 45.0 };
            assert!(pct >= floor, "{rms_uv} µV: only {pct:.1} % analysable");
            assert_gross(&format!("{rms_uv} µV, gross"), gross, 99.4, 99.5);
        }
        if rms_uv <= 200.0 {
            // What the gate lets through is detected at ≥ 99.5 % (reached: 0.1 mV
            // 99.84/99.82, 0.15 mV 99.73/99.80, 0.2 mV 99.64/99.72).
            assert_gross(&format!("{rms_uv} µV, analysable"), gated, 99.5, 99.7);
        }
        if rms_uv >= 300.0 {
            // Detection fails (Se 95 % at 0.3 mV, 67 % at 0.5 mV): the gate holds the
            // physiological rules in almost every second (reached: 4.4 %, 0 %).
            assert!(gross.se() < 97.0, "{rms_uv} µV: Se {:.3}", gross.se());
            let ceiling = if rms_uv <= 300.0 { 6.0 } else { 0.5 };
            assert!(pct <= ceiling, "{rms_uv} µV: {pct:.1} % analysable");
        }
    }
}
