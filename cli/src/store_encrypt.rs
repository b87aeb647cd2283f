//! `cardiowatch store encrypt`: encrypts an embedded store from before encryption in
//! place with the configured key (docs/operations.md, "Encryption at rest"). The
//! services refuse a clear store and name this command.

use crate::store_args::{StoreArgs, WithStorage};
use anyhow::Context;
use cw_storage::Backend;

/// Encrypts the store `store` names; prints what it did.
pub async fn run(store: &StoreArgs) -> anyhow::Result<()> {
    let cfg: WithStorage = store.load()?;
    let cfg = cfg.storage;
    anyhow::ensure!(
        cfg.backend == Backend::Embedded,
        "storage.backend is servers: only the embedded store is encrypted by cardiowatch \
         (InfluxDB and MongoDB volumes: docs/operations.md, \"Encryption at rest\")"
    );
    let key = cfg.store_key()?;
    let tables = cw_storage::sqlite::encrypt_clear(&cfg.path, &key)
        .await
        .with_context(|| format!("encrypting {}", cfg.path.display()))?;
    println!(
        "encrypted {} ({tables} tables) with the key from {}",
        cfg.path.display(),
        key.source()
    );
    Ok(())
}
