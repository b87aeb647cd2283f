//! Nothing acknowledged is lost when InfluxDB stalls or crashes mid-stream: this test
//! runs its own influxd (so freezing and killing it harms no other test), streams three
//! patients through ingest over TLS with the gateway simulator, freezes InfluxDB
//! (SIGSTOP), thaws it, kills it (SIGKILL) and restarts it on the same data dir. The
//! simulator resends whatever was not acked; at the end every point of every patient is
//! in InfluxDB exactly once per timestamp, and that equals what was acknowledged.

use cardiowatch::gateway::{self, GatewayStats};
use cw_e2e::influxd::OwnInflux;
use cw_e2e::ingest;
use cw_storage::SampleStore;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PATIENTS: u32 = 3;
const SECONDS: f64 = 120.0;
const RATE_HZ: f64 = 360.0; // record 100
const LEADS: u64 = 2;

fn total(stats: &[Arc<GatewayStats>], pick: impl Fn(&GatewayStats) -> u64) -> u64 {
    stats.iter().map(|s| pick(s)).sum()
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_points_survive_a_frozen_then_killed_influxdb_with_no_gaps() {
    let mut influx = OwnInflux::start().await;
    let samples: Arc<dyn SampleStore> = Arc::new(
        cw_storage::influx::InfluxSamples::connect(&cw_storage::InfluxConfig {
            url: influx.url.clone(),
            database: "durability".into(),
            // A frozen server must turn into retry_later nacks soon, not after 10 s.
            timeout_ms: 1500,
            ..Default::default()
        })
        .await
        .expect("influxdb reachable"),
    );
    let ingest = ingest::start(Some(samples.clone()), |_| {}).await;

    let shutdown = CancellationToken::new();
    let mut patients = Vec::new();
    let mut stats = Vec::new();
    let mut streams = Vec::new();
    for n in 0..PATIENTS {
        let (patient, token) = ingest.device(n).await;
        let mut opts = ingest.gateway_options(&token, ingest::record_100());
        opts.seconds = Some(SECONDS);
        opts.speed = 12.0; // ~10 s of streaming, long enough to freeze InfluxDB mid-way
        opts.offset_s = f64::from(n) * 60.0;
        opts.window = 16;
        let s = Arc::new(GatewayStats::default());
        streams.push(tokio::spawn(gateway::stream_record(
            opts,
            s.clone(),
            shutdown.clone(),
        )));
        patients.push(patient);
        stats.push(s);
    }

    wait_for("the first acks", Duration::from_secs(30), || {
        total(&stats, |s| s.acked.load(Ordering::Relaxed)) >= 30
    })
    .await;
    influx.freeze();
    let acked_at_freeze = total(&stats, |s| s.acked.load(Ordering::Relaxed));
    // Writes time out (1.5 s) and the gateways are told to retry later.
    wait_for(
        "retry_later nacks while frozen",
        Duration::from_secs(20),
        || total(&stats, |s| s.nacked.load(Ordering::Relaxed)) > 0,
    )
    .await;
    let acked_while_frozen = total(&stats, |s| s.acked.load(Ordering::Relaxed));
    influx.thaw();
    wait_for("acks after the thaw", Duration::from_secs(30), || {
        total(&stats, |s| s.acked.load(Ordering::Relaxed)) > acked_while_frozen + 10
    })
    .await;
    influx.kill();
    let nacked_before_kill = total(&stats, |s| s.nacked.load(Ordering::Relaxed));
    wait_for(
        "retry_later nacks while down",
        Duration::from_secs(20),
        || total(&stats, |s| s.nacked.load(Ordering::Relaxed)) > nacked_before_kill,
    )
    .await;
    influx.restart().await;

    for stream in streams {
        tokio::time::timeout(Duration::from_secs(180), stream)
            .await
            .expect("every gateway finishes")
            .expect("gateway task")
            .expect("gateway streams");
    }
    assert!(
        acked_at_freeze < total(&stats, |s| s.acked.load(Ordering::Relaxed)),
        "streaming went on after the outages"
    );

    eprintln!(
        "acked {} nacked {} resent {} reconnects {}",
        total(&stats, |s| s.acked.load(Ordering::Relaxed)),
        total(&stats, |s| s.nacked.load(Ordering::Relaxed)),
        total(&stats, |s| s.resent.load(Ordering::Relaxed)),
        total(&stats, |s| s.reconnects.load(Ordering::Relaxed)),
    );
    let expected_points = (SECONDS * RATE_HZ) as u64;
    for (patient, s) in patients.iter().zip(&stats) {
        let acked_points = s.samples_acked.load(Ordering::Relaxed) / LEADS;
        assert_eq!(
            acked_points, expected_points,
            "every frame was acked in the end"
        );
        let stored = samples
            .frames(patient, 0, i64::MAX)
            .await
            .expect("read back");
        assert_eq!(
            stored.len() as u64,
            acked_points,
            "points in InfluxDB == points acknowledged"
        );
        // No gaps: consecutive points are one sample period apart (±1 ns rounding).
        let period_ns = 1e9 / RATE_HZ;
        for pair in stored.windows(2) {
            let step = (pair[1].0 - pair[0].0) as f64;
            assert!(
                (step - period_ns).abs() <= 1.0,
                "gap or overlap of {step} ns in patient {patient}"
            );
        }
    }
    shutdown.cancel();
}
