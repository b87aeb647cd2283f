//! Service binaries as child processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The directory holding the workspace's binaries (`target/debug`), next to the test
/// executable (`target/debug/deps/…`). `scripts/test` builds them before the tests.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CW_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target directory")
}

/// A running service; killed (and reaped) when dropped, so a failing test leaves nothing.
pub struct Service {
    pub name: &'static str,
    child: Child,
    pub log: PathBuf,
}

impl Service {
    pub fn spawn(name: &'static str, config: &Path, log_dir: &Path) -> Service {
        let bin = bin_dir().join(name);
        assert!(
            bin.exists(),
            "{} is missing: build the service binaries first (`cargo build --workspace --bins`, which scripts/test does)",
            bin.display()
        );
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(&bin)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .env_remove("CW_CONFIG")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        Service { name, child, log }
    }

    /// Ends the process the hard way (a crash, as far as the service can tell).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
