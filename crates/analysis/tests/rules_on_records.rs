//! The engine's rules on real MIT-BIH records (in /work/shared/data/mitdb; the test fails
//! loudly when they are missing), clean and with disturbances spliced in: noise, a flat
//! line and lead-off must raise technical alarms and never a false asystole; the AF and
//! ventricular-flutter episodes the cardiologists annotated must be found.

use cw_analysis::{PatientMonitor, RuleEvent, measurement_policy};
use cw_core::rules::{AsystoleRule, ConditionRule, PauseRule, VtRule};
use cw_core::time::Nanos;
use cw_core::{DeviceId, HrLimit, PatientId, Priority, RuleKind, SampleBlock, ThresholdPolicy};
use cw_wfdb::{Record, read_annotations};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    assert!(dir.is_dir(), "MIT-BIH data missing at {}", dir.display());
    dir
}

struct Loaded {
    fs: f64,
    leads: usize,
    samples: Vec<i16>,
}

fn load(name: &str) -> Loaded {
    let record = Record::open(data_dir().join(name)).expect("record readable");
    Loaded {
        fs: record.fs,
        leads: record.signal_count(),
        samples: record.microvolts_interleaved(),
    }
}

/// Quarter-second blocks as a gateway sends them; `lead_off` marks frames [from, to).
fn blocks(rec: &Loaded, lead_off: Option<(usize, usize)>) -> Vec<SampleBlock> {
    let per_block = (rec.fs / 4.0) as usize;
    rec.samples
        .chunks(per_block * rec.leads)
        .enumerate()
        .map(|(k, chunk)| {
            let first = k * per_block;
            SampleBlock {
                patient: PatientId::parse("p").expect("valid"),
                device: DeviceId::parse("d").expect("valid"),
                seq: k as u64,
                start_ns: (first as f64 / rec.fs * 1e9) as Nanos,
                rate_hz: rec.fs as u32,
                leads: rec.leads as u8,
                samples_uv: chunk.to_vec(),
                lead_off: lead_off.is_some_and(|(a, b)| first >= a && first < b),
            }
        })
        .collect()
}

fn condition(priority: Priority) -> Option<ConditionRule> {
    Some(ConditionRule {
        priority,
        for_s: 2.0,
        clear_s: 10.0,
    })
}

fn policy() -> ThresholdPolicy {
    let ectopy = measurement_policy(PatientId::parse("p").expect("valid"));
    ThresholdPolicy {
        pause: Some(PauseRule {
            rr_s: 3.0,
            priority: Priority::Medium,
            clear_s: 10.0,
        }),
        asystole: Some(AsystoleRule {
            after_s: 4.0,
            priority: Priority::High,
            clear_s: 5.0,
        }),
        // AF at the settings every measurement uses (its defaults).
        af: ectopy.af,
        vf: condition(Priority::High),
        vt: Some(VtRule::default()),
        // The ventricular-ectopy rules at the settings every measurement uses.
        nsvt: ectopy.nsvt,
        couplet: ectopy.couplet,
        bigeminy: ectopy.bigeminy,
        trigeminy: ectopy.trigeminy,
        pvc_per_minute: ectopy.pvc_per_minute,
        lead_off: condition(Priority::Low),
        flat_line: condition(Priority::Low),
        saturation: condition(Priority::Low),
        noise: condition(Priority::Low),
        ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
    }
}

fn run(blocks: &[SampleBlock]) -> Vec<RuleEvent> {
    let mut monitor = PatientMonitor::new(policy());
    blocks.iter().flat_map(|b| monitor.process(b)).collect()
}

/// The events of the test policy on a whole clean record, computed once per test binary:
/// the AF, VF and asystole tests all read the same 25 records (slow in a debug build).
fn clean_events(name: &str) -> Vec<RuleEvent> {
    type Cache = Mutex<HashMap<String, Vec<RuleEvent>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let cached = cache.lock().expect("cache lock").get(name).cloned();
    if let Some(events) = cached {
        return events;
    }
    // Computed outside the lock so records run in parallel (a record computed twice by
    // two tests at once gives the same events).
    let events = run(&blocks(&load(name), None));
    cache
        .lock()
        .expect("cache lock")
        .insert(name.to_owned(), events.clone());
    events
}

/// Fire times (seconds) of one rule.
fn fires(events: &[RuleEvent], rule: RuleKind) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            RuleEvent::Fire { rule: r, at, .. } if *r == rule => Some(*at as f64 / 1e9),
            _ => None,
        })
        .collect()
}

/// Gaussian-ish (sum of uniforms) reproducible noise of `rms_uv` on every lead of frames
/// [from, to).
fn add_noise(rec: &mut Loaded, from: usize, to: usize, rms_uv: f64) {
    add_noise_on(rec, from, to, rms_uv, None);
}

/// The same on one lead only (`Some(lead)`) or on all of them.
fn add_noise_on(rec: &mut Loaded, from: usize, to: usize, rms_uv: f64, lead: Option<usize>) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let leads = rec.leads;
    let frames = &mut rec.samples[from * leads..to * leads];
    for (i, s) in frames.iter_mut().enumerate() {
        if lead.is_some_and(|l| i % leads != l) {
            continue;
        }
        let mut sum = 0.0;
        for _ in 0..12 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            sum += (x >> 11) as f64 / (1u64 << 53) as f64;
        }
        let n = (sum - 6.0) * rms_uv;
        *s = (f64::from(*s) + n).clamp(-32768.0, 32767.0) as i16;
    }
}

#[test]
fn record_100_raises_no_physiological_or_technical_alarm() {
    let rec = load("100");
    let events = run(&blocks(&rec, None));
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn heavy_noise_on_every_lead_of_record_100_is_a_technical_alarm_never_asystole() {
    let mut rec = load("100");
    let fs = rec.fs as usize;
    add_noise(&mut rec, 600 * fs, 640 * fs, 600.0);
    let events = run(&blocks(&rec, None));
    let noise = fires(&events, RuleKind::Noise);
    assert!(
        noise.len() == 1 && (600.0..610.0).contains(&noise[0]),
        "{events:?}"
    );
    for rule in [
        RuleKind::Asystole,
        RuleKind::Pause,
        RuleKind::VentricularFibrillation,
        RuleKind::AtrialFibrillation,
    ] {
        assert!(fires(&events, rule).is_empty(), "{rule:?}: {events:?}");
    }
}

/// The test policy plus heart-rate limits around record 100's rate (~75 bpm).
fn policy_with_hr() -> ThresholdPolicy {
    let limit = |bpm| HrLimit {
        bpm,
        priority: Priority::High,
        for_s: 0.0,
        hysteresis_bpm: 5.0,
        clear_s: 10.0,
    };
    ThresholdPolicy {
        hr_high: Some(limit(110.0)),
        hr_low: Some(limit(50.0)),
        ..policy()
    }
}

#[test]
fn heavy_noise_on_one_lead_of_record_100_raises_nothing_while_the_other_lead_is_clean() {
    for lead in [0, 1] {
        let mut rec = load("100");
        let fs = rec.fs as usize;
        add_noise_on(&mut rec, 600 * fs, 640 * fs, 600.0, Some(lead));
        let mut monitor = PatientMonitor::new(policy_with_hr());
        let mut rates = Vec::new();
        let mut events = Vec::new();
        for block in blocks(&rec, None) {
            events.extend(monitor.process(&block));
            let in_noise = (605.0..640.0).contains(&(block.start_ns as f64 / 1e9));
            if in_noise && let Some(r) = monitor.last_reading() {
                rates.push(r.average_bpm);
            }
        }
        // No technical alarm, no physiological one: the clean lead carries the monitoring.
        assert!(events.is_empty(), "noise on lead {lead}: {events:?}");
        // …and the heart rate measured through the noise is the patient's (~75 bpm).
        assert!(
            !rates.is_empty() && rates.iter().all(|r| (60.0..90.0).contains(r)),
            "noise on lead {lead}: rates {rates:?}"
        );
    }
}

#[test]
fn a_flat_segment_in_record_100_is_a_technical_alarm_never_asystole() {
    let mut rec = load("100");
    let fs = rec.fs as usize;
    let leads = rec.leads;
    rec.samples[600 * fs * leads..620 * fs * leads].fill(-150);
    let events = run(&blocks(&rec, None));
    assert_eq!(fires(&events, RuleKind::FlatLine).len(), 1, "{events:?}");
    assert!(fires(&events, RuleKind::Asystole).is_empty(), "{events:?}");
}

#[test]
fn lead_off_in_record_100_is_a_technical_alarm_never_asystole() {
    let mut rec = load("100");
    let fs = rec.fs as usize;
    let leads = rec.leads;
    // The electrode is off: the gateway flags it and the amplifier sees a drifting baseline.
    for (i, s) in rec.samples[600 * fs * leads..620 * fs * leads]
        .iter_mut()
        .enumerate()
    {
        *s = ((i / leads) as f64 / fs as f64 * 2.0)
            .sin()
            .mul_add(300.0, 0.0) as i16;
    }
    let events = run(&blocks(&rec, Some((600 * fs, 620 * fs))));
    assert_eq!(fires(&events, RuleKind::LeadOff).len(), 1, "{events:?}");
    assert!(fires(&events, RuleKind::Asystole).is_empty(), "{events:?}");
}

/// Rhythm episodes `(start_s, end_s)` annotated with `label` (e.g. "(AFIB").
fn episodes(name: &str, label: &str, fs: f64) -> Vec<(f64, f64)> {
    let anns = read_annotations(data_dir().join(format!("{name}.atr"))).expect("annotations");
    let mut out = Vec::new();
    let mut open: Option<f64> = None;
    for a in anns.iter().filter(|a| a.aux.is_some()) {
        let t = a.sample as f64 / fs;
        let aux = a.aux.as_deref().unwrap_or_default().trim_end_matches('\0');
        if let Some(start) = open.take() {
            out.push((start, t));
        }
        if aux == label {
            open = Some(t);
        }
    }
    if let Some(start) = open {
        out.push((start, f64::INFINITY));
    }
    out
}

/// First fire of `rule` must fall inside (or within `grace_s` after) an annotated episode.
fn first_fire_inside(name: &str, labels: &[&str], rule: RuleKind, grace_s: f64) {
    let rec = load(name);
    let truth: Vec<(f64, f64)> = labels
        .iter()
        .flat_map(|l| episodes(name, l, rec.fs))
        .collect();
    assert!(!truth.is_empty(), "record {name} has {labels:?} episodes");
    let events = clean_events(name);
    let fired = fires(&events, rule);
    let first = *fired.first().unwrap_or(&f64::NAN);
    assert!(
        truth
            .iter()
            .any(|(a, b)| first >= *a && first <= *b + grace_s),
        "record {name}: fires {fired:?} vs episodes {truth:?}"
    );
}

#[test]
fn atrial_fibrillation_in_records_201_and_203_is_found_inside_an_annotated_episode() {
    first_fire_inside("201", &["(AFIB"], RuleKind::AtrialFibrillation, 30.0);
    first_fire_inside(
        "203",
        &["(AFIB", "(AFL"],
        RuleKind::AtrialFibrillation,
        30.0,
    );
}

/// AF fires per record outside any annotated AF/flutter episode (plus 30 s of grace),
/// and how much of the annotated AF time the alarm was firing.
fn af_outcome(name: &str) -> (Vec<f64>, f64) {
    let rec = load(name);
    let truth: Vec<(f64, f64)> = ["(AFIB", "(AFL"]
        .iter()
        .flat_map(|l| episodes(name, l, rec.fs))
        .collect();
    let events = clean_events(name);
    let outside = fires(&events, RuleKind::AtrialFibrillation)
        .into_iter()
        .filter(|t| !truth.iter().any(|(a, b)| *t >= *a && *t <= *b + 30.0))
        .collect();
    // Firing intervals from the fire/resolve events, intersected with the episodes.
    let mut firing: Vec<(f64, f64)> = Vec::new();
    for e in &events {
        match e {
            RuleEvent::Fire {
                rule: RuleKind::AtrialFibrillation,
                at,
                ..
            } => firing.push((*at as f64 / 1e9, f64::INFINITY)),
            RuleEvent::Resolve {
                rule: RuleKind::AtrialFibrillation,
                at,
            } => {
                if let Some(last) = firing.last_mut() {
                    last.1 = *at as f64 / 1e9;
                }
            }
            _ => {}
        }
    }
    let end = rec.samples.len() as f64 / rec.leads as f64 / rec.fs;
    let total: f64 = truth.iter().map(|(a, b)| b.min(end) - a).sum();
    let covered: f64 = truth
        .iter()
        .flat_map(|(a, b)| {
            firing
                .iter()
                .map(move |(f, r)| (b.min(*r).min(end) - a.max(*f)).max(0.0))
        })
        .sum();
    (outside, if total > 0.0 { covered / total } else { 0.0 })
}

#[test]
fn atrial_fibrillation_per_record_fires_only_in_annotated_episodes_and_covers_them() {
    // Record → (AF alarms allowed outside episodes, least share of AF time alarmed).
    // 201 has runs of SVT and junctional rhythm outside its AF episodes: 2 false alarms
    // there (as before premature beats were undone). Its record starts in AF, so the
    // learning period, the 24-beat window and the 15 s onset delay leave 44 s of it
    // unalarmed (0.84 of its AF time; 0.91 with the older 32-beat window, whose alarm,
    // slow to clear, also covered 201's 37 s paroxysm only by staying open from the
    // episode before). Ectopy-heavy 106, 119 and 208 used to raise AF (2, 1, 2 alarms);
    // they must not.
    let mut failures = Vec::new();
    for name in &record_names() {
        let (allowed, least) = match name.as_str() {
            "201" => (2, 0.8),
            "203" => (0, 0.9),
            // Irregular ventricular rhythm around its flutter episodes (the VF alarm's).
            "207" => (1, 0.0),
            _ => (0, 0.0),
        };
        let (outside, coverage) = af_outcome(name);
        eprintln!(
            "record {name}: AF outside episodes at {outside:?}, AF time alarmed {coverage:.2}"
        );
        if outside.len() > allowed || coverage < least {
            failures.push(format!(
                "{name}: outside {outside:?}, coverage {coverage:.2}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn regular_records_never_raise_atrial_fibrillation() {
    for name in ["100", "101", "102", "112", "115", "205", "220", "230"] {
        let events = clean_events(name);
        let fired = fires(&events, RuleKind::AtrialFibrillation);
        assert!(fired.is_empty(), "record {name}: AF at {fired:?}");
    }
}

#[test]
fn ventricular_flutter_in_record_207_is_found_and_is_not_called_asystole() {
    first_fire_inside("207", &["(VFL"], RuleKind::VentricularFibrillation, 10.0);
    let rec = load("207");
    let vfl = episodes("207", "(VFL", rec.fs);
    let events = clean_events("207");
    let asystole_in_vfl: Vec<f64> = fires(&events, RuleKind::Asystole)
        .into_iter()
        .filter(|t| vfl.iter().any(|(a, b)| *t >= *a && *t <= *b))
        .collect();
    assert!(
        asystole_in_vfl.is_empty(),
        "asystole during VFL at {asystole_in_vfl:?}"
    );
}

/// 223's runs are missed: its slow, non-premature ventricular rhythm is not classified V
/// (docs/clinical-performance.md, classifier limits), so it is not among these records.
#[test]
fn ventricular_tachycardia_in_records_106_203_205_and_215_is_its_own_alarm_inside_an_annotated_episode()
 {
    for name in ["106", "203", "205", "215"] {
        first_fire_inside(name, &["(VT"], RuleKind::VentricularTachycardia, 2.0);
    }
}

#[test]
fn records_without_ventricular_runs_never_raise_vt() {
    for name in ["100", "101", "112", "115", "122", "220"] {
        let events = clean_events(name);
        for rule in [RuleKind::VentricularTachycardia, RuleKind::SustainedVt] {
            let fired = fires(&events, rule);
            assert!(fired.is_empty(), "record {name}: {rule:?} at {fired:?}");
        }
    }
}

#[test]
fn ventricular_bigeminy_in_records_106_and_119_is_alarmed_inside_an_annotated_episode() {
    for name in ["106", "119"] {
        first_fire_inside(name, &["(B"], RuleKind::Bigeminy, 5.0);
    }
}

/// Records with at most one V beat (100 and 230 one, the others none): every ectopy
/// alarm there is false. Measured: 3 couplets in 2 h 30 min (115 one, 230 two), pairs of
/// normal beats the classifier called V (docs/clinical-performance.md); nothing else.
#[test]
fn records_without_ventricular_ectopy_raise_almost_no_ectopy_alarm() {
    let mut raised = Vec::new();
    for name in ["100", "101", "112", "115", "122", "220", "230"] {
        let events = clean_events(name);
        for rule in [
            RuleKind::Nsvt,
            RuleKind::Couplet,
            RuleKind::Bigeminy,
            RuleKind::Trigeminy,
            RuleKind::PvcPerMinute,
        ] {
            raised.extend(fires(&events, rule).into_iter().map(|t| (name, rule, t)));
        }
    }
    let couplets = raised.iter().filter(|(_, r, _)| *r == RuleKind::Couplet);
    assert!(couplets.count() <= 3, "{raised:?}");
    assert!(
        raised.iter().all(|(_, r, _)| *r == RuleKind::Couplet),
        "{raised:?}"
    );
}

/// The rhythm (aux text of a code-28 annotation, e.g. "(VT") in force at `t` seconds.
fn rhythm_at(anns: &[cw_wfdb::Annotation], fs: f64, t: f64) -> String {
    anns.iter()
        .rfind(|a| a.code == 28 && a.aux.is_some() && a.sample as f64 / fs <= t)
        .and_then(|a| a.aux.as_deref())
        .unwrap_or("?")
        .trim_end_matches('\0')
        .to_owned()
}

/// One VF alarm: when its condition began and when it fired (s), and the rhythm the
/// cardiologists annotated at each.
struct VfAlarm {
    onset_s: f64,
    fire_s: f64,
    onset_rhythm: String,
    fire_rhythm: String,
}

/// The VF alarms the engine raises on one whole record (clean signal, test policy).
fn vf_alarms(name: &str) -> Vec<VfAlarm> {
    let rec = load(name);
    let anns = read_annotations(data_dir().join(format!("{name}.atr"))).expect("annotations");
    let events = clean_events(name);
    events
        .iter()
        .filter_map(|e| match e {
            RuleEvent::Fire {
                rule: RuleKind::VentricularFibrillation,
                started_ns,
                at,
                ..
            } => {
                let (onset_s, fire_s) = (*started_ns as f64 / 1e9, *at as f64 / 1e9);
                Some(VfAlarm {
                    onset_s,
                    fire_s,
                    onset_rhythm: rhythm_at(&anns, rec.fs, onset_s),
                    fire_rhythm: rhythm_at(&anns, rec.fs, fire_s),
                })
            }
            _ => None,
        })
        .collect()
}

impl std::fmt::Display for VfAlarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fired {:.1} s in {} (onset {:.1} s in {})",
            self.fire_s, self.fire_rhythm, self.onset_s, self.onset_rhythm
        )
    }
}

fn record_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir())
        .expect("data dir readable")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "hea").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 25, "MIT-BIH records missing: {names:?}");
    names
}

/// Seconds after an annotated flutter/fibrillation episode ends during which a VF alarm
/// still counts as the episode's: the flag averages the last seconds of signal.
const VF_GRACE_S: f64 = 5.0;

/// The VF alarm is for ventricular flutter and fibrillation only. On the 25 records that
/// is the six "(VFL" episodes of 207 (there is no "(VF" in this set; both count). Runs of
/// ventricular tachycardia — 39 "(VT" runs here, 37 of at most 13 beats at up to 200 bpm, and two
/// sustained slow ones in 223 (55 s and 39 s at ~105 bpm) — are discrete complexes on a
/// baseline: the detector reports them as beats, for the heart-rate and tachycardia-run
/// rules, and they must not raise VF; nor may couplets, bigeminy or noise annotations.
/// (A ventricular rhythm so fast that it becomes a continuous sine wave is flutter by
/// definition and does raise it: `crates/detect/tests/flutter.rs`.) Before the flag's
/// baseline check, 208 raised one VF alarm at 363 s in sinus rhythm at 115 bpm with PVCs.
#[test]
fn no_record_raises_a_vf_alarm_outside_an_annotated_ventricular_flutter_episode() {
    let mut failures = Vec::new();
    let mut inside = 0;
    for name in record_names() {
        let rec = load(&name);
        let truth: Vec<(f64, f64)> = ["(VFL", "(VF"]
            .iter()
            .flat_map(|l| episodes(&name, l, rec.fs))
            .collect();
        let alarms = vf_alarms(&name);
        let listed: Vec<String> = alarms.iter().map(ToString::to_string).collect();
        eprintln!("record {name}: {} VF alarms {listed:?}", alarms.len());
        for a in alarms {
            if truth
                .iter()
                .any(|(s, e)| a.fire_s >= *s && a.fire_s <= *e + VF_GRACE_S)
            {
                inside += 1;
            } else {
                failures.push(format!("{name}: {a}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "VF alarms outside flutter: {failures:?}"
    );
    // 207's flutter is found (not vacuous): one alarm per group of episodes closer than
    // the rule's clear time, four in all.
    assert!(inside >= 4, "{inside} VF alarms in flutter");
}

/// What a VT run does instead: the two sustained runs of ventricular tachycardia in 223
/// (55 s and 39 s at ~105 bpm, the only ones over 13 beats here) are reported beat by beat,
/// so a tachycardia-run rule (8 beats at ≥ 95 bpm) raises them — within 30 s, and nowhere
/// else in the record — and VF does not. (At ≥ 100 bpm the run rule stays quiet: the
/// beat-to-beat rate of this slow VT dips under 100.)
#[test]
fn the_sustained_vt_of_record_223_raises_a_tachycardia_run_not_vf() {
    use cw_core::rules::RunRule;
    let rec = load("223");
    let vt: Vec<(f64, f64)> = episodes("223", "(VT", rec.fs)
        .into_iter()
        .filter(|(a, b)| b - a > 30.0)
        .collect();
    assert_eq!(vt.len(), 2, "{vt:?}");
    let mut monitor = PatientMonitor::new(ThresholdPolicy {
        tachy_run: Some(RunRule {
            bpm: 95.0,
            beats: 8,
            priority: Priority::High,
            clear_s: 10.0,
        }),
        ..policy()
    });
    let events: Vec<RuleEvent> = blocks(&rec, None)
        .iter()
        .flat_map(|b| monitor.process(b))
        .collect();
    let runs = fires(&events, RuleKind::TachyRun);
    for (a, b) in &vt {
        assert!(
            runs.iter().any(|t| *t >= *a && *t <= (a + 30.0).min(*b)),
            "VT {a:.0}–{b:.0} s: tachycardia runs at {runs:?}"
        );
    }
    assert!(
        runs.iter()
            .all(|t| vt.iter().any(|(a, b)| t >= a && t <= b)),
        "tachycardia runs outside VT: {runs:?}"
    );
    let vf = fires(&events, RuleKind::VentricularFibrillation);
    assert!(vf.is_empty(), "VF at {vf:?}");
}
