//! Retention in the embedded file, the equivalent of what InfluxDB and MongoDB do
//! themselves (`influx/lifecycle.rs`, `mongo/indexes.rs`; docs/operations.md, "Data
//! lifecycle"): a sweep downsamples ECG (min/max per lead per interval) and vitals
//! (mean/min/max per kind and site per interval) into tables of their own, then deletes
//! raw rows past the raw window, downsampled rows past theirs, expired refresh tokens
//! and deliveries unchanged for `delivery_days`. The file's sweeper runs it every
//! `every_s`; several processes sharing the file may each run it (every step is
//! idempotent and runs in an IMMEDIATE transaction).

use super::conn::Db;
use super::map_err;
use super::samples::{decode, frames_in};
use crate::config::RetentionConfig;
use crate::ports::{EcgEnvelope, Result};
use cw_core::PatientId;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::time::Duration;

pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS ecg_downsampled (
    patient TEXT    NOT NULL,
    time_ns INTEGER NOT NULL,
    mins    BLOB    NOT NULL,
    maxs    BLOB    NOT NULL,
    PRIMARY KEY (patient, time_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vitals_downsampled (
    patient TEXT    NOT NULL,
    time_ns INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    site    TEXT    NOT NULL,
    mean    REAL    NOT NULL,
    min     REAL    NOT NULL,
    max     REAL    NOT NULL,
    PRIMARY KEY (patient, time_ns, kind, site)
) WITHOUT ROWID;
-- The sweep reads and deletes vitals by time across patients.
CREATE INDEX IF NOT EXISTS vitals_by_time ON vitals (time_ns);
CREATE TABLE IF NOT EXISTS retention_marks (
    series   TEXT PRIMARY KEY,
    until_ns INTEGER NOT NULL
) WITHOUT ROWID;
";

const NANOS_PER_DAY: Nanos = 86_400 * NANOS_PER_SEC;
/// ECG is downsampled an hour of one patient at a time, so a first sweep over a long
/// history never holds more than that in memory.
const ECG_CHUNK_NS: Nanos = 3_600 * NANOS_PER_SEC;

/// What one sweep did (for its log line and the tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub ecg_downsampled: u64,
    pub vitals_downsampled: u64,
    pub raw_blocks_deleted: u64,
    pub raw_vitals_deleted: u64,
    pub downsampled_deleted: u64,
    pub refresh_tokens_deleted: u64,
    pub deliveries_deleted: u64,
}

/// One sweep of the file as of `now`: samples through `samples`, records through
/// `records` (two connections to one file).
pub(super) async fn sweep(
    samples: &Db,
    records: &Db,
    cfg: &RetentionConfig,
    now: Nanos,
) -> Result<SweepReport> {
    let for_samples = cfg.clone();
    let mut report = samples
        .call(move |conn| sweep_samples(conn, &for_samples, now))
        .await?;
    let delivery_cut = days_before(now, cfg.delivery_days);
    let (tokens, deliveries) = records
        .call(move |conn| sweep_records(conn, now, delivery_cut))
        .await?;
    report.refresh_tokens_deleted = tokens;
    report.deliveries_deleted = deliveries;
    Ok(report)
}

/// Runs [`sweep`] every `every_s` for as long as the store is open (the task holds the
/// connections only weakly, so dropping the store ends it). The first sweep waits one
/// period, so services starting together do not all sweep at once.
pub(super) fn spawn_sweeper(samples: &Db, records: &Db, cfg: &RetentionConfig) {
    let (samples, records) = (samples.downgrade(), records.downgrade());
    let cfg = cfg.clone();
    let period = Duration::from_secs(u64::from(cfg.every_s.max(1)));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (Some(samples), Some(records)) = (samples.upgrade(), records.upgrade()) else {
                return;
            };
            match sweep(&samples, &records, &cfg, cw_core::time::now_ns()).await {
                Ok(report) if report != SweepReport::default() => {
                    tracing::info!(?report, "embedded store retention sweep");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "embedded store retention sweep failed"),
            }
        }
    });
}

/// `days` before `now`; `None` when 0 (keep forever).
fn days_before(now: Nanos, days: u32) -> Option<Nanos> {
    (days > 0).then(|| now.saturating_sub(Nanos::from(days) * NANOS_PER_DAY))
}

fn floor(t: Nanos, interval: Nanos) -> Nanos {
    t.div_euclid(interval) * interval
}

fn sweep_samples(conn: &mut Connection, cfg: &RetentionConfig, now: Nanos) -> Result<SweepReport> {
    let late = Nanos::from(cfg.late_s) * NANOS_PER_SEC;
    let ecg_interval = Nanos::from(cfg.ecg_interval_ms.max(1)) * 1_000_000;
    let vitals_interval = Nanos::from(cfg.vitals_interval_s.max(1)) * NANOS_PER_SEC;
    let mut report = SweepReport {
        ecg_downsampled: downsample_ecg(conn, ecg_interval, late, now)?,
        vitals_downsampled: downsample_vitals(conn, vitals_interval, late, now)?,
        ..SweepReport::default()
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let patients = ecg_patients(&tx)?;
    if let Some(cut) = days_before(now, cfg.raw_days) {
        // Only what the downsampling has covered goes. Per patient, so the deletes walk
        // the (patient, start_ns) key instead of the whole table.
        let ecg_cut = cut.min(mark(&tx, "ecg")?.unwrap_or(Nanos::MIN));
        for patient in &patients {
            report.raw_blocks_deleted += tx
                .execute(
                    "DELETE FROM sample_blocks
                     WHERE patient = ?1 AND start_ns < ?2 AND end_ns <= ?2",
                    params![patient, ecg_cut],
                )
                .map_err(map_err)? as u64;
        }
        let vitals_cut = cut.min(mark(&tx, "vitals")?.unwrap_or(Nanos::MIN));
        report.raw_vitals_deleted = tx
            .execute("DELETE FROM vitals WHERE time_ns < ?1", [vitals_cut])
            .map_err(map_err)? as u64;
        // The NEWS2 trend is scored from the raw numerics and is kept as long as they
        // are, as InfluxDB's raw retention policy keeps its `news2` measurement.
        report.raw_vitals_deleted += tx
            .execute("DELETE FROM news2 WHERE time_ns < ?1", [vitals_cut])
            .map_err(map_err)? as u64;
    }
    if let Some(cut) = days_before(now, cfg.downsampled_days) {
        for patient in &patients {
            report.downsampled_deleted += tx
                .execute(
                    "DELETE FROM ecg_downsampled WHERE patient = ?1 AND time_ns < ?2",
                    params![patient, cut],
                )
                .map_err(map_err)? as u64;
        }
        report.downsampled_deleted += tx
            .execute("DELETE FROM vitals_downsampled WHERE time_ns < ?1", [cut])
            .map_err(map_err)? as u64;
    }
    tx.commit().map_err(map_err)?;
    Ok(report)
}

/// Every patient with stored ECG (one row each in `sample_spans`).
fn ecg_patients(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT patient FROM sample_spans")
        .map_err(map_err)?;
    stmt.query_map([], |row| row.get(0))
        .map_err(map_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(map_err)
}

fn mark(conn: &Connection, series: &str) -> Result<Option<Nanos>> {
    conn.query_row(
        "SELECT until_ns FROM retention_marks WHERE series = ?1",
        [series],
        |row| row.get(0),
    )
    .optional()
    .map_err(map_err)
}

fn set_mark(conn: &Connection, series: &str, until: Nanos) -> Result<()> {
    conn.execute(
        "INSERT INTO retention_marks (series, until_ns) VALUES (?1, ?2)
         ON CONFLICT (series) DO UPDATE SET until_ns = max(until_ns, excluded.until_ns)",
        params![series, until],
    )
    .map_err(map_err)?;
    Ok(())
}

/// The intervals to (re)compute: from `late` before the last sweep's end (as a
/// continuous query's `RESAMPLE FOR` does), or from the oldest row on the first sweep,
/// up to the last whole interval before `now`.
fn window(
    conn: &Connection,
    series: &str,
    oldest_sql: &str,
    interval: Nanos,
    late: Nanos,
    now: Nanos,
) -> Result<Option<(Nanos, Nanos)>> {
    let from = match mark(conn, series)? {
        Some(until) => until.saturating_sub(late),
        None => {
            let oldest: Option<Nanos> = conn
                .query_row(oldest_sql, [], |row| row.get(0))
                .map_err(map_err)?;
            match oldest {
                Some(oldest) => oldest,
                None => return Ok(None),
            }
        }
    };
    let (from, to) = (floor(from, interval), floor(now, interval));
    Ok((from < to).then_some((from, to)))
}

fn downsample_ecg(conn: &mut Connection, interval: Nanos, late: Nanos, now: Nanos) -> Result<u64> {
    let Some((from, to)) = window(
        conn,
        "ecg",
        "SELECT min(start_ns) FROM sample_blocks",
        interval,
        late,
        now,
    )?
    else {
        return Ok(0);
    };
    let patients = ecg_patients(conn)?;
    // Whole intervals per chunk, so no interval is split between two chunks.
    let chunk = floor(ECG_CHUNK_NS.max(interval), interval);
    let mut rows = 0;
    for patient in patients {
        let Ok(patient) = PatientId::parse(&patient) else {
            tracing::warn!("embedded store: skipping a malformed patient id in sample_spans");
            continue;
        };
        let mut start = from;
        while start < to {
            let end = start.saturating_add(chunk).min(to);
            let buckets = min_max(&frames_in(conn, &patient, start, end)?, interval);
            rows += write_ecg_buckets(conn, &patient, &buckets)?;
            start = end;
        }
    }
    set_mark(conn, "ecg", to)?;
    Ok(rows)
}

/// Min and max per lead of each interval that holds samples.
fn min_max(frames: &[(Nanos, Vec<i16>)], interval: Nanos) -> BTreeMap<Nanos, (Vec<i16>, Vec<i16>)> {
    let mut out: BTreeMap<Nanos, (Vec<i16>, Vec<i16>)> = BTreeMap::new();
    for (at, values) in frames {
        let (mins, maxs) = out
            .entry(floor(*at, interval))
            .or_insert_with(|| (vec![i16::MAX; values.len()], vec![i16::MIN; values.len()]));
        if mins.len() < values.len() {
            mins.resize(values.len(), i16::MAX);
            maxs.resize(values.len(), i16::MIN);
        }
        for (lead, v) in values.iter().enumerate() {
            mins[lead] = mins[lead].min(*v);
            maxs[lead] = maxs[lead].max(*v);
        }
    }
    out
}

/// The downsampled ECG of `patient` with starts in `[from, to)`, in time order.
pub(super) fn downsampled_in(
    conn: &mut Connection,
    patient: &PatientId,
    from: Nanos,
    to: Nanos,
) -> Result<Vec<EcgEnvelope>> {
    let mut select = conn
        .prepare_cached(
            "SELECT time_ns, mins, maxs FROM ecg_downsampled
             WHERE patient = ?1 AND time_ns >= ?2 AND time_ns < ?3 ORDER BY time_ns",
        )
        .map_err(map_err)?;
    let rows = select
        .query_map(params![patient.as_str(), from, to], |row| {
            Ok((
                row.get::<_, Nanos>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (start_ns, mins, maxs) = row.map_err(map_err)?;
        out.push(EcgEnvelope {
            start_ns,
            min: decode(&mins, Some(mins.len() / 2))?,
            max: decode(&maxs, Some(maxs.len() / 2))?,
        });
    }
    Ok(out)
}

fn write_ecg_buckets(
    conn: &mut Connection,
    patient: &PatientId,
    buckets: &BTreeMap<Nanos, (Vec<i16>, Vec<i16>)>,
) -> Result<u64> {
    if buckets.is_empty() {
        return Ok(0);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO ecg_downsampled (patient, time_ns, mins, maxs)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(map_err)?;
        let le = |v: &[i16]| -> Vec<u8> { v.iter().flat_map(|s| s.to_le_bytes()).collect() };
        for (at, (mins, maxs)) in buckets {
            insert
                .execute(params![patient.as_str(), at, le(mins), le(maxs)])
                .map_err(map_err)?;
        }
    }
    tx.commit().map_err(map_err)?;
    Ok(buckets.len() as u64)
}

fn downsample_vitals(
    conn: &mut Connection,
    interval: Nanos,
    late: Nanos,
    now: Nanos,
) -> Result<u64> {
    let Some((from, to)) = window(
        conn,
        "vitals",
        "SELECT min(time_ns) FROM vitals",
        interval,
        late,
        now,
    )?
    else {
        return Ok(0);
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    // A status without a value (sensor off, unreliable) has nothing to average, as in
    // InfluxDB's mean/min/max over the `value` field.
    let rows = tx
        .execute(
            "INSERT OR REPLACE INTO vitals_downsampled (patient, time_ns, kind, site, mean, min, max)
             SELECT patient, (time_ns - ((time_ns % ?1) + ?1) % ?1) AS bucket, kind, site,
                    avg(value), min(value), max(value)
             FROM vitals
             WHERE time_ns >= ?2 AND time_ns < ?3 AND value IS NOT NULL
             GROUP BY patient, bucket, kind, site",
            params![interval, from, to],
        )
        .map_err(map_err)? as u64;
    set_mark(&tx, "vitals", to)?;
    tx.commit().map_err(map_err)?;
    Ok(rows)
}

/// Expired refresh tokens (worthless once expired) and deliveries unchanged since
/// `delivery_cut`.
fn sweep_records(
    conn: &mut Connection,
    now: Nanos,
    delivery_cut: Option<Nanos>,
) -> Result<(u64, u64)> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let tokens = tx
        .execute(
            "DELETE FROM refresh_tokens WHERE json_extract(doc, '$.expires_ns') < ?1",
            [now],
        )
        .map_err(map_err)? as u64;
    let deliveries = match delivery_cut {
        Some(cut) => tx
            .execute(
                "DELETE FROM deliveries WHERE json_extract(doc, '$.updated_ns') < ?1",
                [cut],
            )
            .map_err(map_err)? as u64,
        None => 0,
    };
    tx.commit().map_err(map_err)?;
    Ok((tokens, deliveries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_per_interval_and_lead() {
        let frames = vec![
            (0, vec![1, -1]),
            (4, vec![5, -7]),
            (10, vec![3, 2]),
            (-1, vec![9, 9]),
        ];
        let buckets = min_max(&frames, 10);
        assert_eq!(buckets[&0], (vec![1, -7], vec![5, -1]));
        assert_eq!(buckets[&10], (vec![3, 2], vec![3, 2]));
        assert_eq!(buckets[&-10], (vec![9, 9], vec![9, 9]));
    }

    #[test]
    fn zero_days_keeps_forever() {
        assert_eq!(days_before(10 * NANOS_PER_DAY, 0), None);
        assert_eq!(days_before(10 * NANOS_PER_DAY, 3), Some(7 * NANOS_PER_DAY));
    }
}
