//! `cardiowatch user set-login --user dr-1 --role doctor` (password from `CW_PASSWORD`):
//! creates or replaces a local login in the configured store — how the first admin gets
//! in, after which admins use `PUT /v1/users/{id}/login`.

use anyhow::Context;
use cw_core::{Role, UserId};
use cw_storage::credentials::Login;
use std::path::Path;

pub async fn set_login(
    config: &Path,
    user: &str,
    role: Role,
    password: String,
) -> anyhow::Result<()> {
    let user = UserId::parse(user).context("--user")?;
    anyhow::ensure!(
        (12..=1024).contains(&password.chars().count()),
        "the password is 12 to 1024 characters"
    );
    let cfg: cw_api::ApiConfig =
        cw_config::load(Some(config)).with_context(|| format!("loading {}", config.display()))?;
    let stores = cw_storage::open(&cfg.storage)
        .await
        .context("opening the store")?;
    let password_hash = cw_api::password::hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    stores
        .records
        .put_login(&Login {
            user: user.clone(),
            role,
            password_hash,
            failures: 0,
            locked_until_ns: 0,
        })
        .await?;
    println!("login set for {user}");
    Ok(())
}
