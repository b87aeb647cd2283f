//! The notifier binary as a child process against a store of the test's own and the
//! Twilio sandbox, with its TLS webhook listener — for outbox, retry, escalation and
//! acknowledgement tests that count what arrived on the provider side.

use crate::api::storage_for;
use crate::env::free_port;
use crate::processes::Service;
use crate::system::Mode;
use cw_core::time::now_ns;
use cw_core::{
    Alert, AlertId, Delivery, Patient, PatientId, Priority, Role, RuleKind, User, UserId,
};
use cw_sandbox::TwilioSandbox;
use cw_storage::{StorageConfig, Stores};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const AUTH_TOKEN: &str = "notify-test-auth-token";

pub struct NotifierHarness {
    pub dir: tempfile::TempDir,
    pub storage: StorageConfig,
    pub stores: Stores,
    pub sandbox: TwilioSandbox,
    pub ca_cert: PathBuf,
    pub admin_port: u16,
    pub webhook_port: u16,
    bus_port: u16,
    /// One bus key for every process of the harness, so an engine's pushes open.
    bus_key: String,
    pub service: Option<Service>,
    /// More notifiers on the same store (`spawn_replica`), each with its own ports.
    pub replicas: Vec<Service>,
    /// An alert-engine on the same store pushing to the notifiers (`spawn_engine`).
    pub engine: Option<Service>,
}

/// Knobs a test turns in the notifier's config (TOML lines appended to the file).
#[derive(Default, Clone)]
pub struct Tuning {
    /// Extra top-level/section TOML, e.g. `[routing]\nmedium = ["sms"]`.
    pub extra: String,
    pub abort_after_provider_accept: bool,
    /// `console_url`: pages link to their alert under it.
    pub console_url: Option<String>,
    /// `twilio.base_url` instead of the sandbox's (e.g. a URL nothing answers at).
    pub twilio_base_url: Option<String>,
}

impl NotifierHarness {
    pub async fn new(mode: Mode) -> Self {
        cw_tls::install_default_crypto();
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs")).expect("dev certs");
        let storage = storage_for(mode, dir.path());
        let stores = cw_storage::open(&storage).await.expect("stores open");
        let sandbox = TwilioSandbox::start(0).await.expect("sandbox starts");
        NotifierHarness {
            dir,
            storage,
            stores,
            sandbox,
            ca_cert: certs.ca_cert,
            admin_port: free_port(),
            webhook_port: free_port(),
            bus_port: free_port(),
            bus_key: cw_bus::Sealer::generate_key_hex(),
            service: None,
            replicas: Vec::new(),
            engine: None,
        }
    }

    fn config(&self, tuning: &Tuning) -> String {
        self.config_on(tuning, self.admin_port, self.webhook_port)
    }

    fn config_on(&self, tuning: &Tuning, admin_port: u16, webhook_port: u16) -> String {
        let certs = self.dir.path().join("certs");
        let tls = format!(
            "cert_path = \"{}\"\nkey_path = \"{}\"\n",
            certs.join("server.pem").display(),
            certs.join("server-key.pem").display()
        );
        format!(
            r#"alert_endpoints = ["tcp://127.0.0.1:{bus}"]
admin_listen = "127.0.0.1:{admin}"
{console}
sweep_interval_ms = 200
reconcile_interval_s = 1
[admin_tls]
{tls}
[twilio]
base_url = "{twilio}"
account_sid = "AC00000000000000000000000000000000"
auth_token = "{AUTH_TOKEN}"
from_number = "+15005550006"
timeout_ms = 1000
[webhooks]
listen = "127.0.0.1:{hook}"
public_url = "https://127.0.0.1:{hook}"
[webhooks.tls]
{tls}
[faults]
abort_after_provider_accept = {abort}
{storage_and_bus}
{extra}
"#,
            bus = self.bus_port,
            admin = admin_port,
            hook = webhook_port,
            twilio = tuning
                .twilio_base_url
                .clone()
                .unwrap_or_else(|| self.sandbox.base_url()),
            abort = tuning.abort_after_provider_accept,
            console = tuning
                .console_url
                .as_ref()
                .map_or(String::new(), |url| format!("console_url = \"{url}\"")),
            storage_and_bus = crate::system::storage_and_bus_toml(&self.storage, &self.bus_key),
            extra = tuning.extra,
        )
    }

    /// Starts (or restarts) the notifier process with `tuning`.
    pub fn spawn(&mut self, tuning: &Tuning) {
        let config = self.dir.path().join("cw-notifier.toml");
        std::fs::write(&config, self.config(tuning)).expect("config written");
        if let Some(mut old) = self.service.take() {
            old.kill();
        }
        // Each run appends to its own log so a restart keeps the crash's log.
        let logs = self.dir.path().join(format!("run-{}", now_ns()));
        std::fs::create_dir_all(&logs).expect("log dir");
        self.service = Some(Service::spawn("cw-notifier", &config, &logs));
    }

    /// Starts one more notifier process on the same store, sandbox and bus, with its own
    /// admin and webhook ports: N replicas racing for the same outbox rows.
    pub fn spawn_replica(&mut self, tuning: &Tuning) {
        let n = self.replicas.len() + 1;
        let config = self
            .dir
            .path()
            .join(format!("cw-notifier-replica-{n}.toml"));
        let text = self.config_on(tuning, free_port(), free_port());
        std::fs::write(&config, text).expect("config written");
        let logs = self.dir.path().join(format!("replica-{n}"));
        std::fs::create_dir_all(&logs).expect("log dir");
        self.replicas
            .push(Service::spawn("cw-notifier", &config, &logs));
    }

    /// Starts an alert-engine process on the same store, its alert PUSH socket where the
    /// notifiers connect, and waits until it answers: it leases all 64 shards (no
    /// ingest, so it analyses nothing, but answers the watchdog's probes).
    pub async fn spawn_engine(&mut self) {
        let admin = free_port();
        let text = format!(
            "sample_endpoints = [\"tcp://127.0.0.1:{}\"]\nconfig_endpoints = [\"tcp://127.0.0.1:{}\"]\nalert_push_endpoint = \"tcp://127.0.0.1:{}\"\nlive_publish_endpoint = \"tcp://127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n{}\n{}",
            free_port(),
            free_port(),
            self.bus_port,
            free_port(),
            crate::system::storage_and_bus_toml(&self.storage, &self.bus_key),
            crate::system::tls_toml(&self.dir.path().join("certs"), "admin_tls"),
        );
        let config = self.dir.path().join("cw-alert-engine.toml");
        std::fs::write(&config, text).expect("config written");
        let logs = self.dir.path().join(format!("engine-{}", now_ns()));
        std::fs::create_dir_all(&logs).expect("log dir");
        let mut engine = Service::spawn("cw-alert-engine", &config, &logs);
        let client = self.https();
        let url = format!("https://127.0.0.1:{admin}/healthz");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                engine.is_running() && Instant::now() < deadline,
                "alert-engine did not come up; its log:\n{}",
                engine.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.engine = Some(engine);
    }

    /// The engine's log, for a failing assertion.
    pub fn engine_log(&self) -> String {
        self.engine
            .as_ref()
            .map(Service::log_text)
            .unwrap_or_default()
    }

    /// The replicas' logs, for a failing assertion.
    pub fn replica_logs(&self) -> String {
        self.replicas
            .iter()
            .map(Service::log_text)
            .collect::<Vec<_>>()
            .join("\n--- next replica ---\n")
    }

    pub fn kill(&mut self) {
        if let Some(s) = self.service.as_mut() {
            s.kill();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.service.as_mut().is_some_and(Service::is_running)
    }

    pub fn log(&self) -> String {
        self.service
            .as_ref()
            .map(Service::log_text)
            .unwrap_or_default()
    }

    /// An https client trusting the dev CA (the webhook listener's certificate).
    pub fn https(&self) -> reqwest::Client {
        let ca = std::fs::read(&self.ca_cert).expect("CA cert");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("https client")
    }

    /// The notifier's `/metrics` text (admin listener).
    pub async fn metrics(&self) -> String {
        self.https()
            .get(format!("https://127.0.0.1:{}/metrics", self.admin_port))
            .send()
            .await
            .expect("notifier admin answers")
            .text()
            .await
            .expect("metrics text")
    }

    pub fn webhook_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.webhook_port)
    }

    /// Waits until the webhook listener answers (the process is up).
    pub async fn wait_ready(&mut self) {
        let client = self.https();
        let url = self.webhook_url("/healthz");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                self.is_running() && Instant::now() < deadline,
                "notifier did not become ready; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Doctors (with phones, no email) in escalation order and a patient assigned to them.
    pub async fn chain(&self, phones: &[&str]) -> (Patient, Vec<User>) {
        let mut users = Vec::new();
        for phone in phones {
            let user = User {
                id: UserId::random(),
                role: Role::Doctor,
                phone: Some((*phone).to_owned()),
                email: None,
                notify: Default::default(),
                disabled: None,
                sessions: Default::default(),
            };
            self.stores.records.put_user(&user).await.expect("put user");
            users.push(user);
        }
        let patient = Patient {
            id: PatientId::random(),
            doctors: users.iter().map(|u| u.id.clone()).collect(),
            devices: vec![],
            timezone: "UTC".into(),
            phi: None,
            mrn_hash: None,
        };
        self.stores
            .records
            .put_patient(&patient)
            .await
            .expect("put patient");
        (patient, users)
    }

    /// Another patient of the same doctors (one open alert per (patient, rule), so a
    /// second alert of the same rule needs a second patient).
    pub async fn another_patient_like(&self, patient: &Patient) -> Patient {
        let other = Patient {
            id: PatientId::random(),
            ..patient.clone()
        };
        self.stores
            .records
            .put_patient(&other)
            .await
            .expect("put patient");
        other
    }

    /// The phone `from` replies `text` by SMS: the sandbox posts it to the notifier's SMS
    /// webhook, signed as Twilio signs it. Returns the webhook's status and body.
    pub async fn reply_sms(&self, from: &str, text: &str) -> (u16, String) {
        self.sandbox
            .reply_sms(
                &self.https(),
                AUTH_TOKEN,
                &self.webhook_url(cw_notifier::webhooks::SMS_PATH),
                from,
                text,
            )
            .await
            .expect("SMS reply posted")
    }

    /// `digit` pressed on the call `call_sid`. Returns the webhook's status and TwiML.
    pub async fn press_key(&self, call_sid: &str, digit: &str) -> (u16, String) {
        self.sandbox
            .press_key(&self.https(), AUTH_TOKEN, call_sid, digit)
            .await
            .expect("key press posted")
    }

    /// Waits past the next escalation deadline of the fast tunings (2 s) and checks that
    /// nobody else was paged: the sandbox still holds `messages` SMS and `calls` calls.
    pub async fn assert_no_further_pages(&self, messages: usize, calls: usize, why: &str) {
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(self.sandbox.messages().len(), messages, "SMS: {why}");
        assert_eq!(self.sandbox.calls().len(), calls, "calls: {why}");
    }

    /// A firing alert written to the store, as the alert-engine writes it before pushing.
    pub async fn fire(&self, patient: &PatientId, priority: Priority) -> Alert {
        let fired_ns = now_ns();
        let alert = Alert {
            value: 150.0,
            limit: 120.0,
            policy_version: 1,
            ..Alert::firing(patient.clone(), RuleKind::HrHigh, priority, fired_ns)
        };
        self.stores
            .records
            .open_alert(&alert)
            .await
            .expect("open alert");
        alert
    }

    pub async fn deliveries(&self, alert: &AlertId) -> Vec<Delivery> {
        self.stores
            .records
            .deliveries_for_alert(alert)
            .await
            .expect("deliveries")
    }

    /// Waits (at most 30 s) for the notifier to die by itself in the crash window, of the
    /// fault hook (`faults.abort_after_provider_accept`) and nothing else.
    pub async fn died_in_the_crash_window(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.is_running() {
            assert!(
                Instant::now() < deadline,
                "fault hook never fired; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            self.log().contains("fault injection"),
            "died of something else:\n{}",
            self.log()
        );
    }

    /// Polls `/metrics` until `name` reaches `want` exactly (10 s at most; overshooting
    /// fails).
    pub async fn wait_metric(&mut self, name: &str, want: f64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.metrics().await;
            let value = crate::ingest::metric(&text, name);
            if value >= want {
                assert_eq!(value, want, "{name} overshot:\n{text}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed at {value}, wanted {want}; notifier log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls the store until `done` holds for the alert's deliveries (30 s at most).
    pub async fn wait_deliveries(
        &mut self,
        alert: &AlertId,
        what: &str,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows = self.deliveries(alert).await;
            if done(&rows) {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; deliveries: {rows:#?}\nnotifier log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Mails moto's SES accepted for `to` (read from moto's own record of sent mail).
pub async fn moto_mails_to(ses_url: &str, to: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value = reqwest::Client::new()
        .get(format!("{ses_url}/moto-api/data.json"))
        .send()
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("moto json");
    // Simple mail is kept as `Message`, raw MIME (what the notifier sends) as `RawMessage`.
    ["Message", "RawMessage"]
        .iter()
        .filter_map(|kind| data["ses"][kind].as_array())
        .flatten()
        .filter(|m| m.to_string().contains(to))
        .cloned()
        .collect()
}

/// The raw MIME of a mail as moto keeps it (whichever field holds it).
pub fn raw_mime(mail: &serde_json::Value) -> String {
    fn find(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::String(s) if s.contains("MIME-Version") => Some(s.clone()),
            serde_json::Value::Object(m) => m.values().find_map(find),
            serde_json::Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(mail).unwrap_or_else(|| panic!("no raw MIME in {mail}"))
}

/// Makes `from` a sender identity at moto (it refuses mail from others) and returns the
/// notifier's `[ses]` config section for it.
pub async fn moto_ses_section(ses_url: &str, from: &str) -> String {
    use cw_notifier::providers::ses::{SesClient, SesConfig, SesStaticCredentials};
    let ses = SesClient::new(SesConfig {
        endpoint_url: Some(ses_url.to_owned()),
        region: "us-east-1".into(),
        from_address: from.into(),
        static_credentials: Some(SesStaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }),
        timeout_ms: 10_000,
    })
    .await
    .expect("ses client");
    ses.ensure_identity(from).await.expect("sender identity");
    format!(
        "[ses]\nendpoint_url = \"{ses_url}\"\nregion = \"us-east-1\"\nfrom_address = \"{from}\"\n[ses.static_credentials]\naccess_key_id = \"testing\"\nsecret_access_key = \"testing\"\n"
    )
}
