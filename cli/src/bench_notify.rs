//! `cardiowatch bench notify`: the notifier's outbox against the local Twilio sandbox
//! (and moto for email when `--ses-endpoint` is given), in process, embedded store.
//!
//! * deliveries/s: many high-priority alerts driven concurrently, every channel each;
//! * fan-out latency: one high-priority alert to every channel, from `drive` called to
//!   every row recorded (claim, provider call, outcome) — p50/p99 — beside the same
//!   alert routed to in-app only, so the difference is what the fan-out adds.

use anyhow::Context;
use clap::Args;
use cw_core::time::now_ns;
use cw_core::{Alert, Channel, Patient, PatientId, Priority, Role, RuleKind, User, UserId};
use cw_notifier::config::{Faults, Reliability, Routing};
use cw_notifier::dispatch::Dispatcher;
use cw_notifier::metrics::NotifierMetrics;
use cw_notifier::providers::ses::{SesClient, SesConfig, SesStaticCredentials};
use cw_notifier::providers::twilio::{TwilioClient, TwilioConfig};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct BenchNotifyArgs {
    /// Alerts driven concurrently for the throughput figure.
    #[arg(long, default_value_t = 500)]
    pub alerts: usize,
    /// Alerts in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Single-alert fan-outs timed for the latency figures.
    #[arg(long, default_value_t = 300)]
    pub rounds: usize,
    /// SES v2 endpoint (moto) for the email channel; without it, three channels.
    #[arg(long)]
    pub ses_endpoint: Option<String>,
}

struct Bench {
    _dir: tempfile::TempDir,
    records: Arc<dyn cw_storage::RecordStore>,
    _sandbox: cw_sandbox::TwilioSandbox,
    fan_out: Dispatcher,
    in_app_only: Dispatcher,
    channels: usize,
}

fn dispatcher(
    records: Arc<dyn cw_storage::RecordStore>,
    routing: Routing,
    twilio: Option<TwilioClient>,
    ses: Option<SesClient>,
) -> Dispatcher {
    Dispatcher::new(
        records,
        routing,
        Reliability {
            // Throughput is measured on one doctor per alert; no budget in the way.
            rate_limit_per_hour: u32::MAX,
            ..Reliability::default()
        },
        Faults::default(),
        twilio,
        ses,
        None,
        cw_notifier::evidence::Evidence::none(),
        Arc::new(NotifierMetrics::default()),
    )
}

async fn setup(args: &BenchNotifyArgs) -> anyhow::Result<Bench> {
    let dir = tempfile::tempdir()?;
    let storage = cw_storage::StorageConfig {
        path: dir.path().join("bench.sqlite"),
        key_hex: Some(crate::secrets::random_secret().into()),
        audit: crate::secrets::local_audit(dir.path())?,
        ..Default::default()
    };
    let records = cw_storage::open(&storage).await?.records;
    let sandbox = cw_sandbox::TwilioSandbox::start(0).await?;
    let twilio = TwilioClient::new(TwilioConfig {
        base_url: sandbox.base_url(),
        account_sid: "AC00000000000000000000000000000000".into(),
        auth_token: "bench-token".into(),
        from_number: "+15005550006".into(),
        status_callback_url: None,
        timeout_ms: 10_000,
    })?;
    let ses = match &args.ses_endpoint {
        Some(endpoint) => {
            let from = "alerts@cardiowatch.test";
            let client = SesClient::new(SesConfig {
                endpoint_url: Some(endpoint.clone()),
                region: "us-east-1".into(),
                from_address: from.into(),
                static_credentials: Some(SesStaticCredentials {
                    access_key_id: "testing".into(),
                    secret_access_key: "testing".into(),
                }),
                timeout_ms: 10_000,
            })
            .await?;
            client.ensure_identity(from).await.context("SES identity")?;
            Some(client)
        }
        None => None,
    };
    let channels = if ses.is_some() { 4 } else { 3 };
    let all = Routing {
        high: vec![Channel::Sms, Channel::Voice, Channel::Email, Channel::InApp],
        ..Routing::default()
    };
    let in_app = Routing {
        high: vec![Channel::InApp],
        ..Routing::default()
    };
    Ok(Bench {
        fan_out: dispatcher(records.clone(), all, Some(twilio.clone()), ses.clone()),
        in_app_only: dispatcher(records.clone(), in_app, Some(twilio), ses),
        records,
        _sandbox: sandbox,
        _dir: dir,
        channels,
    })
}

/// A doctor with phone and email, a patient of theirs, and a firing high alert.
async fn fire(records: &dyn cw_storage::RecordStore) -> anyhow::Result<Alert> {
    let doctor = User {
        id: UserId::random(),
        role: Role::Doctor,
        phone: Some("+15005550100".into()),
        email: Some("doctor@cardiowatch.test".into()),
        notify: Default::default(),
        disabled: None,
        sessions: Default::default(),
    };
    records.put_user(&doctor).await?;
    let patient = Patient {
        id: PatientId::random(),
        doctors: vec![doctor.id],
        devices: vec![],
        timezone: "UTC".into(),
        phi: None,
        mrn_hash: None,
    };
    records.put_patient(&patient).await?;
    let fired_ns = now_ns();
    let alert = Alert {
        value: 150.0,
        limit: 120.0,
        policy_version: 1,
        ..Alert::firing(patient.id, RuleKind::HrHigh, Priority::High, fired_ns)
    };
    records.open_alert(&alert).await?;
    Ok(alert)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

async fn latencies(b: &Bench, d: &Dispatcher, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let alert = fire(b.records.as_ref()).await?;
        let t0 = Instant::now();
        d.drive(&alert).await?;
        out.push(t0.elapsed());
    }
    out.sort();
    Ok(out)
}

pub async fn run(args: BenchNotifyArgs) -> anyhow::Result<()> {
    let b = setup(&args).await?;
    println!(
        "store=embedded provider=local twilio sandbox{} channels={}",
        if args.ses_endpoint.is_some() {
            " + moto ses"
        } else {
            ""
        },
        b.channels
    );

    let mut alerts = Vec::with_capacity(args.alerts);
    for _ in 0..args.alerts {
        alerts.push(fire(b.records.as_ref()).await?);
    }
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(alerts.iter().map(|a| b.fan_out.drive(a)))
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    for r in results {
        r?;
    }
    let deliveries = args.alerts * b.channels;
    println!(
        "throughput alerts={} deliveries={deliveries} seconds={seconds:.2} deliveries_per_s={:.0}",
        args.alerts,
        deliveries as f64 / seconds
    );

    let base = latencies(&b, &b.in_app_only, args.rounds).await?;
    let fan = latencies(&b, &b.fan_out, args.rounds).await?;
    let (b50, b99) = (percentile(&base, 0.5), percentile(&base, 0.99));
    let (f50, f99) = (percentile(&fan, 0.5), percentile(&fan, 0.99));
    println!("in_app_only_ms p50={b50:.2} p99={b99:.2}");
    println!(
        "fan_out_{}_channels_ms p50={f50:.2} p99={f99:.2} max={:.2}",
        b.channels,
        percentile(&fan, 1.0)
    );
    println!(
        "fan_out_adds_ms p50={:.2} p99={:.2} (target p99 <= 100)",
        f50 - b50,
        f99 - b99
    );
    Ok(())
}
