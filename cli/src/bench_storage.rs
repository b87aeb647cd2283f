//! `cardiowatch bench storage`: bytes on disk per ECG sample, on real data, in InfluxDB
//! (after its compaction) and in the embedded file, and what that makes per patient-year
//! (docs/operations.md, "Storage per patient-year").
//!
//! A WFDB record is cut into 250 ms blocks as a gateway sends them and written through
//! the store adapters, once into a fresh InfluxDB database (set up with the default
//! retention; its downsampled series filled by the continuous queries' own `SELECT …
//! INTO` over the record) and once into a fresh embedded file. InfluxDB keeps new points
//! in its WAL and cache first and compacts them into TSM files later, so this waits until
//! the database's WAL is empty and its TSM files stop changing: run it against an
//! `influxd` whose `[data]` has short `cache-snapshot-write-cold-duration` and
//! `compact-full-write-cold-duration` (a production server does the same hours later).

use anyhow::{Context, bail};
use clap::Args;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{DeviceId, PatientId, SampleBlock};
use cw_storage::{InfluxConfig, RetentionConfig, SampleStore};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct BenchStorageArgs {
    /// InfluxDB base URL (1.x HTTP API, admin rights: the bench creates its database).
    #[arg(long)]
    pub influx_url: String,
    /// That server's `[data] dir`, where the bench measures the database's files.
    #[arg(long)]
    pub influx_data_dir: PathBuf,
    /// That server's `[data] wal-dir`.
    #[arg(long)]
    pub influx_wal_dir: PathBuf,
    #[arg(long, default_value = "testdata/mitdb/100")]
    pub record: PathBuf,
    /// Give up waiting for InfluxDB's compaction after this long.
    #[arg(long, default_value_t = 300)]
    pub compaction_timeout_s: u64,
}

const BLOCK_MS: usize = 250;
/// Seconds in a (Julian) year.
const YEAR_S: f64 = 31_557_600.0;

pub async fn run(args: BenchStorageArgs) -> anyhow::Result<()> {
    let record = cw_wfdb::Record::open(&args.record)
        .with_context(|| format!("reading {}", args.record.display()))?;
    let (fs, leads) = (record.fs, record.signal_count());
    let samples = record.microvolts_interleaved();
    let frames = samples.len() / leads.max(1);
    // Ends a minute ago: inside the raw window, and whole seconds for the downsampling.
    let start_ns = (now_ns() / NANOS_PER_SEC - 60) * NANOS_PER_SEC
        - (frames as f64 / fs * NANOS_PER_SEC as f64) as i64;
    let blocks = blocks(&samples, fs, leads, start_ns)?;
    let lead_samples = (frames * leads) as u64;
    println!(
        "bench storage: {} ({fs} Hz, {leads} leads, {:.0} s) = {frames} frames, {lead_samples} lead-samples, {} blocks of {BLOCK_MS} ms",
        args.record.display(),
        frames as f64 / fs,
        blocks.len()
    );

    let run_id = cw_core::AlertId::random().to_string().to_lowercase();
    let database = format!("bench_storage_{run_id}");
    let influx = cw_storage::influx::InfluxSamples::connect(&InfluxConfig {
        url: args.influx_url.clone(),
        database: database.clone(),
        ..InfluxConfig::default()
    })
    .await
    .with_context(|| format!("connecting to InfluxDB at {}", args.influx_url))?;
    influx.ensure_lifecycle(&RetentionConfig::default()).await;
    influx.write(&blocks).await.context("influx write")?;
    let patient = &blocks[0].patient;
    let stored = influx.count_frames(patient, 0, i64::MAX).await?;
    if stored != frames as u64 {
        bail!("InfluxDB holds {stored} frames, {frames} written");
    }
    backfill_downsampled(&args.influx_url, &database).await?;

    let started = Instant::now();
    let (raw, downsampled) = loop {
        let wal = dir_bytes(&args.influx_wal_dir.join(&database))?;
        let raw = tsm_bytes(&args.influx_data_dir.join(&database).join("autogen"))?;
        let down = tsm_bytes(
            &args
                .influx_data_dir
                .join(&database)
                .join(cw_storage::influx::DOWNSAMPLED_RP),
        )?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let again = tsm_bytes(&args.influx_data_dir.join(&database).join("autogen"))?;
        // Fully compacted: one TSM file per shard, not changing, nothing left in the WAL.
        if wal == 0 && raw.2 > 0 && raw == again && raw.0 == raw.1 && down.2 > 0 {
            break (raw, down);
        }
        if started.elapsed().as_secs() > args.compaction_timeout_s {
            bail!(
                "InfluxDB did not compact within {} s (WAL {wal} B, raw TSM files {raw:?}): \
                 set short cache-snapshot-write-cold-duration and \
                 compact-full-write-cold-duration in its [data]",
                args.compaction_timeout_s
            );
        }
    };
    println!(
        "influxdb raw (after full compaction: {} shard(s), {} TSM file(s)): {} B = {:.3} B/lead-sample",
        raw.0,
        raw.1,
        raw.2,
        raw.2 as f64 / lead_samples as f64
    );
    println!(
        "influxdb downsampled (min/max per lead per second, {} TSM file(s)): {} B = {:.1} B/second of ECG",
        downsampled.1,
        downsampled.2,
        downsampled.2 as f64 / (frames as f64 / fs)
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite");
    let key = cw_storage::StoreKey::from_hex(&crate::secrets::random_secret(), "the bench")?;
    let (embedded, records) = cw_storage::sqlite::open(
        &path,
        &key,
        &RetentionConfig {
            every_s: 86_400,
            ..RetentionConfig::default()
        },
    )
    .await?;
    // As ingest writes them: a batch of blocks per commit.
    for chunk in blocks.chunks(64) {
        embedded.write(chunk).await.context("embedded write")?;
    }
    drop((embedded, records));
    let file = file_bytes(&path)? + file_bytes(&path.with_extension("sqlite-wal"))?;
    println!(
        "embedded file (samples as i16, one row per block; file + WAL): {file} B = {:.3} B/lead-sample",
        file as f64 / lead_samples as f64
    );

    let per_year = |bytes_per_lead_sample: f64, hz: f64, leads: f64| {
        bytes_per_lead_sample * hz * leads * YEAR_S / 1e9
    };
    let influx_b = raw.2 as f64 / lead_samples as f64;
    let file_b = file as f64 / lead_samples as f64;
    let down_gb = downsampled.2 as f64 / (frames as f64 / fs) * YEAR_S / 1e9;
    for (hz, n) in [(fs, leads as f64), (250.0, 2.0)] {
        println!(
            "per patient-year at {hz} Hz × {n} leads: influxdb raw {:.1} GB, embedded {:.1} GB, influxdb downsampled {down_gb:.2} GB",
            per_year(influx_b, hz, n),
            per_year(file_b, hz, n),
        );
    }
    Ok(())
}

fn blocks(
    samples: &[i16],
    fs: f64,
    leads: usize,
    start_ns: i64,
) -> anyhow::Result<Vec<SampleBlock>> {
    let patient = PatientId::parse("bench-storage").context("patient id")?;
    let device = DeviceId::parse("bench-storage-gw").context("device id")?;
    let per_block = (fs * BLOCK_MS as f64 / 1000.0).round() as usize;
    Ok(samples
        .chunks(per_block * leads)
        .enumerate()
        .map(|(k, chunk)| SampleBlock {
            patient: patient.clone(),
            device: device.clone(),
            seq: k as u64 + 1,
            start_ns: start_ns + ((k * per_block) as f64 * NANOS_PER_SEC as f64 / fs) as i64,
            rate_hz: fs.round() as u32,
            leads: leads as u8,
            samples_uv: chunk.to_vec(),
            lead_off: false,
        })
        .collect())
}

/// What the ECG continuous query does, over the whole record at once.
async fn backfill_downsampled(url: &str, database: &str) -> anyhow::Result<()> {
    let q = format!(
        "SELECT min(*), max(*) INTO \"{database}\".\"{}\".\"{}\" FROM \"ecg\" \
         WHERE time < now() GROUP BY time(1s), *",
        cw_storage::influx::DOWNSAMPLED_RP,
        cw_storage::influx::ECG_DOWNSAMPLED
    );
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/query", url.trim_end_matches('/')))
        .form(&[("db", database), ("q", q.as_str())])
        .send()
        .await?
        .json()
        .await?;
    if !body["results"][0]["error"].is_null() {
        bail!("downsampling failed: {body}");
    }
    Ok(())
}

/// (shards, TSM files, bytes of every file) under a retention policy's shard directories.
fn tsm_bytes(dir: &Path) -> anyhow::Result<(usize, usize, u64)> {
    let (mut shards, mut tsm, mut bytes) = (0, 0, 0);
    for shard in read_dir(dir)? {
        shards += 1;
        for file in read_dir(&shard)? {
            if file.extension().is_some_and(|e| e == "tsm") {
                tsm += 1;
            }
            bytes += file_bytes(&file)?;
        }
    }
    Ok((shards, tsm, bytes))
}

fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for entry in read_dir(dir)? {
        bytes += if entry.is_dir() {
            dir_bytes(&entry)?
        } else {
            file_bytes(&entry)?
        };
    }
    Ok(bytes)
}

/// Entries of `dir`; none when it does not exist (yet).
fn read_dir(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

fn file_bytes(path: &Path) -> anyhow::Result<u64> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
