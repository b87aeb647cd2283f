//! `cardiowatch vitals-alarms --record testdata/vitals/s00001-2896-10-10-00-31n`: replays a
//! WFDB numerics record (the numerics a gateway would send, `vitals_record`) through the
//! vital-sign rules of the shipped defaults, once per hold, and prints the alarms per hour
//! of each rule (docs/vitals.md, "Alarm rates on the ICU record").

use crate::vitals_record::items_at;
use cw_analysis::PatientMonitor;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{PatientId, RuleKind, ThresholdPolicy, VitalReading};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct VitalsAlarmsArgs {
    /// The numerics record (header path without `.hea`).
    #[arg(long)]
    pub record: PathBuf,
    /// Holds to compare, in seconds (the shipped default is the vital-sign rules' hold).
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, 15.0, 120.0, 300.0])]
    pub hold_s: Vec<f32>,
}

/// Alarms (fires) per rule over one replay of the record.
pub struct Replay {
    pub hours: f64,
    pub fires: BTreeMap<&'static str, u32>,
}

/// The readings of the record, one batch per sample (minute), on its own time axis.
pub fn batches(record: &cw_wfdb::Record) -> Vec<Vec<VitalReading>> {
    let step_ns = (NANOS_PER_SEC as f64 / record.fs.max(f64::MIN_POSITIVE)) as Nanos;
    (0..record.len())
        .map(|i| {
            let at = i as Nanos * step_ns;
            items_at(record, i)
                .into_iter()
                .map(|it| VitalReading {
                    time_ns: at,
                    kind: it.kind,
                    site: it.site,
                    status: it.status,
                    value: it.value,
                })
                .collect()
        })
        .collect()
}

/// The shipped defaults with every vital-sign limit's hold, and the sensor-off alarm's
/// onset delay, set to `hold_s`.
pub fn policy_with_hold(hold_s: f32) -> ThresholdPolicy {
    let patient = PatientId::parse("vitals-replay").unwrap_or_else(|_| PatientId::random());
    let mut policy = ThresholdPolicy::empty(patient).with_recommended_vitals();
    policy.set_vital_hold_s(hold_s);
    if let Some(off) = policy.sensor_off.as_mut() {
        off.for_s = hold_s;
    }
    policy
}

/// Replays `batches` through a fresh monitor of `policy`.
pub fn replay(batches: &[Vec<VitalReading>], policy: ThresholdPolicy, hours: f64) -> Replay {
    let mut monitor = PatientMonitor::new(policy);
    let mut fires = BTreeMap::new();
    for batch in batches {
        for event in monitor.on_vitals(batch) {
            if let cw_analysis::RuleEvent::Fire { rule, .. } = event {
                *fires.entry(rule.as_str()).or_insert(0) += 1;
            }
        }
    }
    Replay { hours, fires }
}

/// The rules the table lists (those the shipped defaults turn on).
fn listed() -> Vec<RuleKind> {
    let policy = policy_with_hold(0.0);
    RuleKind::ALL
        .into_iter()
        .filter(|r| policy.rule(*r).is_some())
        .collect()
}

pub fn run(args: VitalsAlarmsArgs) -> anyhow::Result<()> {
    let record = cw_wfdb::Record::open(&args.record)?;
    let hours = record.len() as f64 / record.fs / 3600.0;
    let batches = batches(&record);
    let replays: Vec<(f32, Replay)> = args
        .hold_s
        .iter()
        .map(|&h| (h, replay(&batches, policy_with_hold(h), hours)))
        .collect();
    println!(
        "record {} ({:.1} h, {} samples): alarms (fires) per hour, shipped defaults",
        record.name,
        hours,
        record.len()
    );
    let header: Vec<String> = replays.iter().map(|(h, _)| format!("hold {h} s")).collect();
    println!("| rule | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(replays.len()));
    for rule in listed() {
        let cells: Vec<String> = replays
            .iter()
            .map(|(_, r)| {
                let n = r.fires.get(rule.as_str()).copied().unwrap_or(0);
                format!("{:.2} ({n})", f64::from(n) / r.hours)
            })
            .collect();
        println!("| {} | {} |", rule.as_str(), cells.join(" | "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn record() -> cw_wfdb::Record {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/vitals/s00001-2896-10-10-00-31n");
        cw_wfdb::Record::open(path).expect("the numerics record reads")
    }

    #[test]
    fn the_hold_removes_single_minute_dips_and_probe_off_is_technical_only() {
        let r = record();
        let b = batches(&r);
        let hours = r.len() as f64 / r.fs / 3600.0;
        let none = replay(&b, policy_with_hold(0.0), hours);
        let held = replay(&b, policy_with_hold(15.0), hours);
        let n = |x: &Replay, rule: RuleKind| x.fires.get(rule.as_str()).copied().unwrap_or(0);
        // Respiration dips below 8 /min for single minutes on this record; the hold keeps
        // only the dips that last into the next minute (docs/vitals.md, "Alarm rates").
        assert_eq!(
            (
                n(&none, RuleKind::RespirationLow),
                n(&held, RuleKind::RespirationLow)
            ),
            (20, 2)
        );
        // SpO2 never reads below 91.9 %; the probe comes off (363 minutes of SpO2 0)
        // and raises the technical alarm, never a desaturation.
        assert_eq!(n(&none, RuleKind::Spo2Low), 0);
        assert!(n(&held, RuleKind::SensorOff) > 0);
    }
}
