//! Events inside an open alert (issue 12 item 5), on synthetic two-lead ECG through the
//! measurement policy (`cw_analysis::measurement_policy`): a more severe event raises the
//! higher alarm at once while the lesser alert is open — a long silence inside an open
//! pause alert is asystole at its limit, ventricular tachycardia inside an open rate or
//! tachycardia-run alert is VT, and VT that lasts is sustained VT while the VT alert is
//! open — and every event hidden inside an open alert is counted in its episode
//! (docs/architecture.md, "Episodes").

use cw_analysis::{PatientMonitor, RuleEvent, measurement_policy};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{DeviceId, Episode, PatientId, RuleKind, SampleBlock};

const FS: f64 = 250.0;

/// A beat at `at_s`: narrow and upright (sinus), or wide and inverted (ventricular).
#[derive(Clone, Copy)]
struct Beat {
    at_s: f64,
    ventricular: bool,
}

/// Beats every `60/bpm` s from `from_s` until before `to_s`.
fn rhythm(from_s: f64, to_s: f64, bpm: f64, ventricular: bool) -> Vec<Beat> {
    let rr = 60.0 / bpm;
    (0..)
        .map(|k| from_s + f64::from(k) * rr)
        .take_while(|t| *t < to_s)
        .map(|at_s| Beat { at_s, ventricular })
        .collect()
}

/// Two leads of `seconds`: each beat a Gaussian QRS (10 ms wide, +1 mV; ventricular
/// 35 ms wide, −1.4 mV), the second lead half the first, on 50 µV of slow baseline wander
/// (a live, not digitally flat, line), in quarter-second blocks as a gateway sends them.
fn ecg(beats: &[Beat], seconds: f64) -> Vec<SampleBlock> {
    let n = (seconds * FS) as usize;
    let mut uv = vec![0i16; 2 * n];
    let mut next = 0;
    for i in 0..n {
        let t = i as f64 / FS;
        while next < beats.len() && beats[next].at_s < t - 0.3 {
            next += 1;
        }
        let mut a = 50.0 * (t * 3.0).sin();
        for beat in beats[next..].iter().take_while(|b| b.at_s <= t + 0.3) {
            let (width, height) = if beat.ventricular {
                (0.035, -1400.0)
            } else {
                (0.01, 1000.0)
            };
            let d = (t - beat.at_s) / width;
            a += height * (-0.5 * d * d).exp();
        }
        uv[2 * i] = a as i16;
        uv[2 * i + 1] = (0.5 * a) as i16;
    }
    let per_block = (FS / 4.0) as usize;
    uv.chunks(2 * per_block)
        .enumerate()
        .map(|(k, chunk)| SampleBlock {
            patient: PatientId::parse("p").expect("valid"),
            device: DeviceId::parse("d").expect("valid"),
            seq: k as u64,
            start_ns: k as Nanos * NANOS_PER_SEC / 4,
            rate_hz: FS as u32,
            leads: 2,
            samples_uv: chunk.to_vec(),
            lead_off: false,
        })
        .collect()
}

fn replay(beats: &[Beat], seconds: f64) -> Vec<RuleEvent> {
    let mut monitor =
        PatientMonitor::new(measurement_policy(PatientId::parse("p").expect("valid")));
    ecg(beats, seconds)
        .iter()
        .flat_map(|b| monitor.process(b))
        .collect()
}

fn seconds(at: Nanos) -> f64 {
    at as f64 / 1e9
}

/// When `rule` fired, in seconds.
fn fires(events: &[RuleEvent], rule: RuleKind) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            RuleEvent::Fire { rule: r, at, .. } if *r == rule => Some(seconds(*at)),
            _ => None,
        })
        .collect()
}

fn resolves(events: &[RuleEvent], rule: RuleKind) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            RuleEvent::Resolve { rule: r, at } if *r == rule => Some(seconds(*at)),
            _ => None,
        })
        .collect()
}

/// The episode `rule`'s alert last recorded (None: no event after the one that fired).
fn last_episode(events: &[RuleEvent], rule: RuleKind) -> Option<Episode> {
    events.iter().rev().find_map(|e| match e {
        RuleEvent::Episode {
            rule: r, episode, ..
        } if *r == rule => Some(*episode),
        _ => None,
    })
}

/// `rule` fired once, between `from_s` and `to_s`.
fn fired_once_within(events: &[RuleEvent], rule: RuleKind, from_s: f64, to_s: f64) -> f64 {
    let at = fires(events, rule);
    assert_eq!(at.len(), 1, "{rule:?} fired at {at:?}");
    assert!(
        (from_s..=to_s).contains(&at[0]),
        "{rule:?} fired at {:.2} s, expected within {from_s}–{to_s} s",
        at[0]
    );
    at[0]
}

/// `rule`'s alert was open from before `from_s` until after `to_s`.
fn open_throughout(events: &[RuleEvent], rule: RuleKind, from_s: f64, to_s: f64) {
    let fired = fires(events, rule);
    assert!(
        fired.first().is_some_and(|t| *t < from_s),
        "{rule:?} fired at {fired:?}"
    );
    let resolved = resolves(events, rule);
    assert!(
        resolved.iter().all(|t| *t > to_s),
        "{rule:?} resolved at {resolved:?}"
    );
}

#[test]
fn a_long_silence_inside_an_open_pause_alert_raises_asystole_at_its_limit() {
    // 75 bpm; pauses of 3.4 and 3.6 s open the pause alert and keep it open (clear 10 s);
    // then the heart stops for 7 s (asystole limit 4 s) and comes back.
    let mut beats = rhythm(0.5, 20.0, 75.0, false);
    let mut t = beats.last().expect("beats").at_s;
    for pause in [3.4, 3.6] {
        t += pause;
        beats.extend(rhythm(t, t + 1.7, 75.0, false));
        t = beats.last().expect("beats").at_s;
    }
    let stopped = t;
    beats.extend(rhythm(stopped + 7.0, stopped + 30.0, 75.0, false));
    let events = replay(&beats, stopped + 30.0);
    open_throughout(&events, RuleKind::Pause, stopped, stopped + 7.0);
    // Judged on 1 s quality windows, a beat final 300 ms after it (as the asystole rule's
    // own test in monitor.rs).
    let limit = stopped + 4.0;
    fired_once_within(&events, RuleKind::Asystole, limit, limit + 1.3);
    // The silence is also the pause alert's third pause, and its longest.
    let pauses = last_episode(&events, RuleKind::Pause).expect("pauses counted");
    assert_eq!(pauses.count, 3, "{pauses:?}");
    assert!((pauses.worst - 7.0).abs() < 0.05, "{pauses:?}");
}

#[test]
fn each_silence_inside_an_open_asystole_alert_is_one_event() {
    // Two 6 s silences 1.6 s apart: the asystole alert (clear 10 s) stays open through
    // the second. Each silence is one event, not also the pause that ends it.
    let mut beats = rhythm(0.5, 20.0, 75.0, false);
    let first = beats.last().expect("beats").at_s;
    beats.extend(rhythm(first + 6.0, first + 7.0, 75.0, false));
    let second = beats.last().expect("beats").at_s;
    beats.extend(rhythm(second + 6.0, second + 30.0, 75.0, false));
    let events = replay(&beats, second + 30.0);
    fired_once_within(&events, RuleKind::Asystole, first + 4.0, first + 5.3);
    let asystole = last_episode(&events, RuleKind::Asystole).expect("second silence");
    assert_eq!(asystole.count, 2, "{asystole:?}");
    assert!(
        (asystole.last_ns as f64 / 1e9 - (second + 4.0)).abs() < 1.5,
        "{asystole:?}"
    );
    // The longest silence is the RR interval that ended it, not the part of it the
    // 1 s quality windows had seen.
    assert!((asystole.worst - 6.0).abs() < 0.05, "{asystole:?}");
    assert_eq!(resolves(&events, RuleKind::Asystole).len(), 1, "{events:?}");
}

#[test]
fn vt_inside_open_rate_and_tachycardia_run_alerts_raises_vt_at_once() {
    // Sinus tachycardia at 125 bpm opens hr_high (120) and tachy_run (100 × 3); 10 s of
    // VT at 170 bpm inside them must raise VT of its own.
    let vt_at = 40.0;
    let mut beats = rhythm(0.5, vt_at, 125.0, false);
    beats.extend(rhythm(vt_at, vt_at + 10.0, 170.0, true));
    beats.extend(rhythm(vt_at + 10.3, 90.0, 125.0, false));
    let events = replay(&beats, 90.0);
    for rule in [RuleKind::HrHigh, RuleKind::TachyRun] {
        open_throughout(&events, rule, vt_at, vt_at + 10.0);
    }
    // 3 V beats, each final when the next is reported: within 2 s of the first.
    fired_once_within(
        &events,
        RuleKind::VentricularTachycardia,
        vt_at,
        vt_at + 2.0,
    );
    assert!(
        fires(&events, RuleKind::SustainedVt).is_empty(),
        "{events:?}"
    );
}

#[test]
fn vt_lasting_its_sustained_time_raises_sustained_vt_while_the_vt_alert_is_open() {
    // 5 minutes at 80 bpm, then 40 s of VT at 160 bpm (sustained after 30 s), then
    // 80 bpm. The classifier relearns a rhythm as the patient's normal once it outweighs
    // the old one 3 to 1 (cw_detect's templates, weights fading over 256 beats): after
    // minutes of sinus rhythm that takes over 2 minutes of VT, but after only 20 s (a
    // stream just started) it took 23 s, and the VT alarm ended before 30 s.
    let vt_at = 300.0;
    let end = vt_at + 70.0;
    let mut beats = rhythm(0.5, vt_at, 80.0, false);
    beats.extend(rhythm(vt_at, vt_at + 40.0, 160.0, true));
    beats.extend(rhythm(vt_at + 40.5, end, 80.0, false));
    let events = replay(&beats, end);
    let vt = fired_once_within(
        &events,
        RuleKind::VentricularTachycardia,
        vt_at,
        vt_at + 2.0,
    );
    let sustained = fired_once_within(&events, RuleKind::SustainedVt, vt_at + 30.0, vt_at + 32.0);
    let vt_resolved = resolves(&events, RuleKind::VentricularTachycardia);
    assert!(
        vt_resolved.iter().all(|t| *t > sustained),
        "VT fired at {vt:.1} s, resolved at {vt_resolved:?}, sustained at {sustained:.1} s"
    );
}

#[test]
fn vt_soon_after_the_stream_starts_stays_vt_for_minutes() {
    // 20 s of sinus rhythm, then 3 minutes of VT at 160 bpm: the classifier must not
    // relearn the VT as the patient's normal beat (it did after 23 s), so the VT alert
    // stays open to its end and sustained VT fires 30 s in.
    let vt_at = 20.0;
    let vt_end = vt_at + 180.0;
    let end = vt_end + 30.0;
    let mut beats = rhythm(0.5, vt_at, 80.0, false);
    beats.extend(rhythm(vt_at, vt_end, 160.0, true));
    beats.extend(rhythm(vt_end + 0.5, end, 80.0, false));
    let events = replay(&beats, end);
    fired_once_within(
        &events,
        RuleKind::VentricularTachycardia,
        vt_at,
        vt_at + 2.0,
    );
    fired_once_within(&events, RuleKind::SustainedVt, vt_at + 30.0, vt_at + 32.0);
    open_throughout(
        &events,
        RuleKind::VentricularTachycardia,
        vt_at + 2.0,
        vt_end,
    );
    open_throughout(&events, RuleKind::SustainedVt, vt_at + 32.0, vt_end);
}

#[test]
fn every_vt_run_after_the_last_one_cleared_raises_vt_again() {
    // Six runs of 5 V beats at 170 bpm, 40 s apart in sinus rhythm: each is a new VT
    // alarm. The flapping hold (3 fires in 10 minutes) applies to other rules, not to VT.
    let mut beats = Vec::new();
    let mut t = 0.5;
    let runs: Vec<f64> = (0..6).map(|k| 30.0 + 40.0 * f64::from(k)).collect();
    for &at in &runs {
        beats.extend(rhythm(t, at, 75.0, false));
        beats.extend(rhythm(at, at + 4.0 * 60.0 / 170.0 + 0.01, 170.0, true));
        t = at + 5.0 * 60.0 / 170.0 + 0.5;
    }
    let end = runs[5] + 30.0;
    beats.extend(rhythm(t, end, 75.0, false));
    let events = replay(&beats, end);
    let fired = fires(&events, RuleKind::VentricularTachycardia);
    assert_eq!(fired.len(), runs.len(), "VT fired at {fired:?}");
    for (&at, &f) in runs.iter().zip(&fired) {
        assert!(
            (at..at + 3.0).contains(&f),
            "run at {at} s, VT fired at {fired:?}"
        );
    }
}
