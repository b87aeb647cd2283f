//! The embedded adapter: one SQLite file holds samples and records, so cardiowatch runs
//! with no server. Several processes may share the file (WAL + busy timeout).

mod alert_pages;
mod alerts;
mod audit;
mod cipher;
mod conn;
mod credentials;
mod deliveries;
mod directory;
mod file_modes;
mod news2;
mod people;
mod policies;
mod records;
mod replay_guard;
mod report_days;
mod retention;
mod sample_writes;
mod samples;
mod schema;
mod shard_leases;
mod vitals;
mod watchdog_probes;

pub use cipher::{ENCRYPT_COMMAND, encrypt_clear};
pub use records::SqliteRecords;
pub use retention::SweepReport;
pub use samples::SqliteSamples;

use conn::Db;

use crate::config::{RetentionConfig, StorageConfig};
use crate::ports::{Result, StoreError};
use crate::store_key::StoreKey;
use cw_core::time::Nanos;
use rusqlite::ErrorCode;
use std::path::Path;

/// Opens the embedded file, encrypted with `key`, for both ports. Each gets its own
/// connection so a large sample write does not hold up record reads (WAL lets them run
/// side by side). Its retention sweep runs every `retention.every_s` while they are open.
pub async fn open(
    path: &Path,
    key: &StoreKey,
    retention: &RetentionConfig,
) -> Result<(SqliteSamples, SqliteRecords)> {
    let samples = Db::open(path, key).await?;
    let records = Db::open(path, key).await?;
    retention::spawn_sweeper(&samples, &records, retention);
    tracing::info!(path = %path.display(), "embedded store opened");
    Ok((SqliteSamples::new(samples), SqliteRecords::new(records)))
}

/// One retention sweep of the embedded store of `cfg` as of `now` (docs/operations.md,
/// "Data lifecycle"): what the sweeper of an open store does every `every_s`.
pub async fn sweep(cfg: &StorageConfig, now: Nanos) -> Result<SweepReport> {
    let key = cfg.store_key()?;
    let samples = Db::open(&cfg.path, &key).await?;
    let records = Db::open(&cfg.path, &key).await?;
    retention::sweep(&samples, &records, &cfg.retention, now).await
}

/// A keyed connection to the embedded store of `cfg`, for tools and tests that read the
/// file directly (no schema or pragma but the key). The file must exist.
pub fn connect(cfg: &StorageConfig) -> Result<rusqlite::Connection> {
    let key = cfg.store_key()?;
    let conn = rusqlite::Connection::open_with_flags(
        &cfg.path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
    )
    .map_err(map_err)?;
    cipher::unlock(&conn, &cfg.path, &key)?;
    Ok(conn)
}

/// Classifies SQLite errors so callers know whether retrying can help.
pub(crate) fn map_err(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(e, _) => match e.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::OutOfMemory
            | ErrorCode::PermissionDenied => StoreError::Unavailable(err.to_string()),
            ErrorCode::ConstraintViolation => StoreError::Conflict(err.to_string()),
            _ => StoreError::Corrupt(err.to_string()),
        },
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        _ => StoreError::Corrupt(err.to_string()),
    }
}

/// Documents are stored as JSON; a row that no longer parses is schema drift.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("encode: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("decode: {e}")))
}
