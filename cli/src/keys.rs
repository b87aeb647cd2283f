//! `cardiowatch keys rotate --config api.toml`: re-wraps every patient's PHI data key
//! under the current master key (`phi.key_id`). The old key must still be listed in
//! `phi.previous_keys` while this runs; once it reports nothing left, remove it.

use anyhow::Context;

/// How many records were re-wrapped and how many were already current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub rewrapped: usize,
    pub current: usize,
}

pub async fn rotate(store: &crate::store_args::StoreArgs) -> anyhow::Result<Rotation> {
    let cfg: cw_api::ApiConfig = store.load()?;
    let vault = cw_phi::PhiVault::from_config(&cfg.phi).context("PHI keys")?;
    let stores = cw_storage::open(&cfg.storage)
        .await
        .context("opening the store")?;
    let mut rotation = Rotation {
        rewrapped: 0,
        current: 0,
    };
    for mut patient in stores.records.all_patients().await? {
        let Some(sealed) = &patient.phi else { continue };
        if sealed.key_id == vault.current_key_id() {
            rotation.current += 1;
            continue;
        }
        let rewrapped = vault
            .rewrap(sealed)
            .await
            .with_context(|| format!("re-wrapping patient {}", patient.id))?;
        patient.phi = Some(rewrapped);
        stores.records.put_patient(&patient).await?;
        rotation.rewrapped += 1;
    }
    Ok(rotation)
}
