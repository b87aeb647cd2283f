//! A cardiowatch of several replicas per service, each a separate process on one store
//! and one sealed bus: ingests behind a TCP front (the operator's load balancer), alert
//! engines sharing the shards by leases, notifiers racing for one outbox, apis side by
//! side. Every subscriber lists every publisher, as a static deployment's configs do
//! (docs/chaos.md). Servers mode: the InfluxDB is the caller's, so a test may freeze it.

use crate::env::{audit_for, free_port, required, unique_name};
use crate::processes::Service;
use crate::system::{storage_and_bus_toml, tls_toml};
use crate::tcp_balancer::TcpBalancer;
use cw_storage::{Backend, InfluxConfig, MongoConfig, StorageConfig, Stores};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How many processes of each service.
#[derive(Clone, Copy, Debug)]
pub struct Replicas {
    pub ingests: usize,
    pub engines: usize,
    pub notifiers: usize,
    pub apis: usize,
}

/// One service process and its ports.
pub struct Node {
    /// `ingest-1`, `engine-2`, …: the engine's lease identity too.
    pub name: String,
    /// The TLS listener answering `/healthz` and `/metrics` (ingest's and the api's main
    /// listener answers `/healthz`; `admin` serves `/metrics` on every service).
    pub listen: u16,
    pub admin: u16,
    pub service: Service,
}

impl Node {
    /// `kill -9`: a crash, as far as the service and its peers can tell.
    pub fn kill(&mut self) {
        self.service.kill();
    }
}

/// The notifier's providers: the Twilio stand-in and a `[ses]` section (moto).
pub struct ClusterProviders {
    pub twilio_base_url: String,
    pub ses_section: String,
    /// More notifier TOML (e.g. `[reliability]` knobs).
    pub notifier_extra: String,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub storage: StorageConfig,
    pub stores: Stores,
    pub ca_cert: PathBuf,
    pub jwt_secret: String,
    pub ingests: Vec<Node>,
    pub engines: Vec<Node>,
    pub notifiers: Vec<Node>,
    pub apis: Vec<Node>,
    /// Where gateways connect: spreads connections over the ingests.
    pub front: TcpBalancer,
    replicas: Replicas,
    plan: Plan,
}

/// Ports and keys chosen by [`Cluster::prepare`] for [`Cluster::start`].
struct Plan {
    bus: Bus,
    ingest_ports: Vec<u16>,
    api_ports: Vec<u16>,
    bus_key: String,
    phi_toml: String,
}

/// Bus ports a replica binds (publishers) and its peers list.
struct Bus {
    samples_pub: Vec<u16>,
    config_pub: Vec<u16>,
    alerts_push: Vec<u16>,
    live_pub: Vec<u16>,
}

fn endpoints(ports: &[u16]) -> String {
    let list: Vec<String> = ports
        .iter()
        .map(|p| format!("\"tcp://127.0.0.1:{p}\""))
        .collect();
    format!("[{}]", list.join(", "))
}

fn ports(n: usize) -> Vec<u16> {
    (0..n).map(|_| free_port()).collect()
}

impl Cluster {
    /// Opens the stores (records on the MongoDB-protocol server of `scripts/test`,
    /// samples on `influx_url`) and picks every port; nothing runs yet, so a test can
    /// install its patients first (engines load policies when they take a shard).
    pub async fn prepare(replicas: Replicas, influx_url: &str) -> Cluster {
        cw_tls::install_default_crypto();
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs")).expect("dev certs");
        let storage = StorageConfig {
            backend: Backend::Servers,
            influx: InfluxConfig {
                url: influx_url.to_owned(),
                database: unique_name("chaos"),
                ..InfluxConfig::default()
            },
            mongo: MongoConfig {
                uri: required("CW_TEST_MONGO_URI").into(),
                database: unique_name("chaos"),
                ..Default::default()
            },
            audit: audit_for(dir.path()),
            ..StorageConfig::default()
        };
        let stores = cw_storage::open(&storage).await.expect("stores open");
        let plan = Plan {
            bus: Bus {
                samples_pub: ports(replicas.ingests),
                config_pub: ports(replicas.apis),
                alerts_push: ports(replicas.engines),
                live_pub: ports(replicas.engines),
            },
            ingest_ports: ports(replicas.ingests),
            api_ports: ports(replicas.apis),
            bus_key: cw_bus::Sealer::generate_key_hex(),
            // One PHI key pair for every api: any of them must read what another wrote.
            phi_toml: format!(
                "[phi]\nkey_id = \"k1\"\nmaster_key_hex = \"{}\"\nlookup_key_hex = \"{}\"\n",
                cw_bus::Sealer::generate_key_hex(),
                cw_bus::Sealer::generate_key_hex()
            ),
        };
        let backends = plan
            .ingest_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        Cluster {
            front: TcpBalancer::start(backends).await,
            dir,
            storage,
            stores,
            ca_cert: certs.ca_cert,
            jwt_secret: cw_bus::Sealer::generate_key_hex(),
            ingests: Vec::new(),
            engines: Vec::new(),
            notifiers: Vec::new(),
            apis: Vec::new(),
            replicas,
            plan,
        }
    }

    /// Writes every config, starts every process and waits until each answers
    /// `/healthz`.
    pub async fn start(&mut self, providers: &ClusterProviders) {
        let certs_dir = self.dir.path().join("certs");
        let (plan, bus) = (&self.plan, &self.plan.bus);
        let shared = storage_and_bus_toml(&self.storage, &plan.bus_key);
        let tls = tls_toml(&certs_dir, "tls");
        let admin_tls = tls_toml(&certs_dir, "admin_tls");
        // (binary, node name, listen port, admin port, config text)
        let mut configs: Vec<(&'static str, String, u16, u16, String)> = Vec::new();
        for (k, (listen, samples_pub)) in plan.ingest_ports.iter().zip(&bus.samples_pub).enumerate()
        {
            let admin = free_port();
            let text = format!(
                "listen = \"127.0.0.1:{listen}\"\nadmin_listen = \"127.0.0.1:{admin}\"\npublish_endpoint = \"tcp://127.0.0.1:{samples_pub}\"\n{shared}\n{tls}"
            );
            configs.push((
                "cw-ingest",
                format!("ingest-{}", k + 1),
                *listen,
                admin,
                text,
            ));
        }
        for k in 0..self.replicas.engines {
            let admin = free_port();
            let text = format!(
                "sample_endpoints = {}\nconfig_endpoints = {}\nalert_push_endpoint = \"tcp://127.0.0.1:{}\"\nlive_publish_endpoint = \"tcp://127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n[leases]\nidentity = \"engine-{}\"\n{shared}\n{admin_tls}",
                endpoints(&bus.samples_pub),
                endpoints(&bus.config_pub),
                bus.alerts_push[k],
                bus.live_pub[k],
                k + 1
            );
            configs.push((
                "cw-alert-engine",
                format!("engine-{}", k + 1),
                admin,
                admin,
                text,
            ));
        }
        for k in 0..self.replicas.notifiers {
            let admin = free_port();
            let text = format!(
                "alert_endpoints = {}\nreconcile_interval_s = 2\nsweep_interval_ms = 500\nadmin_listen = \"127.0.0.1:{admin}\"\nconsole_url = \"https://127.0.0.1:{}/console/\"\n[twilio]\nbase_url = \"{}\"\naccount_sid = \"AC00000000000000000000000000000000\"\nauth_token = \"test-token\"\nfrom_number = \"+15005550006\"\n{}\n{}\n{shared}\n{admin_tls}",
                endpoints(&bus.alerts_push),
                plan.api_ports[0],
                providers.twilio_base_url,
                providers.ses_section,
                providers.notifier_extra,
            );
            configs.push((
                "cw-notifier",
                format!("notifier-{}", k + 1),
                admin,
                admin,
                text,
            ));
        }
        for (k, listen) in plan.api_ports.iter().enumerate() {
            let admin = free_port();
            let text = format!(
                "listen = \"127.0.0.1:{listen}\"\nadmin_listen = \"127.0.0.1:{admin}\"\nconfig_publish_endpoint = \"tcp://127.0.0.1:{}\"\n[auth]\njwt_secret = \"{}\"\n{shared}\n{tls}\n{}[live]\nevent_endpoints = {}\nsample_endpoints = {}\n",
                bus.config_pub[k],
                self.jwt_secret,
                plan.phi_toml,
                endpoints(&bus.live_pub),
                endpoints(&bus.samples_pub),
            );
            configs.push(("cw-api", format!("api-{}", k + 1), *listen, admin, text));
        }
        for (bin, name, listen, admin, text) in configs {
            let node_dir = self.dir.path().join(&name);
            std::fs::create_dir_all(&node_dir).expect("node dir");
            let config = node_dir.join("config.toml");
            std::fs::write(&config, text).expect("config written");
            let node = Node {
                service: Service::spawn(bin, &config, &node_dir),
                name,
                listen,
                admin,
            };
            match bin {
                "cw-ingest" => self.ingests.push(node),
                "cw-alert-engine" => self.engines.push(node),
                "cw-notifier" => self.notifiers.push(node),
                _ => self.apis.push(node),
            }
        }
        let client = self.https();
        for node in self.nodes_mut() {
            wait_healthy(&client, node).await;
        }
    }

    fn nodes_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        self.ingests
            .iter_mut()
            .chain(self.engines.iter_mut())
            .chain(self.notifiers.iter_mut())
            .chain(self.apis.iter_mut())
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.ingests
            .iter()
            .chain(self.engines.iter())
            .chain(self.notifiers.iter())
            .chain(self.apis.iter())
    }

    /// The URL gateways stream to: the front, not any one ingest.
    pub fn stream_url(&self) -> String {
        format!("wss://127.0.0.1:{}/v1/stream", self.front.addr.port())
    }

    pub fn api_url(&self, api: usize, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.apis[api].listen)
    }

    pub fn https(&self) -> reqwest::Client {
        let ca = std::fs::read(&self.ca_cert).expect("CA cert");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("https client")
    }

    /// Every process's log, for a failing assertion.
    pub fn logs(&self) -> String {
        self.nodes()
            .map(|n| format!("===== {} =====\n{}", n.name, n.service.log_text()))
            .collect()
    }
}

/// `/metrics` of a node's admin listener; `None` when it does not answer (a killed one).
pub async fn metrics(client: &reqwest::Client, node_admin: u16) -> Option<String> {
    let r = client
        .get(format!("https://127.0.0.1:{node_admin}/metrics"))
        .send()
        .await
        .ok()?;
    r.text().await.ok()
}

async fn wait_healthy(client: &reqwest::Client, node: &mut Node) {
    let url = format!("https://127.0.0.1:{}/healthz", node.listen);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            return;
        }
        if !node.service.is_running() || Instant::now() > deadline {
            panic!(
                "{} did not become healthy; its log:\n{}",
                node.name,
                node.service.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
