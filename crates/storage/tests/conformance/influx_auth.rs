//! The adapter against an auth-enabled InfluxDB set up as the `influxdb` image's
//! `INFLUXDB_*` variables set it up in `docker-compose.yml`: an admin, the database, and a
//! non-admin user with `GRANT ALL` on it. The services connect as that user, which may
//! not `CREATE DATABASE` (403), so start-up must accept the database ops made.
//!
//! Each test starts its own `influxd` (the one `scripts/test` runs has no auth).

use crate::fixtures::{T0, block, device_id, patient_id};
use cw_storage::{Backend, InfluxConfig, StorageConfig};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ADMIN: (&str, &str) = ("admin", "admin-pw");
const USER: (&str, &str) = ("cardiowatch", "user-pw");
const DATABASE: &str = "cardiowatch";

/// An `influxd` with `auth-enabled = true` in a temp dir, killed on drop.
struct AuthInflux {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for AuthInflux {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthInflux {
    /// Binds both ports to 0 and reads the HTTP address from influxd's own log: a port
    /// picked beforehand could be taken by a parallel test's influxd, and then this
    /// test would talk to a server whose admin already exists (CI saw exactly that).
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().display();
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:0\"\n\
             [meta]\n  dir = \"{root}/meta\"\n\
             [data]\n  dir = \"{root}/data\"\n  wal-dir = \"{root}/wal\"\n  query-log-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:0\"\n  auth-enabled = true\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n"
        );
        let config_path = dir.path().join("influxdb.conf");
        std::fs::write(&config_path, config).expect("write influxdb.conf");
        let log_path = dir.path().join("influxd.log");
        let log = std::fs::File::create(&log_path).expect("create influxd.log");
        let child = Command::new("influxd")
            .arg("-config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("influxd on PATH (scripts/test installs it)");
        let mut server = Self {
            child,
            url: String::new(),
            _dir: dir,
        };
        let addr = server.http_address(&log_path).await;
        server.url = format!("http://{addr}");
        server.wait_ready().await;
        server
    }

    /// The `addr=` of influxd's "Listening on HTTP" line.
    async fn http_address(&mut self, log_path: &std::path::Path) -> String {
        for _ in 0..300 {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            let listening = log
                .lines()
                .filter(|line| line.contains("Listening on HTTP"))
                .find_map(|line| {
                    line.split_whitespace()
                        .find_map(|f| f.strip_prefix("addr="))
                });
            if let Some(addr) = listening {
                return addr.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("influxd exited ({status}) before listening:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("influxd did not log its HTTP address in 15 s");
    }

    /// `/ping` answers 204 (even with auth on) once the HTTP service is up.
    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{}/ping", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("influxd did not come up at {}", self.url);
    }

    /// One InfluxQL statement; the first user needs no credentials (InfluxDB's
    /// bootstrap rule), later ones run as the admin.
    async fn admin_query(&self, q: &str, as_admin: bool) {
        // InfluxDB reads `u` / `p` from the URL, not from a form body.
        let credentials: &[(&str, &str)] = if as_admin {
            &[("u", ADMIN.0), ("p", ADMIN.1)]
        } else {
            &[]
        };
        let response = reqwest::Client::new()
            .post(format!("{}/query", self.url))
            .query(credentials)
            .form(&[("q", q)])
            .send()
            .await
            .expect("influx /query");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success() && !body.contains("\"error\""),
            "{q}: {status} {body}"
        );
    }

    /// `SHOW RETENTION POLICIES` of the database, as the admin: the body as text.
    async fn retention_policies(&self) -> String {
        reqwest::Client::new()
            .get(format!("{}/query", self.url))
            .query(&[("u", ADMIN.0), ("p", ADMIN.1), ("db", DATABASE)])
            .query(&[("q", "SHOW RETENTION POLICIES")])
            .send()
            .await
            .expect("influx /query")
            .text()
            .await
            .expect("body")
    }

    /// What the image's init does with INFLUXDB_ADMIN_*, INFLUXDB_DB and INFLUXDB_USER_*.
    async fn init_like_the_image(&self, create_database: bool) {
        let admin = format!(
            "CREATE USER \"{}\" WITH PASSWORD '{}' WITH ALL PRIVILEGES",
            ADMIN.0, ADMIN.1
        );
        self.admin_query(&admin, false).await;
        if create_database {
            self.admin_query(&format!("CREATE DATABASE \"{DATABASE}\""), true)
                .await;
        }
        let user = format!("CREATE USER \"{}\" WITH PASSWORD '{}'", USER.0, USER.1);
        self.admin_query(&user, true).await;
        if create_database {
            let grant = format!("GRANT ALL ON \"{DATABASE}\" TO \"{}\"", USER.0);
            self.admin_query(&grant, true).await;
        }
    }

    fn storage_as(&self, user: (&str, &str)) -> StorageConfig {
        StorageConfig {
            backend: Backend::Servers,
            influx: InfluxConfig {
                url: self.url.clone(),
                database: DATABASE.to_owned(),
                username: Some(user.0.to_owned()),
                password: Some(user.1.into()),
                ..InfluxConfig::default()
            },
            mongo: crate::backends::mongo_config(),
            ..StorageConfig::default()
        }
    }
}

#[tokio::test]
async fn a_non_admin_user_with_grant_all_opens_the_database_ops_made_and_writes() {
    let influx = AuthInflux::start().await;
    influx.init_like_the_image(true).await;

    let stores = cw_storage::open(&influx.storage_as(USER))
        .await
        .expect("opens as the non-admin user the image creates");

    let (patient, device) = (patient_id(), device_id());
    let written = block(&patient, &device, 1, T0, 250, 2, 500);
    stores
        .samples
        .write(&[written])
        .await
        .expect("write as that user");
    let count = stores
        .samples
        .count_frames(&patient, T0, T0 + 10_000_000_000)
        .await
        .expect("read back");
    assert_eq!(count, 500);
}

#[tokio::test]
async fn a_missing_database_the_user_may_not_create_fails_naming_store_url_and_remedy() {
    let influx = AuthInflux::start().await;
    influx.init_like_the_image(false).await;

    let Err(error) = cw_storage::open(&influx.storage_as(USER)).await else {
        panic!("opened although the database is missing and the user may not create it");
    };
    let message = error.to_string();
    for needed in ["influxdb", influx.url.as_str(), DATABASE, "admin"] {
        assert!(
            message.contains(needed),
            "{needed:?} missing from: {message}"
        );
    }
    assert!(!message.contains(USER.1), "password leaked: {message}");
}

#[tokio::test]
async fn a_wrong_password_fails_naming_store_url_and_the_credentials_to_check() {
    let influx = AuthInflux::start().await;
    influx.init_like_the_image(true).await;

    let Err(error) = cw_storage::open(&influx.storage_as((USER.0, "wrong-pw"))).await else {
        panic!("opened with a wrong password");
    };
    let message = error.to_string();
    for needed in ["influxdb", influx.url.as_str(), "password"] {
        assert!(
            message.contains(needed),
            "{needed:?} missing from: {message}"
        );
    }
    assert!(!message.contains("wrong-pw"), "password leaked: {message}");
}

#[tokio::test]
async fn a_non_admin_user_starts_without_retention_rights_and_an_admin_start_sets_them() {
    let influx = AuthInflux::start().await;
    influx.init_like_the_image(true).await;

    // The user may not change retention policies or continuous queries (403): the
    // service starts anyway and logs what ops must run; nothing changed.
    cw_storage::open(&influx.storage_as(USER))
        .await
        .expect("starts without the rights to set retention");
    let before = influx.retention_policies().await;
    assert!(before.contains(r#"["autogen","0s""#), "{before}");
    assert!(!before.contains("cw_downsampled"), "{before}");

    cw_storage::open(&influx.storage_as(ADMIN))
        .await
        .expect("opens as the admin");
    let after = influx.retention_policies().await;
    assert!(after.contains(r#"["autogen","2160h0m0s""#), "{after}");
    assert!(after.contains(r#"["cw_downsampled","0s""#), "{after}");
}
