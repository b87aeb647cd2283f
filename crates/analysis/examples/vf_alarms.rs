//! Every VF/VFL and VT alarm of a replay, judged as `cardiowatch ec57` judges it, with
//! the annotated rhythm where it fired; for each VF alarm not judged true also the seconds
//! before it (the detector's flutter flag, the signal's own rhythm as `fast_activity` takes it,
//! beats found), for studying false VF alarms (docs/clinical-performance.md, "False VF
//! alarms on vfdb: what they are"):
//! `cargo run -p cw-analysis --example vf_alarms [-- DIR [RECORD…]]` (default vfdb).
//! `TRACE=0` leaves the seconds out; `ALL=1` traces the true VF alarms too (by default only
//! those judged false or not judged).

#[path = "common/records.rs"]
mod records;

use cw_analysis::fast_activity::{FastVentricularActivity, MIN_FLUTTER_LAG};
use cw_analysis::{PatientMonitor, RuleEvent, measurement_policy};
use cw_core::{DeviceId, PatientId, RuleKind, SampleBlock};
use cw_detect::{QrsDetector, SignalQuality};
use cw_ec57::alarms::Judge;
use cw_ec57::{Alarm, AlarmKind, Reference, Rhythm, Verdict};

/// Seconds before a VF alarm traced.
const TRACE_S: f64 = 12.0;

fn main() {
    let (dir, names) = records::from_args("vfdb");
    let trace = std::env::var("TRACE").map_or(true, |v| v != "0");
    for name in names {
        let record = records::open(&dir, &name);
        let (fs, leads, uv) = (record.fs, record.leads, &record.uv);
        let duration_s = uv.len() as f64 / leads as f64 / fs;
        let alarms = replay(fs, leads, uv, duration_s);
        let judge = Judge::new(&record.reference);
        let seconds = trace.then(|| per_second(fs, leads, uv));
        for alarm in &alarms {
            let verdict = judge.verdict(alarm);
            println!(
                "{name} {:4} fired {:7.1} end {:7.1} {:?} in {}",
                if alarm.kind == AlarmKind::Vf {
                    "VF"
                } else {
                    "VT"
                },
                alarm.fired_s,
                alarm.end_s,
                verdict,
                rhythm_at(&record.reference, alarm.fired_s),
            );
            if let (Some(seconds), AlarmKind::Vf) = (&seconds, alarm.kind)
                && (verdict != Verdict::True || std::env::var("ALL").is_ok())
            {
                for s in seconds
                    .iter()
                    .filter(|s| s.t > alarm.fired_s - TRACE_S && s.t <= alarm.fired_s + 1.0)
                {
                    println!(
                        "    {:7.1} {:5} flutter {} activity {} beats {} cycle {:4.0} bpm reg {:.2}",
                        s.t,
                        rhythm_at(&record.reference, s.t),
                        u8::from(s.flutter),
                        u8::from(s.activity),
                        s.beats,
                        s.bpm,
                        s.regularity
                    );
                }
            }
        }
    }
}

/// The annotated rhythm at `t`, with the onset of the next VF/VFL if within 15 s.
fn rhythm_at(reference: &Reference, t: f64) -> String {
    let here = reference
        .rhythms
        .iter()
        .find(|r| r.interval.contains(t))
        .map_or("?".to_string(), |r| format!("{:?}", r.rhythm));
    let next_vf = reference
        .episodes(Rhythm::Vf)
        .into_iter()
        .find(|i| i.start > t && i.start < t + 15.0);
    match next_vf {
        Some(i) => format!("{here} (VF at {:.1})", i.start),
        None => here,
    }
}

/// VT and VF alarms of the engine's monitor under `measurement_policy`.
fn replay(fs: f64, leads: usize, uv: &[i16], duration_s: f64) -> Vec<Alarm> {
    let patient = PatientId::parse("vf-alarms").expect("valid id");
    let device = DeviceId::parse("backtest").expect("valid id");
    let mut monitor = PatientMonitor::new(measurement_policy(patient.clone()));
    let per_block = ((fs * 0.25) as usize).max(1);
    let mut out: Vec<Alarm> = Vec::new();
    for (k, chunk) in uv.chunks(per_block * leads).enumerate() {
        let block = SampleBlock {
            patient: patient.clone(),
            device: device.clone(),
            seq: k as u64,
            start_ns: ((k * per_block) as f64 * 1e9 / fs) as i64,
            rate_hz: fs.round() as u32,
            leads: leads as u8,
            samples_uv: chunk.to_vec(),
            lead_off: false,
        };
        for e in monitor.process(&block) {
            let kind = |rule: RuleKind| match rule {
                RuleKind::VentricularFibrillation => Some(AlarmKind::Vf),
                RuleKind::VentricularTachycardia | RuleKind::SustainedVt => Some(AlarmKind::Vt),
                _ => None,
            };
            match e {
                RuleEvent::Fire { rule, at, .. } => {
                    if let Some(kind) = kind(rule) {
                        out.push(Alarm {
                            rule: rule.as_str().to_string(),
                            kind,
                            fired_s: at as f64 / 1e9,
                            end_s: duration_s,
                            events: 1,
                            event_s: Vec::new(),
                        });
                    }
                }
                RuleEvent::Resolve { rule, at } => {
                    if let Some(a) = out.iter_mut().rev().find(|a| a.rule == rule.as_str()) {
                        a.end_s = at as f64 / 1e9;
                    }
                }
                RuleEvent::Episode { .. } => {}
            }
        }
    }
    out
}

struct Second {
    t: f64,
    flutter: bool,
    activity: bool,
    beats: u32,
    bpm: f64,
    regularity: f32,
}

/// Each one-second quality window: the detector's flags, beats in it, the dominant cycle.
fn per_second(fs: f64, leads: usize, uv: &[i16]) -> Vec<Second> {
    let mut detector = QrsDetector::new(fs, leads);
    let mut quality = SignalQuality::new(fs, leads);
    let mut fast = FastVentricularActivity::new(fs, leads);
    let mut beats = 0;
    let mut out = Vec::new();
    for frame in uv.chunks_exact(leads) {
        fast.on_frame(frame);
        if let Some(beat) = detector.push(frame) {
            fast.on_beat(beat.sample);
            beats += 1;
        }
        let Some(window) = quality.push(frame) else {
            continue;
        };
        let (bpm, regularity) = fast.rhythm(MIN_FLUTTER_LAG).map_or((0.0, 0.0), |(lag, r)| {
            (60.0 * fast.rate_hz() / lag as f64, r)
        });
        out.push(Second {
            t: window.end_sample as f64 / fs,
            flutter: detector.flutter(),
            activity: detector.continuous_activity(),
            beats,
            bpm,
            regularity,
        });
        beats = 0;
    }
    out
}
