//! The bus over real ZeroMQ TCP sockets on loopback.

use cw_bus::{BusConfig, BusStats, Kind, Publisher, Puller, Pusher, Sealer, Subscriber};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn sealer() -> Sealer {
    Sealer::from_config(&BusConfig {
        key_id: 1,
        key_hex: Some("11".repeat(32)),
        ..BusConfig::default()
    })
    .expect("valid key")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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
    let port = free_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let mut puller = Puller::connect(
        std::slice::from_ref(&endpoint),
        Kind::AlertEvent,
        sealer(),
        stats.clone(),
        shutdown.clone(),
    );

    let (first, _) = Pusher::bind(&endpoint, Kind::AlertEvent, sealer(), stats.clone())
        .await
        .expect("binds");
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
        key_hex: Some("22".repeat(32)),
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
