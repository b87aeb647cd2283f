//! Shard leases in the embedded file: a claim reads and writes each lease inside one
//! IMMEDIATE transaction, which SQLite serialises between processes, so of two engines
//! racing for a free shard exactly one gets it.

use super::map_err;
use super::records::SqliteRecords;
use crate::ports::Result;
use crate::shard_leases::{EngineBeat, ShardLease, ShardLeaseView, ShardLeases, next_lease};
use async_trait::async_trait;
use cw_core::time::Nanos;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

/// Created by `schema::prepare` with the other tables.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS shard_leases (
    shard      INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS engines (
    owner      TEXT PRIMARY KEY,
    expires_ns INTEGER NOT NULL,
    beat_ns    INTEGER NOT NULL DEFAULT 0,
    pinned     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
";

/// Adds the columns a file made before `GET /v1/shards` lacks (`CREATE TABLE IF NOT
/// EXISTS` leaves an existing table as it is); their defaults read as "not said".
pub(super) fn upgrade(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    for (column, ddl) in [
        (
            "beat_ns",
            "ALTER TABLE engines ADD COLUMN beat_ns INTEGER NOT NULL DEFAULT 0",
        ),
        (
            "pinned",
            "ALTER TABLE engines ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
        ),
    ] {
        let present: bool = tx.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('engines') WHERE name = ?1",
            params![column],
            |r| r.get(0),
        )?;
        if !present {
            tx.execute_batch(ddl)?;
        }
    }
    Ok(())
}

const COLUMNS: &str = "shard, owner, epoch, expires_ns";

fn lease(row: &Row<'_>) -> rusqlite::Result<ShardLease> {
    Ok(ShardLease {
        shard: row.get(0)?,
        owner: row.get(1)?,
        epoch: row.get::<_, i64>(2)? as u64,
        expires_ns: row.get(3)?,
    })
}

#[async_trait]
impl ShardLeases for SqliteRecords {
    async fn claim_shards(
        &self,
        shards: &[u16],
        owner: &str,
        now: Nanos,
        ttl_ns: Nanos,
    ) -> Result<Vec<ShardLease>> {
        let (shards, owner) = (shards.to_vec(), owner.to_owned());
        self.db
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let mut held = Vec::new();
                for shard in shards {
                    let current = tx
                        .query_row(
                            &format!("SELECT {COLUMNS} FROM shard_leases WHERE shard = ?1"),
                            params![shard],
                            lease,
                        )
                        .optional()
                        .map_err(map_err)?;
                    let Some(next) = next_lease(current.as_ref(), shard, &owner, now, ttl_ns)
                    else {
                        continue;
                    };
                    tx.execute(
                        "INSERT INTO shard_leases (shard, owner, epoch, expires_ns)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (shard) DO UPDATE SET owner = excluded.owner,
                             epoch = excluded.epoch, expires_ns = excluded.expires_ns",
                        params![next.shard, next.owner, next.epoch as i64, next.expires_ns],
                    )
                    .map_err(map_err)?;
                    held.push(next);
                }
                tx.commit().map_err(map_err)?;
                Ok(held)
            })
            .await
    }

    async fn release_shard(&self, lease: &ShardLease) -> Result<()> {
        let lease = lease.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE shard_leases SET expires_ns = 0
                     WHERE shard = ?1 AND owner = ?2 AND epoch = ?3",
                    params![lease.shard, lease.owner, lease.epoch as i64],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn engine_heartbeat(&self, beat: &EngineBeat) -> Result<()> {
        let beat = beat.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO engines (owner, expires_ns, beat_ns, pinned) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (owner) DO UPDATE SET expires_ns = excluded.expires_ns,
                         beat_ns = excluded.beat_ns, pinned = excluded.pinned",
                    params![beat.identity, beat.expires_ns, beat.beat_ns, beat.pinned],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn live_engines(&self, now: Nanos) -> Result<Vec<String>> {
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT owner FROM engines WHERE expires_ns > ?1 AND pinned = 0 ORDER BY owner")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![now], |r| r.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
            })
            .await
    }
}

#[async_trait]
impl ShardLeaseView for SqliteRecords {
    async fn shard_lease(&self, shard: u16) -> Result<Option<ShardLease>> {
        self.db
            .call(move |conn| {
                conn.query_row(
                    &format!("SELECT {COLUMNS} FROM shard_leases WHERE shard = ?1"),
                    params![shard],
                    lease,
                )
                .optional()
                .map_err(map_err)
            })
            .await
    }

    async fn shard_leases(&self) -> Result<Vec<ShardLease>> {
        self.db
            .call(|conn| {
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT {COLUMNS} FROM shard_leases ORDER BY shard"
                    ))
                    .map_err(map_err)?;
                let rows = stmt.query_map([], lease).map_err(map_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
            })
            .await
    }

    async fn engines(&self) -> Result<Vec<EngineBeat>> {
        self.db
            .call(|conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT owner, beat_ns, expires_ns, pinned FROM engines ORDER BY owner",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(EngineBeat {
                            identity: r.get(0)?,
                            beat_ns: r.get(1)?,
                            expires_ns: r.get(2)?,
                            pinned: r.get(3)?,
                        })
                    })
                    .map_err(map_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_the_old_engines_table_gains_heartbeat_time_and_pin() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE engines (owner TEXT PRIMARY KEY, expires_ns INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO engines VALUES ('engine-old', 7);",
        )
        .expect("old table");
        let tx = conn.transaction().expect("tx");
        tx.execute_batch(TABLES).expect("tables");
        upgrade(&tx).expect("upgrade");
        upgrade(&tx).expect("a second upgrade changes nothing");
        let row: (String, i64, i64, bool) = tx
            .query_row(
                "SELECT owner, expires_ns, beat_ns, pinned FROM engines",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("row");
        assert_eq!(row, ("engine-old".into(), 7, 0, false));
    }
}
