//! A whole cardiowatch: four service processes, their configs, secrets and certificates,
//! and the stores behind them.

use crate::env::{audit_for, free_port, required, unique_name};
use crate::processes::Service;
use cw_core::secret::ExposeSecret;
use cw_storage::{Backend, InfluxConfig, MongoConfig, StorageConfig, Stores};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// InfluxDB + MongoDB-protocol server started by `scripts/test`.
    Servers,
    /// One SQLite file shared by the four processes.
    Embedded,
}

pub struct System {
    pub dir: tempfile::TempDir,
    pub storage: StorageConfig,
    pub stores: Stores,
    pub ca_cert: PathBuf,
    pub jwt_secret: String,
    pub ingest_port: u16,
    pub api_port: u16,
    pub ports: Ports,
    pub services: Vec<Service>,
    /// TOML appended to the notifier's config by [`System::start_all`] (e.g. a short
    /// `[reliability]` ack deadline for a test).
    pub notifier_extra: String,
}

pub struct Ports {
    pub samples_pub: u16,
    pub alerts_push: u16,
    pub config_pub: u16,
    /// The alert-engine's events PUB (live views).
    pub live_pub: u16,
    pub engine_admin: u16,
    pub notifier_admin: u16,
    /// Admin listeners (`/metrics`) of ingest and the api.
    pub ingest_admin: u16,
    pub api_admin: u16,
}

/// Providers the notifier is pointed at.
pub struct Providers {
    pub twilio_base_url: String,
    /// SES endpoint (moto) and the verified sender; email is off when `None`.
    pub ses: Option<(String, String)>,
}

impl System {
    /// Writes configs and opens the stores; services are started by [`System::start_all`].
    pub async fn prepare(mode: Mode) -> System {
        cw_tls::install_default_crypto();
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs")).expect("dev certs");
        let storage = match mode {
            Mode::Servers => StorageConfig {
                backend: Backend::Servers,
                influx: InfluxConfig {
                    url: required("CW_TEST_INFLUX_URL"),
                    database: unique_name("e2e"),
                    ..InfluxConfig::default()
                },
                mongo: MongoConfig {
                    uri: required("CW_TEST_MONGO_URI").into(),
                    database: unique_name("e2e"),
                    ..Default::default()
                },
                audit: audit_for(dir.path()),
                ..StorageConfig::default()
            },
            Mode::Embedded => StorageConfig {
                backend: Backend::Embedded,
                path: dir.path().join("cardiowatch.sqlite"),
                key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                audit: audit_for(dir.path()),
                ..StorageConfig::default()
            },
        };
        let stores = cw_storage::open(&storage).await.expect("stores open");
        System {
            storage,
            stores,
            ca_cert: certs.ca_cert,
            jwt_secret: cw_bus::Sealer::generate_key_hex(),
            ingest_port: free_port(),
            api_port: free_port(),
            ports: Ports {
                samples_pub: free_port(),
                alerts_push: free_port(),
                config_pub: free_port(),
                live_pub: free_port(),
                engine_admin: free_port(),
                notifier_admin: free_port(),
                ingest_admin: free_port(),
                api_admin: free_port(),
            },
            services: Vec::new(),
            notifier_extra: String::new(),
            dir,
        }
    }

    /// A `[section]` naming the dev certificate and key (a listener's TLS).
    pub fn tls_section(&self, section: &str) -> String {
        tls_toml(&self.dir.path().join("certs"), section)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("config written");
        path
    }

    /// Starts ingest, api, alert-engine and notifier, and waits until each answers.
    pub async fn start_all(&mut self, providers: &Providers) {
        let bus_key = cw_bus::Sealer::generate_key_hex();
        let p = &self.ports;
        let ingest = format!(
            "listen = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\npublish_endpoint = \"tcp://127.0.0.1:{}\"\n{}\n{}",
            self.ingest_port,
            p.ingest_admin,
            p.samples_pub,
            storage_and_bus_toml(&self.storage, &bus_key),
            self.tls_section("tls")
        );
        let api = format!(
            "listen = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\nconfig_publish_endpoint = \"tcp://127.0.0.1:{}\"\n[auth]\njwt_secret = \"{}\"\n{}\n{}",
            self.api_port,
            p.api_admin,
            p.config_pub,
            self.jwt_secret,
            storage_and_bus_toml(&self.storage, &bus_key),
            self.tls_section("tls")
        );
        let api = format!(
            "{api}\n[phi]\nkey_id = \"k1\"\nmaster_key_hex = \"{}\"\nlookup_key_hex = \"{}\"\n[live]\nevent_endpoints = [\"tcp://127.0.0.1:{}\"]\nsample_endpoints = [\"tcp://127.0.0.1:{}\"]\n",
            cw_bus::Sealer::generate_key_hex(),
            cw_bus::Sealer::generate_key_hex(),
            p.live_pub,
            p.samples_pub
        );
        let engine = format!(
            "sample_endpoints = [\"tcp://127.0.0.1:{}\"]\nconfig_endpoints = [\"tcp://127.0.0.1:{}\"]\nalert_push_endpoint = \"tcp://127.0.0.1:{}\"\nlive_publish_endpoint = \"tcp://127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\n{}\n{}",
            p.samples_pub,
            p.config_pub,
            p.alerts_push,
            p.live_pub,
            p.engine_admin,
            storage_and_bus_toml(&self.storage, &bus_key),
            self.tls_section("admin_tls")
        );
        let ses = match &providers.ses {
            Some((endpoint, from)) => format!(
                "[ses]\nendpoint_url = \"{endpoint}\"\nregion = \"us-east-1\"\nfrom_address = \"{from}\"\n[ses.static_credentials]\naccess_key_id = \"testing\"\nsecret_access_key = \"testing\"\n"
            ),
            None => String::new(),
        };
        let notifier = format!(
            "alert_endpoints = [\"tcp://127.0.0.1:{}\"]\nreconcile_interval_s = 2\nadmin_listen = \"127.0.0.1:{}\"\nconsole_url = \"{}\"\n[twilio]\nbase_url = \"{}\"\naccount_sid = \"AC00000000000000000000000000000000\"\nauth_token = \"test-token\"\nfrom_number = \"+15005550006\"\n{ses}\n{}\n{}",
            p.alerts_push,
            p.notifier_admin,
            self.api_url("/console/"),
            providers.twilio_base_url,
            storage_and_bus_toml(&self.storage, &bus_key),
            self.tls_section("admin_tls")
        );
        let notifier = format!("{notifier}\n{}", self.notifier_extra);
        let logs = self.dir.path().to_path_buf();
        for (name, text) in [
            ("cw-ingest", ingest),
            ("cw-api", api),
            ("cw-alert-engine", engine),
            ("cw-notifier", notifier),
        ] {
            let config = self.write(&format!("{name}.toml"), &text);
            self.services.push(Service::spawn(name, &config, &logs));
        }
        for (name, port) in [
            ("cw-ingest", self.ingest_port),
            ("cw-api", self.api_port),
            ("cw-alert-engine", self.ports.engine_admin),
            ("cw-notifier", self.ports.notifier_admin),
        ] {
            self.wait_healthy(name, port).await;
        }
    }

    pub fn https(&self) -> reqwest::Client {
        let ca = std::fs::read(&self.ca_cert).expect("CA cert");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("https client")
    }

    async fn wait_healthy(&mut self, name: &str, port: u16) {
        let client = self.https();
        let url = format!("https://127.0.0.1:{port}/healthz");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            let service = self
                .services
                .iter_mut()
                .find(|s| s.name == name)
                .expect("service");
            if !service.is_running() || Instant::now() > deadline {
                panic!(
                    "{name} did not become healthy; its log:\n{}",
                    service.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn ingest_url(&self) -> String {
        format!("wss://127.0.0.1:{}/v1/stream", self.ingest_port)
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.api_port)
    }

    pub fn logs(&self) -> String {
        self.services
            .iter()
            .map(|s| format!("===== {} =====\n{}", s.name, s.log_text()))
            .collect()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A `[section]` naming the dev server certificate and key in `certs`.
pub fn tls_toml(certs: &Path, section: &str) -> String {
    format!(
        "[{section}]\ncert_path = \"{}\"\nkey_path = \"{}\"\n",
        certs.join("server.pem").display(),
        certs.join("server-key.pem").display()
    )
}

/// The `[storage]` and `[bus]` sections every service's config file shares.
pub fn storage_and_bus_toml(storage: &StorageConfig, bus_key: &str) -> String {
    let backend = match storage.backend {
        Backend::Servers => "servers",
        Backend::Embedded => "embedded",
    };
    format!(
        r#"
[storage]
backend = "{backend}"
path = "{path}"
{store_key}
[storage.influx]
{influx_nodes}database = "{influx_db}"
[storage.mongo]
uri = "{mongo_uri}"
database = "{mongo_db}"
[storage.audit]
key_id = "{audit_key_id}"
key_hex = "{audit_key}"
checkpoint_file = "{audit_checkpoints}"
checkpoint_every_events = {audit_every}

[bus]
key_id = 1
key_hex = "{bus_key}"
"#,
        path = storage.path.display(),
        store_key = storage
            .key_hex
            .as_ref()
            .map_or_else(String::new, |key| format!(
                "key_hex = \"{}\"",
                key.expose_secret()
            )),
        influx_nodes = influx_nodes_toml(&storage.influx),
        influx_db = storage.influx.database,
        mongo_uri = storage.mongo.uri.expose_secret(),
        mongo_db = storage.mongo.database,
        audit_key_id = storage.audit.key_id,
        audit_key = storage
            .audit
            .key_hex
            .as_ref()
            .map_or("", |key| key.expose_secret()),
        audit_checkpoints = storage
            .audit
            .checkpoint_file
            .as_deref()
            .unwrap_or(Path::new(""))
            .display(),
        audit_every = storage.audit.checkpoint_every_events,
    )
}

/// `url = …`, or the node list (an inline array, as it sits among `[storage.influx]`'s
/// keys) when the samples are spread over several nodes.
fn influx_nodes_toml(influx: &cw_storage::InfluxConfig) -> String {
    if influx.nodes.is_empty() {
        return format!("url = \"{}\"\n", influx.url);
    }
    let nodes: Vec<String> = influx
        .nodes
        .iter()
        .map(|node| format!("{{ url = \"{}\" }}", node.url))
        .collect();
    format!("nodes = [{}]\n", nodes.join(", "))
}
