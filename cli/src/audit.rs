//! `cardiowatch audit verify --config api.toml [--archive FILE]…`: reads the archives and
//! the whole audit log of the configured store and checks its keyed hash chain and the
//! signed checkpoints of its head (`[storage.audit]`: the key, older keys, the checkpoint
//! file). `cardiowatch audit archive`: moves old events into an archive file
//! (`cw_storage::audit_archive`; docs/operations.md, "Data lifecycle").

use anyhow::Context;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use std::path::{Path, PathBuf};

/// Prints what was checked and each fault; `Ok(false)` when the chain is broken.
pub async fn verify(
    store: &crate::store_args::StoreArgs,
    archives: &[PathBuf],
) -> anyhow::Result<bool> {
    let cfg: cw_api::ApiConfig = store.load()?;
    let stores = cw_storage::open(&cfg.storage)
        .await
        .context("opening the store")?;
    let mut archived = Vec::new();
    for path in archives {
        let events = cw_storage::audit_archive::read(path)
            .with_context(|| format!("reading {}", path.display()))?;
        println!("{}: {} archived events", path.display(), events.len());
        archived.extend(events);
    }
    let report =
        cw_storage::audit::verify_chain_with(stores.records.as_ref(), &cfg.storage.audit, archived)
            .await
            .context("reading the audit log")?;
    match &report.head {
        Some((seq, hash)) => println!("{} audit events, head {seq} {hash}", report.events),
        None => println!("the audit log is empty"),
    }
    if cfg.storage.audit.checkpoint_file.is_some() {
        println!("{} checkpoints checked", report.checkpoints);
    } else {
        println!(
            "no storage.audit.checkpoint_file: cutting off the newest events is not detectable"
        );
    }
    for fault in &report.faults {
        println!("TAMPERED: {fault}");
    }
    if report.faults.is_empty() {
        println!("chain intact");
    }
    Ok(report.faults.is_empty())
}

/// Archives the events older than `before_days` into `out` and prints what moved.
pub async fn archive(
    store: &crate::store_args::StoreArgs,
    before_days: u32,
    out: &Path,
) -> anyhow::Result<()> {
    let cfg: cw_api::ApiConfig = store.load()?;
    let stores = cw_storage::open(&cfg.storage)
        .await
        .context("opening the store")?;
    let before_ns = now_ns() - i64::from(before_days) * 86_400 * NANOS_PER_SEC;
    let report = cw_storage::audit_archive::archive(stores.records.as_ref(), before_ns, out)
        .await
        .with_context(|| format!("archiving into {}", out.display()))?;
    match report.seqs {
        Some((first, last)) => println!(
            "{} audit events ({first}..={last}) archived into {}; keep it with the others: \
             `audit verify --archive` needs every archive",
            report.events,
            out.display()
        ),
        None => println!("no audit event older than {before_days} days: nothing archived"),
    }
    Ok(())
}
