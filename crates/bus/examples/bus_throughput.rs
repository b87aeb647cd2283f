//! Bus throughput: `cargo run -p cw-bus --release --example bus_throughput [-- BLOCKS]`.
//!
//! Prints, on one thread, how many sealed messages per second the bus seals and opens
//! for each kind's real body type (a 250 ms block of 2 leads at 360 Hz, as the gateway
//! simulator sends record 100; an alert event; a heart-rate live event), the bare body
//! codecs side by side (postcard vs JSON, the choice behind the samples encoding), and
//! the points/s one PUB→SUB pair carries over loopback TCP. Ingest publishes up to
//! ~1 M points/s, so the samples path must stay far above that.

use cw_bus::{BusConfig, BusStats, Discovery, Envelope, Kind, Publisher, Sealer, Subscriber};
use cw_core::messages::{LiveEvent, SamplesStored};
use cw_core::{
    Alert, AlertEvent, AlertEventKind, DeviceId, PatientId, Priority, RuleKind, SampleBlock,
};
use serde::{Serialize, de::DeserializeOwned};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const FRAMES: usize = 90;
const LEADS: u8 = 2;

fn samples(seq: u64) -> SamplesStored {
    // ECG-like amplitudes (µV): a slow wave plus a sharp peak, so varints and decimal
    // digits have realistic lengths.
    let samples_uv = (0..FRAMES * usize::from(LEADS))
        .map(|i| {
            let t = i as f64 / 20.0;
            let peak = if i % 180 < 6 { 1_400.0 } else { 0.0 };
            ((t.sin() * 180.0) + peak - 60.0) as i16
        })
        .collect();
    SamplesStored {
        block: SampleBlock {
            patient: PatientId::parse("p-000123").expect("valid id"),
            device: DeviceId::parse("gw-000123").expect("valid id"),
            seq,
            start_ns: 1_764_000_000_000_000_000 + seq as i64 * 250_000_000,
            rate_hz: 360,
            leads: LEADS,
            samples_uv,
            lead_off: false,
        },
        received_ns: 1_764_000_000_100_000_000,
    }
}

fn alert_event() -> AlertEvent {
    let mut alert = Alert::firing(
        PatientId::parse("p-000123").expect("valid id"),
        RuleKind::HrHigh,
        Priority::High,
        1_764_000_000_000_000_000,
    );
    alert.value = 151.5;
    alert.limit = 140.0;
    alert.policy_version = 3;
    AlertEvent {
        kind: AlertEventKind::Fired,
        alert,
        sample_received_ns: Some(1_764_000_000_000_000_000),
    }
}

fn heart_rate() -> LiveEvent {
    LiveEvent::HeartRate {
        patient: PatientId::parse("p-000123").expect("valid id"),
        at_ns: 1_764_000_000_000_000_000,
        average_bpm: 72.5,
        instant_bpm: 71.9,
        rr_s: 0.834,
    }
}

fn envelope<T>(body: T) -> Envelope<T> {
    Envelope {
        id: u128::MAX - 7,
        publisher: 42,
        seq: 1,
        sent_ns: 1_764_000_000_000_000_000,
        body,
    }
}

/// Runs `f` `n` times and returns calls per second.
fn per_second(n: usize, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn seal_and_open<T: Serialize + DeserializeOwned>(
    name: &str,
    sealer: &Sealer,
    kind: Kind,
    body: T,
    n: usize,
    points_per_message: usize,
) {
    let env = envelope(body);
    let sealed = sealer.seal(kind, b"s/001", &env).expect("seals");
    let seal = per_second(n, || {
        black_box(sealer.seal(kind, b"s/001", black_box(&env)).expect("seals"));
    });
    let open = per_second(n, || {
        black_box(
            sealer
                .open::<T>(kind, b"s/001", black_box(&sealed))
                .expect("opens"),
        );
    });
    print!(
        "{name}: wire_bytes={} seal_per_s={seal:.0} open_per_s={open:.0}",
        sealed.len()
    );
    if points_per_message > 0 {
        print!(
            " seal_points_per_s={:.0} open_points_per_s={:.0}",
            seal * points_per_message as f64,
            open * points_per_message as f64
        );
    }
    println!();
}

fn body_codecs(n: usize) {
    let body = samples(1);
    let post = postcard::to_stdvec(&body).expect("encodes");
    let json = serde_json::to_vec(&body).expect("encodes");
    let post_enc = per_second(n, || {
        black_box(postcard::to_stdvec(black_box(&body)).expect("encodes"));
    });
    let post_dec = per_second(n, || {
        black_box(postcard::from_bytes::<SamplesStored>(black_box(&post)).expect("ok"));
    });
    let json_enc = per_second(n, || {
        black_box(serde_json::to_vec(black_box(&body)).expect("encodes"));
    });
    let json_dec = per_second(n, || {
        black_box(serde_json::from_slice::<SamplesStored>(black_box(&json)).expect("ok"));
    });
    let points = FRAMES as f64;
    println!(
        "samples body codec: postcard bytes={} encode_points_per_s={:.0} decode_points_per_s={:.0}",
        post.len(),
        post_enc * points,
        post_dec * points
    );
    println!(
        "samples body codec: json bytes={} encode_points_per_s={:.0} decode_points_per_s={:.0}",
        json.len(),
        json_enc * points,
        json_dec * points
    );
}

/// One publisher, one subscriber over loopback TCP: points/s received, and what the
/// full publish queue dropped (PUB/SUB never blocks the publisher).
async fn pub_sub(blocks: usize, sealer: Sealer) {
    let shutdown = CancellationToken::new();
    let stats = Arc::new(BusStats::default());
    let (publisher, endpoint) = Publisher::bind(
        "tcp://127.0.0.1:0",
        Kind::Samples,
        sealer.clone(),
        stats.clone(),
        shutdown.clone(),
    )
    .await
    .expect("binds");
    let mut sub = Subscriber::connect(
        &[endpoint],
        &["s/".into()],
        Kind::Samples,
        sealer,
        stats.clone(),
        &Discovery::default(),
        shutdown.clone(),
    );
    // Slow joiner: publish until the subscription is live.
    let template = samples(0);
    loop {
        publisher.publish("s/000", &template).expect("queued");
        if let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(50), sub.recv::<SamplesStored>()).await
        {
            break;
        }
    }
    while let Ok(Some(_)) =
        tokio::time::timeout(Duration::from_millis(200), sub.recv::<SamplesStored>()).await
    {}
    let received_before = BusStats::get(&stats.received);
    let dropped_before = BusStats::get(&stats.send_failed);
    let started = Instant::now();
    let producer = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let mut block = samples(1);
            for seq in 1..=blocks as u64 {
                block.block.seq = seq;
                publisher.publish("s/001", &block).expect("queued");
                // Pace just enough to let the socket task run on a 2-core machine.
                if seq % 256 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut got = 0usize;
    while let Ok(Some(_)) =
        tokio::time::timeout(Duration::from_millis(500), sub.recv::<SamplesStored>()).await
    {
        got += 1;
    }
    let elapsed = started.elapsed().as_secs_f64() - 0.5;
    producer.await.expect("producer ran");
    let dropped = BusStats::get(&stats.send_failed) - dropped_before;
    let lost = BusStats::get(&stats.lost);
    println!(
        "pub_sub samples: published={blocks} received={got} (stats {}) queue_full_dropped={dropped} lost={lost} received_points_per_s={:.0}",
        BusStats::get(&stats.received) - received_before,
        got as f64 * FRAMES as f64 / elapsed.max(1e-9)
    );
    shutdown.cancel();
}

#[tokio::main]
async fn main() {
    let blocks: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let sealer = Sealer::from_config(&BusConfig {
        key_id: 1,
        key_hex: Some(Sealer::generate_key_hex().into()),
        ..BusConfig::default()
    })
    .expect("valid key");
    println!("block: {FRAMES} frames x {LEADS} leads (250 ms at 360 Hz)");
    seal_and_open(
        "samples",
        &sealer,
        Kind::Samples,
        samples(1),
        blocks,
        FRAMES,
    );
    seal_and_open(
        "alert_event",
        &sealer,
        Kind::AlertEvent,
        alert_event(),
        blocks / 4,
        0,
    );
    seal_and_open(
        "live_heart_rate",
        &sealer,
        Kind::LiveEvent,
        heart_rate(),
        blocks / 4,
        0,
    );
    body_codecs(blocks);
    pub_sub(blocks, sealer).await;
}
