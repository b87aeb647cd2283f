//! `cardiowatch mongo-users`: creates or updates the record store's users and roles
//! (`cw_storage::mongo::accounts`), one user per service and the administrator, each
//! with the password in its file. Compose's and Kubernetes' `mongodb-users` run it at
//! every start, signed in as the server's root user (docs/operations.md, "MongoDB users
//! and TLS").

use crate::store_args::StoreArgs;
use anyhow::{Context, bail};
use cw_core::secret::SecretString;
use cw_storage::mongo::accounts::{self, ACCOUNTS, Account};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct MongoUsersArgs {
    /// The api's config file, whose `[storage.mongo]` reaches the server; sign in as its root user
    /// with CW_STORAGE__MONGO__USERNAME, CW_STORAGE__MONGO__PASSWORD_FILE and
    /// CW_STORAGE__MONGO__AUTH_SOURCE=admin.
    #[arg(long, env = "CW_CONFIG")]
    pub config: PathBuf,
    /// Directory of the password files, `mongo_password_{ingest,alert_engine,notifier,api,admin}`
    /// (compose's and Kubernetes' /run/secrets). Every one must exist.
    #[arg(long)]
    pub passwords: PathBuf,
}

pub async fn run(args: MongoUsersArgs) -> anyhow::Result<()> {
    let cfg: cw_api::ApiConfig = StoreArgs::file(&args.config).load()?;
    let passwords = ACCOUNTS
        .iter()
        .map(|account| Ok((*account, password(&args.passwords, account)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let done = accounts::provision(&cfg.storage.mongo, &passwords)
        .await
        .context("provisioning the record store's users")?;
    for what in &done.created {
        println!("created {what}");
    }
    for what in &done.updated {
        println!("updated {what}");
    }
    Ok(())
}

fn password(dir: &Path, account: &Account) -> anyhow::Result<SecretString> {
    let path = dir.join(format!("mongo_password_{}", account.key));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading the password of {} from {}",
            account.user,
            path.display()
        )
    })?;
    let trimmed = text.trim();
    if trimmed.len() < 16 {
        bail!(
            "{}: the password of {} is shorter than 16 characters (deploy/make-secrets.sh writes 64)",
            path.display(),
            account.user
        );
    }
    Ok(trimmed.to_owned().into())
}
