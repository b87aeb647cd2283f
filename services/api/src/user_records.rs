//! Creating and changing a user's directory record (role, phone, email, notification
//! preferences): the one change behind `PUT /v1/users/{id}`, `PUT /v1/users/me/notify` and
//! `cardiowatch user set-contact`. The notifier pages the phone and email stored here.
//!
//! A change is planned first (read, merge, validate with `cw_core::contact`), audited by
//! the caller with the names of the fields it changes — never their values — and only
//! then saved. `disabled` is never changed here: only disable/enable do that.
//!
//! A role change of a user with a password login changes the login's role in the same
//! change (`login.role` in the audit reason), so the record and the login never disagree
//! (`docs/api.md`, user directory), and ends the account's sessions.

use cw_core::contact::{self, ContactError};
use cw_core::delivery::NotifyPreferences;
use cw_core::time::Nanos;
use cw_core::{Role, User, UserId};
use cw_storage::credentials::Login;
use cw_storage::{ApiRecords, StoreError};

/// The audit action of a directory change by an admin (or the CLI).
pub const UPDATE_ACTION: &str = "user_update";
/// The audit action of a user changing their own notification preferences.
pub const NOTIFY_ACTION: &str = "notify_preferences";

/// A change to a user's record: each field left out (`None`) stays as it is; for phone
/// and email `Some(None)` removes it.
#[derive(Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub notify: Option<NotifyPreferences>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// A field's value breaks a rule (422 naming the field).
    #[error(transparent)]
    Invalid(#[from] ContactError),
    /// An admin may not change their own role (they could demote the last admin).
    #[error("an admin cannot change their own role; another admin can")]
    OwnRole,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A checked change, ready to be audited and saved.
pub struct Planned {
    pub user: User,
    /// Whether no record existed (created from the login, or from scratch).
    pub created: bool,
    /// The names of the fields that change (`role`, `login.role`, `phone`,
    /// `notify.quiet_hours`…).
    pub changed: Vec<&'static str>,
    /// Whether the user's password login gets the new role too (it had another).
    pub login_role_changes: bool,
}

impl Planned {
    /// The audit record's reason: what changed, by field name only (no phone or email
    /// value ever reaches the audit chain or a log).
    pub fn audit_reason(&self) -> String {
        let fields = if self.changed.is_empty() {
            "none".to_owned()
        } else {
            self.changed.join(", ")
        };
        if self.created {
            format!("created; fields: {fields}")
        } else {
            format!("fields: {fields}")
        }
    }
}

/// Who asks: their id (an admin may not change their own role), and the role to give a
/// new record when neither the change nor a login names one (the caller's own, for a
/// user setting their own preferences).
pub struct Actor<'a> {
    pub user: Option<&'a UserId>,
    pub default_role: Option<Role>,
}

/// Reads `id`'s record (or starts one), applies `change` and checks the result. Bounds:
/// a user snooze ends within `max_snooze_ns` of `now`.
pub async fn plan(
    records: &dyn ApiRecords,
    id: &UserId,
    change: UserChange,
    actor: Actor<'_>,
    now: Nanos,
    max_snooze_ns: Nanos,
) -> Result<Planned, ChangeError> {
    let login_role = match records.login(id).await {
        Ok(login) => Some(login.role),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let (before, created) = match records.user(id).await {
        Ok(user) => (Some(user), false),
        Err(StoreError::NotFound) => (None, true),
        Err(e) => return Err(e.into()),
    };
    let role = change
        .role
        .or(before.as_ref().map(|u| u.role))
        .or(login_role)
        .or(actor.default_role)
        .ok_or_else(|| ContactError {
            field: "role".into(),
            message: "a new user needs a role: doctor, admin or ops".into(),
        })?;
    // The role the account acts with today: its record's, else its login's.
    let old_role = before.as_ref().map(|u| u.role).or(login_role);
    if let (Some(old), Some(me)) = (old_role, actor.user)
        && me == id
        && old != role
    {
        return Err(ChangeError::OwnRole);
    }
    let mut user = before.clone().unwrap_or(User {
        id: id.clone(),
        role,
        phone: None,
        email: None,
        notify: NotifyPreferences::default(),
        disabled: None,
        sessions: Default::default(),
    });
    user.role = role;
    if let Some(phone) = change.phone {
        if let Some(p) = &phone {
            contact::check_phone(p)?;
        }
        user.phone = phone;
    }
    if let Some(email) = change.email {
        if let Some(e) = &email {
            contact::check_email(e)?;
        }
        user.email = email;
    }
    if let Some(notify) = change.notify {
        user.notify = notify;
    }
    contact::check_notify(
        &user.notify,
        user.phone.is_some(),
        user.email.is_some(),
        now,
        max_snooze_ns,
    )?;
    let login_role_changes = login_role.is_some_and(|login| login != role);
    let mut changed = changed_fields(before.as_ref(), &user);
    if login_role_changes {
        changed.push("login.role");
    }
    Ok(Planned {
        user,
        created,
        changed,
        login_role_changes,
    })
}

/// Saves a planned change (nothing to write when nothing changes). The record is read
/// once more just before the write and its `disabled` and `sessions` kept, so a disable
/// or logout that landed since the plan is not undone by this write. A new role goes to
/// the record first, then to the login: the record's role is the one sign-in and every
/// request use (`authn`), so from the first write on no token acts in the old role.
pub async fn save(records: &dyn ApiRecords, planned: &Planned) -> Result<User, StoreError> {
    let mut user = planned.user.clone();
    if planned.changed.is_empty() && !planned.created {
        return Ok(user);
    }
    match records.user(&user.id).await {
        Ok(now) => {
            user.disabled = now.disabled;
            user.sessions = now.sessions;
        }
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e),
    }
    // A role change ends the account's sessions and refresh tokens, as a disable does
    // (their tokens carry the old role).
    let role_changes =
        (!planned.created && planned.changed.contains(&"role")) || planned.login_role_changes;
    if role_changes {
        user.sessions.end_all();
    }
    records.put_user(&user).await?;
    if role_changes {
        records.revoke_refresh_of_user(&user.id).await?;
    }
    if planned.login_role_changes {
        match records.login(&user.id).await {
            Ok(login) => {
                records
                    .put_login(&Login {
                        role: user.role,
                        ..login
                    })
                    .await?
            }
            // Removed since the plan: no login left to disagree.
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(user)
}

fn changed_fields(before: Option<&User>, after: &User) -> Vec<&'static str> {
    let empty = NotifyPreferences::default();
    let old = before.map_or(&empty, |u| &u.notify);
    let new = &after.notify;
    [
        ("role", before.is_none_or(|u| u.role != after.role)),
        (
            "phone",
            before.map_or(after.phone.is_some(), |u| u.phone != after.phone),
        ),
        (
            "email",
            before.map_or(after.email.is_some(), |u| u.email != after.email),
        ),
        ("notify.high", old.high != new.high),
        ("notify.medium", old.medium != new.medium),
        ("notify.low", old.low != new.low),
        ("notify.quiet_hours", old.quiet_hours != new.quiet_hours),
        (
            "notify.snooze_until_ns",
            old.snooze_until_ns != new.snooze_until_ns,
        ),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect()
}
