//! Logins and refresh tokens in the embedded file.

use super::records::SqliteRecords;
use super::{from_json, map_err, to_json};
use crate::credentials::{CredentialStore, Login, LoginAttempt, RefreshToken, RefreshUse};
use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{Role, UserId};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// Created by `schema::prepare` with the other tables.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS logins (user TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_sha256 TEXT PRIMARY KEY,
    family       TEXT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refresh_by_family ON refresh_tokens (family);
";

fn read_login(conn: &rusqlite::Connection, user: &str) -> Result<Login> {
    let doc: String = conn
        .query_row("SELECT doc FROM logins WHERE user = ?1", [user], |r| {
            r.get(0)
        })
        .map_err(map_err)?;
    from_json(&doc)
}

fn write_login(conn: &rusqlite::Connection, login: &Login) -> Result<()> {
    conn.execute(
        "INSERT INTO logins (user, doc) VALUES (?1, ?2)
         ON CONFLICT (user) DO UPDATE SET doc = excluded.doc",
        params![login.user.as_str(), to_json(login)?],
    )
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl CredentialStore for SqliteRecords {
    async fn put_login(&self, login: &Login) -> Result<()> {
        let login = Login {
            failures: 0,
            locked_until_ns: 0,
            ..login.clone()
        };
        self.db.call(move |conn| write_login(conn, &login)).await
    }

    async fn login(&self, user: &UserId) -> Result<Login> {
        let user = user.clone();
        self.db
            .call(move |conn| read_login(conn, user.as_str()))
            .await
    }

    async fn login_roles(&self) -> Result<Vec<(UserId, Role)>> {
        self.db
            .call(|conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT doc FROM logins ORDER BY user")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.map(|row| {
                    let login: Login = from_json(&row.map_err(map_err)?)?;
                    Ok((login.user, login.role))
                })
                .collect()
            })
            .await
    }

    async fn begin_login_attempt(
        &self,
        user: &UserId,
        now: Nanos,
        max_failures: u32,
        lock_ns: Nanos,
    ) -> Result<LoginAttempt> {
        let user = user.clone();
        self.db
            .call(move |conn| {
                // IMMEDIATE: the read, the count and the lock are one write transaction.
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let mut login = read_login(&tx, user.as_str())?;
                if login.locked_until_ns > now {
                    return Ok(LoginAttempt::Locked);
                }
                login.failures += 1;
                if login.failures >= max_failures {
                    login.failures = 0;
                    login.locked_until_ns = now + lock_ns;
                }
                write_login(&tx, &login)?;
                tx.commit().map_err(map_err)?;
                Ok(LoginAttempt::Admitted(login))
            })
            .await
    }

    async fn clear_login_failures(&self, user: &UserId) -> Result<()> {
        let user = user.clone();
        self.db
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let mut login = read_login(&tx, user.as_str())?;
                if login.failures != 0 || login.locked_until_ns != 0 {
                    login.failures = 0;
                    login.locked_until_ns = 0;
                    write_login(&tx, &login)?;
                }
                tx.commit().map_err(map_err)
            })
            .await
    }

    async fn insert_refresh(&self, token: &RefreshToken) -> Result<()> {
        let token = token.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO refresh_tokens (token_sha256, family, doc) VALUES (?1, ?2, ?3)",
                    params![token.token_sha256, token.family, to_json(&token)?],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn use_refresh(&self, token_sha256: &str) -> Result<RefreshUse> {
        let hash = token_sha256.to_owned();
        self.db
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let doc: Option<String> = tx
                    .query_row(
                        "SELECT doc FROM refresh_tokens WHERE token_sha256 = ?1",
                        [&hash],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(map_err)?;
                let mut token: RefreshToken = from_json(&doc.ok_or(StoreError::NotFound)?)?;
                if token.used || token.revoked {
                    return Ok(RefreshUse::Reused(token));
                }
                token.used = true;
                tx.execute(
                    "UPDATE refresh_tokens SET doc = ?2 WHERE token_sha256 = ?1",
                    params![hash, to_json(&token)?],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(RefreshUse::Fresh(token))
            })
            .await
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<()> {
        let family = family.to_owned();
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE refresh_tokens SET doc = json_set(doc, '$.revoked', json('true'))
                     WHERE family = ?1",
                    [family],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn revoke_refresh_of_user(&self, user: &UserId) -> Result<()> {
        let user = user.clone();
        self.db
            .call(move |conn| {
                // No column for the user: this runs once per account disable.
                conn.execute(
                    "UPDATE refresh_tokens SET doc = json_set(doc, '$.revoked', json('true'))
                     WHERE json_extract(doc, '$.user') = ?1",
                    [user.as_str()],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }
}
