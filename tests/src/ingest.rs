//! Ingest started in this test process over real TLS, with whatever stores the test
//! gives it, plus a gateway-side connection helper.

use cardiowatch::fixture::{self, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions};
use cw_protocol::Reply;
use futures::{SinkExt, StreamExt};
use std::path::PathBuf;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

pub use gateway::Socket;

pub struct Ingest {
    pub dir: tempfile::TempDir,
    pub stores: cw_storage::Stores,
    /// The embedded store's settings (path, key) the stores were opened with.
    pub storage: cw_storage::StorageConfig,
    /// `wss://127.0.0.1:port/v1/stream`
    pub url: String,
    pub ca: PathBuf,
    pub addr: std::net::SocketAddr,
    /// The admin listener (`/metrics`).
    pub admin_addr: std::net::SocketAddr,
    _shutdown: tokio_util::sync::DropGuard,
}

/// Embedded records (and samples, unless `samples` replaces them) in a temp dir.
pub async fn start(
    samples: Option<std::sync::Arc<dyn cw_storage::SampleStore>>,
    tweak: impl FnOnce(&mut cw_ingest::IngestConfig),
) -> Ingest {
    cw_tls::install_default_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs")).expect("certs");
    let storage = cw_storage::StorageConfig {
        path: dir.path().join("store.sqlite"),
        key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
        audit: crate::env::audit_for(dir.path()),
        ..Default::default()
    };
    let mut stores = cw_storage::open(&storage).await.expect("store");
    if let Some(samples) = samples {
        stores.samples = samples;
    }
    let mut cfg = cw_ingest::IngestConfig {
        listen: "127.0.0.1:0".into(),
        tls: certs.server_tls(),
        admin_listen: "127.0.0.1:0".into(),
        publish_endpoint: "tcp://127.0.0.1:0".into(),
        storage: storage.clone(),
        bus: cw_bus::BusConfig {
            key_id: 1,
            key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
            ..Default::default()
        },
        ..Default::default()
    };
    tweak(&mut cfg);
    let shutdown = CancellationToken::new();
    let running = cw_ingest::start(cfg, stores.clone().into(), shutdown.clone())
        .await
        .expect("ingest starts");
    Ingest {
        url: format!("wss://127.0.0.1:{}/v1/stream", running.addr.port()),
        addr: running.addr,
        admin_addr: running.admin_addr,
        ca: certs.ca_cert,
        stores,
        storage,
        dir,
        _shutdown: shutdown.drop_guard(),
    }
}

impl Ingest {
    /// Registers patient `patient-{n}` with device `gw-{n}`; returns its id and token.
    pub async fn device(&self, n: u32) -> (cw_core::PatientId, String) {
        let f = fixture::install(
            self.stores.records.as_ref(),
            &FixtureSpec {
                patient_id: &format!("patient-{n}"),
                doctor_id: "dr-1",
                device_id: &format!("gw-{n}"),
                phone: None,
                email: None,
                hr_high_bpm: 120.0,
                for_s: 0.0,
            },
        )
        .await
        .expect("fixture");
        (f.patient.id, f.device_token)
    }

    /// Simulator options for streaming `record` with `token` to this ingest.
    pub fn gateway_options(&self, token: &str, record: PathBuf) -> GatewayOptions {
        GatewayOptions {
            url: self.url.clone(),
            device_token: token.into(),
            ca_cert: Some(self.ca.clone()),
            record,
            speed: 1.0,
            seconds: None,
            offset_s: 0.0,
            block_ms: 250,
            window: 1,
            vitals: None,
        }
    }

    /// A raw gateway WebSocket presenting the client certificate `cert` (and `token`
    /// unless it is empty).
    pub async fn open_with_cert(
        &self,
        token: &str,
        cert: &cw_tls::ClientCertFiles,
    ) -> anyhow::Result<gateway::Socket> {
        let opts = self.gateway_options(token, PathBuf::new());
        let connector = tokio_rustls::TlsConnector::from(cw_tls::client_config_with_cert(
            &self.ca, &cert.cert, &cert.key,
        )?);
        gateway::connect(&opts, Some(&connector)).await
    }

    /// The Prometheus text of `GET /metrics` on the admin listener, over TLS.
    pub async fn metrics(&self) -> String {
        let ca = std::fs::read(&self.ca).expect("CA");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
            .build()
            .expect("client")
            .get(format!(
                "https://127.0.0.1:{}/metrics",
                self.admin_addr.port()
            ))
            .send()
            .await
            .expect("metrics answered")
            .text()
            .await
            .expect("metrics text")
    }

    /// How many sample instants of `patient` the sample store holds.
    pub async fn stored_points(&self, patient: &cw_core::PatientId) -> u64 {
        self.stores
            .samples
            .count_frames(patient, 0, i64::MAX)
            .await
            .expect("sample store counts")
    }

    /// A raw gateway WebSocket authenticated by `token`.
    pub async fn open(&self, token: &str) -> anyhow::Result<gateway::Socket> {
        let opts = self.gateway_options(token, PathBuf::new());
        let connector = tokio_rustls::TlsConnector::from(cw_tls::client_config(&self.ca)?);
        gateway::connect(&opts, Some(&connector)).await
    }
}

/// Sends one binary frame on a raw gateway socket.
pub async fn send_frame(socket: &mut Socket, bytes: Vec<u8>) {
    socket
        .send(Message::Binary(bytes.into()))
        .await
        .expect("frame sent");
}

/// The next ack or nack on a raw gateway socket (other messages skipped); panics when
/// the connection ends first.
pub async fn next_reply(socket: &mut Socket) -> Reply {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).expect("reply is JSON");
            }
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// MIT-BIH record 100, shipped in testdata/.
pub fn record_100() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100")
}

/// The value of the sample `name` (with its labels, e.g. `x_total{code="a"}`) in
/// Prometheus text; panics when absent.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}
