//! The embedded file holds PHI-adjacent records and the audit trail: only the service
//! account may read it. Directories this adapter creates are 0700; the store file and
//! SQLite's `-wal` / `-shm` companions are 0600 (SQLite creates the companions with the
//! main file's mode, and existing ones are tightened at open). docs/security.md, Edge.

use crate::ports::{Result, StoreError};
use std::path::Path;

/// Creates the missing directories of `dir` (0700 each). An existing directory keeps
/// its mode — it may be the operator's choice (a mount point) — but one that others can
/// enter is reported.
pub(super) fn private_dir(dir: &Path) -> Result<()> {
    let unavailable =
        |e: std::io::Error| StoreError::Unavailable(format!("create {}: {e}", dir.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(unavailable)?;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(dir = %dir.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "the embedded store's directory is open to other users; make it 0700");
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(unavailable)?;
    Ok(())
}

/// Creates the store file 0600 when missing, and sets it and its `-wal` / `-shm`
/// companions to 0600 when they exist (files of another owner are reported, not fatal).
pub(super) fn private_files(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // Only a file that does not exist yet is opened here: closing a descriptor drops
        // every POSIX lock this process holds on the file, including those of SQLite
        // connections already open on it (SQLite's documented pitfall). Modes of an
        // existing file are set by path (chmod), which opens nothing.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "create {}: {e}",
                    path.display()
                )));
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = Path::new(&name);
            if !file.exists() {
                continue;
            }
            if let Err(e) = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!(file = %file.display(), error = %e, "could not make an embedded store file 0600");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
