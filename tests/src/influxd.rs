//! An InfluxDB of a test's own (the `influxd` that `scripts/test` installs), on loopback
//! ports with data in a temp dir, so a test may stop, freeze or kill it without harming
//! any other test. The config mirrors the one `scripts/test` writes.

use crate::env::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OwnInflux {
    pub url: String,
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
        let http = free_port();
        let config = write_config(dir.path(), http, free_port());
        let log = dir.path().join("influxd.log");
        let child = spawn(&config, &log);
        let influx = OwnInflux {
            url: format!("http://127.0.0.1:{http}"),
            config,
            log,
            child,
            _dir: dir,
        };
        influx.wait_ready().await;
        influx
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ping = client
                .get(format!("{}/ping", self.url))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if ping.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "influxd did not answer /ping within 30 s; its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
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
