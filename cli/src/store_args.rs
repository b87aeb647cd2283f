//! The one rule by which every store-opening subcommand (`device`, `user`, `audit`,
//! `keys`, `fatigue`, `backtest`, `store`) finds its stores (docs/config.md, "The CLI's stores"):
//! `--config FILE` (or `CW_CONFIG`) reads that service config file; without it, the
//! embedded store of `--data-dir DIR` (or `CW_DATA_DIR`, default `.cw-data`, what
//! `cardiowatch demo` uses) with the demo's local audit and PHI keys. `CW_*` variables
//! apply on top either way, as in the services.

use anyhow::Context;
use cw_storage::{Backend, StorageConfig};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// A service config file (TOML) whose `[storage]` (and `[phi]`, `[snooze]` where
    /// used) sections name the stores; CW_* variables apply on top. Wins over
    /// --data-dir.
    #[arg(long, env = "CW_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Without --config: the embedded store in this directory (DIR/cardiowatch.sqlite,
    /// its key DIR/store.key and its audit key), the one `cardiowatch demo --data-dir
    /// DIR` runs on.
    #[arg(long, env = "CW_DATA_DIR", default_value = ".cw-data", global = true)]
    pub data_dir: PathBuf,
}

/// A config type with a `[storage]` section that a data dir can fill in.
pub trait FromDataDir: DeserializeOwned {
    /// Points what the file or environment left at its default at `dir`'s files.
    fn use_data_dir(&mut self, dir: &Path) -> anyhow::Result<()>;
}

impl StoreArgs {
    /// `--config FILE`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            config: Some(path.into()),
            data_dir: PathBuf::from(".cw-data"),
        }
    }

    /// The config by the rule above.
    pub fn load<T: FromDataDir>(&self) -> anyhow::Result<T> {
        let what = self.config.as_ref().map_or_else(
            || "the environment (CW_*)".to_string(),
            |p| p.display().to_string(),
        );
        let mut cfg: T =
            cw_config::load(self.config.as_deref()).with_context(|| format!("loading {what}"))?;
        if self.config.is_none() {
            cfg.use_data_dir(&self.data_dir)?;
        }
        Ok(cfg)
    }

    /// The stores by the rule above.
    pub async fn open(&self) -> anyhow::Result<cw_storage::Stores> {
        let cfg: WithStorage = self.load()?;
        cw_storage::open(&cfg.storage)
            .await
            .context("opening the configured storage")
    }
}

/// Creates the data dir 0700, and makes an existing one 0700: it holds local keys.
pub fn private_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

/// The embedded store of a data dir, as `cardiowatch demo` opens it: encrypted with the
/// key `DIR/store.key`, made (0600) on first use like the demo's other local keys. A
/// production store keeps its key off the store's disk (docs/operations.md, "Encryption
/// at rest").
pub fn data_dir_storage(dir: &Path) -> anyhow::Result<StorageConfig> {
    private_data_dir(dir)?;
    let key_file = dir.join("store.key");
    crate::secrets::local_secret(&key_file)?;
    Ok(StorageConfig {
        backend: Backend::Embedded,
        path: dir.join("cardiowatch.sqlite"),
        key_file: Some(key_file),
        audit: crate::secrets::local_audit(dir)?,
        ..StorageConfig::default()
    })
}

/// The demo's PHI keys in a data dir.
pub fn data_dir_phi(dir: &Path) -> cw_phi::KeyConfig {
    cw_phi::KeyConfig {
        key_id: "demo-1".into(),
        master_key_file: Some(dir.join("phi-master.key")),
        lookup_key_file: Some(dir.join("phi-lookup.key")),
        ..Default::default()
    }
}

/// Points an embedded store the environment did not place (`CW_STORAGE__PATH`) at the
/// data dir's, with its local store and audit keys unless the environment gave them. A store placed
/// by the environment is left as given: nothing is created in the data dir for it.
fn storage_from_data_dir(storage: &mut StorageConfig, dir: &Path) -> anyhow::Result<()> {
    if storage.backend != Backend::Embedded || storage.path != StorageConfig::default().path {
        return Ok(());
    }
    let local = data_dir_storage(dir)?;
    storage.path = local.path;
    if storage.key_hex.is_none() && storage.key_file.is_none() {
        storage.key_file = local.key_file;
    }
    if storage.audit.key_hex.is_none() && storage.audit.key_file.is_none() {
        storage.audit = local.audit;
    }
    Ok(())
}

/// Only the `[storage]` section of any service config file.
#[derive(Deserialize, Default)]
pub struct WithStorage {
    #[serde(default)]
    pub storage: StorageConfig,
}

impl FromDataDir for WithStorage {
    fn use_data_dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        storage_from_data_dir(&mut self.storage, dir)
    }
}

impl FromDataDir for cw_api::ApiConfig {
    fn use_data_dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        storage_from_data_dir(&mut self.storage, dir)?;
        if self.phi.master_key_hex.is_none() && self.phi.master_key_file.is_none() {
            self.phi = data_dir_phi(dir);
        }
        Ok(())
    }
}

impl FromDataDir for cw_notifier::NotifierConfig {
    fn use_data_dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        storage_from_data_dir(&mut self.storage, dir)
    }
}
