//! `/readyz` against real servers (docs/architecture.md, "Health"): ready while the
//! stores and the bus answer, 503 naming what does not, ready again once it is back;
//! `/healthz` answers 200 throughout (liveness only).

use cw_e2e::api::ApiHarness;
use cw_e2e::env::{audit_for, free_port, required, unique_name};
use cw_e2e::tcp_proxy::{TcpProxy, host_port};
use cw_storage::{Backend, InfluxConfig, MongoConfig, StorageConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.expect("answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `url` until it answers `status`; returns that body.
async fn until(http: &reqwest::Client, url: &str, status: u16, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (got, body) = get(http, url).await;
        if got == status {
            return body;
        }
        assert!(
            started.elapsed() < within,
            "{url} still answers {got} after {within:?}, not {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn the_api_is_not_ready_while_a_store_is_unreachable_and_ready_again_once_it_is_back() {
    let (influx_url, mongo_uri) = (
        required("CW_TEST_INFLUX_URL"),
        required("CW_TEST_MONGO_URI"),
    );
    let influx = TcpProxy::start(host_port(&influx_url));
    let mongo = TcpProxy::start(host_port(&mongo_uri));
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = StorageConfig {
        backend: Backend::Servers,
        influx: InfluxConfig {
            url: format!("http://{}", influx.addr),
            database: unique_name("ready"),
            ..InfluxConfig::default()
        },
        mongo: MongoConfig {
            uri: mongo_uri
                .replacen(host_port(&mongo_uri), &mongo.addr.to_string(), 1)
                .into(),
            database: unique_name("ready"),
            ..Default::default()
        },
        audit: audit_for(dir.path()),
        ..StorageConfig::default()
    };
    let h = ApiHarness::start_on(dir, storage, |_| {}).await;
    let (readyz, healthz) = (format!("{}/readyz", h.base), format!("{}/healthz", h.base));

    let (status, body) = get(&h.http, &readyz).await;
    assert_eq!(status, 200, "both stores up: {body}");
    assert_eq!(body["status"], "ready", "{body}");
    for check in ["sample_store", "record_store", "bus.config_pub"] {
        assert_eq!(body["checks"][check]["status"], "ok", "{check}: {body}");
    }

    mongo.cut();
    let body = until(&h.http, &readyz, 503, Duration::from_secs(15)).await;
    assert_eq!(body["status"], "not_ready", "{body}");
    assert_eq!(body["not_ready"], json!(["record_store"]), "{body}");
    assert_eq!(body["checks"]["sample_store"]["status"], "ok", "{body}");
    assert!(
        !body.to_string().contains(&mongo.addr.port().to_string()),
        "the body names the check, never the store's address: {body}"
    );
    let (status, _) = get(&h.http, &healthz).await;
    assert_eq!(status, 200, "liveness does not depend on the stores");
    mongo.restore();
    until(&h.http, &readyz, 200, Duration::from_secs(60)).await;

    influx.cut();
    let body = until(&h.http, &readyz, 503, Duration::from_secs(15)).await;
    assert_eq!(body["not_ready"], json!(["sample_store"]), "{body}");
    assert_eq!(body["checks"]["record_store"]["status"], "ok", "{body}");
    influx.restore();
    until(&h.http, &readyz, 200, Duration::from_secs(30)).await;
}

/// An engine hears no samples until an ingest's PUB is up: not ready until then, and
/// the body says which link is missing.
#[tokio::test]
async fn an_engine_is_not_ready_until_it_hears_an_ingest() {
    cw_tls::install_default_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs")).expect("certs");
    let storage = StorageConfig {
        path: dir.path().join("store.sqlite"),
        key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
        audit: audit_for(dir.path()),
        ..StorageConfig::default()
    };
    let stores = cw_storage::open(&storage).await.expect("store");
    let bus = cw_bus::BusConfig {
        key_id: 1,
        key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
        ..Default::default()
    };
    // Nothing listens here yet: the ingest is "down".
    let samples_endpoint = format!("tcp://127.0.0.1:{}", free_port());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let engine = cw_alert_engine::start(
        cw_alert_engine::AlertEngineConfig {
            sample_endpoints: vec![samples_endpoint.clone()],
            config_endpoints: vec![],
            alert_push_endpoint: "tcp://127.0.0.1:0".into(),
            live_publish_endpoint: "tcp://127.0.0.1:0".into(),
            admin_listen: "127.0.0.1:0".into(),
            admin_tls: certs.server_tls(),
            storage,
            bus: bus.clone(),
            ..Default::default()
        },
        stores.into(),
        shutdown.clone(),
    )
    .await
    .expect("engine starts");
    let ca = std::fs::read(&certs.ca_cert).expect("CA");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("client");
    let readyz = format!("https://127.0.0.1:{}/readyz", engine.admin_addr.port());

    let (status, body) = get(&http, &readyz).await;
    assert_eq!(status, 503, "no ingest to hear: {body}");
    assert_eq!(body["not_ready"], json!(["bus.samples"]), "{body}");
    assert_eq!(body["checks"]["record_store"]["status"], "ok", "{body}");

    let (_ingest_pub, _) = cw_bus::Publisher::bind(
        &samples_endpoint,
        cw_bus::Kind::Samples,
        cw_bus::Sealer::from_config(&bus).expect("sealer"),
        Default::default(),
        shutdown.clone(),
    )
    .await
    .expect("the ingest's PUB binds");
    let body = until(&http, &readyz, 200, Duration::from_secs(15)).await;
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["bus.samples"]["status"], "ok", "{body}");
}
