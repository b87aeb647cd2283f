//! A SQLite connection used from async code: every call runs on the blocking pool so a
//! slow disk or a busy wait never stalls the runtime.

use super::{cipher, file_modes, map_err, schema};
use crate::ports::{Result, StoreError};
use crate::store_key::StoreKey;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// One connection to the embedded file. The samples and records adapters each get their
/// own, so a large sample write does not queue record reads behind it.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// A [`Db`] that lives only as long as some `Db` of the same connection.
pub(crate) struct WeakDb(Weak<Mutex<Connection>>);

impl WeakDb {
    pub(crate) fn upgrade(&self) -> Option<Db> {
        self.0.upgrade().map(|conn| Db { conn })
    }
}

impl Db {
    /// Opens (creating when missing) the file encrypted with `key` and brings its schema
    /// up to date.
    pub(crate) async fn open(path: &Path, key: &StoreKey) -> Result<Self> {
        let path = path.to_owned();
        let key = key.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                file_modes::private_dir(dir)?;
            }
            file_modes::private_files(&path)?;
            let mut conn = Connection::open(&path).map_err(map_err)?;
            cipher::unlock(&conn, &path, &key)?;
            schema::prepare(&mut conn).map_err(map_err)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite open task failed: {e}")))??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// A handle that does not keep the connection open (for background tasks).
    pub(crate) fn downgrade(&self) -> WeakDb {
        WeakDb(Arc::downgrade(&self.conn))
    }

    /// Reads the schema page: the file is still there and readable (readiness).
    pub(crate) async fn ping(&self) -> Result<()> {
        self.call(|conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(map_err)
        })
        .await
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic in another call cannot leave the connection mid-transaction (a
            // dropped rusqlite transaction rolls back), so a poisoned lock is still usable.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite task failed: {e}")))?
    }

    /// Runs `each` on every item inside one IMMEDIATE transaction, so the whole batch
    /// costs one fsync (group commit). An error `own_outcome` accepts (a conflict, say) is
    /// that item's result and the batch goes on; any other error rolls the batch back and
    /// becomes every item's result — nothing of it is stored.
    pub(crate) async fn batch<I, O>(
        &self,
        items: &[I],
        each: fn(&Transaction<'_>, &I) -> Result<O>,
        own_outcome: fn(&StoreError) -> bool,
    ) -> Vec<Result<O>>
    where
        I: Clone + Send + 'static,
        O: Send + 'static,
    {
        let batch = items.to_vec();
        let stored = self
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let mut outcomes = Vec::with_capacity(batch.len());
                for item in &batch {
                    match each(&tx, item) {
                        Err(e) if own_outcome(&e) => outcomes.push(Err(e)),
                        other => outcomes.push(Ok(other?)),
                    }
                }
                tx.commit().map_err(map_err)?;
                Ok(outcomes)
            })
            .await;
        match stored {
            Ok(outcomes) => outcomes,
            Err(e) => items
                .iter()
                .map(|_| Err(StoreError::Unavailable(e.to_string())))
                .collect(),
        }
    }
}
