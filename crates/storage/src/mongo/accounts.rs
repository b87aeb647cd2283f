//! The MongoDB users cardiowatch runs as — one per service, plus an administrator for
//! the CLI's maintenance — and the roles they hold (docs/operations.md, "MongoDB users
//! and TLS"). [`provision`] creates them or brings them up to date, so a deployment runs
//! it at every start (compose's and Kubernetes' `mongodb-users`) and a changed password
//! file or role takes effect then.

use super::map_err;
use crate::config::MongoConfig;
use crate::ports::{Result, StoreError};
use cw_core::secret::{ExposeSecret, SecretString};
use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};

/// Who signs in to the record store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    /// Names its password file, `mongo_password_{key}`.
    pub key: &'static str,
    /// The MongoDB user, defined in the record store's database.
    pub user: &'static str,
    pub role: &'static str,
}

/// The services' role: read and write documents, and create their indexes at start
/// (`indexes.rs`). No dropping of collections, indexes or the database, no user or role
/// administration.
pub const SERVICE_ROLE: &str = "cw_service";
const SERVICE_ACTIONS: [&str; 5] = ["find", "insert", "update", "remove", "createIndex"];

/// The administrator's role (the CLI on the server: audit archive, restores): the
/// services' actions and the collection-level administration a restore needs, still no
/// user or role administration and no dropping of the database.
pub const ADMIN_ROLE: &str = "cw_admin";
const ADMIN_ACTIONS: [&str; 11] = [
    "find",
    "insert",
    "update",
    "remove",
    "createIndex",
    "dropIndex",
    "dropCollection",
    "createCollection",
    "listCollections",
    "listIndexes",
    "collStats",
];

/// Every account, in the order `provision` writes them.
pub const ACCOUNTS: [Account; 5] = [
    Account {
        key: "ingest",
        user: "cw_ingest",
        role: SERVICE_ROLE,
    },
    Account {
        key: "alert_engine",
        user: "cw_alert_engine",
        role: SERVICE_ROLE,
    },
    Account {
        key: "notifier",
        user: "cw_notifier",
        role: SERVICE_ROLE,
    },
    Account {
        key: "api",
        user: "cw_api",
        role: SERVICE_ROLE,
    },
    Account {
        key: "admin",
        user: "cw_admin",
        role: ADMIN_ROLE,
    },
];

/// What `provision` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Provisioned {
    pub created: Vec<String>,
    pub updated: Vec<String>,
}

/// Signed in through `cfg` as a user who may administer users and roles on
/// `cfg.database` (the server's root, `MONGO_INITDB_ROOT_USERNAME`), creates or updates
/// both roles and every account of `passwords` (with that password and its role).
pub async fn provision(
    cfg: &MongoConfig,
    passwords: &[(Account, SecretString)],
) -> Result<Provisioned> {
    let client = super::client(cfg).await?;
    let db = client.database(&cfg.database);
    let outcome = provision_on(&db, passwords).await;
    client.shutdown().await;
    outcome
}

async fn provision_on(db: &Database, passwords: &[(Account, SecretString)]) -> Result<Provisioned> {
    let mut done = Provisioned::default();
    for (role, actions) in [
        (SERVICE_ROLE, &SERVICE_ACTIONS[..]),
        (ADMIN_ROLE, &ADMIN_ACTIONS[..]),
    ] {
        let privileges = vec![doc! {
            "resource": { "db": db.name(), "collection": "" },
            "actions": actions.to_vec(),
        }];
        let exists = listed(db, doc! { "rolesInfo": role }, "roles").await?;
        let verb = if exists { "updateRole" } else { "createRole" };
        db.run_command(doc! { verb: role, "privileges": privileges, "roles": [] })
            .await
            .map_err(|e| refused(verb, role, e))?;
        record(&mut done, exists, format!("role {role}"));
    }
    for (account, password) in passwords {
        let exists = listed(db, doc! { "usersInfo": account.user }, "users").await?;
        let verb = if exists { "updateUser" } else { "createUser" };
        db.run_command(doc! {
            verb: account.user,
            "pwd": password.expose_secret(),
            "roles": [ { "role": account.role, "db": db.name() } ],
            "mechanisms": ["SCRAM-SHA-256"],
        })
        .await
        .map_err(|e| refused(verb, account.user, e))?;
        record(&mut done, exists, format!("user {}", account.user));
    }
    Ok(done)
}

/// Whether `command`'s answer lists anything under `field`.
async fn listed(db: &Database, command: Document, field: &str) -> Result<bool> {
    let answer = db.run_command(command).await.map_err(map_err)?;
    Ok(matches!(answer.get(field), Some(Bson::Array(items)) if !items.is_empty()))
}

fn record(done: &mut Provisioned, existed: bool, what: String) {
    if existed {
        done.updated.push(what);
    } else {
        done.created.push(what);
    }
}

/// The server's refusal, naming the step (never the command: it carries a password).
fn refused(verb: &str, name: &str, err: mongodb::error::Error) -> StoreError {
    let reason = match err.kind.as_ref() {
        mongodb::error::ErrorKind::Command(e) => format!("{} ({})", e.message, e.code_name),
        _ => "the server could not be reached".to_owned(),
    };
    StoreError::Unavailable(format!(
        "mongodb {verb} {name}: {reason}; remedy: sign in as a user who may administer \
         users and roles on the database (the server's root user)"
    ))
}
