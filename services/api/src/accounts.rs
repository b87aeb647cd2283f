//! Disabling and enabling accounts: the one change behind `POST /v1/users/{id}/disable`,
//! `…/enable` and `cardiowatch user disable|enable`. The state is `User.disabled`, which
//! `authn::require_active` reads on every request, login, refresh and live re-check.

use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::patient::Disabled;
use cw_core::time::{Nanos, now_ns};
use cw_core::{User, UserId};
use cw_storage::{ApiRecords, StoreError};

/// The audit actions of the two changes.
pub const DISABLE_ACTION: &str = "account_disable";
pub const ENABLE_ACTION: &str = "account_enable";

/// The audit event of a change (written before it: no audit, no change). The target is
/// the resource `/v1/users/{id}`; the reason is the admin's words.
pub fn audit_entry(
    actor: &str,
    role: &str,
    action: &str,
    target: &UserId,
    reason: &str,
    request_id: String,
) -> AuditEntry {
    AuditEntry {
        at_ns: now_ns(),
        actor: actor.to_owned(),
        role: role.to_owned(),
        action: action.to_owned(),
        resource: format!("/v1/users/{target}"),
        patient: None,
        outcome: AuditOutcome::Allowed,
        status: 200,
        source: String::new(),
        request_id,
        reason: reason.to_owned(),
    }
}

/// The account `id` names: its user record, or — for a login made with `set-login` alone,
/// which has none — a record made from the login (written only when it is disabled).
/// `NotFound` when the id has neither.
pub async fn account(records: &dyn ApiRecords, id: &UserId) -> Result<User, StoreError> {
    match records.user(id).await {
        Err(StoreError::NotFound) => {}
        found => return found,
    }
    let login = records.login(id).await?;
    Ok(User {
        id: login.user,
        role: login.role,
        phone: None,
        email: None,
        notify: Default::default(),
        disabled: None,
        sessions: Default::default(),
    })
}

/// Disables `user` (kept as it is when already disabled: the first `since`/`by` stand)
/// and ends all its sessions: its refresh tokens are revoked and its access tokens void,
/// so enabling it later brings back no session opened before.
pub async fn disable(
    records: &dyn ApiRecords,
    mut user: User,
    by: &str,
    now: Nanos,
) -> Result<User, StoreError> {
    if !user.is_disabled() {
        user.disabled = Some(Disabled {
            since_ns: now,
            by: by.to_owned(),
        });
        // Its access tokens stay void after an enable too (issue 13 #12).
        user.sessions.end_all();
        // The refusal starts with this write; the revocation after it only tidies up.
        records.put_user(&user).await?;
    }
    records.revoke_refresh_of_user(&user.id).await?;
    Ok(user)
}

/// Enables `user` again (nothing to write when it is active).
pub async fn enable(records: &dyn ApiRecords, mut user: User) -> Result<User, StoreError> {
    if user.is_disabled() {
        user.disabled = None;
        records.put_user(&user).await?;
    }
    Ok(user)
}

/// The patients of `doctor` none of whose other doctors is an active account: after
/// `doctor` is disabled their alarms page nobody until another doctor is assigned.
pub async fn patients_without_active_doctor(
    records: &dyn ApiRecords,
    doctor: &UserId,
) -> Result<Vec<String>, StoreError> {
    let mut orphaned = Vec::new();
    for patient in records.patients_of(doctor).await? {
        let mut covered = false;
        for other in patient.doctors.iter().filter(|d| *d != doctor) {
            if account(records, other)
                .await
                .is_ok_and(|u| !u.is_disabled())
            {
                covered = true;
                break;
            }
        }
        if !covered {
            orphaned.push(patient.id.to_string());
        }
    }
    Ok(orphaned)
}
