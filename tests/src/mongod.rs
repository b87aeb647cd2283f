//! A MongoDB-protocol server of a test's own: the SecantusDB that `scripts/test` runs
//! (`CW_TEST_SECANTUSD`), on a loopback port with its data in a temp dir, for a test
//! that needs a database name to itself (the compose stack's fixed `cardiowatch`), or
//! that stops it and starts it again on other data (the backup drill's restore).

use crate::env::{free_port, required};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OwnMongo {
    pub uri: String,
    port: u16,
    /// Flags beyond the address, data and log level (`--auth`, TLS), kept across restarts.
    flags: Vec<String>,
    log: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
}

fn spawn(port: u16, data: &Path, log: &Path, flags: &[String]) -> Child {
    let program = required("CW_TEST_SECANTUSD");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(&program)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--storage-path")
        .arg(data)
        .args(["--log-level", "WARNING"])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"))
}

impl OwnMongo {
    /// Starts the server and waits until it accepts connections.
    pub async fn start() -> OwnMongo {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = dir.path().join("secantusd.log");
        let child = spawn(port, &dir.path().join("data"), &log, &[]);
        let mut server = OwnMongo {
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
            port,
            flags: Vec::new(),
            log,
            child,
            dir,
        };
        server.wait_listening().await;
        server
    }

    async fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("secantusd exited ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "secantusd did not listen on {} within 30 s:\n{}",
                self.port,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The data directory the server started on.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the server (SIGKILL).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server and starts it again on `data` (e.g. a restored directory), on
    /// the same port.
    pub async fn restart_on(&mut self, data: &Path) {
        self.stop();
        self.child = spawn(self.port, data, &self.log, &self.flags);
        self.wait_listening().await;
    }

    /// Stops the server and starts it again on its data with `flags` (e.g. `--auth` and
    /// the TLS files, once the users exist), on the same port. `uri` stays the plain
    /// address; clients add their credentials and TLS options.
    pub async fn restart_with(&mut self, flags: Vec<String>) {
        self.flags = flags;
        // A clean shutdown, as the mongo image's init ends: what was just written (the
        // root user) must survive, and the server does not sync every commit.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let data = self.data_dir();
        self.restart_on(&data).await;
    }

    /// `host:port` the server listens on.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OwnMongo {
    fn drop(&mut self) {
        self.stop();
    }
}
