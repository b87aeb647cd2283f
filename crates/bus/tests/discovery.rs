//! Endpoints named by DNS, over real sockets: the system resolver finds the publisher or
//! pusher behind `localhost`, and a nameserver that does not answer is counted and
//! leaves the socket unready, not broken (docs/architecture.md, "Discovery"). Peers
//! appearing in and leaving DNS, with a real DNS server and real processes:
//! `tests/tests/e2e/bus_discovery.rs`.

use cw_bus::{BusConfig, BusStats, Discovery, Kind, Publisher, Puller, Pusher, Sealer, Subscriber};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn sealer() -> Sealer {
    Sealer::from_config(&BusConfig {
        key_id: 1,
        key_hex: Some("33".repeat(32).into()),
        ..BusConfig::default()
    })
    .expect("valid key")
}

/// `tcp://127.0.0.1:P` as `tcp://localhost:P`.
fn by_name(bound: &str) -> String {
    let port = bound.rsplit(':').next().expect("a port");
    format!("tcp://localhost:{port}")
}

fn discovery() -> Discovery {
    Discovery::from_config(&BusConfig {
        discovery_interval_s: 1,
        ..BusConfig::default()
    })
    .expect("config")
}

#[tokio::test]
async fn a_subscriber_finds_its_publisher_by_name_and_counts_it_as_a_peer() {
    let shutdown = CancellationToken::new();
    let stats = Arc::new(BusStats::default());
    let (publisher, bound) = Publisher::bind(
        "tcp://127.0.0.1:0",
        Kind::ConfigChange,
        sealer(),
        Arc::new(BusStats::default()),
        shutdown.clone(),
    )
    .await
    .expect("binds");
    let mut sub = Subscriber::connect(
        &[by_name(&bound)],
        &["config".into()],
        Kind::ConfigChange,
        sealer(),
        stats.clone(),
        &discovery(),
        shutdown.clone(),
    );
    let links = sub.links();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            publisher
                .publish("config", &"by name".to_string())
                .expect("queued");
            if let Ok(Some((_, envelope))) =
                tokio::time::timeout(Duration::from_millis(100), sub.recv::<String>()).await
            {
                return envelope.body;
            }
        }
    })
    .await
    .expect("a message through the resolved address");
    assert_eq!(got, "by name");
    assert!(links.peers() >= 1, "{} peers", links.peers());
    assert_eq!(BusStats::get(&stats.peers), links.peers() as u64);
    assert_eq!(links.probe(), Ok(()));
    assert_eq!(BusStats::get(&stats.resolve_failed), 0);
    shutdown.cancel();
    // Shut down, every peer is counted down again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while links.peers() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} peers after shutdown",
            links.peers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(BusStats::get(&stats.peers), 0);
}

#[tokio::test]
async fn a_puller_finds_its_pusher_by_name() {
    let shutdown = CancellationToken::new();
    let (pusher, bound) = Pusher::bind(
        "tcp://127.0.0.1:0",
        Kind::AlertEvent,
        sealer(),
        Arc::new(BusStats::default()),
    )
    .await
    .expect("binds");
    let mut puller = Puller::connect(
        &[by_name(&bound)],
        Kind::AlertEvent,
        sealer(),
        Arc::new(BusStats::default()),
        &discovery(),
        shutdown.clone(),
    );
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            // No reader yet fails at once; try again until the puller is connected.
            if pusher.push(&"alert".to_string()).await.is_ok()
                && let Ok(Some(envelope)) =
                    tokio::time::timeout(Duration::from_millis(500), puller.recv::<String>()).await
            {
                return envelope.body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("an event through the resolved address");
    assert_eq!(got, "alert");
    assert!(puller.links().peers() >= 1);
    shutdown.cancel();
}

/// A nameserver that never answers (nothing listens on its port): each round is counted
/// as a failed resolution, the socket has no peer and says so, and nothing panics.
#[tokio::test]
async fn an_unanswered_name_is_counted_and_leaves_the_socket_unready() {
    let shutdown = CancellationToken::new();
    let stats = Arc::new(BusStats::default());
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let nameserver = silent.local_addr().expect("addr");
    drop(silent);
    let discovery = Discovery::from_config(&BusConfig {
        discovery_interval_s: 1,
        nameserver: Some(nameserver.to_string()),
        ..BusConfig::default()
    })
    .expect("config");
    let sub = Subscriber::connect(
        &["tcp://ingest.cw.test:5550".to_owned()],
        &["s/".into()],
        Kind::Samples,
        sealer(),
        stats.clone(),
        &discovery,
        shutdown.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while BusStats::get(&stats.resolve_failed) < 2 {
        assert!(Instant::now() < deadline, "failures not counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let links = sub.links();
    assert_eq!(links.peers(), 0);
    let unready = links.probe().expect_err("no peer");
    assert!(unready.contains("no peer connected"), "{unready}");
    shutdown.cancel();
}
