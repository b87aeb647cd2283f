//! Why is each reference VT episode alarmed or missed? For every record of a WFDB folder
//! (default ../shared/data/mitdb), each reference VT episode (`(VT`, and runs of ≥ 3 V
//! beats at ≥ 100 bpm) with: the ventricular alarm that fired for it (README rule:
//! within [onset − 2 s, end + 1 s]), or else a VT event counted inside an already open
//! VT alert, or else what the beat classifier made of its beats (detected beats, their
//! classes, the longest V run and its rate). Replays the engine's `PatientMonitor` with
//! `measurement_policy`, as `cardiowatch ec57` does:
//! `cargo run -p cw-analysis --release --example vt_misses [-- DIR [RECORD…]]`.
//! `EPISODES=vf` does the same for the VF/VFL episodes (`(VF`, `(VFL`, `(VFIB`, `[`…`]`).

#[path = "common/records.rs"]
mod records;

use cw_analysis::{PatientMonitor, RuleEvent, measurement_policy};
use cw_core::{DeviceId, PatientId, RuleKind, SampleBlock};
use cw_detect::{BeatClass, ClassifiedBeat};
use cw_ec57::Interval;

/// What the replay raised, in seconds from the record start.
#[derive(Default)]
struct Replayed {
    /// (rule, fired, resolved or record end).
    alarms: Vec<(RuleKind, f64, f64)>,
    /// (rule, time) of each event counted inside an open alert.
    inside: Vec<(RuleKind, f64)>,
}

fn replay(fs: f64, leads: usize, uv: &[i16], duration_s: f64) -> Replayed {
    let patient = PatientId::parse("vt-misses").expect("valid id");
    let device = DeviceId::parse("backtest").expect("valid id");
    let mut monitor = PatientMonitor::new(measurement_policy(patient.clone()));
    let per_block = ((fs * 0.25) as usize).max(1);
    let mut out = Replayed::default();
    let mut counts: std::collections::HashMap<RuleKind, u32> = Default::default();
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
            match e {
                RuleEvent::Fire { rule, at, .. } => {
                    out.alarms.push((rule, at as f64 / 1e9, duration_s));
                    counts.insert(rule, 1);
                }
                RuleEvent::Episode { rule, at, episode } => {
                    let c = counts.entry(rule).or_insert(1);
                    if episode.count > *c {
                        *c = episode.count;
                        out.inside.push((rule, at as f64 / 1e9));
                    }
                }
                RuleEvent::Resolve { rule, at } => {
                    if let Some(a) = out.alarms.iter_mut().rev().find(|a| a.0 == rule) {
                        a.2 = at as f64 / 1e9;
                    }
                }
            }
        }
    }
    out
}

/// Longest run of consecutive V beats among `beats`, with its mean rate.
fn longest_v_run(fs: f64, beats: &[&ClassifiedBeat]) -> (usize, f64) {
    let (mut best, mut bpm) = (0, 0.0);
    let mut i = 0;
    while i < beats.len() {
        let mut j = i;
        while j < beats.len() && beats[j].class == BeatClass::V {
            j += 1;
        }
        if j - i > best {
            best = j - i;
            let span = (beats[j - 1].sample - beats[i].sample) as f64 / fs;
            bpm = if best >= 2 {
                60.0 * (best - 1) as f64 / span
            } else {
                0.0
            };
        }
        i = j.max(i + 1);
    }
    (best, bpm)
}

fn main() {
    let (dir, names) = records::from_args("mitdb");
    let mut tally: std::collections::BTreeMap<&str, usize> = Default::default();
    println!("record  onset_s  len_s  verdict            beats  V/N/S/Q   vrun  vrun_bpm  note");
    for name in names {
        let records::Annotated {
            fs,
            leads,
            reference,
            uv,
        } = records::open(&dir, &name);
        let beats = cw_detect::classify_all(fs, leads, &uv);
        let r = replay(fs, leads, &uv, reference.duration_s);
        // BEATS=FROM-TO (seconds): list reference and classified beats there.
        if let Some((from, to)) = std::env::var("BEATS").ok().and_then(|v| {
            let (a, b) = v.split_once('-')?;
            Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?))
        }) {
            let t = |s: u64| s as f64 / fs;
            for b in reference
                .beats
                .iter()
                .filter(|b| (from..to).contains(&t(b.sample)))
            {
                let c = beats
                    .iter()
                    .find(|c| c.sample.abs_diff(b.sample) as f64 <= 0.15 * fs);
                println!(
                    "  {:8.2} ref {:?} test {} noise {:.3}",
                    t(b.sample),
                    b.class,
                    c.map_or('-', |c| c.class.code()),
                    c.map_or(0.0, |c| c.noise)
                );
            }
            for a in r.alarms.iter().filter(|a| (from..to).contains(&a.1)) {
                println!("  alarm {:?} {:.1}-{:.1}", a.0, a.1, a.2);
            }
        }
        let ventricular = |k: RuleKind| {
            matches!(
                k,
                RuleKind::VentricularTachycardia
                    | RuleKind::SustainedVt
                    | RuleKind::VentricularFibrillation
            )
        };
        // `EPISODES=vf`: the VF/VFL episodes instead.
        let episodes = if std::env::var("EPISODES").is_ok_and(|v| v == "vf") {
            reference.episodes(cw_ec57::Rhythm::Vf)
        } else {
            reference.vt_episodes()
        };
        for e in episodes {
            let w: Interval = e.widened(2.0, 1.0);
            let fired = r
                .alarms
                .iter()
                .find(|a| ventricular(a.0) && w.contains(a.1));
            let inside = r
                .inside
                .iter()
                .find(|a| ventricular(a.0) && w.contains(a.1));
            let open_vt = r.alarms.iter().any(|a| {
                a.0 == RuleKind::VentricularTachycardia && a.1 < w.start && a.2 >= e.start
            });
            let noise = r
                .alarms
                .iter()
                .any(|a| a.0 == RuleKind::Noise && a.1 <= e.end && a.2 >= w.start);
            let inner: Vec<&ClassifiedBeat> = beats
                .iter()
                .filter(|b| w.contains(b.sample as f64 / fs))
                .collect();
            let count = |c: BeatClass| inner.iter().filter(|b| b.class == c).count();
            let (vrun, vbpm) = longest_v_run(fs, &inner);
            let verdict = if let Some(a) = fired {
                if a.0 == RuleKind::VentricularFibrillation {
                    "fired VF"
                } else {
                    "fired VT"
                }
            } else if inside.is_some() {
                "inside open alert"
            } else if open_vt {
                "open, not counted"
            } else if inner.len() < 3 {
                "few beats"
            } else if vrun >= 3 && vbpm >= 100.0 {
                "V run, no alarm"
            } else if vrun >= 3 {
                "slow V run"
            } else {
                "not V"
            };
            *tally.entry(verdict).or_default() += 1;
            let delay = fired.map_or(String::new(), |a| format!("delay {:.1}", a.1 - e.start));
            println!(
                "{name:6}  {:7.1}  {:5.1}  {verdict:17}  {:5}  {}/{}/{}/{}  {vrun:5}  {vbpm:8.0}  {delay}{}",
                e.start,
                e.len(),
                inner.len(),
                count(BeatClass::V),
                count(BeatClass::N),
                count(BeatClass::S),
                count(BeatClass::Q),
                if noise { " noise-alarm" } else { "" },
            );
        }
    }
    println!("{tally:?}");
}
