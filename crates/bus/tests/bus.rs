//! The bus over real ZeroMQ TCP sockets on loopback.

use cw_bus::{BusConfig, BusStats, Discovery, Kind, Publisher, Puller, Pusher, Sealer, Subscriber};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn sealer() -> Sealer {
    Sealer::from_config(&BusConfig {
        key_id: 1,
        key_hex: Some("11".repeat(32).into()),
        ..BusConfig::default()
    })
    .expect("valid key")
}

#[tokio::test]
async fn subscriber_receives_only_its_topics_sealed_end_to_end() {
    let shutdown = CancellationToken::new();
    let stats = Arc::new(BusStats::default());
    let (publisher, endpoint) = Publisher::bind(
        "tcp://127.0.0.1:0",
        Kind::Samples,
        sealer(),
        stats.clone(),
        shutdown.clone(),
    )
    .await
    .expect("binds");
    let mut sub = Subscriber::connect(
        &[endpoint],
        &["s/001".into()],
        Kind::Samples,
        sealer(),
        stats.clone(),
        &Discovery::default(),
        shutdown.clone(),
    );
    // Slow joiner: publish until the subscription is live.
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            publisher
                .publish("s/002", &"other shard".to_string())
                .expect("queued");
            publisher
                .publish("s/001", &"mine".to_string())
                .expect("queued");
            if let Ok(Some(got)) =
                tokio::time::timeout(Duration::from_millis(100), sub.recv::<String>()).await
            {
                return got;
            }
        }
    })
    .await
    .expect("a message arrives");
    assert_eq!(received.0, "s/001");
    assert_eq!(received.1.body, "mine");
    shutdown.cancel();
}

/// Ingest's numerics ride its sample socket as their own kind on their own topics: the
/// vitals subscriber receives them, and a samples subscriber (an engine or api of the
/// release before) neither receives nor rejects them, so it never counts them as bad.
#[tokio::test]
async fn a_sibling_kind_on_its_own_topics_reaches_its_readers_and_passes_the_others_by() {
    let shutdown = CancellationToken::new();
    let (samples, endpoint) = Publisher::bind(
        "tcp://127.0.0.1:0",
        Kind::Samples,
        sealer(),
        Arc::new(BusStats::default()),
        shutdown.clone(),
    )
    .await
    .expect("binds");
    let vitals = samples.sibling(Kind::Vitals);
    let sample_stats = Arc::new(BusStats::default());
    let mut sample_sub = Subscriber::connect(
        std::slice::from_ref(&endpoint),
        &["s/".into()],
        Kind::Samples,
        sealer(),
        sample_stats.clone(),
        &Discovery::default(),
        shutdown.clone(),
    );
    let mut vitals_sub = Subscriber::connect(
        &[endpoint],
        &["v/".into()],
        Kind::Vitals,
        sealer(),
        Arc::new(BusStats::default()),
        &Discovery::default(),
        shutdown.clone(),
    );
    let (mut got_vitals, mut got_samples) = (None, None);
    tokio::time::timeout(Duration::from_secs(10), async {
        while got_vitals.is_none() || got_samples.is_none() {
            vitals.publish("v/003", &"spo2".to_string()).expect("queued");
            samples.publish("s/003", &"ecg".to_string()).expect("queued");
            tokio::select! {
                Some((topic, env)) = vitals_sub.recv::<String>() => got_vitals = Some((topic, env.body)),
                Some((topic, env)) = sample_sub.recv::<String>() => got_samples = Some((topic, env.body)),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
    .await
    .expect("both arrive");
    assert_eq!(got_vitals, Some(("v/003".to_owned(), "spo2".to_owned())));
    assert_eq!(got_samples, Some(("s/003".to_owned(), "ecg".to_owned())));
    assert_eq!(BusStats::get(&sample_stats.rejected), 0, "nothing rejected");
    shutdown.cancel();
}

async fn push_until_received(pusher: &Pusher, puller: &mut Puller, text: &str) -> bool {
    let attempt = async {
        loop {
            let _ = pusher.push(&text.to_string()).await;
            if let Ok(Some(env)) =
                tokio::time::timeout(Duration::from_millis(200), puller.recv::<String>()).await
                && env.body == text
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), attempt)
        .await
        .is_ok()
}

#[tokio::test]
async fn puller_resumes_after_the_pusher_restarts() {
    let shutdown = CancellationToken::new();
    let stats = Arc::new(BusStats::default());
    // The OS picks the port as the pusher binds it (no probe-and-release race with
    // tests running beside this one); the restart below binds that same endpoint.
    let (first, endpoint) = Pusher::bind(
        "tcp://127.0.0.1:0",
        Kind::AlertEvent,
        sealer(),
        stats.clone(),
    )
    .await
    .expect("binds");
    let mut puller = Puller::connect(
        std::slice::from_ref(&endpoint),
        Kind::AlertEvent,
        sealer(),
        stats.clone(),
        &Discovery::default(),
        shutdown.clone(),
    );
    assert!(
        push_until_received(&first, &mut puller, "before restart").await,
        "first message"
    );
    drop(first);
    // The binding side restarts on the same port.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (second, _) = Pusher::bind(&endpoint, Kind::AlertEvent, sealer(), stats.clone())
        .await
        .expect("rebinds");
    assert!(
        push_until_received(&second, &mut puller, "after restart").await,
        "traffic resumes after restart"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn messages_sealed_with_another_key_are_dropped_and_counted() {
    let shutdown = CancellationToken::new();
    let stats = Arc::new(BusStats::default());
    let other = Sealer::from_config(&BusConfig {
        key_id: 1,
        key_hex: Some("22".repeat(32).into()),
        ..BusConfig::default()
    })
    .expect("valid key");
    let (publisher, endpoint) = Publisher::bind(
        "tcp://127.0.0.1:0",
        Kind::ConfigChange,
        other,
        Arc::new(BusStats::default()),
        shutdown.clone(),
    )
    .await
    .expect("binds");
    let mut sub = Subscriber::connect(
        &[endpoint],
        &["".into()],
        Kind::ConfigChange,
        sealer(),
        stats.clone(),
        &Discovery::default(),
        shutdown.clone(),
    );
    for _ in 0..50 {
        publisher
            .publish("c", &"forged".to_string())
            .expect("queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
        if BusStats::get(&stats.rejected) > 0 {
            break;
        }
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.recv::<String>())
            .await
            .is_err(),
        "nothing opens"
    );
    assert!(BusStats::get(&stats.rejected) > 0, "rejections are counted");
    shutdown.cancel();
}

/// A live event as an older release of the api reads it…
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct OlderEvent {
    patient: String,
    bpm: f32,
}

/// …and as a newer alert-engine writes it.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct NewerEvent {
    patient: String,
    bpm: f32,
    #[serde(default)]
    spo2: Option<u8>,
}

/// A rolling upgrade over real sockets: one subscriber with the older type receives from
/// a newer release's publisher (extra field) and from a publisher still sealing version 1.
#[tokio::test]
async fn a_subscriber_reads_publishers_of_other_releases_during_a_rolling_upgrade() {
    let shutdown = CancellationToken::new();
    let stats = Arc::new(BusStats::default());
    let still_version_1 = Sealer::from_config(&BusConfig {
        key_id: 1,
        key_hex: Some("11".repeat(32).into()),
        seal_version: Some(1),
        ..BusConfig::default()
    })
    .expect("valid config");
    let (newer, newer_endpoint) = Publisher::bind(
        "tcp://127.0.0.1:0",
        Kind::LiveEvent,
        sealer(),
        Arc::new(BusStats::default()),
        shutdown.clone(),
    )
    .await
    .expect("binds");
    let (older, older_endpoint) = Publisher::bind(
        "tcp://127.0.0.1:0",
        Kind::LiveEvent,
        still_version_1,
        Arc::new(BusStats::default()),
        shutdown.clone(),
    )
    .await
    .expect("binds");
    let mut sub = Subscriber::connect(
        &[newer_endpoint, older_endpoint],
        &["l/".into()],
        Kind::LiveEvent,
        sealer(),
        stats.clone(),
        &Discovery::default(),
        shutdown.clone(),
    );
    let from_newer = NewerEvent {
        patient: "p-new".into(),
        bpm: 71.5,
        spo2: Some(97),
    };
    let from_older = OlderEvent {
        patient: "p-old".into(),
        bpm: 64.0,
    };
    let mut seen = std::collections::HashSet::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while seen.len() < 2 {
            newer.publish("l/001", &from_newer).expect("queued");
            older.publish("l/002", &from_older).expect("queued");
            if let Ok(Some((_, env))) =
                tokio::time::timeout(Duration::from_millis(100), sub.recv::<OlderEvent>()).await
            {
                seen.insert(env.body.patient.clone());
                if env.body.patient == "p-new" {
                    assert_eq!(env.body.bpm, 71.5);
                }
            }
        }
    })
    .await
    .expect("both releases' messages arrive");
    assert_eq!(BusStats::get(&stats.rejected), 0, "nothing dropped");
    shutdown.cancel();
}
