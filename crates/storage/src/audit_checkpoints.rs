//! Where signed checkpoints of the audit chain's head go: a sink *outside* the store, so
//! that whoever can rewrite the store cannot also rewrite what it is checked against
//! (`cw_core::audit::Checkpoint`). Behind a trait so an object store with retention
//! locks (WORM) can stand in for the file.

use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::audit::Checkpoint;
use std::io::Write;
use std::path::PathBuf;

#[async_trait]
pub trait CheckpointSink: Send + Sync {
    /// Appends one checkpoint durably; never rewrites earlier ones.
    async fn append(&self, checkpoint: &Checkpoint) -> Result<()>;
    /// Every checkpoint written so far, in the order written.
    async fn read_all(&self) -> Result<Vec<Checkpoint>>;
}

/// JSON lines in a file opened for append only (`O_APPEND`: each line is one `write`, so
/// several processes appending to the same file do not interleave), fsync'd per line,
/// created 0600. Put it on another disk or host than the store, or make it append-only
/// at the filesystem (`chattr +a`).
pub struct FileCheckpoints {
    path: PathBuf,
}

impl FileCheckpoints {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

fn io_err(what: &str, path: &std::path::Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("audit checkpoints {what} {}: {e}", path.display()))
}

#[async_trait]
impl CheckpointSink for FileCheckpoints {
    async fn append(&self, checkpoint: &Checkpoint) -> Result<()> {
        let mut line = serde_json::to_vec(checkpoint)
            .map_err(|e| StoreError::Corrupt(format!("checkpoint encode: {e}")))?;
        line.push(b'\n');
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| io_err("directory", dir, e))?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).map_err(|e| io_err("open", &path, e))?;
            file.write_all(&line)
                .and_then(|()| file.sync_data())
                .map_err(|e| io_err("write", &path, e))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("checkpoint writer: {e}")))?
    }

    async fn read_all(&self) -> Result<Vec<Checkpoint>> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &self.path, e)),
        };
        crate::json_lines::parse(&text, "audit checkpoints", &self.path)
    }
}
