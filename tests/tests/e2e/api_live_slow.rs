//! A slow live client blocks nothing: over real sockets, a phone that stops reading (tiny
//! TCP receive buffer) while a burst of ECG arrives loses the oldest
//! messages (counted) and, once it reads again, gets what was buffered and then the close
//! (4008, counted in `cw_api_live_closed_behind_total`); a second doctor reading the same
//! patient at the same time gets every message, in order, and stays connected. The sample
//! blocks come over the real bus (a samples PUB socket of this test, sealed with the api's
//! key) into the api's live hub, which turns each into one `ecg` message.

use cw_bus::{BusStats, Kind, Publisher, Sealer};
use cw_core::messages::SamplesStored;
use cw_core::{DeviceId, Role, SampleBlock, shard_of, shard_topic};
use cw_e2e::api::ApiHarness;
use cw_e2e::env::free_port;
use cw_e2e::ingest::metric;
use cw_e2e::live::{Auth, Live, open_live};
use cw_e2e::system::Mode;
use futures::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Blocks in the burst: far more than the kernel buffers between the api and a phone that
/// stopped reading hold (the server's send buffer grows to `tcp_wmem` max, 4 MiB here;
/// ~500 B an `ecg` message) plus the queue and `max_dropped`.
const BURST: u32 = 30_000;
/// Each block: 200 ms of two leads at 200 Hz, which the hub folds into 10 buckets.
const BLOCK_NS: i64 = 200_000_000;

/// Block `k` of a contiguous stream (its `start_ns` numbers it).
fn block(patient: &cw_core::PatientId, k: u32) -> SamplesStored {
    SamplesStored {
        block: SampleBlock {
            patient: patient.clone(),
            device: DeviceId::parse("gw-slow").expect("device id"),
            seq: u64::from(k),
            start_ns: i64::from(k) * BLOCK_NS,
            rate_hz: 200,
            leads: 2,
            samples_uv: vec![(k % 1000) as i16; 80],
            lead_off: false,
        },
        received_ns: 0,
    }
}

/// What a reading client saw: block numbers of its `ecg` messages, drops announced, and how
/// the socket ended (close code, or 0 when it ended without a close frame).
#[derive(Default, Debug)]
struct Read {
    blocks: Vec<u64>,
    dropped: u64,
    closed: Option<u16>,
}

/// Reads for `until`, until the socket ends, or until block `stop_at` (when not 0) arrived.
async fn read_all(socket: &mut Live, until: Duration, stop_at: u64) -> Read {
    let mut read = Read::default();
    let deadline = Instant::now() + until;
    while let Ok(next) = tokio::time::timeout(
        deadline.saturating_duration_since(Instant::now()),
        socket.next(),
    )
    .await
    {
        match next {
            Some(Ok(Message::Text(text))) => {
                let m: Value = serde_json::from_str(&text).expect("JSON");
                match m["type"].as_str() {
                    Some("ecg") => {
                        let start = m["buckets"][0]["start_ns"].as_u64().expect("start_ns");
                        let number = start / BLOCK_NS as u64;
                        read.blocks.push(number);
                        if stop_at != 0 && number == stop_at {
                            break;
                        }
                    }
                    Some("dropped") => read.dropped = m["dropped"].as_u64().expect("dropped"),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(frame))) => {
                read.closed = Some(frame.map(|f| u16::from(f.code)).unwrap_or(1005));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                read.closed.get_or_insert(0);
                break;
            }
        }
    }
    read
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_dropped_and_closed_4008_while_another_gets_everything() {
    let bus_key = Sealer::generate_key_hex();
    let bus_port = free_port();
    let endpoint = format!("tcp://127.0.0.1:{bus_port}");
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.bus.key_hex = Some(bus_key.clone().into());
        cfg.live.event_endpoints = Vec::new();
        cfg.live.sample_endpoints = vec![endpoint.clone()];
        cfg.live.queue = 4096;
        cfg.live.max_dropped = 1024;
        // Long: this test is about the queue overflowing while the write is stuck (the
        // send timeout is `forward.rs`'s unit test).
        cfg.live.send_timeout_ms = 60_000;
    })
    .await;
    let sealer = Sealer::from_config(&cw_bus::BusConfig {
        key_hex: Some(bus_key.clone().into()),
        ..Default::default()
    })
    .expect("sealer");
    let shutdown = CancellationToken::new();
    let (publisher, _) = Publisher::bind(
        &endpoint,
        Kind::Samples,
        sealer,
        Arc::new(BusStats::default()),
        shutdown.clone(),
    )
    .await
    .expect("samples PUB binds");
    let topic = shard_topic(shard_of(&h.own));
    let port: u16 = h
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("api port");
    let ca = h.dir.path().join("certs").join("ca.pem");
    let patient = h.own.to_string();
    let token = h.token(&h.doctor_a, Role::Doctor);

    let (mut reader, _) = open_live(port, &ca, &patient, Auth::Header(&token), None)
        .await
        .expect("the reading doctor's socket");
    // Past the hub's slow-joiner window: probes (block 0) until one arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publisher
            .publish(&topic, &block(&h.own, 0))
            .expect("publish");
        let got = read_all(&mut reader, Duration::from_millis(200), 0).await;
        if !got.blocks.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the hub never subscribed");
    }
    let (mut slow, _) = open_live(port, &ca, &patient, Auth::Header(&token), Some(4096))
        .await
        .expect("the slow phone's socket");
    // Its greeting, then it stops reading.
    let greeting = read_all(&mut slow, Duration::from_millis(300), 0).await;
    assert!(greeting.closed.is_none());

    let reading = tokio::spawn(async move {
        let read = read_all(&mut reader, Duration::from_secs(40), u64::from(BURST) + 1).await;
        (read, reader)
    });
    for k in 1..=BURST {
        publisher
            .publish(&topic, &block(&h.own, k))
            .expect("publish");
        if k % 100 == 0 {
            // ~5 000 blocks/s: well within what a reading client takes.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The reading doctor got all of it, in order, while the slow one held its socket.
    publisher
        .publish(&topic, &block(&h.own, BURST + 1))
        .expect("publish");
    let (read, _reader) = reading.await.expect("reader task");
    let burst: Vec<u64> = read
        .blocks
        .iter()
        .copied()
        .filter(|b| (1..=u64::from(BURST)).contains(b))
        .collect();
    assert_eq!(read.dropped, 0, "the reading socket dropped nothing");
    assert_eq!(
        burst.len() as u32,
        BURST,
        "every event of the burst arrived"
    );
    assert!(burst.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(read.closed.is_none(), "still connected: {:?}", read.closed);

    // The slow phone reads again: what fitted in the buffers, then the close — its queue
    // overflowed by far more than max_dropped while its write was stuck.
    let late = read_all(&mut slow, Duration::from_secs(10), 0).await;
    assert_eq!(late.closed, Some(4008), "closed for being behind");
    assert!(
        (late.blocks.len() as u32) < BURST / 2,
        "the slow socket lost most of the burst: {}",
        late.blocks.len()
    );
    assert!(
        late.blocks.windows(2).all(|w| w[0] < w[1]),
        "what it got is in order"
    );
    let text = h
        .http
        .get(h.admin_url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert_eq!(
        metric(&text, "cw_api_live_closed_behind_total"),
        1.0,
        "only the slow socket: {text}"
    );
    assert!(
        metric(&text, "cw_api_live_dropped_total") > 1024.0,
        "{text}"
    );
    shutdown.cancel();
}
