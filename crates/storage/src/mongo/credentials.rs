//! Logins and refresh tokens on MongoDB. Single use of a refresh token is one
//! `findOneAndUpdate` filtered on `used: false`, so two racing uses cannot both win;
//! a login attempt is counted the same way, before its password is checked.

use super::docs::{expire_at, from_doc, to_doc};
use super::indexes::REFRESH_TOKENS;
use super::{MongoRecords, map_err};
use crate::credentials::{CredentialStore, Login, LoginAttempt, RefreshToken, RefreshUse};
use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{Role, UserId};
use mongodb::bson::doc;

const LOGINS: &str = "logins";

#[async_trait]
impl CredentialStore for MongoRecords {
    async fn put_login(&self, login: &Login) -> Result<()> {
        let login = Login {
            failures: 0,
            locked_until_ns: 0,
            ..login.clone()
        };
        self.coll(LOGINS)
            .replace_one(
                doc! { "_id": login.user.as_str() },
                to_doc(login.user.as_str(), &login)?,
            )
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn login(&self, user: &UserId) -> Result<Login> {
        let found = self
            .coll(LOGINS)
            .find_one(doc! { "_id": user.as_str() })
            .await
            .map_err(map_err)?;
        from_doc(found.ok_or(StoreError::NotFound)?)
    }

    async fn login_roles(&self) -> Result<Vec<(UserId, Role)>> {
        let logins: Vec<Login> = self.all_by_id(LOGINS).await?;
        Ok(logins.into_iter().map(|l| (l.user, l.role)).collect())
    }

    async fn begin_login_attempt(
        &self,
        user: &UserId,
        now: Nanos,
        max_failures: u32,
        lock_ns: Nanos,
    ) -> Result<LoginAttempt> {
        // One `$inc` filtered on "not locked" counts the attempt; the count it returns
        // decides: up to `max_failures` are admitted, beyond are refused. Whoever sees
        // the threshold sets the lock (idempotent, so a crash between the two writes
        // is healed by the next attempt).
        let counted = self
            .coll(LOGINS)
            .find_one_and_update(
                doc! {
                    "_id": user.as_str(),
                    "$or": [
                        { "locked_until_ns": { "$lte": now } },
                        { "locked_until_ns": { "$exists": false } },
                    ],
                },
                doc! { "$inc": { "failures": 1 } },
            )
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(map_err)?;
        let Some(counted) = counted else {
            // Either locked or unknown.
            self.login(user).await?;
            return Ok(LoginAttempt::Locked);
        };
        let mut login: Login = from_doc(counted)?;
        if login.failures < max_failures {
            return Ok(LoginAttempt::Admitted(login));
        }
        let admitted = login.failures == max_failures;
        login.failures = 0;
        login.locked_until_ns = now + lock_ns;
        self.coll(LOGINS)
            .update_one(
                doc! { "_id": user.as_str() },
                doc! { "$set": { "failures": 0, "locked_until_ns": login.locked_until_ns } },
            )
            .await
            .map_err(map_err)?;
        Ok(if admitted {
            LoginAttempt::Admitted(login)
        } else {
            LoginAttempt::Locked
        })
    }

    async fn clear_login_failures(&self, user: &UserId) -> Result<()> {
        self.coll(LOGINS)
            .update_one(
                doc! { "_id": user.as_str() },
                doc! { "$set": { "failures": 0, "locked_until_ns": 0 } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn insert_refresh(&self, token: &RefreshToken) -> Result<()> {
        // Worthless once expired (the api refuses it): MongoDB's TTL monitor deletes it.
        let mut doc = to_doc(&token.token_sha256, token)?;
        expire_at(&mut doc, token.expires_ns);
        self.coll(REFRESH_TOKENS)
            .insert_one(doc)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn use_refresh(&self, token_sha256: &str) -> Result<RefreshUse> {
        let taken = self
            .coll(REFRESH_TOKENS)
            .find_one_and_update(
                doc! { "_id": token_sha256, "used": false, "revoked": false },
                doc! { "$set": { "used": true } },
            )
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(map_err)?;
        if let Some(doc) = taken {
            return Ok(RefreshUse::Fresh(from_doc(doc)?));
        }
        let existing = self
            .coll(REFRESH_TOKENS)
            .find_one(doc! { "_id": token_sha256 })
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        Ok(RefreshUse::Reused(from_doc(existing)?))
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<()> {
        self.coll(REFRESH_TOKENS)
            .update_many(
                doc! { "family": family },
                doc! { "$set": { "revoked": true } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn revoke_refresh_of_user(&self, user: &UserId) -> Result<()> {
        // No index on `user`: this runs once per account disable.
        self.coll(REFRESH_TOKENS)
            .update_many(
                doc! { "user": user.as_str() },
                doc! { "$set": { "revoked": true } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
