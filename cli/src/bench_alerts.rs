//! `cardiowatch bench alerts`: N simulated patients stream a synthetic ECG in real time
//! through ingest (TLS WebSocket) → alert-engine → notifier → the Twilio sandbox, all in
//! this process on the embedded store. Each patient's rhythm steps from 80 to 120 bpm
//! (staggered over 10 s) under an `hr_high` 100 bpm / `for` 0 limit with the default
//! policy otherwise. Prints p50/p99 of
//!   * sample → first provider request: from the sample time of the beat that fired the
//!     alert (in a real-time stream, when the device measured it; includes the gateway's
//!     250 ms block buffering) to the first SMS the sandbox receives for it;
//!   * step → first provider request: from the last 80 bpm beat, which starts the first
//!     120 bpm interval;
//!   * each stage from the engine's fire trace (`bench_alerts_stages.rs`), and the figure
//!     the target is about: the detecting block's arrival at ingest → provider request.
//!
//! With `--vitals` every patient also streams generated numerics at 1 Hz on the same
//! connection (`vitals_profile.rs`, issue 18 item 6): `--vitals-alerting` of them (the last
//! ones, never the stepping ones) the `desaturation` course under an `spo2_low` 90 % limit,
//! timed to cross it inside the stream, the rest `stable`. It then prints the ECG
//! throughput and the same stages for the SpO2 alarms, from the numerics frame that fired
//! at ingest to the provider request.

use crate::bench_alerts_stages::{self, percentile};
use crate::fixture::{self, FixtureSpec};
use crate::gateway::{self, GatewayOptions, GatewayStats};
use crate::gateway_vitals::{VitalsOptions, VitalsSource};
use crate::in_process::{self, Wiring};
use crate::vitals_profile::VitalsProfile;
use clap::Args;
use cw_bus::BusConfig;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::vital_rules::VitalLimit;
use cw_core::{PatientId, Priority};
use cw_storage::{Backend, StorageConfig};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const FS: u32 = 250;
/// The synthetic record: beats every 0.75 s (80 bpm) up to the one at 30 s, then every
/// 0.5 s (120 bpm).
const STEP_S: f64 = 30.0;
const RECORD_S: f64 = 60.0;
/// Each patient streams this much, starting up to `STAGGER_S` seconds into the record:
/// the stepping patients' steps spread evenly over that span (alarms of different
/// patients arrive independently, not in synchronised bursts).
const STREAM_S: f64 = 40.0;
const STAGGER_S: f64 = 10.0;

#[derive(Args, Debug)]
pub struct BenchAlertsArgs {
    #[arg(long, default_value_t = 1000)]
    pub patients: usize,
    /// RR intervals behind the evaluated heart rate (the policy's `hr_average_beats`);
    /// default: the policy default.
    #[arg(long)]
    pub average_beats: Option<u8>,
    /// How many of the patients step to 120 bpm (the rest stay at 80 and only load the
    /// pipeline); default: all of them, 100 alerts/s — far above a ward's alarm rate.
    #[arg(long)]
    pub alerting: Option<usize>,
    /// All services on one store connection (the demo's wiring) instead of one each, as
    /// separate processes have.
    #[arg(long)]
    pub one_store_connection: bool,
    /// Every patient also streams numerics at 1 Hz beside the ECG.
    #[arg(long)]
    pub vitals: bool,
    /// With --vitals: how many patients (the last ones) desaturate under their 90 % SpO2
    /// limit during the stream.
    #[arg(long, default_value_t = 100, requires = "vitals")]
    pub vitals_alerting: usize,
}

/// Course second at which the `desaturation` profile's SpO2 first reads under 90 %
/// (`vitals_profile.rs`: from 97.5 % at 60 s, 1 % every 5 s).
const DESAT_UNDER_90_S: f64 = 98.0;
/// Stream second at which the first desaturating patient crosses the limit; with the
/// 15 s hold and the stagger every SpO2 alarm fires before the stream ends.
const DESAT_AT_S: f64 = 10.0;

/// Writes the 80 → 120 bpm record (`step`: else 80 bpm throughout; format 16, 1 µV per
/// unit) and returns its path.
fn write_record(dir: &Path, step: bool) -> anyhow::Result<std::path::PathBuf> {
    let n = (RECORD_S * f64::from(FS)) as usize;
    let step_s = if step { STEP_S } else { RECORD_S };
    let slow = (1..=(step_s / 0.75).round() as u32).map(|k| f64::from(k) * 0.75);
    let fast = (1..)
        .map(|k| step_s + f64::from(k) * 0.5)
        .take_while(|t| *t < RECORD_S);
    let beats: Vec<usize> = slow
        .chain(fast)
        .map(|t| (t * f64::from(FS)).round() as usize)
        .collect();
    let mut x: Vec<i16> = (0..n)
        .map(|i| (50.0 * (i as f64 / f64::from(FS) * 3.0).sin()) as i16)
        .collect();
    for b in beats {
        for (k, v) in [1500i16, 1100, 700].iter().enumerate() {
            if let Some(s) = x.get_mut(b + k) {
                *s += v;
            }
        }
    }
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let name = if step { "step" } else { "steady" };
    std::fs::write(dir.join(format!("{name}.dat")), bytes)?;
    std::fs::write(
        dir.join(format!("{name}.hea")),
        format!("{name} 1 {FS} {n}\n{name}.dat 16 1000/mV 16 0 0 0 0 ECG\n"),
    )?;
    Ok(dir.join(name))
}

/// The patient id in an SMS body ("… for patient {id}: …").
fn patient_in(body: &str) -> Option<&str> {
    let rest = body.split("for patient ").nth(1)?;
    rest.split(':').next()
}

pub async fn run(args: BenchAlertsArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs"))?;
    let bus = BusConfig {
        key_id: 1,
        key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
        ..BusConfig::default()
    };
    let tls = certs.server_tls();
    let storage = StorageConfig {
        backend: Backend::Embedded,
        path: dir.path().join("bench.sqlite"),
        key_hex: Some(crate::secrets::random_secret().into()),
        audit: crate::secrets::local_audit(dir.path())?,
        ..StorageConfig::default()
    };
    let stores = cw_storage::open(&storage).await?;
    let step_record = write_record(dir.path(), true)?;
    let steady_record = write_record(dir.path(), false)?;
    let alerting = args.alerting.unwrap_or(args.patients).min(args.patients);
    let vitals_alerting = if args.vitals {
        args.vitals_alerting.min(args.patients - alerting)
    } else {
        0
    };
    if args.vitals && vitals_alerting < args.vitals_alerting {
        anyhow::bail!(
            "--vitals-alerting {} needs as many patients that do not step (--alerting {alerting} of {})",
            args.vitals_alerting,
            args.patients
        );
    }
    // The desaturating patients are the last ones, never stepping ones: each patient's
    // first provider request then belongs to one kind of alarm.
    let first_desaturating = args.patients - vitals_alerting;
    let mut patients = Vec::with_capacity(args.patients);
    for k in 0..args.patients {
        let (id, doctor, device) = (
            format!("bench-p{k}"),
            format!("bench-dr{k}"),
            format!("bench-gw{k}"),
        );
        let f = fixture::install(
            stores.records.as_ref(),
            &FixtureSpec {
                patient_id: &id,
                doctor_id: &doctor,
                device_id: &device,
                phone: Some("+15005550199"),
                email: None,
                hr_high_bpm: 100.0,
                for_s: 0.0,
            },
        )
        .await?;
        let desaturates = k >= first_desaturating;
        let mut policy = f.policy.clone();
        if let Some(n) = args.average_beats {
            policy.hr_average_beats = n;
        }
        if desaturates {
            policy.spo2_low = Some(VitalLimit {
                limit: 90.0,
                priority: Priority::High,
                hold_s: cw_core::vital_rules::DEFAULT_HOLD_S,
                hysteresis: None,
                clear_s: 30.0,
            });
        }
        if policy != f.policy {
            stores.records.put_policy(&policy).await?;
        }
        patients.push(f);
    }
    let shutdown = CancellationToken::new();
    let sandbox = cw_sandbox::TwilioSandbox::start(0).await?;
    let services = in_process::start_with(
        &Wiring {
            tls,
            bus,
            storage,
            jwt_secret: None,
            twilio: in_process::sandbox_twilio(&sandbox.base_url()),
        },
        &in_process::Extras {
            own_store_connections: !args.one_store_connection,
            ..Default::default()
        },
        &stores,
        &shutdown,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let url = format!("wss://127.0.0.1:{}/v1/stream", services.ingest.addr.port());
    let stats = Arc::new(GatewayStats::default());
    // Sample time of each patient's step (stream start + where the step lies in it).
    let mut step_ns: HashMap<String, Nanos> = HashMap::new();
    let mut streams = Vec::new();
    for (k, f) in patients.iter().enumerate() {
        // Stepping patients (k < alerting) spread over the span, and so do the others.
        let (slot, slots) = if k < alerting {
            (k, alerting)
        } else {
            (k - alerting, args.patients - alerting)
        };
        let offset = STAGGER_S * slot as f64 / slots.max(1) as f64;
        let started = now_ns();
        let steps = k < alerting;
        let vitals = args.vitals.then(|| {
            let (profile, offset_s) = if k >= first_desaturating {
                // The desaturating patients' crossings spread over the stagger too.
                let slot = (k - first_desaturating) as f64 / vitals_alerting.max(1) as f64;
                (
                    VitalsProfile::Desaturation,
                    DESAT_UNDER_90_S - DESAT_AT_S - STAGGER_S * slot,
                )
            } else {
                (VitalsProfile::Stable, 0.0)
            };
            VitalsOptions {
                source: VitalsSource::Profile {
                    profile,
                    seed: k as u64,
                },
                step_s: None,
                offset_s,
            }
        });
        if steps {
            step_ns.insert(
                f.patient.id.to_string(),
                started + ((STEP_S - offset) * NANOS_PER_SEC as f64) as Nanos,
            );
        }
        streams.push(tokio::spawn(gateway::stream_record(
            GatewayOptions {
                url: url.clone(),
                device_token: f.device_token.clone(),
                ca_cert: Some(certs.ca_cert.clone()),
                record: if steps {
                    step_record.clone()
                } else {
                    steady_record.clone()
                },
                speed: 1.0,
                seconds: Some(STREAM_S),
                offset_s: offset,
                block_ms: 250,
                window: 64,
                vitals,
            },
            stats.clone(),
            shutdown.clone(),
        )));
    }
    eprintln!(
        "{} patients streaming, {alerting} stepping …",
        patients.len()
    );
    // Watch the provider: first SMS or call per patient, with the wall time it arrived.
    let mut first: HashMap<String, Nanos> = HashMap::new();
    let streaming_ns = now_ns();
    let deadline = streaming_ns + ((STREAM_S + 15.0) * NANOS_PER_SEC as f64) as Nanos;
    let mut seen_msgs = 0;
    // ECG samples acked from 5 s in (every patient connected) to the last look.
    let mut throughput_from: Option<(Nanos, u64)> = None;
    let acked_samples = || {
        stats
            .samples_acked
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    while first.len() < alerting + vitals_alerting && now_ns() < deadline {
        let now = now_ns();
        if throughput_from.is_none() && now >= streaming_ns + 5 * NANOS_PER_SEC {
            throughput_from = Some((now, acked_samples()));
        }
        let messages = sandbox.messages();
        for m in messages.iter().skip(seen_msgs) {
            if let Some(p) = patient_in(&m.body) {
                first.entry(p.to_owned()).or_insert(now);
            }
        }
        seen_msgs = messages.len();
        // Each look clones every recorded message: not more often than needed.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ecg_samples_per_s = throughput_from.map_or(f64::NAN, |(at, acked)| {
        (acked_samples() - acked) as f64 / ((now_ns() - at) as f64 / 1e9)
    });
    let fires = services.engine.fire_trace.snapshot();
    let average_beats = patients.first().map_or(0, |f| {
        args.average_beats.unwrap_or(f.policy.hr_average_beats)
    });
    shutdown.cancel();
    for s in streams {
        let _ = s.await;
    }
    let ids: Vec<PatientId> = patients.iter().map(|f| f.patient.id.clone()).collect();
    let alerts = stores
        .records
        .alerts_for_patients(&ids, None, ids.len() * 4)
        .await?;
    // The first alert of each patient is the one its first provider request belongs to.
    let mut earliest: HashMap<String, Nanos> = HashMap::new();
    for alert in &alerts {
        let e = earliest
            .entry(alert.patient.to_string())
            .or_insert(alert.fired_ns);
        *e = (*e).min(alert.fired_ns);
    }
    let mut sample_to_provider = Vec::new();
    let mut step_to_provider = Vec::new();
    for (id, fired_ns) in &earliest {
        if let (Some(at), Some(step)) = (first.get(id), step_ns.get(id)) {
            sample_to_provider.push((at - fired_ns) as f64 / 1e6);
            step_to_provider.push((at - step) as f64 / 1e6);
        }
    }
    sample_to_provider.sort_by(f64::total_cmp);
    step_to_provider.sort_by(f64::total_cmp);
    println!(
        "patients={} stepping={alerting} hr_average_beats={} alerted={} provider_first_requests={}",
        patients.len(),
        average_beats,
        earliest.len(),
        first.len()
    );
    println!(
        "sample_to_provider_ms p50={:.0} p99={:.0} max={:.0}",
        percentile(&sample_to_provider, 0.5),
        percentile(&sample_to_provider, 0.99),
        sample_to_provider.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "hr_step_80_to_120_to_provider_ms p50={:.0} p99={:.0} max={:.0}",
        percentile(&step_to_provider, 0.5),
        percentile(&step_to_provider, 0.99),
        step_to_provider.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "ecg_samples_acked_per_s={ecg_samples_per_s:.0} offered={} (from 5 s in to the last provider request; the stream is real time, so ECG keeps up when these agree) vitals={}",
        args.patients as u32 * FS,
        if args.vitals {
            "1 Hz, every patient"
        } else {
            "none"
        },
    );
    let (hr_fires, vital_fires): (Vec<_>, Vec<_>) = fires.into_iter().partition(|f| {
        patients
            .iter()
            .position(|p| p.patient.id == f.patient)
            .is_none_or(|k| k < first_desaturating)
    });
    println!("ECG (hr_high) alarms:");
    bench_alerts_stages::print(&hr_fires, &first);
    if args.vitals {
        println!("vital-sign (spo2_low) alarms, {vitals_alerting} patients:");
        bench_alerts_stages::print(&vital_fires, &first);
    }
    Ok(())
}
