//! Seen provider request ids in the embedded file: the primary key decides first use.

use super::map_err;
use super::records::SqliteRecords;
use crate::ports::Result;
use crate::replay_guard::ReplayGuard;
use async_trait::async_trait;
use cw_core::time::Nanos;
use rusqlite::params;

/// Created by `schema::prepare` with the other tables.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS seen_requests (
    request_id TEXT PRIMARY KEY,
    at_ns      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_requests_by_time ON seen_requests (at_ns);
";

#[async_trait]
impl ReplayGuard for SqliteRecords {
    async fn first_use(&self, request_id: &str, at: Nanos) -> Result<bool> {
        let id = request_id.to_owned();
        self.db
            .call(move |conn| {
                let inserted = conn
                    .execute(
                        "INSERT OR IGNORE INTO seen_requests (request_id, at_ns) VALUES (?1, ?2)",
                        params![id, at],
                    )
                    .map_err(map_err)?;
                Ok(inserted == 1)
            })
            .await
    }

    async fn forget_used_before(&self, before: Nanos) -> Result<u64> {
        self.db
            .call(move |conn| {
                let deleted = conn
                    .execute(
                        "DELETE FROM seen_requests WHERE at_ns < ?1",
                        params![before],
                    )
                    .map_err(map_err)?;
                Ok(deleted as u64)
            })
            .await
    }
}
