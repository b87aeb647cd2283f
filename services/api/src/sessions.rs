//! Ending sessions (issue 13 #12): the writes behind logout and a role change. The state
//! is `User.sessions` (`cw_core::patient::Sessions`), which `authn` checks on every
//! request; an account with a login but no user record gets one made from the login.

use crate::accounts::account;
use cw_core::time::{Nanos, now_ns};
use cw_core::{Role, UserId};
use cw_storage::{ApiRecords, StoreError};

/// Ends session `sid` of `user` (logout), remembered until `until_ns` — when the last
/// access token it can have issued expires. Nothing to do for an unknown account.
pub async fn end_one(
    records: &dyn ApiRecords,
    user: &UserId,
    sid: &str,
    until_ns: Nanos,
) -> Result<(), StoreError> {
    let mut found = match account(records, user).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    found.sessions.end(sid, until_ns, now_ns());
    records.put_user(&found).await
}

/// Gives `user`'s record `role` and, when that changes its role, ends every session of
/// the account. A new account (no login, no record) has no session to end.
pub async fn change_role(
    records: &dyn ApiRecords,
    user: &UserId,
    role: Role,
) -> Result<(), StoreError> {
    let mut found = match account(records, user).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    if found.role == role {
        return Ok(());
    }
    found.role = role;
    found.sessions.end_all();
    records.put_user(&found).await
}
