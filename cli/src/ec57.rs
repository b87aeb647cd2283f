//! `cardiowatch ec57 --data DIR [--policy FILE]`: every annotated WFDB record in DIR runs
//! through the analysis the live engine runs (the backtest replay of the patient monitor)
//! and the beat detector and classifier, and is scored against its reference annotations by `cw-ec57`;
//! prints EC57's tables per record and gross. Method: `docs/clinical-performance.md`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use cw_analysis::RuleEvent;
use cw_analysis::backtest::{WouldAlert, replay_observed};
use cw_analysis::measurement_policy;
use cw_core::{PatientId, RuleKind, ThresholdPolicy};
use cw_detect::BeatClass;
use cw_ec57::{AamiClass, Alarm, AlarmKind, Ectopy, Limits, RecordResult, Reference, TestBeat};

use crate::backtest::{frames_of, load_policy};

#[derive(Args, Debug)]
pub struct Ec57Args {
    /// A directory of WFDB records (`.hea`, signal files, `.atr` reference annotations).
    #[arg(long)]
    pub data: PathBuf,
    /// The policy under test: a JSON file with the settings of
    /// `PUT /v1/patients/{id}/thresholds` (default: `cw_analysis::measurement_policy`).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Add NSTDB noise (`bw` baseline wander, `ma` muscle) to every record at `--snr`,
    /// with the noise stress test's protocol (noisy 2-minute segments from minute 5).
    #[arg(long, requires = "snr")]
    pub noise: Option<NoiseRecord>,
    /// Signal-to-noise ratio of the noisy segments, dB.
    #[arg(long, requires = "noise", allow_negative_numbers = true)]
    pub snr: Option<f64>,
    /// Where the noise records are (default: `nstdb` beside the --data directory).
    #[arg(long)]
    pub nstdb: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum NoiseRecord {
    Bw,
    Ma,
}

/// Noise read once, added to every record.
pub struct NoiseStress {
    pub fs: f64,
    pub leads: usize,
    pub uv: Vec<i16>,
    pub snr_db: f64,
}

impl NoiseStress {
    /// Reads NSTDB record `which` from `dir`.
    pub fn load(dir: &Path, which: NoiseRecord, snr_db: f64) -> anyhow::Result<NoiseStress> {
        let name = match which {
            NoiseRecord::Bw => "bw",
            NoiseRecord::Ma => "ma",
        };
        let record = cw_wfdb::Record::open(dir.join(name))
            .with_context(|| format!("opening the noise record {}/{name}", dir.display()))?;
        Ok(NoiseStress {
            fs: record.fs,
            leads: record.signal_count().max(1),
            uv: record.microvolts_interleaved(),
            snr_db,
        })
    }
}

/// Names of the records in `dir` that have reference annotations (`NAME.hea` beside
/// `NAME.atr`), sorted.
pub fn annotated_records(dir: &Path) -> anyhow::Result<Vec<String>> {
    if !dir.is_dir() {
        bail!("--data {}: not a directory", dir.display());
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "hea"))
        .filter(|p| p.with_extension("atr").is_file())
        .filter_map(|p| p.file_stem()?.to_str().map(str::to_string))
        .collect();
    names.sort();
    if names.is_empty() {
        bail!(
            "--data {}: no WFDB record with reference annotations (NAME.hea beside NAME.atr)",
            dir.display()
        );
    }
    Ok(names)
}

/// What an alert of the engine claims, for judging it against the reference.
fn alarm_kind(a: &WouldAlert) -> AlarmKind {
    let limit = f64::from(a.limit);
    // The ectopy rules' limits are whole beats, cycles or beats a minute.
    let count = a.limit.round().max(0.0) as usize;
    match a.rule {
        RuleKind::HrHigh => AlarmKind::HrHigh { bpm: limit },
        RuleKind::HrLow => AlarmKind::HrLow { bpm: limit },
        RuleKind::TachyRun => AlarmKind::TachyRun { bpm: limit },
        RuleKind::BradyRun => AlarmKind::BradyRun { bpm: limit },
        RuleKind::Pause => AlarmKind::Pause { s: limit },
        RuleKind::Asystole => AlarmKind::Asystole { s: limit },
        RuleKind::AtrialFibrillation => AlarmKind::Af,
        RuleKind::VentricularFibrillation => AlarmKind::Vf,
        RuleKind::VentricularTachycardia | RuleKind::SustainedVt => AlarmKind::Vt,
        RuleKind::Couplet => AlarmKind::VentricularEctopy(Ectopy::Couplet),
        RuleKind::Bigeminy => AlarmKind::VentricularEctopy(Ectopy::Pattern {
            period: 2,
            cycles: count,
        }),
        RuleKind::Trigeminy => AlarmKind::VentricularEctopy(Ectopy::Pattern {
            period: 3,
            cycles: count,
        }),
        RuleKind::PvcPerMinute => AlarmKind::VentricularEctopy(Ectopy::PerMinute { limit: count }),
        RuleKind::Nsvt => AlarmKind::VentricularEctopy(Ectopy::Run { beats: count }),
        // Exhaustive on purpose: a new rule does not compile until it says how it is judged.
        RuleKind::LeadOff
        | RuleKind::FlatLine
        | RuleKind::Saturation
        | RuleKind::Noise
        | RuleKind::NoData
        | RuleKind::MonitoringInterrupted
        | RuleKind::SensorOff
        | RuleKind::BatteryLow
        | RuleKind::StaleNumerics => AlarmKind::Technical,
        // Vital-sign rules judge numerics, which an ECG record has none of: never raised
        // in an EC57 replay, and kept out of the ECG scores like the technical alarms.
        RuleKind::Spo2Low
        | RuleKind::RespirationLow
        | RuleKind::RespirationHigh
        | RuleKind::SystolicLow
        | RuleKind::SystolicHigh
        | RuleKind::TemperatureHigh
        | RuleKind::TemperatureLow
        | RuleKind::News2Urgent
        | RuleKind::News2Emergency
        | RuleKind::Apnea
        | RuleKind::Fall => AlarmKind::Technical,
    }
}

fn aami_class(class: BeatClass) -> AamiClass {
    match class {
        BeatClass::N => AamiClass::N,
        BeatClass::S => AamiClass::S,
        BeatClass::V => AamiClass::V,
        BeatClass::F => AamiClass::F,
        BeatClass::Q => AamiClass::Q,
    }
}

fn limits_of(policy: &ThresholdPolicy) -> Limits {
    Limits {
        hr_high_bpm: policy.hr_high.as_ref().map(|l| f64::from(l.bpm)),
        hr_low_bpm: policy.hr_low.as_ref().map(|l| f64::from(l.bpm)),
        pause_s: policy.pause.as_ref().map(|r| f64::from(r.rr_s)),
        asystole_s: policy.asystole.as_ref().map(|r| f64::from(r.after_s)),
    }
}

/// Runs one record (path without extension) through the analysis and scores it.
pub fn evaluate_record(
    path: &Path,
    policy: &ThresholdPolicy,
    noise: Option<&NoiseStress>,
) -> anyhow::Result<RecordResult> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("record name")?;
    let record = cw_wfdb::Record::open(path)
        .with_context(|| format!("opening the record {}", path.display()))?;
    let annotations = cw_wfdb::read_annotations(path.with_extension("atr"))
        .with_context(|| format!("reading the annotations of {name}"))?;
    let (fs, leads) = (record.fs, record.signal_count().max(1));
    let reference = Reference::from_annotations(fs, record.len() as u64, &annotations);
    let mut uv = record.microvolts_interleaved();
    if let Some(n) = noise {
        if (n.fs - fs).abs() > 0.5 {
            bail!("{name} is sampled at {fs} Hz, the noise at {} Hz", n.fs);
        }
        let normal: Vec<u64> = reference
            .beats
            .iter()
            .filter(|b| b.class == AamiClass::N)
            .map(|b| b.sample)
            .collect();
        uv = cw_ec57::noise_stress::add_noise(&uv, leads, fs, &normal, &n.uv, n.leads, n.snr_db)
            .with_context(|| format!("{name}: no normal beats to measure the signal size"))?;
    }
    let test_beats: Vec<TestBeat> = cw_detect::classify_all(fs, leads, &uv)
        .into_iter()
        .map(|b| TestBeat {
            sample: b.sample,
            class: Some(aami_class(b.class)),
        })
        .collect();
    // Each event an open alert counted after the one that fired it: (rule, when).
    let mut counted: Vec<(RuleKind, f64)> = Vec::new();
    let replayed = replay_observed(policy, &frames_of(fs, leads, &uv), |e| {
        if let RuleEvent::Episode { rule, episode, .. } = e
            && episode.count > 1
            && counted
                .iter()
                .rev()
                .find(|(r, _)| r == rule)
                .is_none_or(|(_, t)| *t < episode.last_ns as f64 / 1e9)
        {
            counted.push((*rule, episode.last_ns as f64 / 1e9));
        }
    });
    let alarms: Vec<Alarm> = replayed
        .report
        .alerts
        .iter()
        .map(|a| Alarm {
            rule: a.rule.as_str().to_string(),
            kind: alarm_kind(a),
            fired_s: a.fired_ns as f64 / 1e9,
            end_s: a
                .resolved_ns
                .map_or(reference.duration_s, |ns| ns as f64 / 1e9),
            events: a.episode.count,
            event_s: {
                let (from, to) = (
                    a.fired_ns as f64 / 1e9,
                    a.resolved_ns.map(|ns| ns as f64 / 1e9),
                );
                counted
                    .iter()
                    .filter(|(r, t)| *r == a.rule && *t > from && to.is_none_or(|to| *t <= to))
                    .map(|(_, t)| *t)
                    .collect()
            },
        })
        .collect();
    let mut result =
        RecordResult::score(name, &reference, &test_beats, &alarms, &limits_of(policy));
    result.noise_held_s = replayed.noise_held_s.min(result.duration_s);
    if noise.is_some() {
        cw_ec57::false_alarms::mark_stressed(&mut result.placed);
    }
    Ok(result)
}

/// Every annotated record of `dir`, in name order; progress on stderr.
pub fn evaluate_dir(
    dir: &Path,
    policy: &ThresholdPolicy,
    noise: Option<&NoiseStress>,
) -> anyhow::Result<Vec<RecordResult>> {
    let names = annotated_records(dir)?;
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let started = Instant::now();
        out.push(evaluate_record(&dir.join(name), policy, noise)?);
        eprintln!(
            "[{}/{}] {name} scored in {:.1} s",
            i + 1,
            names.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(out)
}

pub fn run(args: Ec57Args) -> anyhow::Result<()> {
    let patient = PatientId::parse("ec57").context("patient id")?;
    let policy = match &args.policy {
        Some(path) => load_policy(path, &patient)?,
        None => measurement_policy(patient),
    };
    let noise = match (args.noise, args.snr) {
        (Some(which), Some(snr_db)) => {
            let dir = match &args.nstdb {
                Some(dir) => dir.clone(),
                None => args.data.join("../nstdb"),
            };
            println!(
                "Noise stress: NSTDB {which:?} at {snr_db} dB SNR, 2-minute noisy segments from minute 5\n"
            );
            Some(NoiseStress::load(&dir, which, snr_db)?)
        }
        _ => None,
    };
    let results = evaluate_dir(&args.data, &policy, noise.as_ref())?;
    print!("{}", cw_ec57::render(&results));
    Ok(())
}
