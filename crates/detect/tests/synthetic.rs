//! Detector behaviour on synthetic ECG-like signals, through the public API only.

use cw_detect::{Beat, HeartRate, QrsDetector, detect_all};

/// A crude ECG: narrow R wave (1 mV), wide T wave (0.3 mV, 250 ms later), every `rr_s`.
fn synthetic(fs: f64, seconds: f64, rr_s: f64, leads: usize) -> (Vec<i16>, Vec<u64>) {
    let n = (fs * seconds) as usize;
    let beats: Vec<f64> = (1..)
        .map(|k| k as f64 * rr_s)
        .take_while(|&t| t < seconds - 0.5)
        .collect();
    let mut out = Vec::with_capacity(n * leads);
    for i in 0..n {
        let t = i as f64 / fs;
        let mut v = 0.0;
        for &b in &beats {
            v += 1000.0 * (-((t - b) / 0.012).powi(2) / 2.0).exp();
            v += 300.0 * (-((t - b - 0.25) / 0.04).powi(2) / 2.0).exp();
        }
        for lead in 0..leads {
            // Second lead inverted and smaller, as real leads differ.
            let s = if lead % 2 == 0 { v } else { -0.5 * v };
            out.push(s.round() as i16);
        }
    }
    let truth = beats.iter().map(|&b| (b * fs).round() as u64).collect();
    (out, truth)
}

fn assert_matches(fs: f64, truth: &[u64], found: &[u64], skip_s: f64) {
    let tol = (0.05 * fs) as u64;
    let skip = (skip_s * fs) as u64;
    // Start comparing a tolerance before the first true beat after `skip_s`.
    let truth: Vec<u64> = truth.iter().copied().filter(|&t| t >= skip).collect();
    let from = truth.first().map_or(skip, |&t| t.saturating_sub(tol));
    let found: Vec<u64> = found.iter().copied().filter(|&f| f >= from).collect();
    assert_eq!(
        found.len(),
        truth.len(),
        "fs {fs}: found {found:?}\ntruth {truth:?}"
    );
    for (f, t) in found.iter().zip(&truth) {
        assert!(f.abs_diff(*t) <= tol, "fs {fs}: beat at {f}, truth {t}");
    }
}

#[test]
fn finds_every_beat_at_all_rates_and_heart_rates() {
    for fs in [125.0, 250.0, 360.0, 500.0, 1000.0] {
        for rr in [0.33, 0.75, 1.5] {
            let (x, truth) = synthetic(fs, 30.0, rr, 2);
            let found = detect_all(fs, 2, &x);
            assert_matches(fs, &truth, &found, 3.0);
        }
    }
}

#[test]
fn lookahead_is_bounded_and_respected() {
    for fs in [125.0, 360.0, 1000.0] {
        let mut d = QrsDetector::new(fs, 1);
        let la = d.lookahead_samples();
        // 800 ms of search-back + 110 ms confirmation + 150 ms integration + 40 ms
        // fiducial delay = 1,100 ms.
        assert!(la as f64 <= 1.1 * fs + 2.0, "fs {fs}: look-ahead {la}");
        let (x, _) = synthetic(fs, 20.0, 0.8, 1);
        for (i, &s) in x.iter().enumerate() {
            if let Some(Beat { sample }) = d.push(&[s]) {
                assert!(sample <= i as u64 && i as u64 - sample <= la as u64);
            }
        }
    }
}

#[test]
fn state_is_small() {
    let twelve = QrsDetector::new(1000.0, 12);
    println!("state: 12 leads at 1000 Hz {} B", twelve.state_bytes());
    assert!(
        twelve.state_bytes() <= 8 * 1024,
        "{} bytes",
        twelve.state_bytes()
    );
    let two = QrsDetector::new(360.0, 2);
    println!("state: 2 leads at 360 Hz {} B", two.state_bytes());
    assert!(two.state_bytes() <= 2 * 1024, "{} bytes", two.state_bytes());
}

#[test]
fn silence_and_flat_lead() {
    assert!(detect_all(360.0, 2, &vec![0; 360 * 20 * 2]).is_empty());
    // Lead 0 flat, lead 1 carries the beats: the fused detector still finds them all.
    let (x, truth) = synthetic(360.0, 30.0, 0.8, 2);
    let one_flat: Vec<i16> = x.chunks(2).flat_map(|f| [0, f[1]]).collect();
    assert_matches(360.0, &truth, &detect_all(360.0, 2, &one_flat), 3.0);
    // Short or malformed frames do not panic.
    let mut d = QrsDetector::new(250.0, 3);
    assert_eq!(d.push(&[]), None);
    assert_eq!(d.push(&[1, 2, 3, 4]), None);
}

#[test]
fn heart_rate_from_detected_beats() {
    let (x, _) = synthetic(250.0, 30.0, 0.75, 1);
    let mut hr = HeartRate::new(250.0, 12);
    let readings: Vec<_> = detect_all(250.0, 1, &x)
        .into_iter()
        .filter_map(|s| hr.on_beat(Beat { sample: s }))
        .collect();
    let last = readings.last().expect("readings");
    assert!((last.average_bpm - 80.0).abs() < 1.0, "{last:?}");
    assert!((last.instant_bpm - 80.0).abs() < 3.0, "{last:?}");
}

/// Normal beats every 0.8 s (1 mV); 0.45 s after the beat at 20 s a premature beat of
/// `small_mv`, then a compensatory pause to 21.6 s; the second lead a scaled copy.
fn premature_small_beat(fs: f64, small_mv: f64) -> (Vec<i16>, Vec<u64>) {
    let mut beats: Vec<(f64, f64)> = (1..30).map(|k| (k as f64 * 0.8, 1000.0)).collect();
    beats.retain(|&(t, _)| !(20.5..=21.5).contains(&t));
    beats.push((20.0 + 0.45, small_mv * 1000.0));
    beats.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = (fs * 23.5) as usize;
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        let t = i as f64 / fs;
        let v: f64 = beats
            .iter()
            .map(|&(b, a)| {
                a * (-((t - b) / 0.012).powi(2) / 2.0).exp()
                    + 0.3 * a * (-((t - b - 0.25) / 0.04).powi(2) / 2.0).exp()
            })
            .sum();
        out.extend([v.round() as i16, (0.6 * v).round() as i16]);
    }
    let truth = beats
        .iter()
        .map(|&(b, _)| (b * fs).round() as u64)
        .collect();
    (out, truth)
}

/// A 0.4 mV beat among 1 mV beats misses the threshold (0.45 of the way from noise to beat
/// level) but passes the search-back one; the pause after it makes it a beat.
#[test]
fn a_small_beat_followed_by_a_pause_is_found_by_search_back_within_the_lookahead() {
    for fs in [125.0, 360.0, 1000.0] {
        let (x, truth) = premature_small_beat(fs, 0.4);
        let mut d = QrsDetector::new(fs, 2);
        let la = d.lookahead_samples() as u64;
        let mut found = Vec::new();
        for (i, frame) in x.chunks_exact(2).enumerate() {
            if let Some(Beat { sample }) = d.push(frame) {
                assert!(sample <= i as u64 && i as u64 - sample <= la, "fs {fs}");
                found.push(sample);
            }
        }
        found.extend(d.finish().map(|b| b.sample));
        let small = (20.45 * fs).round() as u64;
        let tol = (0.05 * fs) as u64;
        assert!(
            found.iter().any(|f| f.abs_diff(small) <= tol),
            "fs {fs}: small beat at {small} not in {found:?}"
        );
        assert_matches(fs, &truth, &found, 3.0);
    }
}

/// `reported_until` is a promise: no beat reported later lies before it. It trails the
/// newest frame by 300 ms normally and falls back only while the small beat of the
/// search-back case is pending.
#[test]
fn reported_until_is_never_broken_and_trails_by_300_ms_without_search_back() {
    for fs in [125.0, 360.0, 1000.0] {
        let (x, _) = premature_small_beat(fs, 0.4);
        let mut d = QrsDetector::new(fs, 2);
        let normal = (0.3 * fs).round() as u64 + 1;
        let mut promised = 0;
        let mut held_back = 0u64;
        for (i, frame) in x.chunks_exact(2).enumerate() {
            let beat = d.push(frame);
            if let Some(Beat { sample }) = beat {
                assert!(
                    sample >= promised,
                    "fs {fs}: beat {sample} before {promised}"
                );
            }
            let now = d.reported_until();
            assert!(
                now >= promised,
                "fs {fs}: went back from {promised} to {now}"
            );
            promised = now;
            let behind = i as u64 + 1 - now;
            assert!(
                behind <= d.lookahead_samples() as u64 + 1,
                "fs {fs}: {behind}"
            );
            held_back += u64::from(behind > normal);
        }
        // Held back only while the small beat waited for its deadline (at most 800 ms).
        assert!(
            held_back > 0 && held_back as f64 <= 0.8 * fs + 2.0,
            "fs {fs}: held back for {held_back} frames"
        );
    }
}

/// `synthetic` (beats every 0.8 s for 40 s) with `artefact(t)` µV added to one lead.
fn with_artefact(
    fs: f64,
    leads: usize,
    lead: usize,
    artefact: impl Fn(f64) -> f64,
) -> (Vec<i16>, Vec<u64>) {
    let (mut x, truth) = synthetic(fs, 40.0, 0.8, leads);
    for (i, frame) in x.chunks_exact_mut(leads).enumerate() {
        let v = f64::from(frame[lead]) + artefact(i as f64 / fs);
        frame[lead] = v.round().clamp(-32768.0, 32767.0) as i16;
    }
    (x, truth)
}

/// Electrode motion 0.45 s after every third beat: a sharp 1 mV step (as steep as the R
/// wave, but one-sided) that settles over 300 ms.
fn steps(t: f64) -> f64 {
    let k = (t / 2.4).floor();
    let since = t - k * 2.4 - 0.45;
    if since < 0.0 {
        return 0.0;
    }
    1000.0 * (1.0 - (-since / 0.008).exp()) * (-since / 0.3).exp()
}

/// Muscle-like noise (22 Hz and 37 Hz, up to 0.6 mV) for 3 s of every 6 s, over beats and
/// between them.
fn noise_episodes(t: f64) -> f64 {
    if t % 6.0 < 3.0 {
        return 0.0;
    }
    let tau = std::f64::consts::TAU;
    400.0 * (tau * 22.0 * t).sin() + 200.0 * (tau * 37.0 * t).sin()
}

#[test]
fn a_baseline_step_is_not_a_beat_on_one_lead_or_beside_a_clean_lead() {
    for fs in [250.0, 360.0, 500.0] {
        for leads in [1, 2] {
            let (x, truth) = with_artefact(fs, leads, leads - 1, steps);
            assert_matches(fs, &truth, &detect_all(fs, leads, &x), 3.0);
        }
    }
}

#[test]
fn noise_on_one_lead_beside_a_clean_lead_adds_and_loses_no_beat() {
    for fs in [250.0, 360.0, 500.0] {
        let (x, truth) = with_artefact(fs, 2, 1, noise_episodes);
        assert_matches(fs, &truth, &detect_all(fs, 2, &x), 3.0);
    }
}
