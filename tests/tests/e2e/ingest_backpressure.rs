//! Backpressure with a frozen InfluxDB (this test's own influxd, SIGSTOPped): ingest
//! stops reading gateway sockets once each has its in-flight frames pending and the
//! writer's bounded queue is full — it does not buffer what gateways keep sending — and
//! after the thaw every frame is acked and stored.

use cw_core::time::now_ns;
use cw_e2e::influxd::OwnInflux;
use cw_e2e::ingest::{self, metric};
use cw_protocol::{Frame, Reply};
use cw_storage::SampleStore;
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const GATEWAYS: u64 = 3;
const FRAMES: u64 = 300;
const IN_FLIGHT: usize = 4;
const QUEUE: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_store_stops_ingest_reading_and_nothing_is_lost_after_the_thaw() {
    let influx = OwnInflux::start().await;
    let samples: Arc<dyn SampleStore> = Arc::new(
        cw_storage::influx::InfluxSamples::connect(&cw_storage::InfluxConfig {
            url: influx.url.clone(),
            database: "backpressure".into(),
            // Frozen must mean "blocked", not "failed": with the default 10 s timeout a
            // slow start-up on a loaded machine let the first write time out (retry_later)
            // before the queue was checked. Timeouts have their own test (durability).
            timeout_ms: 120_000,
            ..Default::default()
        })
        .await
        .expect("influxdb reachable"),
    );
    let ingest = ingest::start(Some(samples.clone()), |cfg| {
        cfg.writer.frames_in_flight_per_connection = IN_FLIGHT;
        cfg.writer.queue_blocks = QUEUE;
        cfg.writer.writes_in_flight = 1;
    })
    .await;
    let frames_read = || async { metric(&ingest.metrics().await, "cw_ingest_frames_total") };

    influx.freeze();
    let t0 = now_ns();
    let mut gateways = Vec::new();
    let mut patients = Vec::new();
    for n in 0..GATEWAYS {
        let (patient, token) = ingest.device(n as u32).await;
        patients.push(patient);
        let socket = ingest.open(&token).await.expect("connects");
        let (mut sink, mut replies) = socket.split();
        // The sender pushes every frame without waiting for replies; it blocks when
        // ingest stops reading and TCP fills up.
        let sender = tokio::spawn(async move {
            for seq in 1..=FRAMES {
                let start = t0 + seq as i64 * 200_000_000;
                let bytes = Frame::encode_i16(seq, start, 250, 1, false, &[7; 50]);
                if sink.send(Message::Binary(bytes.into())).await.is_err() {
                    return;
                }
            }
            // Keep the write half open until the replies are in.
            std::future::pending::<()>().await;
        });
        let receiver = tokio::spawn(async move {
            let mut acked = 0;
            while acked < FRAMES {
                match replies.next().await {
                    Some(Ok(Message::Text(text))) => {
                        match serde_json::from_str::<Reply>(&text).expect("reply") {
                            Reply::Ack { seq } => {
                                acked += 1;
                                assert_eq!(seq, acked, "replies in frame order");
                            }
                            nack => panic!("unexpected {nack:?}"),
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("stream ended: {other:?}"),
                }
            }
            acked
        });
        gateways.push((sender, receiver));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    let read_while_frozen = frames_read().await;
    assert!(
        read_while_frozen <= (GATEWAYS as usize * IN_FLIGHT) as f64,
        "ingest read {read_while_frozen} frames while the store was frozen; at most {} may be pending",
        GATEWAYS as usize * IN_FLIGHT
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        frames_read().await,
        read_while_frozen,
        "no further reading while frozen"
    );

    assert!(
        metric(&ingest.metrics().await, "cw_ingest_queue_depth") > 0.0,
        "blocks wait for the writer while the store is frozen"
    );

    influx.thaw();
    for (sender, receiver) in gateways {
        let acked = tokio::time::timeout(Duration::from_secs(60), receiver)
            .await
            .expect("all acked after the thaw")
            .expect("receiver");
        assert_eq!(acked, FRAMES);
        sender.abort();
    }
    assert_eq!(
        metric(&ingest.metrics().await, "cw_ingest_queue_depth"),
        0.0,
        "the queue drains"
    );
    for patient in &patients {
        let stored = samples
            .count_frames(patient, 0, i64::MAX)
            .await
            .expect("count");
        assert_eq!(stored, FRAMES * 50);
    }
}
