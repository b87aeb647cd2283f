//! `cardiowatch fatigue --config notifier.toml --days 7`: the alarm-fatigue report
//! (alarms per patient/rule/day, ack rate, median time-to-ack; false-alarm rate per
//! rule from clinicians' triage) from the configured store.

use anyhow::Context;
use cw_core::time::{NANOS_PER_SEC, now_ns};

pub async fn run(
    store: &crate::store_args::StoreArgs,
    days: u32,
    json: bool,
) -> anyhow::Result<()> {
    let cfg: cw_notifier::NotifierConfig = store.load()?;
    let stores = cw_storage::open(&cfg.storage)
        .await
        .context("opening the store")?;
    let since = now_ns() - i64::from(days) * 86_400 * NANOS_PER_SEC;
    let report = cw_notifier::fatigue::report(stores.records.as_ref(), since)
        .await
        .context("reading alerts")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("day,patient,rule,alarms,acked");
    for row in &report.rows {
        println!(
            "{},{},{},{},{}",
            row.day, row.patient, row.rule, row.alarms, row.acked
        );
    }
    println!("rule,alarms,triaged,confirmed,artifact,false,false_alarm_rate");
    for r in &report.rules {
        let rate = r
            .false_alarm_rate
            .map_or("-".to_owned(), |x| format!("{x:.2}"));
        println!(
            "{},{},{},{},{},{},{rate}",
            r.rule, r.alarms, r.triaged, r.confirmed, r.artifact, r.false_alarms
        );
    }
    let median = report
        .median_time_to_ack_s
        .map_or("-".to_owned(), |s| format!("{s:.1}"));
    println!(
        "alarms={} ack_rate={:.2} median_time_to_ack_s={median} (last {days} days)",
        report.alarms, report.ack_rate
    );
    Ok(())
}
