//! `cardiowatch ec57` on the shared annotated records (`../shared/data` beside the repo;
//! the test fails when they are missing): prints the EC57 tables and asserts floors a
//! little below the figures measured when they were set (docs/clinical-performance.md).
//! Raise a floor when the analysis improves; a regression fails here.

use std::path::{Path, PathBuf};

use cardiowatch::ec57::{NoiseRecord, NoiseStress, evaluate_dir, evaluate_record};
use cw_analysis::measurement_policy;
use cw_core::PatientId;
use cw_ec57::{Gross, RecordResult, render};

fn data(db: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(db);
    assert!(dir.is_dir(), "shared records missing at {}", dir.display());
    dir
}

fn scored(db: &str) -> (Vec<RecordResult>, Gross) {
    let policy = measurement_policy(PatientId::parse("ec57").expect("valid id"));
    let results = evaluate_dir(&data(db), &policy, None).expect("records score");
    // One print per table, so tables of tests running in parallel do not interleave.
    println!("\n== {db} ==\n{}", render(&results));
    let gross = Gross::of(&results);
    (results, gross)
}

fn at_least(what: &str, value: Option<f64>, floor: f64) {
    let v = value.unwrap_or_else(|| panic!("{what}: nothing to score"));
    assert!(v >= floor, "{what}: {v:.2} below the floor {floor}");
}

#[test]
fn mitdb_beats_af_vf_and_false_alarms() {
    let (results, gross) = scored("mitdb");
    assert_eq!(results.len(), 25);
    let qrs = gross.qrs.expect("mitdb labels beats").qrs();
    // Measured: 99.91 / 99.90.
    assert!(qrs.se() >= 99.85 && qrs.ppv() >= 99.85, "QRS {qrs:?}");
    // The classifier's VEB and SVEB over the non-paced records (measured: VEB 95.24 /
    // 95.15, FPR 0.38 %; SVEB 73.56 / 76.29; VEB 92.78 / 95.03 before runs alternating two
    // ventricular shapes were followed), the same figures as cw-detect's own test.
    let ectopic = gross.ectopic.expect("labelled");
    let (veb, sveb) = (ectopic.veb(), ectopic.sveb());
    assert!(veb.se() >= 94.5 && veb.ppv() >= 94.5, "VEB {veb:?}");
    assert!(sveb.se() >= 73.0 && sveb.ppv() >= 75.5, "SVEB {sveb:?}");
    let hundred = results.iter().find(|r| r.name == "100").expect("100");
    let q = hundred.beats.expect("labelled").qrs();
    assert_eq!((q.fn_, q.fp), (0, 0), "record 100 must be 100 %/100 %");
    // Measured: AF episodes 23/24 (95.8 %; 22/24 with the noise gate's beat level at
    // 0.08, which held one AF episode of 203), duration Se 91.5 % (89.4 % at 0.08; 92.4 %
    // with the older 32-beat window and 30 s onset, whose alarms stayed open longer:
    // duration +P 67.9 %), episode +P 62.5 % (60.0 % before AF was judged on conducted
    // beats only); 100 % (5 of 5) and duration 91.0 / 92.3 % since an AF event begins only
    // when the steady beats are irregular too (201's two false alarms on APCs called N;
    // docs/clinical-performance.md, "AF begins only when the steady beats are irregular").
    at_least("AF episode Se", gross.af.se(), 90.0);
    at_least("AF duration Se", gross.af.duration_se(), 89.0);
    at_least("AF episode +P", gross.af.ppv(), 95.0);
    // Duration +P 86.9 % since atrial flutter is left out of it as EC38 does (75.7 %
    // before; docs/clinical-performance.md, "Atrial flutter in AF scoring"); 92.3 % since
    // the steady-beat check.
    at_least("AF duration +P", gross.af.duration_ppv(), 90.0);
    // Measured: AF episodes of ≥ 30 s 17/18 (94.4 %; 16/18 at the beat level 0.08).
    at_least("AF ≥ 30 s episode Se", gross.af_30s.se(), 88.0);
    // Measured: the flutter of 207, 4 of 6 episodes alarmed.
    assert!(gross.vf.detected >= 4, "VF {:?}", gross.vf);
    // Measured: 21 of 39 VT episodes (annotated or runs of ≥ 3 V beats at ≥ 100 bpm)
    // raised a VT alarm of their own (14 while an isolated PVC held the VT alert open, 8
    // before each VT could alarm again, 0 before the VT rule); 25 of 39 alarmed or counted
    // inside an open VT alert; 4 false VT alarms. With the noise gate's beat level at 0.10
    // (203's noisy VT no longer held): 23 of 39 alarmed, 26 alarmed or counted. With runs
    // alternating two ventricular shapes: 26 and 29. Since a clean V beat continues the run
    // through a noise hold (203 at 741 s; docs/clinical-performance.md, "VT through a
    // noise hold"): 27 and 30.
    assert!(gross.vt.detected >= 27, "VT {:?}", gross.vt);
    assert!(gross.vt.detected_or_counted >= 30, "VT {:?}", gross.vt);
    let vt = gross
        .alarms
        .get("ventricular_tachycardia")
        .expect("VT alarms");
    assert!(vt.false_ <= 5, "{vt:?}");
    // Measured: 18 false of 90 judged clinical alarms in 12.5 h besides ventricular
    // ectopy (17 of 76 before the VT rule; 3 of its 14 alarms are false); 16 at the noise
    // gate's beat level 0.10 (15 at 0.08); 9 since no pause while VF is alarmed and no
    // rate-only run from a noisy beat (docs/clinical-performance.md, "False clinical
    // alarms by cause").
    let bedside_false = gross.clinical.false_ - gross.ectopy.false_;
    assert!(bedside_false <= 11, "{:?}", gross.clinical);
    // Measured: the ectopy rules (couplet, bigeminy, trigeminy, PVCs per minute, nsvt)
    // raised 112 alarms, 31 false (+P 72.3 %, 2.47 false / h): most are pairs or runs of
    // beats the classifier called V (docs/clinical-performance.md). Since: 107, 28 false;
    // 104, 26 false (78 true) once the single-beat ectopy rules are held while the noise
    // alarm sounds ("Ventricular ectopy while the noise alarm sounds").
    let ectopy = gross.ectopy;
    assert!(ectopy.false_ <= 30 && ectopy.true_ >= 75, "{ectopy:?}");
    // Measured: the noise gate held the physiological rules 185.7 s of the 12.54 h
    // (0.41 %; 398.6 s at the beat level 0.08; docs/clinical-performance.md, "Noise").
    assert!(
        gross.noise_held_s <= 600.0,
        "held {:.1} s",
        gross.noise_held_s
    );
}

#[test]
fn vfdb_ventricular_episodes_and_false_vf_alarms() {
    let (results, gross) = scored("vfdb");
    assert_eq!(results.len(), 11);
    // Measured: VT 16/68 (11 before the VT rule: bursts a few seconds apart are counted
    // inside the open VT alert, 55/68 alarmed or counted) and VF/VFL 11/73 episodes
    // alarmed (the short bursts of 418 and 421 are most of the misses), 2 false VF alarms
    // in 6.4 h.
    // Since a VT alert clears once no run of 3 V beats is in progress: VT 22/68, 17 false
    // VT alarms (9 before: the same alerting, split where one alert stayed open for
    // minutes; docs/clinical-performance.md, "A VT ends when VT ends").
    // With the noise gate's beat level at 0.10: VT 23/68, 21 false VT alarms (17 at 0.08;
    // the 4 more on 424, which the gate held for 71 % of the record at 0.08).
    assert!(gross.vt.detected >= 22, "VT {:?}", gross.vt);
    assert!(gross.vt.detected_or_counted >= 54, "VT {:?}", gross.vt);
    let vt = gross
        .alarms
        .get("ventricular_tachycardia")
        .expect("VT alarms");
    assert!(vt.false_ <= 22, "{vt:?}");
    // Measured: VT duration Se 37.9 % before VT from the signal's own rhythm, 44.0 % with
    // it (422's fast VT, which the detector under-counts, stays alarmed as VT;
    // docs/clinical-performance.md, "VT from the signal's own rhythm").
    // 76.1 % since a regular rhythm at a VT rate is VT even where the detector flags
    // flutter (611's 904 s VT at 136 bpm was alarmed as VF; docs/clinical-performance.md,
    // "VT or VF when the detector flags flutter").
    let duration_se = gross.vt.duration_se().unwrap_or(0.0);
    assert!(duration_se >= 75.0, "VT duration Se {duration_se:.2}");
    let vt611 = results.iter().find(|r| r.name == "611").expect("611");
    let vf_alarms = vt611.alarms.get("ventricular_fibrillation");
    assert!(
        vf_alarms.is_none_or(|a| a.fired == 0),
        "611 VF {vf_alarms:?}"
    );
    at_least("611 VT duration Se", vt611.vt.duration_se(), 95.0);
    // Measured: 421's 150 s VT raises sustained VT (never before the multiform-VT step).
    let sustained = gross.alarms.get("sustained_vt").map_or(0, |s| s.true_);
    assert!(sustained >= 1, "{:?}", gross.alarms.get("sustained_vt"));
    // Measured: VF/VFL episodes of ≥ 10 s with an alarm fired for them (the README's rule)
    // 9/13, before and since VF alerts close on organised rhythm instead of the flapping
    // hold; since then 12/13 alarmed, counting those that continue an arrest whose VF
    // alarm still sounds (docs/clinical-performance.md, "When VF is a new alarm"; 430's
    // VFL at 398 s is the one left). Any VF/VFL episode: 12/73 before, 23/73 since.
    assert!(gross.vf_10s.detected >= 9, "VF ≥ 10 s {:?}", gross.vf_10s);
    assert!(
        gross.vf_10s_alarmed >= 12,
        "VF ≥ 10 s alarmed {}",
        gross.vf_10s_alarmed
    );
    assert!(gross.vf.detected >= 22, "VF {:?}", gross.vf);
    let vf = gross
        .alarms
        .get("ventricular_fibrillation")
        .expect("VF alarms");
    // Measured: 3 false VF alarms while the flapping hold kept VF alerts open (a floor of
    // 6); 8 since each VF after organised rhythm pages again (6 on 418, whose flutter flag
    // rises a few seconds before several of its 60 VFL bursts: they were events inside one
    // 25-minute alert; docs/clinical-performance.md, "When VF is a new alarm").
    assert!(vf.false_ <= 8, "{vf:?}");
    // Measured: 1 false AF alarm (8 before AF was judged on conducted beats only and held
    // while VF is alarmed; docs/clinical-performance.md, "AF robust to ectopy"); 3 with
    // the noise gate's beat level at 0.10 (2 more on 424, no longer held).
    let af = gross.alarms.get("atrial_fibrillation").expect("AF alarms");
    assert!(af.false_ <= 4, "{af:?}");
}

#[test]
fn cudb_cu01_ventricular_fibrillation_is_alarmed_within_10_s() {
    let (_, gross) = scored("cudb");
    assert_eq!(
        (gross.vf.episodes, gross.vf.detected),
        (1, 1),
        "{:?}",
        gross.vf
    );
    // Measured: one false clinical alarm (a pause inside the VF), none since a long RR
    // while VF is alarmed is no pause (docs/clinical-performance.md, "False clinical
    // alarms by cause").
    assert_eq!(gross.clinical.false_, 0, "{:?}", gross.clinical);
    let delay = gross.delays.get("vf").and_then(|d| d.max_s());
    // Measured: 5.8 s.
    assert!(delay.is_some_and(|d| d <= 10.0), "VF delay {delay:?}");
}

/// The noise stress test's classic pair (118, 119) with muscle noise at 0 dB SNR: the noise
/// must raise the technical alarm on both. Issue 12's target is ≤ 1 false clinical alarm
/// an hour; measured before that work: 30 in 1 h (the flapping rule caps each rule at 3),
/// QRS 87.06 / 86.12.
#[test]
fn mitdb_118_and_119_with_muscle_noise_at_0_db() {
    let policy = measurement_policy(PatientId::parse("ec57").expect("valid id"));
    let noise = NoiseStress::load(&data("nstdb"), NoiseRecord::Ma, 0.0).expect("nstdb ma");
    let results: Vec<RecordResult> = ["118", "119"]
        .iter()
        .map(|name| evaluate_record(&data("mitdb").join(name), &policy, Some(&noise)))
        .collect::<Result<_, _>>()
        .expect("records score");
    println!("\n== mitdb 118, 119 + ma at 0 dB ==\n{}", render(&results));
    for r in &results {
        let noise_alarms = r.alarms.get("noise").map_or(0, |s| s.fired);
        assert!(noise_alarms >= 1, "{}: no technical noise alarm", r.name);
        // Measured: held 711.6 s (118) and 693.6 s (119) of the about 780 s of noisy
        // segments (the protocol's 2-minute segments from minute 5; 748.6 and 720.9 s at
        // the noise gate's beat level 0.08).
        assert!(
            r.noise_held_s >= 600.0,
            "{}: held {:.1} s",
            r.name,
            r.noise_held_s
        );
    }
    let gross = Gross::of(&results);
    let qrs = gross.qrs.expect("labelled").qrs();
    assert!(qrs.se() >= 85.0 && qrs.ppv() >= 84.0, "QRS {qrs:?}");
    // With the VT rule: 36 (6 of them VT: muscle noise makes wide "ventricular" beats;
    // VT has no noise rejection yet), ventricular ectopy apart. With the noise gate: 1 at
    // the beat level 0.08, 2 at 0.10 (a VT on 119).
    // Measured: 1 false VT alarm (119) before VT noise rejection, none since (a run of
    // noisy "V" beats is not VT; docs/clinical-performance.md, "VT noise rejection").
    let vt_false = gross
        .alarms
        .get("ventricular_tachycardia")
        .map_or(0, |a| a.false_);
    assert_eq!(
        vt_false,
        0,
        "{:?}",
        gross.alarms.get("ventricular_tachycardia")
    );
    // Measured: 1 false clinical alarm (a tachycardia run on 119 at the onset of a noisy
    // segment), none since a rate-only run counts no interval from a noisy beat
    // (docs/clinical-performance.md, "False clinical alarms by cause").
    assert_eq!(gross.clinical.false_, 0, "{:?}", gross.clinical);
}
