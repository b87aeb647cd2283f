//! A MongoDB-protocol server of a test's own: the SecantusDB that `scripts/test` runs
//! (`CW_TEST_SECANTUSD`), on a loopback port with its data in a temp dir, for a test
//! that needs a database name to itself (the compose stack's fixed `cardiowatch`).

use crate::env::{free_port, required};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OwnMongo {
    pub uri: String,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl OwnMongo {
    /// Starts the server and waits until it accepts connections.
    pub async fn start() -> OwnMongo {
        let program = required("CW_TEST_SECANTUSD");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = dir.path().join("secantusd.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(&program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--storage-path")
            .arg(dir.path().join("data"))
            .args(["--log-level", "WARNING"])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let mut server = OwnMongo {
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
            log,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{program} exited ({status}):\n{}", server.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{program} did not listen on {port} within 30 s:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OwnMongo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
