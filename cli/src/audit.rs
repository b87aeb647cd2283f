//! `cardiowatch audit verify --config api.toml`: reads the whole audit log of the
//! configured store and checks its keyed hash chain and the signed checkpoints of its
//! head (`[storage.audit]`: the key, older keys, the checkpoint file).

use anyhow::Context;

/// Prints what was checked and each fault; `Ok(false)` when the chain is broken.
pub async fn verify(store: &crate::store_args::StoreArgs) -> anyhow::Result<bool> {
    let cfg: cw_api::ApiConfig = store.load()?;
    let stores = cw_storage::open(&cfg.storage)
        .await
        .context("opening the store")?;
    let report = cw_storage::audit::verify_chain(stores.records.as_ref(), &cfg.storage.audit)
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
