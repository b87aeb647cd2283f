//! One InfluxDB node frozen must not stall every patient (issue 15; docs/operations.md,
//! "Several InfluxDB nodes"). The samples are spread over two real `influxd`: node 1 is
//! the second one `scripts/test` starts (`CW_TEST_INFLUX_URL_2`), node 2 this test's own,
//! so it may SIGSTOP it without harming other tests. While node 2 is frozen, the gateway
//! of a patient on node 1 is acked frame after frame and its samples are on node 1; the
//! gateway of a patient on node 2 gets no ack (its frames are nacked `retry_later` and
//! resent); ingest stays ready, and counts the failed writes against node 2 only. After
//! the thaw the second gateway resumes, and every acknowledged sample of both patients is
//! on its own node: nothing acked is lost.

use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{PatientId, shard_of};
use cw_e2e::env::required;
use cw_e2e::influxd::{OwnInflux, ecg_points_at};
use cw_e2e::ingest::{self, Ingest, metric, next_reply, send_frame};
use cw_protocol::{Frame, NackCode, Reply};
use cw_storage::{InfluxConfig, InfluxNodeConfig, SampleStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FRAMES: u64 = 40;
/// Samples per frame: 200 ms at 250 Hz.
const SAMPLES: usize = 50;
/// Long enough that a frozen node's write fails well inside the test, short enough that
/// its gateway hears `retry_later` several times while frozen.
const WRITE_TIMEOUT_MS: u64 = 2_000;

/// The first `patient-{n}` ([`Ingest::device`]'s ids) whose shard the documented mapping
/// gives to `node` of two (node 0: shards 0–31, node 1: 32–63).
fn device_on(node: usize) -> u32 {
    (0..)
        .find(|n| {
            let id = PatientId::parse(&format!("patient-{n}")).expect("valid id");
            usize::from(shard_of(&id) >= 32) == node
        })
        .expect("some id")
}

/// What one gateway saw.
struct Streamed {
    acked: u64,
    retry_later: u64,
    /// The longest wait from sending a frame to its ack.
    slowest_ack: Duration,
}

/// Streams `FRAMES` frames one at a time from `t0`, resending a frame nacked
/// `retry_later` after a pause, as a gateway does (docs/ingest-protocol.md); stops at
/// `until` with what was acked so far.
async fn stream(ingest: &Ingest, token: &str, t0: i64, until: Instant) -> Streamed {
    let mut socket = ingest.open(token).await.expect("gateway connects");
    let mut seen = Streamed {
        acked: 0,
        retry_later: 0,
        slowest_ack: Duration::ZERO,
    };
    let mut seq = 1;
    while seq <= FRAMES && Instant::now() < until {
        let start = t0 + (seq as i64 - 1) * SAMPLES as i64 * NANOS_PER_SEC / 250;
        let sent = Instant::now();
        send_frame(
            &mut socket,
            Frame::encode_i16(seq, start, 250, 1, false, &[seq as i16; SAMPLES]),
        )
        .await;
        let left = until.saturating_duration_since(Instant::now());
        let Ok(reply) = tokio::time::timeout(left, next_reply(&mut socket)).await else {
            break;
        };
        match reply {
            Reply::Ack { seq: acked } => {
                assert_eq!(acked, seq, "acks in frame order");
                seen.acked += 1;
                seen.slowest_ack = seen.slowest_ack.max(sent.elapsed());
                seq += 1;
            }
            Reply::Nack {
                code: NackCode::RetryLater,
                ..
            } => {
                seen.retry_later += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    seen
}

async fn readyz(ingest: &Ingest) -> u16 {
    let ca = std::fs::read(&ingest.ca).expect("CA");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("client")
        .get(format!(
            "https://127.0.0.1:{}/readyz",
            ingest.admin_addr.port()
        ))
        .send()
        .await
        .expect("readyz answered")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_acks_the_patients_of_a_live_influx_node_while_another_node_is_frozen() {
    let first = required("CW_TEST_INFLUX_URL_2");
    let second = OwnInflux::start().await;
    let database = format!("cw_node_down_{}", PatientId::random());
    let samples: Arc<dyn SampleStore> = Arc::new(
        cw_storage::influx::InfluxSamples::connect(&InfluxConfig {
            nodes: [&first, &second.url]
                .into_iter()
                .map(|url| InfluxNodeConfig {
                    url: url.clone(),
                    ..InfluxNodeConfig::default()
                })
                .collect(),
            database: database.clone(),
            timeout_ms: WRITE_TIMEOUT_MS,
            ..InfluxConfig::default()
        })
        .await
        .expect("both nodes reachable"),
    );
    let ingest = ingest::start(Some(samples), |_| {}).await;
    let (live, live_token) = ingest.device(device_on(0)).await;
    let (frozen, frozen_token) = ingest.device(device_on(1)).await;
    let t0 = now_ns() - 30 * NANOS_PER_SEC;

    second.freeze();
    let frozen_until = Instant::now() + Duration::from_secs(30);
    let (on_live, on_frozen) = tokio::join!(
        stream(&ingest, &live_token, t0, frozen_until),
        // Stops early: what it got acked while node 2 was frozen.
        stream(
            &ingest,
            &frozen_token,
            t0,
            Instant::now() + Duration::from_secs(8)
        ),
    );
    assert_eq!(
        on_live.acked, FRAMES,
        "the patient on node 1 is acked while node 2 is frozen (slowest ack {:?})",
        on_live.slowest_ack
    );
    assert_eq!(on_live.retry_later, 0, "node 1's patient was never nacked");
    assert_eq!(
        on_frozen.acked, 0,
        "nothing of node 2's patient acked while it is frozen"
    );
    assert!(
        on_frozen.retry_later > 0,
        "node 2's patient heard retry_later"
    );
    assert_eq!(
        ecg_points_at(&first, &database, live.as_str()).await,
        FRAMES * SAMPLES as u64,
        "acked is stored: node 1 holds every frame of its patient"
    );
    assert_eq!(
        readyz(&ingest).await,
        200,
        "ingest stays ready while one node answers"
    );
    let text = ingest.metrics().await;
    assert!(
        metric(&text, "cw_ingest_node_write_failures_total{node=\"2\"}") > 0.0,
        "failed writes are counted against node 2:\n{text}"
    );
    assert_eq!(
        metric(&text, "cw_ingest_node_write_failures_total{node=\"1\"}"),
        0.0,
        "{text}"
    );
    assert!(metric(&text, "cw_ingest_node_batches_written_total{node=\"1\"}") >= FRAMES as f64);

    // Thawed, the second gateway resumes from its first unacked frame and finishes.
    second.thaw();
    let resumed = stream(
        &ingest,
        &frozen_token,
        t0,
        Instant::now() + Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        resumed.acked, FRAMES,
        "node 2's patient resumes after the thaw"
    );
    for (patient, home, other) in [(&live, &first, &second.url), (&frozen, &second.url, &first)] {
        assert_eq!(
            ecg_points_at(home, &database, patient.as_str()).await,
            FRAMES * SAMPLES as u64,
            "every acknowledged frame of {patient} is on its node"
        );
        assert_eq!(ecg_points_at(other, &database, patient.as_str()).await, 0);
    }
}
