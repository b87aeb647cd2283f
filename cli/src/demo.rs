//! `cardiowatch demo`: the four services in one process, wired over the same ZeroMQ
//! sockets on loopback, embedded storage in a data dir, dev TLS certificates, a Twilio
//! sandbox standing in for the SMS provider, and a gateway streaming a real ECG record.

use crate::demo_phone::{Phone, PhoneAck};
use crate::fixture::{self, FixtureSpec};
use crate::gateway::{self, GatewayOptions, GatewayStats};
use crate::in_process::{self, Extras, Wiring};
use crate::secrets::local_secret;
use anyhow::Context;
use cw_bus::BusConfig;
use cw_core::{AlertId, Role, ThresholdPolicy};
use cw_storage::Stores;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The user id of the demo's admin token (no account record: tokens need none).
pub const DEMO_ADMIN: &str = "admin-demo";

pub struct DemoOptions {
    pub data_dir: PathBuf,
    pub record: PathBuf,
    pub speed: f64,
    /// Stop after this long; `None` runs until Ctrl-C.
    pub duration: Option<Duration>,
    /// The demo patient's HR high limit; below the record's rate so an alert fires.
    pub hr_high_bpm: f32,
    /// Numerics to stream beside the ECG (`embedded:vitals/s00001`, minute 1375 on, a
    /// minute a second); None: ECG only.
    pub vitals: Option<crate::gateway_vitals::VitalsOptions>,
    /// How (and how long after the first page) the demo doctor's phone acknowledges.
    pub phone_ack: PhoneAck,
    pub phone_after: Duration,
}

pub async fn run(opts: DemoOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    // The demo's keys, certificates and store live here: the service account's only.
    crate::store_args::private_data_dir(&opts.data_dir)?;
    let certs = cw_tls::ensure_dev_certs(&opts.data_dir.join("certs"))?;
    let bus = BusConfig {
        key_id: 1,
        key_hex: Some(local_secret(&opts.data_dir.join("bus.key"))?.into()),
        ..BusConfig::default()
    };
    let jwt_secret = local_secret(&opts.data_dir.join("jwt.secret"))?;
    local_secret(&opts.data_dir.join("phi-master.key"))?;
    local_secret(&opts.data_dir.join("phi-lookup.key"))?;
    let tls = certs.server_tls();
    let storage = crate::store_args::data_dir_storage(&opts.data_dir)?;
    let stores = cw_storage::open(&storage)
        .await
        .context("opening the embedded store")?;

    let fixture = fixture::install(
        stores.records.as_ref(),
        &FixtureSpec {
            patient_id: "demo-patient-100",
            doctor_id: "dr-demo",
            device_id: "gateway-demo-1",
            phone: Some("+15005550006"),
            email: Some("dr.demo@example.org"),
            hr_high_bpm: opts.hr_high_bpm,
            for_s: 5.0,
        },
    )
    .await?;
    if opts.vitals.is_some() {
        stores
            .records
            .put_policy(&with_demo_vitals(fixture.policy.clone()))
            .await?;
    }

    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .context("starting the Twilio sandbox")?;

    let twilio = in_process::sandbox_twilio(&sandbox.base_url());
    let auth_token = twilio.auth_token.clone();
    let services = in_process::start_with(
        &Wiring {
            tls,
            bus,
            storage,
            jwt_secret: Some(jwt_secret.clone()),
            twilio,
        },
        &Extras {
            twilio_webhooks: true,
            // Dev PHI keys beside the dev certificates, so the patient endpoints work;
            // operators set `[phi]` from their own key files or a KMS.
            phi: crate::store_args::data_dir_phi(&opts.data_dir),
            ..Default::default()
        },
        &stores,
        &shutdown,
    )
    .await?;
    let api = services.api.as_ref().context("the demo runs the api")?;

    let stream_url = format!("wss://127.0.0.1:{}/v1/stream", services.ingest.addr.port());
    let batch_url = format!(
        "https://127.0.0.1:{}/v1/batches",
        services.ingest.addr.port()
    );
    let api_url = format!("https://127.0.0.1:{}", api.addr.port());
    let token = cw_api::token::issue(
        jwt_secret.as_bytes(),
        "cardiowatch",
        &fixture.doctor.id,
        Role::Doctor,
        cw_api::token::ACCESS_TTL_S,
    )?;
    // An admin registers devices and patients (docs/ingest-protocol.md); a token's
    // subject needs no account record, so the demo mints one for a fixed id.
    let admin = cw_core::UserId::parse(DEMO_ADMIN)?;
    let admin_token = cw_api::token::issue(
        jwt_secret.as_bytes(),
        "cardiowatch",
        &admin,
        Role::Admin,
        cw_api::token::ACCESS_TTL_S,
    )?;
    println!("cardiowatch demo — data in {}", opts.data_dir.display());
    println!("api: {api_url}");
    println!("ingest stream (WebSocket): {stream_url}");
    println!("ingest batches (HTTPS POST): {batch_url}");
    println!(
        "metrics (admin listeners): api https://{}/metrics   ingest https://{}/metrics   engine https://{}/metrics   notifier https://{}/metrics",
        api.admin_addr,
        services.ingest.admin_addr,
        services.engine.admin_addr,
        services.notifier.admin_addr
    );
    println!(
        "sms provider: Twilio sandbox at {} (the real Twilio client code talks to it)",
        sandbox.base_url()
    );
    println!("email: not configured in the demo (set [ses] in notifier.toml to enable)");
    println!(
        "patient {} — doctor {} — HR high limit {} bpm for 5 s",
        fixture.patient.id, fixture.doctor.id, opts.hr_high_bpm
    );
    let webhook_addr = services
        .notifier
        .webhook_addr
        .context("the demo runs the Twilio webhooks")?;
    println!(
        "twilio webhooks: https://{webhook_addr} (SMS replies, key presses, status callbacks; signed by the sandbox)"
    );
    // The console's sign-in (docs/console.md): the demo doctor's password, made once and
    // kept beside the other local secrets.
    let console_password = local_secret(&opts.data_dir.join("console.password"))?;
    crate::users::put_login(
        stores.records.as_ref(),
        &fixture.doctor.id,
        Role::Doctor,
        console_password.clone(),
    )
    .await
    .context("the demo doctor's console login")?;
    println!(
        "console: {api_url}/console/  sign in as {} with password {console_password} (trust {})",
        fixture.doctor.id,
        certs.ca_cert.display()
    );
    println!("doctor access token (15 min): {token}");
    println!("admin access token (15 min): {admin_token}");
    println!(
        "  a new one: CW_AUTH__JWT_SECRET=$(cat {}) cardiowatch token --user {DEMO_ADMIN} --role admin",
        opts.data_dir.join("jwt.secret").display()
    );
    println!(
        "try: curl --cacert {} -H \"Authorization: Bearer $TOKEN\" {api_url}/v1/alerts",
        certs.ca_cert.display()
    );
    println!(
        "live (WebSocket: HR per beat, alerts, ECG ≤ 50 Hz): wss://127.0.0.1:{}/v1/patients/{}/live",
        api.addr.port(),
        fixture.patient.id
    );
    println!(
        "  e.g. websocat --protocol \"cardiowatch.v1, bearer.$TOKEN\" wss://127.0.0.1:{}/v1/patients/{}/live  (trust {})",
        api.addr.port(),
        fixture.patient.id,
        certs.ca_cert.display()
    );
    match opts.phone_ack {
        PhoneAck::None => println!("the doctor's phone will not answer: the alert escalates"),
        how => println!(
            "the doctor's phone answers {} s after the first page ({})",
            opts.phone_after.as_secs(),
            if how == PhoneAck::Key {
                "presses 1 on the call"
            } else {
                "replies with the page code by SMS"
            }
        ),
    }
    println!(
        "streaming {} at {}x real time …",
        opts.record.display(),
        opts.speed
    );

    let stats = Arc::new(GatewayStats::default());
    let mut gateway_task = tokio::spawn(gateway::stream_record(
        GatewayOptions {
            url: stream_url,
            device_token: fixture.device_token.clone(),
            ca_cert: Some(certs.ca_cert.clone()),
            record: opts.record.clone(),
            speed: opts.speed,
            // Only what the demo will run for: the simulator dates a record's start so it
            // ends now, and ingest refuses starts more than 5 min in the past.
            seconds: opts.duration.map(|d| d.as_secs_f64() * opts.speed),
            offset_s: 0.0,
            block_ms: 250,
            window: 64,
            vitals: opts.vitals.clone(),
        },
        stats.clone(),
        shutdown.clone(),
    ));

    let phone = Phone {
        sandbox: &sandbox,
        auth_token,
        webhook_addr,
        ca_cert: &certs.ca_cert,
        how: opts.phone_ack,
        after: opts.phone_after,
    };
    let answering = async {
        if let Err(e) = phone.answer(&shutdown).await {
            eprintln!("phone: {e:#}");
        }
        // Then just wait: the report below decides when the demo ends.
        shutdown.cancelled().await;
    };
    let reporting = report_progress(
        &stores,
        &fixture.patient.id,
        &stats,
        &sandbox,
        opts.duration,
        &shutdown,
    );
    // A gateway that gives up (refused, record unreadable) stops the demo at once with
    // its reason, instead of a demo streaming nothing until Ctrl-C. One that finished its
    // record leaves the demo running: alerts and the phone may still be under way.
    let gateway_failed = async {
        match (&mut gateway_task).await {
            Ok(Ok(())) => std::future::pending().await,
            Ok(Err(e)) => e,
            Err(e) => anyhow::anyhow!("gateway task: {e}"),
        }
    };
    let failed = tokio::select! {
        _ = reporting => None,
        _ = answering => None,
        e = gateway_failed => Some(e),
    };
    shutdown.cancel();
    if failed.is_none() {
        match gateway_task.await {
            Ok(Err(e)) => eprintln!("gateway: {e:#}"),
            Err(e) => eprintln!("gateway task: {e}"),
            Ok(Ok(())) => {}
        }
    }
    services.join().await;
    println!("demo stopped");
    match failed {
        Some(e) => Err(e.context("the demo's gateway stopped")),
        None => Ok(()),
    }
}

/// The demo patient's vital-sign rules: the shipped defaults (docs/vitals.md, "Rules"),
/// but SpO2 low at 96 % — above the record's fall to 95–93 % at minute 1436, so a
/// desaturation is paged beside the ECG alert (as the HR limit is set below record 100's
/// rate) — and holds of 1 s, because the demo plays a minute of numerics a second.
fn with_demo_vitals(policy: ThresholdPolicy) -> ThresholdPolicy {
    let mut policy = policy.with_recommended_vitals();
    policy.set_vital_hold_s(1.0);
    if let Some(spo2) = policy.spo2_low.as_mut() {
        spo2.limit = 96.0;
    }
    if let Some(off) = policy.sensor_off.as_mut() {
        off.for_s = 2.0;
    }
    policy
}

/// Prints a line a second: samples/s acked, then each new alert and delivery.
async fn report_progress(
    stores: &Stores,
    patient: &cw_core::PatientId,
    stats: &GatewayStats,
    sandbox: &cw_sandbox::TwilioSandbox,
    duration: Option<Duration>,
    shutdown: &CancellationToken,
) {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut last_samples = 0u64;
    let mut seen_alerts: HashSet<(AlertId, &'static str)> = HashSet::new();
    let mut seen_deliveries: HashSet<String> = HashSet::new();
    let mut tick = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tick += 1;
        if duration.is_some_and(|d| started.elapsed() >= d) {
            return;
        }
        let samples = stats.samples_acked.load(Ordering::Relaxed);
        if tick.is_multiple_of(5) {
            println!(
                "[{:>4}s] samples/s (all leads) {:>6}  frames acked {:>6}  nacked {}  sms at provider {}",
                started.elapsed().as_secs(),
                (samples - last_samples) / 5,
                stats.acked.load(Ordering::Relaxed),
                stats.nacked.load(Ordering::Relaxed),
                sandbox.messages().len()
            );
            last_samples = samples;
        }
        let Ok(alerts) = stores
            .records
            .alerts_for_patients(std::slice::from_ref(patient), None, 20)
            .await
        else {
            continue;
        };
        for alert in alerts.iter().rev() {
            if seen_alerts.insert((alert.id.clone(), alert.state.as_str())) {
                let unit = alert.rule.unit();
                println!(
                    "ALERT {} {} {} — {} ({:.0} {unit}, limit {:.0} {unit}) patient {}",
                    alert.state.as_str().to_uppercase(),
                    alert.priority.as_str(),
                    alert.id,
                    alert.rule.describe(),
                    alert.value,
                    alert.limit,
                    alert.patient
                );
            }
            if let Ok(deliveries) = stores.records.deliveries_for_alert(&alert.id).await {
                for d in deliveries {
                    if d.status != cw_core::DeliveryStatus::Queued
                        && seen_deliveries.insert(d.idempotency_key())
                    {
                        println!(
                            "DELIVERY {} via {} to {} — {}{}",
                            d.alert,
                            d.channel.as_str(),
                            d.recipient,
                            d.status.as_str(),
                            d.provider_id
                                .map(|id| format!(" (provider id {id})"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
    }
}
