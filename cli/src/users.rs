//! `cardiowatch user set-login --user dr-1 --role doctor` (password from `CW_PASSWORD`):
//! creates or replaces a local login in the configured store — how the first admin gets
//! in, after which admins use `PUT /v1/users/{id}/login`. `cardiowatch user disable|enable
//! <id>` cuts an account off or lets it back in (the api's `POST /v1/users/{id}/disable`).
//! `cardiowatch user set-contact <id> --phone … --email …` sets the phone and email the
//! notifier pages (the api's `PUT /v1/users/{id}`).

use anyhow::Context;
use cw_core::{Role, UserId};
use cw_storage::credentials::Login;

pub async fn set_login(
    store: &crate::store_args::StoreArgs,
    user: &str,
    role: Role,
    password: String,
) -> anyhow::Result<()> {
    let user = UserId::parse(user).context("--user")?;
    let (_, stores) = open_store(store).await?;
    put_login(stores.records.as_ref(), &user, role, password).await?;
    println!("login set for {user}");
    Ok(())
}

/// Creates or replaces `user`'s password login in `records` (the CLI's `set-login`, the
/// demo's console login).
pub async fn put_login(
    records: &dyn cw_storage::RecordStore,
    user: &UserId,
    role: Role,
    password: String,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        (12..=1024).contains(&password.chars().count()),
        "the password is 12 to 1024 characters"
    );
    let password_hash = cw_api::password::hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    // As `PUT /v1/users/{id}/login` does: a role change ends the account's sessions.
    cw_api::sessions::change_role(records, user, role).await?;
    records
        .put_login(&Login {
            user: user.clone(),
            role,
            password_hash,
            failures: 0,
            locked_until_ns: 0,
        })
        .await?;
    Ok(())
}

/// `cardiowatch user disable|enable <id>`: the api's own change (`cw_api::accounts`) on
/// the configured store, audited with the actor `cli:<login name>`. It works with the api
/// down or every admin disabled — the way back from a lockout.
pub async fn set_disabled(
    store: &crate::store_args::StoreArgs,
    user: &str,
    disable: bool,
    reason: Option<String>,
) -> anyhow::Result<()> {
    use cw_api::accounts;
    let user = UserId::parse(user).context("the user id")?;
    let reason = reason.unwrap_or_default();
    let reason = reason.trim();
    anyhow::ensure!(
        !disable || (3..=500).contains(&reason.chars().count()),
        "--reason (3 to 500 characters) is required to disable an account"
    );
    let (_, stores) = open_store(store).await?;
    let records = stores.records.as_ref();
    let account = match accounts::account(records, &user).await {
        Err(cw_storage::StoreError::NotFound) => {
            anyhow::bail!("{user} has neither a user record nor a login")
        }
        other => other?,
    };
    let actor = cli_actor();
    let action = if disable {
        accounts::DISABLE_ACTION
    } else {
        accounts::ENABLE_ACTION
    };
    records
        .append_audit(&accounts::audit_entry(
            &actor,
            "cli",
            action,
            &user,
            reason,
            String::new(),
        ))
        .await
        .context("writing the audit event (nothing was changed)")?;
    let account = if disable {
        accounts::disable(records, account, &actor, cw_core::time::now_ns()).await?
    } else {
        accounts::enable(records, account).await?
    };
    let state = if account.is_disabled() {
        "disabled"
    } else {
        "active"
    };
    println!("{user}: {state}");
    if disable {
        let orphaned = accounts::patients_without_active_doctor(records, &user).await?;
        if !orphaned.is_empty() {
            println!(
                "warning: {} patient(s) now have no active doctor and page nobody until one is assigned: {}",
                orphaned.len(),
                orphaned.join(", ")
            );
        }
    }
    Ok(())
}

/// `cardiowatch user set-contact <id> --phone … --email … [--role …]`: the api's
/// `PUT /v1/users/{id}` (`cw_api::user_records`, same validation) on the configured
/// store, audited as `user_update` with the actor `cli:<login name>` and the changed
/// field names. Options left out keep what is stored.
pub async fn set_contact(
    store: &crate::store_args::StoreArgs,
    user: &str,
    role: Option<Role>,
    phone: Option<String>,
    email: Option<String>,
) -> anyhow::Result<()> {
    use cw_api::user_records::{self, Actor, ChangeError, UPDATE_ACTION, UserChange};
    let user = UserId::parse(user).context("the user id")?;
    let (cfg, stores) = open_store(store).await?;
    let records = stores.records.as_ref();
    let change = UserChange {
        role,
        phone: phone.map(Some),
        email: email.map(Some),
        notify: None,
    };
    let max_snooze_s = cfg.snooze.max_medium_s.max(cfg.snooze.max_low_s);
    let actor = Actor {
        user: None,
        default_role: None,
    };
    let planned = match user_records::plan(
        records,
        &user,
        change,
        actor,
        cw_core::time::now_ns(),
        max_snooze_s as i64 * cw_core::time::NANOS_PER_SEC,
    )
    .await
    {
        Ok(planned) => planned,
        Err(ChangeError::Invalid(e)) => {
            let flag = match e.field.as_str() {
                "phone" | "email" | "role" => format!("--{}", e.field),
                other => other.to_owned(),
            };
            anyhow::bail!("{flag}: {}", e.message)
        }
        Err(e) => return Err(e.into()),
    };
    let actor = cli_actor();
    records
        .append_audit(&cw_api::accounts::audit_entry(
            &actor,
            "cli",
            UPDATE_ACTION,
            &user,
            &planned.audit_reason(),
            String::new(),
        ))
        .await
        .context("writing the audit event (nothing was changed)")?;
    let saved = user_records::save(records, &planned).await?;
    let set = |present: bool| if present { "set" } else { "not set" };
    println!(
        "{user}: {} — phone {}, email {} ({})",
        format!("{:?}", saved.role).to_lowercase(),
        set(saved.phone.is_some()),
        set(saved.email.is_some()),
        planned.audit_reason()
    );
    Ok(())
}

/// The api's config (its `[storage]` and `[snooze]`) and the stores it names.
async fn open_store(
    store: &crate::store_args::StoreArgs,
) -> anyhow::Result<(cw_api::ApiConfig, cw_storage::Stores)> {
    let cfg: cw_api::ApiConfig = store.load()?;
    let stores = cw_storage::open(&cfg.storage)
        .await
        .context("opening the store")?;
    Ok((cfg, stores))
}

/// Who the audit chain names for a change made on the server: `cli:<login name>`.
fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}
