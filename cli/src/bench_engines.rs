//! `cardiowatch bench engines`: patients analysed in real time per engine core, and how
//! 1 → 2 → 3 engines scale, side by side in one run (issue 15 item 7; docs/scaling.md).
//!
//! What it measures. Each engine is an OS thread doing what an alert-engine's analysis
//! loop does with every block it hears (`services/alert-engine/src/app.rs`, `on_samples`):
//! open the sealed bus message (XChaCha20-Poly1305, postcard), drop it if its shard is not
//! held, else run the patient's `PatientMonitor` (detector, beat classes, rhythm, every
//! rule of `measurement_policy`) and seal a live event per beat. The engines split the 64
//! shards by the engines' own lease plan (`cw_alert_engine::lease_plan`), as N engines
//! starting together settle. All of them read one pre-sealed stream, P patients × S s of a
//! record (MIT-BIH 100 by default, each patient from its own offset) cut into blocks as
//! the gateway cuts them, in time order, as fast as they can. A leasing engine subscribes
//! to every shard's topic, so by default every engine opens every block; `--own-topics`
//! opens only its own, as a pinned engine does (its SUB filters at the publisher).
//!
//! Not in it: the ZeroMQ socket and tokio scheduling, the writer's store writes of the
//! few rule events (off the loop in the engine), the once-a-second no-data and numerics
//! checks and the policy reloads.
//!
//! Per engine count it prints wall time and the engine threads' CPU time, patient-seconds
//! of ECG per wall second (the patients these engines keep up with in real time on this
//! machine, at its present load) and per CPU second (per core: the figure that
//! extrapolates past this machine's 2 cores), and the ratio to the first count.

use crate::embedded_record::EMBEDDED_RECORD;
use crate::gateway::load_record;
use crate::proc_stats::{load_average, rss_kib, thread_cpu_seconds};
use anyhow::{Context, bail, ensure};
use clap::Args;
use cw_analysis::{PatientMonitor, measurement_policy};
use cw_bus::{BusConfig, BusError, Envelope, Kind, Sealer};
use cw_core::messages::{LiveEvent, SamplesStored, live_topic};
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{DeviceId, PatientId, SHARD_COUNT, SampleBlock, shard_of, shard_topic};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchEnginesArgs {
    /// Engine counts, each run in turn on the same stream.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub engines: Vec<usize>,
    #[arg(long, default_value_t = 1000)]
    pub patients: usize,
    /// Seconds of ECG per patient that are timed, after the warm-up.
    #[arg(long, default_value_t = 60)]
    pub seconds: u32,
    /// Seconds of ECG per patient analysed first, untimed, so the figures are of monitors
    /// past their learning phase.
    #[arg(long, default_value_t = 20)]
    pub warmup_s: u32,
    /// The WFDB record every patient streams, each from its own offset.
    #[arg(long, default_value = EMBEDDED_RECORD)]
    pub record: PathBuf,
    /// Milliseconds of signal per block (the gateway's `--block-ms`).
    #[arg(long, default_value_t = 250)]
    pub block_ms: u32,
    /// Passes over the engine counts; the summary gives medians.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Each engine opens only its shards' blocks (pinned engines) instead of every block
    /// (leasing engines subscribe to every shard).
    #[arg(long)]
    pub own_topics: bool,
}

/// One sealed block on the bus, as ingest publishes it.
struct Message {
    shard: u16,
    topic: String,
    sealed: Vec<u8>,
}

/// The pre-sealed stream: the untimed warm-up, then the timed part.
struct Stream {
    warmup: Vec<Message>,
    timed: Vec<Message>,
    /// Patient-seconds of ECG in `timed`.
    timed_patient_s: f64,
    bytes: usize,
}

/// What one engine did in the timed part.
#[derive(Default)]
struct Tally {
    cpu_s: f64,
    opened: u64,
    blocks: u64,
    beats: u64,
    rule_events: u64,
    patients: usize,
}

/// One run of N engines.
struct RunResult {
    engines: usize,
    wall_s: f64,
    cpu_s: f64,
    patient_s: f64,
    opened: u64,
    blocks: u64,
    beats: u64,
    rule_events: u64,
    /// RSS growth while the monitors warmed up, KiB.
    rss_growth_kib: u64,
    load: String,
}

impl RunResult {
    /// Patient-seconds of ECG per wall second: patients kept up with in real time.
    fn realtime_patients(&self) -> f64 {
        self.patient_s / self.wall_s.max(1e-9)
    }
    /// Patient-seconds per CPU second: real-time patients per fully used core.
    fn per_core(&self) -> f64 {
        self.patient_s / self.cpu_s.max(1e-9)
    }
}

pub fn run(args: BenchEnginesArgs) -> anyhow::Result<()> {
    ensure!(
        !args.engines.is_empty(),
        "--engines needs at least one count"
    );
    if let Some(bad) = args
        .engines
        .iter()
        .find(|n| **n == 0 || **n > usize::from(SHARD_COUNT))
    {
        bail!("--engines {bad}: each count must be 1 to {SHARD_COUNT} (one shard each at most)");
    }
    ensure!(args.patients > 0, "--patients must be at least 1");
    ensure!(args.seconds > 0, "--seconds must be at least 1");
    ensure!(args.block_ms > 0, "--block-ms must be at least 1");
    let sealer = Sealer::from_config(&BusConfig {
        key_id: 1,
        key_hex: Some(Sealer::generate_key_hex().into()),
        ..BusConfig::default()
    })?;
    let stream = build_stream(&args, &sealer)?;
    println!(
        "stream: {} patients × {} s timed (+{} s warm-up) of {}, {} ms blocks: {} timed blocks, {:.1} MiB sealed; every rule of measurement_policy; {}",
        args.patients,
        args.seconds,
        args.warmup_s,
        args.record.display(),
        args.block_ms,
        stream.timed.len(),
        stream.bytes as f64 / (1024.0 * 1024.0),
        if args.own_topics {
            "each engine opens its own shards' blocks (pinned)"
        } else {
            "each engine opens every block (leasing)"
        }
    );
    let open_us = open_cost_us(&stream, &sealer)?;
    println!(
        "bus open (decrypt + decode) of one block, one thread: {open_us:.2} µs  (load {})",
        load_average()
    );

    let mut results = Vec::new();
    for round in 1..=args.rounds.max(1) {
        for &n in &args.engines {
            let result = run_engines(n, &stream, &sealer, args.own_topics)?;
            println!(
                "round {round} engines={n}: wall {:.2} s, engine cpu {:.2} s ({:.2} cores), opened {} blocks, analysed {}, beats {}, rule events {}; realtime_patients={:.0} per_core={:.0}  (load {})",
                result.wall_s,
                result.cpu_s,
                result.cpu_s / result.wall_s.max(1e-9),
                result.opened,
                result.blocks,
                result.beats,
                result.rule_events,
                result.realtime_patients(),
                result.per_core(),
                result.load
            );
            results.push(result);
        }
    }
    if let Some(first) = results.first() {
        println!(
            "monitor memory: {:.1} KiB per patient (RSS growth while {} engine(s) warmed {} monitors up; an upper bound)",
            first.rss_growth_kib as f64 / args.patients as f64,
            first.engines,
            args.patients
        );
    }
    summarise(&args.engines, &results);
    Ok(())
}

/// Cuts the record into each patient's blocks and seals them in time order.
fn build_stream(args: &BenchEnginesArgs, sealer: &Sealer) -> anyhow::Result<Stream> {
    let record = load_record(&args.record)?;
    let fs = record.fs;
    let leads = record.leads;
    ensure!(fs >= 1.0 && leads > 0, "the record has no signal");
    let per_block = ((f64::from(args.block_ms) / 1000.0) * fs).round().max(1.0) as usize;
    let warmup_blocks = (f64::from(args.warmup_s) * fs / per_block as f64).ceil() as usize;
    let timed_blocks = (f64::from(args.seconds) * fs / per_block as f64).ceil() as usize;
    let needed = (warmup_blocks + timed_blocks) * per_block;
    ensure!(
        record.frames >= needed,
        "{} has {:.0} s of signal; --warmup-s + --seconds needs {:.0} s",
        args.record.display(),
        record.frames as f64 / fs,
        needed as f64 / fs
    );
    let spare = record.frames - needed;
    let rate_hz = fs.round() as u32;
    let block_ns = |b: usize| (b * per_block) as Nanos * NANOS_PER_SEC / Nanos::from(rate_hz);
    let base_ns = now_ns() - block_ns(warmup_blocks + timed_blocks);
    let publisher = rand::random::<u64>();
    let mut patients = Vec::with_capacity(args.patients);
    for p in 0..args.patients {
        let id = PatientId::parse(&format!("bench-engine-{p}"))?;
        // Each patient from another stretch of the record (37 s apart), so the engines do
        // not analyse one signal in lockstep.
        let offset = (p * 37 * rate_hz as usize) % (spare + 1);
        patients.push((id, DeviceId::parse(&format!("bench-device-{p}"))?, offset));
    }
    let mut stream = Stream {
        warmup: Vec::new(),
        timed: Vec::new(),
        timed_patient_s: (timed_blocks * per_block) as f64 / fs * args.patients as f64,
        bytes: 0,
    };
    let mut seqs = HashMap::new();
    for b in 0..warmup_blocks + timed_blocks {
        for (patient, device, offset) in &patients {
            let first = (offset + b * per_block) * leads;
            let block = SampleBlock {
                patient: patient.clone(),
                device: device.clone(),
                seq: b as u64,
                start_ns: base_ns + block_ns(b),
                rate_hz,
                leads: u8::try_from(leads).context("more than 255 leads")?,
                samples_uv: record.samples_uv[first..first + per_block * leads].to_vec(),
                lead_off: false,
            };
            let shard = shard_of(patient);
            let topic = shard_topic(shard);
            let seq = seqs.entry(shard).or_insert(0u64);
            *seq += 1;
            let received_ns = block.end_ns();
            let envelope = Envelope {
                id: rand::random::<u128>(),
                publisher,
                seq: *seq,
                sent_ns: received_ns,
                body: SamplesStored { block, received_ns },
            };
            let sealed = sealer.seal(Kind::Samples, topic.as_bytes(), &envelope)?;
            stream.bytes += sealed.len();
            let message = Message {
                shard,
                topic,
                sealed,
            };
            if b < warmup_blocks {
                stream.warmup.push(message);
            } else {
                stream.timed.push(message);
            }
        }
    }
    Ok(stream)
}

/// CPU µs to open one timed block on this thread.
fn open_cost_us(stream: &Stream, sealer: &Sealer) -> Result<f64, BusError> {
    let cpu = thread_cpu_seconds();
    for message in &stream.timed {
        sealer.open::<SamplesStored>(Kind::Samples, message.topic.as_bytes(), &message.sealed)?;
    }
    let cpu = thread_cpu_seconds() - cpu;
    Ok(cpu * 1e6 / stream.timed.len().max(1) as f64)
}

/// N engine threads over the stream: the warm-up untimed, then the timed part from a
/// common start.
fn run_engines(
    n: usize,
    stream: &Stream,
    sealer: &Sealer,
    own_topics: bool,
) -> anyhow::Result<RunResult> {
    let identities: Vec<String> = (0..n).map(|i| format!("bench-engine-{i:02}")).collect();
    let now = now_ns();
    let shares: Vec<HashSet<u16>> = identities
        .iter()
        .map(|me| {
            cw_alert_engine::lease_plan(me, &identities, &[], now)
                .into_iter()
                .collect()
        })
        .collect();
    let held: usize = shares.iter().map(HashSet::len).sum();
    ensure!(
        held == usize::from(SHARD_COUNT),
        "the lease plan of {n} engines holds {held} shards"
    );
    // Every engine and this thread: the timed part starts when all have warmed up.
    let barrier = Barrier::new(n + 1);
    let rss_before = rss_kib("VmRSS:");
    let (wall_s, rss_growth_kib, tallies) = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .map(|shards| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut engine = Engine::new(shards, sealer, own_topics);
                    let warmed = engine.pass(&stream.warmup);
                    barrier.wait();
                    warmed?;
                    let cpu = thread_cpu_seconds();
                    engine.tally = Tally::default();
                    engine.pass(&stream.timed)?;
                    engine.tally.cpu_s = thread_cpu_seconds() - cpu;
                    engine.tally.patients = engine.monitors.len();
                    Ok::<Tally, BusError>(engine.tally)
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let rss_growth_kib = rss_kib("VmRSS:").saturating_sub(rss_before);
        let tallies: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (started.elapsed().as_secs_f64(), rss_growth_kib, tallies)
    });
    let mut result = RunResult {
        engines: n,
        wall_s,
        cpu_s: 0.0,
        patient_s: stream.timed_patient_s,
        opened: 0,
        blocks: 0,
        beats: 0,
        rule_events: 0,
        rss_growth_kib,
        load: load_average(),
    };
    let mut patients = 0;
    for tally in tallies {
        let tally = match tally {
            Ok(tally) => tally?,
            Err(_) => bail!("an engine thread panicked"),
        };
        result.cpu_s += tally.cpu_s;
        result.opened += tally.opened;
        result.blocks += tally.blocks;
        result.beats += tally.beats;
        result.rule_events += tally.rule_events;
        patients += tally.patients;
    }
    ensure!(
        result.blocks == stream.timed.len() as u64,
        "{n} engines analysed {} of {} blocks",
        result.blocks,
        stream.timed.len()
    );
    ensure!(
        result.beats > 0,
        "{n} engines found no beat in {} patients' ECG (the detector learns for a few seconds: a longer --warmup-s?)",
        patients
    );
    Ok(result)
}

/// One engine's analysis loop, as `on_samples` runs it.
struct Engine<'a> {
    shards: &'a HashSet<u16>,
    sealer: &'a Sealer,
    own_topics: bool,
    monitors: HashMap<PatientId, PatientMonitor>,
    publisher: u64,
    live_seq: u64,
    tally: Tally,
}

impl<'a> Engine<'a> {
    fn new(shards: &'a HashSet<u16>, sealer: &'a Sealer, own_topics: bool) -> Self {
        Self {
            shards,
            sealer,
            own_topics,
            monitors: HashMap::new(),
            publisher: rand::random::<u64>(),
            live_seq: 0,
            tally: Tally::default(),
        }
    }

    fn pass(&mut self, messages: &[Message]) -> Result<(), BusError> {
        for message in messages {
            if self.own_topics && !self.shards.contains(&message.shard) {
                continue;
            }
            let envelope: Envelope<SamplesStored> =
                self.sealer
                    .open(Kind::Samples, message.topic.as_bytes(), &message.sealed)?;
            self.tally.opened += 1;
            let block = envelope.body.block;
            if !self.shards.contains(&shard_of(&block.patient)) {
                continue;
            }
            self.analyse(&block)?;
        }
        Ok(())
    }

    fn analyse(&mut self, block: &SampleBlock) -> Result<(), BusError> {
        let monitor = self
            .monitors
            .entry(block.patient.clone())
            .or_insert_with(|| PatientMonitor::new(measurement_policy(block.patient.clone())));
        // The block arrives as it ends, in a real-time stream.
        let now = block.end_ns();
        let mut events = monitor.on_clock(now, 0.0).len();
        events += monitor.process(block).len();
        let mut live = Vec::new();
        for (at_ns, reading) in monitor.beats() {
            live.push(LiveEvent::HeartRate {
                patient: block.patient.clone(),
                at_ns: *at_ns,
                average_bpm: reading.average_bpm,
                instant_bpm: reading.instant_bpm,
                rr_s: reading.rr_s,
            });
        }
        if let Some((at_ns, state)) = monitor.analysis_news() {
            live.push(LiveEvent::Analysis {
                patient: block.patient.clone(),
                at_ns,
                state,
            });
        }
        self.tally.beats += monitor.beats().len() as u64;
        self.tally.rule_events += events as u64;
        self.tally.blocks += 1;
        for event in &live {
            self.seal_live(event)?;
        }
        Ok(())
    }

    /// Seals a live event as the engine's events PUB does; the socket send is left out.
    fn seal_live(&mut self, event: &LiveEvent) -> Result<(), BusError> {
        self.live_seq += 1;
        let topic = live_topic(shard_of(event.patient()));
        let envelope = Envelope {
            id: rand::random::<u128>(),
            publisher: self.publisher,
            seq: self.live_seq,
            sent_ns: now_ns(),
            body: event,
        };
        self.sealer
            .seal(Kind::LiveEvent, topic.as_bytes(), &envelope)?;
        Ok(())
    }
}

/// Medians per engine count, side by side, and each count's ratio to the first.
fn summarise(counts: &[usize], results: &[RunResult]) {
    println!(
        "engines | shards each | wall s | engine cpu s | cores busy | realtime patients | per core | ratio to {}",
        counts[0]
    );
    let mut base = None;
    let mut ratios = Vec::new();
    for &n in counts {
        let runs: Vec<&RunResult> = results.iter().filter(|r| r.engines == n).collect();
        let wall = median(runs.iter().map(|r| r.wall_s));
        let cpu = median(runs.iter().map(|r| r.cpu_s));
        let realtime = median(runs.iter().map(|r| r.realtime_patients()));
        let per_core = median(runs.iter().map(|r| r.per_core()));
        let base = *base.get_or_insert(realtime);
        let ratio = realtime / base;
        ratios.push(format!("{n}:{ratio:.2}"));
        let shards = usize::from(SHARD_COUNT).div_ceil(n);
        println!(
            "{n} | ≤ {shards} | {wall:.2} | {cpu:.2} | {:.2} | {realtime:.0} | {per_core:.0} | {ratio:.2}",
            cpu / wall.max(1e-9)
        );
    }
    println!("ratios={}", ratios.join(" "));
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
