//! Bus discovery with real DNS and real processes (docs/architecture.md, "Discovery"). An
//! alert-engine process subscribes to `tcp://ingest.cw.test:P`, a name a dnsmasq of the
//! test's own serves from a hosts file the test rewrites (`bus.nameserver`). Two ingest
//! processes publish on the same port of two loopback addresses, as two pods behind a
//! headless Service. The engine is started once and never restarted:
//! - a second ingest appearing in DNS is connected and its samples reach the engine;
//! - an address removed from DNS is dropped: that ingest still publishes, the engine no
//!   longer hears it, and still hears the other;
//! - with the DNS server gone, the engine keeps its peer and counts the failures.
//!
//! Embedded mode: one SQLite file shared by the processes.

use cardiowatch::fixture::{self, Fixture, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_e2e::dnsmasq::Dnsmasq;
use cw_e2e::env::free_port;
use cw_e2e::ingest::{metric, record_100};
use cw_e2e::processes::Service;
use cw_e2e::system::{Mode, System, storage_and_bus_toml};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const NAME: &str = "ingest.cw.test";
const FIRST: &str = "127.0.0.1";
const SECOND: &str = "127.0.0.2";

struct Ingest {
    service: Service,
    listen: u16,
    admin: u16,
}

fn spawn_ingest(system: &System, address: &str, bus_port: u16, bus_key: &str) -> Ingest {
    let (listen, admin) = (free_port(), free_port());
    let text = format!(
        "listen = \"127.0.0.1:{listen}\"\nadmin_listen = \"127.0.0.1:{admin}\"\npublish_endpoint = \"tcp://{address}:{bus_port}\"\n{}\n{}",
        storage_and_bus_toml(&system.storage, bus_key),
        system.tls_section("tls")
    );
    let dir = system.dir().join(format!("ingest-{address}"));
    std::fs::create_dir_all(&dir).expect("ingest dir");
    let config = dir.join("ingest.toml");
    std::fs::write(&config, text).expect("ingest config");
    Ingest {
        service: Service::spawn("cw-ingest", &config, &dir),
        listen,
        admin,
    }
}

/// The engine, subscribed to ingest by name only; DNS re-read every second.
fn spawn_engine(system: &System, bus_port: u16, bus_key: &str, dns: &Dnsmasq) -> (Service, u16) {
    let admin = free_port();
    let text = format!(
        "sample_endpoints = [\"tcp://{NAME}:{bus_port}\"]\nconfig_endpoints = []\nalert_push_endpoint = \"tcp://127.0.0.1:{}\"\nlive_publish_endpoint = \"tcp://127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n{}discovery_interval_s = 1\nnameserver = \"{}\"\n{}",
        free_port(),
        free_port(),
        storage_and_bus_toml(&system.storage, bus_key),
        dns.address,
        system.tls_section("admin_tls")
    );
    let dir = system.dir().join("engine");
    std::fs::create_dir_all(&dir).expect("engine dir");
    let config = dir.join("engine.toml");
    std::fs::write(&config, text).expect("engine config");
    (Service::spawn("cw-alert-engine", &config, &dir), admin)
}

struct Probe<'a> {
    client: reqwest::Client,
    processes: Vec<&'a Service>,
    dns: &'a Dnsmasq,
}

impl Probe<'_> {
    async fn metrics(&self, port: u16) -> Option<String> {
        let response = self
            .client
            .get(format!("https://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .ok()?;
        response.text().await.ok()
    }

    /// Until `ok` holds of the metrics at `port`.
    async fn wait(&self, port: u16, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(text) = self.metrics(port).await
                && ok(&text)
            {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for p in &self.processes {
            out += &format!("--- {} ({})\n{}\n", p.name, p.log.display(), p.log_text());
        }
        out + "--- dnsmasq\n" + &self.dns.log_text()
    }
}

/// Blocks the engine heard, whether or not it holds their shard's lease.
fn heard(engine_metrics: &str) -> f64 {
    metric(engine_metrics, "cw_engine_blocks_total")
        + metric(engine_metrics, "cw_engine_foreign_shard_blocks_total")
}

fn peers(engine_metrics: &str) -> f64 {
    metric(engine_metrics, "cw_engine_samples_bus_peers")
}

async fn stream(system: &System, ingest: &Ingest, fixture: &Fixture, seconds: f64) {
    let options = GatewayOptions {
        url: format!("wss://127.0.0.1:{}/v1/stream", ingest.listen),
        device_token: fixture.device_token.clone(),
        ca_cert: Some(system.ca_cert.clone()),
        record: record_100(),
        speed: 1.0,
        seconds: Some(seconds),
        offset_s: 0.0,
        block_ms: 250,
        window: 64,
        vitals: None,
    };
    gateway::stream_record(
        options,
        Arc::new(GatewayStats::default()),
        CancellationToken::new(),
    )
    .await
    .expect("gateway streams");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingests_appearing_in_and_leaving_dns_are_connected_and_dropped_without_a_restart() {
    let system = System::prepare(Mode::Embedded).await;
    let mut fixtures = Vec::new();
    for n in 0..2 {
        fixtures.push(
            fixture::install(
                system.stores.records.as_ref(),
                &FixtureSpec {
                    patient_id: &format!("discovery-{n}"),
                    doctor_id: &format!("dr-discovery-{n}"),
                    device_id: &format!("gw-discovery-{n}"),
                    phone: None,
                    email: None,
                    hr_high_bpm: 200.0,
                    for_s: 10.0,
                },
            )
            .await
            .expect("fixture installed"),
        );
    }
    let bus_key = cw_bus::Sealer::generate_key_hex();
    let bus_port = free_port();
    let mut dns = Dnsmasq::start(&[(FIRST, NAME)]).await;
    let first = spawn_ingest(&system, FIRST, bus_port, &bus_key);
    let second = spawn_ingest(&system, SECOND, bus_port, &bus_key);
    let (mut engine, engine_admin) = spawn_engine(&system, bus_port, &bus_key, &dns);
    let probe = Probe {
        client: system.https(),
        processes: vec![&first.service, &second.service, &engine],
        dns: &dns,
    };
    for ingest in [&first, &second] {
        probe.wait(ingest.admin, "ingest up", |_| true).await;
    }

    // One address in DNS: one peer, and its samples arrive.
    let m = probe
        .wait(engine_admin, "the first ingest connected", |m| {
            peers(m) == 1.0
        })
        .await;
    let before = heard(&m);
    stream(&system, &first, &fixtures[0], 3.0).await;
    probe
        .wait(engine_admin, "the first ingest's samples", |m| {
            heard(m) > before
        })
        .await;

    // The second ingest appears in DNS: connected within the interval, its samples flow.
    let added = Instant::now();
    dns.set(&[(FIRST, NAME), (SECOND, NAME)]).await;
    let m = probe
        .wait(engine_admin, "the second ingest connected", |m| {
            peers(m) == 2.0
        })
        .await;
    println!(
        "second ingest connected {} ms after it appeared in DNS",
        added.elapsed().as_millis()
    );
    let (heard_before, sent_before) = (
        heard(&m),
        metric(
            &probe.metrics(second.admin).await.expect("ingest metrics"),
            "cw_ingest_bus_sent_total",
        ),
    );
    stream(&system, &second, &fixtures[1], 3.0).await;
    let sent = metric(
        &probe.metrics(second.admin).await.expect("ingest metrics"),
        "cw_ingest_bus_sent_total",
    ) - sent_before;
    assert!(sent > 0.0, "the second ingest published nothing");
    probe
        .wait(
            engine_admin,
            "every block the second ingest published",
            |m| heard(m) - heard_before >= sent,
        )
        .await;

    // The second address leaves DNS: dropped, though that ingest runs and publishes on.
    dns.set(&[(FIRST, NAME)]).await;
    let m = probe
        .wait(engine_admin, "the second ingest dropped", |m| {
            peers(m) == 1.0
        })
        .await;
    let heard_before = heard(&m);
    let sent_before = metric(
        &probe.metrics(second.admin).await.expect("ingest metrics"),
        "cw_ingest_bus_sent_total",
    );
    stream(&system, &second, &fixtures[1], 3.0).await;
    probe
        .wait(second.admin, "the dropped ingest publishing", |m| {
            metric(m, "cw_ingest_bus_sent_total") > sent_before
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = probe.metrics(engine_admin).await.expect("engine metrics");
    assert_eq!(
        heard(&m),
        heard_before,
        "the engine still hears a peer removed from DNS\n{}",
        probe.logs()
    );
    // …and still hears the one that stayed.
    stream(&system, &first, &fixtures[0], 2.0).await;
    probe
        .wait(engine_admin, "the remaining ingest's samples", |m| {
            heard(m) > heard_before
        })
        .await;

    // DNS gone: resolution fails, is counted, and the last good peer is kept.
    drop(probe);
    dns.kill();
    let probe = Probe {
        client: system.https(),
        processes: vec![&first.service, &second.service, &engine],
        dns: &dns,
    };
    let m = probe
        .wait(engine_admin, "failed resolutions counted", |m| {
            metric(m, "cw_engine_bus_resolve_failures_total") >= 2.0
        })
        .await;
    assert_eq!(peers(&m), 1.0, "{}", probe.logs());
    let heard_before = heard(&m);
    stream(&system, &first, &fixtures[0], 2.0).await;
    probe
        .wait(engine_admin, "samples while DNS is down", |m| {
            heard(m) > heard_before
        })
        .await;
    drop(probe);
    assert!(engine.is_running(), "the engine was never restarted");
}
