//! The api in-process against real stores, with a cast: doctor A (assigned to patient
//! "own"), doctor B (assigned to patient "other"), an admin and an ops user, one firing
//! alert per patient. For tests of who may do what, and of what gets audited.

use crate::env::{audit_for, required, unique_name};
use crate::system::Mode;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Alert, AlertId, Patient, PatientId, Priority, Role, RuleKind, UserId};
use cw_storage::{Backend, InfluxConfig, MongoConfig, StorageConfig, Stores};
use tokio_util::sync::CancellationToken;

pub struct ApiHarness {
    pub dir: tempfile::TempDir,
    pub storage: StorageConfig,
    pub stores: Stores,
    pub base: String,
    /// `https://127.0.0.1:port` of the admin listener (`/metrics`).
    pub admin_base: String,
    pub http: reqwest::Client,
    pub secret: String,
    pub doctor_a: UserId,
    pub doctor_b: UserId,
    pub admin: UserId,
    pub ops: UserId,
    /// Assigned to doctor A.
    pub own: PatientId,
    /// Assigned to doctor B only.
    pub other: PatientId,
    pub own_alert: AlertId,
    pub other_alert: AlertId,
    pub own_mrn: String,
    pub other_mrn: String,
    /// The PHI keys the api runs with.
    pub phi: cw_phi::KeyConfig,
    shutdown: CancellationToken,
}

impl Drop for ApiHarness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn storage_for(mode: Mode, dir: &std::path::Path) -> StorageConfig {
    match mode {
        Mode::Servers => StorageConfig {
            backend: Backend::Servers,
            influx: InfluxConfig {
                url: required("CW_TEST_INFLUX_URL"),
                database: unique_name("api"),
                ..InfluxConfig::default()
            },
            mongo: MongoConfig {
                uri: required("CW_TEST_MONGO_URI").into(),
                database: unique_name("api"),
                ..Default::default()
            },
            audit: audit_for(dir),
            ..StorageConfig::default()
        },
        Mode::Embedded => StorageConfig {
            backend: Backend::Embedded,
            path: dir.join("cardiowatch.sqlite"),
            key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
            audit: audit_for(dir),
            ..StorageConfig::default()
        },
    }
}

fn firing_alert(patient: &PatientId) -> Alert {
    firing(patient, RuleKind::HrHigh, Priority::High, now_ns())
}

/// A firing alert of `rule` fired at `fired_ns` (onset 5 s before, value 131 over 120),
/// as the engine would store it.
pub fn firing(patient: &PatientId, rule: RuleKind, priority: Priority, fired_ns: i64) -> Alert {
    Alert {
        started_ns: fired_ns - 5 * NANOS_PER_SEC,
        value: 131.0,
        limit: 120.0,
        policy_version: 1,
        window_start_ns: fired_ns - 10 * NANOS_PER_SEC,
        window_end_ns: fired_ns + 10 * NANOS_PER_SEC,
        ..Alert::firing(patient.clone(), rule, priority, fired_ns)
    }
}

pub fn patient(doctors: &[&UserId]) -> Patient {
    Patient {
        id: PatientId::random(),
        doctors: doctors.iter().map(|d| (*d).clone()).collect(),
        devices: vec![],
        timezone: "Europe/Paris".into(),
        phi: None,
        mrn_hash: None,
    }
}

impl ApiHarness {
    pub async fn start(mode: Mode) -> Self {
        Self::start_with(mode, |_| {}).await
    }

    /// Starts the api after `tune` adjusted its config.
    pub async fn start_with(mode: Mode, tune: impl FnOnce(&mut cw_api::ApiConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = storage_for(mode, dir.path());
        Self::start_on(dir, storage, tune).await
    }

    /// Starts the api on `storage` (e.g. servers reached through a [`crate::tcp_proxy`]),
    /// keeping its files in `dir`.
    pub async fn start_on(
        dir: tempfile::TempDir,
        storage: StorageConfig,
        tune: impl FnOnce(&mut cw_api::ApiConfig),
    ) -> Self {
        cw_tls::install_default_crypto();
        let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs")).expect("dev certs");
        let stores = cw_storage::open(&storage).await.expect("stores open");
        let secret = cw_bus::Sealer::generate_key_hex();
        let mut cfg = cw_api::ApiConfig {
            listen: "127.0.0.1:0".into(),
            tls: certs.server_tls(),
            admin_listen: "127.0.0.1:0".into(),
            config_publish_endpoint: "tcp://127.0.0.1:0".into(),
            auth: cw_api::config::AuthConfig {
                jwt_secret: Some(secret.clone().into()),
                ..Default::default()
            },
            storage: storage.clone(),
            bus: cw_bus::BusConfig {
                key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                ..Default::default()
            },
            phi: cw_phi::KeyConfig {
                key_id: "k1".into(),
                master_key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                lookup_key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
                ..Default::default()
            },
            ..Default::default()
        };
        tune(&mut cfg);
        let phi = cfg.phi.clone();
        let (doctor_a, doctor_b) = (UserId::random(), UserId::random());
        let mut own_patient = patient(&[&doctor_a]);
        let mut other_patient = patient(&[&doctor_b]);
        let (own_mrn, other_mrn) = (
            format!("MRN-OWN-{}", own_patient.id),
            format!("MRN-OTHER-{}", other_patient.id),
        );
        if phi.is_configured() {
            let vault = cw_phi::PhiVault::from_config(&phi).expect("PHI vault");
            for (p, mrn) in [
                (&mut own_patient, &own_mrn),
                (&mut other_patient, &other_mrn),
            ] {
                let sealed = cw_core::phi::PatientPhi {
                    name: format!("Patient {mrn}"),
                    date_of_birth: "1950-01-01".into(),
                    mrn: mrn.clone(),
                    contact: String::new(),
                };
                p.phi = Some(vault.seal(&p.id, &sealed).await.expect("seal"));
                p.mrn_hash = Some(vault.mrn_hash(mrn));
            }
        }
        let (own_alert, other_alert) = (
            firing_alert(&own_patient.id),
            firing_alert(&other_patient.id),
        );
        for p in [&own_patient, &other_patient] {
            stores.records.put_patient(p).await.expect("put patient");
        }
        for a in [&own_alert, &other_alert] {
            stores.records.open_alert(a).await.expect("open alert");
        }
        let shutdown = CancellationToken::new();
        let running = cw_api::start(cfg, stores.clone().into(), shutdown.clone())
            .await
            .expect("api starts");
        let ca = std::fs::read(&certs.ca_cert).expect("CA readable");
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
            .build()
            .expect("client");
        ApiHarness {
            dir,
            storage,
            stores,
            base: format!("https://127.0.0.1:{}", running.addr.port()),
            admin_base: format!("https://127.0.0.1:{}", running.admin_addr.port()),
            http,
            secret,
            doctor_a,
            doctor_b,
            admin: UserId::random(),
            ops: UserId::random(),
            own: own_patient.id,
            other: other_patient.id,
            own_alert: own_alert.id,
            other_alert: other_alert.id,
            own_mrn,
            other_mrn,
            phi,
            shutdown,
        }
    }

    pub fn token(&self, user: &UserId, role: Role) -> String {
        cw_api::token::issue(self.secret.as_bytes(), "cardiowatch", user, role, 600)
            .expect("token issues")
    }

    /// A token in the account's current session generation, as a login would issue now:
    /// a disable or role change ends the tokens of older generations ([`Self::token`]'s
    /// among them).
    pub async fn current_token(&self, user: &UserId, role: Role) -> String {
        let generation = match self.stores.records.user(user).await {
            Ok(found) => found.sessions.generation,
            Err(cw_storage::StoreError::NotFound) => 0,
            Err(e) => panic!("reading the user record: {e}"),
        };
        let session = cw_api::token::TokenSession {
            sid: format!("test-{}", UserId::random()),
            generation,
        };
        cw_api::token::issue_in_session(
            self.secret.as_bytes(),
            "cardiowatch",
            user,
            role,
            600,
            &session,
        )
        .expect("token issues")
    }

    /// Stores a user record for `id` in `role` (no contact points, enabled): the local
    /// account an OIDC identity must map to.
    pub async fn put_user(&self, id: &UserId, role: Role) {
        self.stores
            .records
            .put_user(&cw_core::User {
                id: id.clone(),
                role,
                phone: None,
                email: None,
                notify: Default::default(),
                disabled: None,
                sessions: Default::default(),
            })
            .await
            .expect("user record");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` with `token`: the status and the JSON body, the read most tests make.
    pub async fn get_json(&self, token: &str, path: impl AsRef<str>) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.url(path.as_ref()))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.expect("json"))
    }

    /// GETs `path` with `token`, expecting 200: the JSON body.
    pub async fn get_ok(&self, token: &str, path: impl AsRef<str>) -> serde_json::Value {
        let (status, body) = self.get_json(token, path).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `path` on the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("{}{path}", self.admin_base)
    }

    /// The api's port and the dev CA that signed its certificate (for live sockets).
    pub fn port_and_ca(&self) -> (u16, std::path::PathBuf) {
        let port = self
            .base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("api port");
        (port, self.dir.path().join("certs").join("ca.pem"))
    }
}
