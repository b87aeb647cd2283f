//! An InfluxDB of a test's own (the `influxd` that `scripts/test` installs), on loopback
//! ports with data in a temp dir, so a test may stop, freeze or kill it without harming
//! any other test. The config mirrors the one `scripts/test` writes.

use crate::env::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OwnInflux {
    pub url: String,
    /// `host:port` of the RPC service that `influxd backup` and `restore` talk to.
    pub rpc: String,
    config: PathBuf,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

fn write_config(dir: &Path, http: u16, rpc: u16) -> PathBuf {
    let data = dir.join("influx");
    let text = format!(
        r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{meta}"
[data]
  dir = "{data}"
  wal-dir = "{wal}"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
[monitor]
  store-enabled = false
"#,
        meta = data.join("meta").display(),
        data = data.join("data").display(),
        wal = data.join("wal").display(),
    );
    let path = dir.join("influx.conf");
    std::fs::write(&path, text).expect("influxd config written");
    path
}

fn spawn(config: &Path, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("influxd log file");
    Command::new("influxd")
        .arg("-config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting influxd (scripts/test installs it from apt): {e}"))
}

impl OwnInflux {
    /// Starts influxd and waits until `/ping` answers.
    pub async fn start() -> OwnInflux {
        let dir = tempfile::tempdir().expect("temp dir");
        let (http, rpc) = (free_port(), free_port());
        let config = write_config(dir.path(), http, rpc);
        let log = dir.path().join("influxd.log");
        let child = spawn(&config, &log);
        let influx = OwnInflux {
            url: format!("http://127.0.0.1:{http}"),
            rpc: format!("127.0.0.1:{rpc}"),
            config,
            log,
            child,
            _dir: dir,
        };
        influx.wait_ready().await;
        influx
    }

    async fn wait_ready(&self) {
        Self::ping_until_ready(&self.url, &self.log).await;
    }

    /// Waits until `/ping` answers (204, with auth on too).
    async fn ping_until_ready(url: &str, log: &Path) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ping = client
                .get(format!("{url}/ping"))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if ping.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "influxd did not answer /ping within 30 s; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} influxd failed");
    }

    /// Freezes the server: connections stay open, nothing is answered.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    pub fn thaw(&self) {
        self.signal("CONT");
    }

    /// SIGKILL: a crash, as far as InfluxDB can tell.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts again on the same data dir and port.
    pub async fn restart(&mut self) {
        self.child = spawn(&self.config, &self.log);
        self.wait_ready().await;
    }
}

impl Drop for OwnInflux {
    fn drop(&mut self) {
        // SIGKILL ends a frozen (SIGSTOPped) process too.
        self.kill();
    }
}

/// An `influxd` with `auth-enabled = true`, as the `influxdb` image runs with
/// `INFLUXDB_HTTP_AUTH_ENABLED=true`. Both ports bind to 0 and the HTTP address is read
/// from influxd's log: a port picked beforehand raced with parallel tests' servers
/// (crates/storage/tests/conformance/influx_auth.rs, where CI saw it).
pub struct AuthInflux {
    pub url: String,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl AuthInflux {
    pub async fn start() -> AuthInflux {
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
        std::fs::write(&config_path, config).expect("influxdb.conf written");
        let log = dir.path().join("influxd.log");
        let child = spawn(&config_path, &log);
        let mut server = AuthInflux {
            url: String::new(),
            log,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = loop {
            let text = std::fs::read_to_string(&server.log).unwrap_or_default();
            let listening = text
                .lines()
                .filter(|line| line.contains("Listening on HTTP"))
                .find_map(|line| {
                    line.split_whitespace()
                        .find_map(|f| f.strip_prefix("addr="))
                });
            if let Some(address) = listening {
                break address.to_owned();
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("influxd exited ({status}) before listening:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "influxd logged no HTTP address in 30 s:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        server.url = format!("http://{address}");
        let ready = OwnInflux::ping_until_ready(&server.url, &server.log);
        ready.await;
        server
    }

    /// One InfluxQL statement, as `credentials` (none: InfluxDB's bootstrap rule lets the
    /// first user be created without any).
    pub async fn query(&self, q: &str, credentials: Option<(&str, &str)>) {
        let auth: Vec<(&str, &str)> = credentials
            .map(|(u, p)| vec![("u", u), ("p", p)])
            .unwrap_or_default();
        let response = reqwest::Client::new()
            .post(format!("{}/query", self.url))
            .query(&auth)
            .form(&[("q", q)])
            .send()
            .await
            .expect("influx /query answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success() && !body.contains("\"error\""),
            "{q}: {status} {body}"
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for AuthInflux {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ECG points of `patient` in `database` on the InfluxDB node at `url`, asked of that node
/// directly (not through the store's routing), so a test sees where samples really are.
pub async fn ecg_points_at(url: &str, database: &str, patient: &str) -> u64 {
    let q = format!("SELECT count(\"l0\") FROM ecg WHERE patient = '{patient}'");
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/query"))
        .query(&[("db", database), ("q", q.as_str())])
        .send()
        .await
        .expect("influxd answers")
        .json()
        .await
        .expect("json");
    body["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}
