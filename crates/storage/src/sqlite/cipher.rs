//! Encryption at rest of the embedded file (docs/operations.md, "Encryption at rest"):
//! SQLCipher encrypts every page of the file and of its WAL with the store key, so ECG,
//! records and the audit trail are unreadable without it. A wrong key, or a clear file
//! from before encryption, is a start-up error that says which and what to do.

use super::{file_modes, map_err};
use crate::ports::{Result, StoreError};
use crate::store_key::StoreKey;
use cw_core::secret::ExposeSecret;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};

/// The command that encrypts a clear store, named in the error that refuses one.
pub const ENCRYPT_COMMAND: &str = "cardiowatch store encrypt";

/// Keys `conn` and proves the key opens the file. Run first on every connection.
pub(super) fn unlock(conn: &Connection, path: &Path, key: &StoreKey) -> Result<()> {
    // SQLCipher writes its own lines to stderr (a wrong key's "hmac check failed"),
    // outside the services' JSON logs; the typed errors below say it instead.
    conn.query_row("PRAGMA cipher_log_level = NONE", [], |_| Ok(()))
        .map_err(map_err)?;
    conn.execute_batch(key.pragma().expose_secret())
        .map_err(map_err)?;
    // A SQLite built without SQLCipher accepts `PRAGMA key` and ignores it: the file
    // would be written in clear. Only SQLCipher answers `cipher_version`.
    let version: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |row| row.get(0))
        .ok();
    if version.is_none_or(|v| v.is_empty()) {
        return Err(StoreError::Unavailable(
            "this build's SQLite has no SQLCipher, so the embedded store would not be \
             encrypted; remedy: build with rusqlite's `bundled-sqlcipher` feature (the \
             workspace's Cargo.toml)"
                .into(),
        ));
    }
    // The first read decrypts page 1; a wrong key fails here, not at some later query.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())) {
        Ok(()) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            Err(StoreError::Unavailable(if is_clear(path) {
                format!(
                    "{} is a store from before encryption (not encrypted); remedy: stop the \
                     services using it, back it up, and run `{ENCRYPT_COMMAND}` (with the same \
                     --config or --data-dir) to encrypt it with the key from {}",
                    path.display(),
                    key.source()
                )
            } else {
                format!(
                    "{} cannot be decrypted with the key from {}: wrong key, or not a \
                     cardiowatch store; remedy: give the key the store was created with \
                     (storage.key_file or CW_STORAGE__KEY_HEX)",
                    path.display(),
                    key.source()
                )
            }))
        }
        Err(e) => Err(map_err(e)),
    }
}

/// Whether `path` reads as a clear SQLite file. Asked of SQLite, not by opening the file
/// directly: closing a descriptor would drop the POSIX locks of this process's other
/// connections to it (`file_modes.rs`).
fn is_clear(path: &Path) -> bool {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())))
        .is_ok()
}

/// Encrypts the clear store at `path` with `key`, in place: `sqlcipher_export` into a
/// new file beside it, then a rename over it. Nothing may have the store open. Returns
/// the number of tables copied.
pub async fn encrypt_clear(path: &Path, key: &StoreKey) -> Result<usize> {
    let path = path.to_owned();
    let attach = key.attach_argument();
    tokio::task::spawn_blocking(move || -> Result<usize> {
        if !path.exists() {
            return Err(StoreError::NotFound);
        }
        if !is_clear(&path) {
            return Err(StoreError::Conflict(format!(
                "{} is not a clear SQLite file (already encrypted?)",
                path.display()
            )));
        }
        let target = sibling(&path, ".encrypting");
        for stale in [
            target.clone(),
            sibling(&target, "-wal"),
            sibling(&target, "-shm"),
        ] {
            match std::fs::remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Unavailable(format!(
                        "remove {}: {e}",
                        stale.display()
                    )));
                }
            }
        }
        file_modes::private_files(&target)?;
        let conn = Connection::open(&path).map_err(map_err)?;
        // Everything in the WAL goes into the main file first, so the export sees it.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(map_err)?;
        let target_name = target
            .to_str()
            .ok_or_else(|| StoreError::Unavailable(format!("{} is not UTF-8", target.display())))?;
        conn.execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            (target_name, attach.expose_secret()),
        )
        .map_err(map_err)?;
        conn.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
            .map_err(map_err)?;
        let tables: usize = conn
            .query_row(
                "SELECT count(*) FROM encrypted.sqlite_master WHERE type = 'table'",
                [],
                |row| row.get(0),
            )
            .map_err(map_err)?;
        conn.execute_batch("DETACH DATABASE encrypted")
            .map_err(map_err)?;
        conn.close().map_err(|(_, e)| map_err(e))?;
        std::fs::rename(&target, &path)
            .map_err(|e| StoreError::Unavailable(format!("rename {}: {e}", target.display())))?;
        // The clear file's WAL was emptied and closed above; a leftover would belong to
        // the clear file, not the new one.
        for companion in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(sibling(&path, companion));
        }
        Ok(tables)
    })
    .await
    .map_err(|e| StoreError::Unavailable(format!("sqlite encrypt task failed: {e}")))?
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
