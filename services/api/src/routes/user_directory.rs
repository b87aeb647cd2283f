//! The user directory: who can be paged, and how.
//!
//! * `PUT /v1/users/{id}` (admin): create or change a user's record — role, phone (E.164),
//!   email, notification preferences. Fields left out stay as they are; `"phone": null`
//!   removes the phone. `disabled` is never changed here (disable/enable do that). A new
//!   role goes to the user's password login too and ends the account's sessions.
//! * `GET /v1/users` (admin): every user record, with role, whether active, and which
//!   contact points are set (not their values).
//! * `GET /v1/users/{id}` (admin, or the user themselves): the record.
//! * `PUT /v1/users/me/notify` (any signed-in user): one's own preferences — channels per
//!   priority, quiet hours, a bounded snooze. High priority is always paged on every
//!   routed channel whatever the preferences say: the notifier enforces that.
//!
//! Each change is an audit event (`user_update` / `notify_preferences`: the caller, the
//! target `/v1/users/{id}`, the names of the changed fields) written before the change;
//! phone and email values never reach the audit chain or a log.

use crate::access::Caller;
use crate::access_rule::Access;
use crate::accounts;
use crate::app::AppState;
use crate::audit_trail::role_name;
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::routes::users::parse_user;
use crate::user_records::{self, Actor, ChangeError, NOTIFY_ACTION, UPDATE_ACTION, UserChange};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use cw_core::delivery::{NotifyPreferences, QuietHours};
use cw_core::patient::Disabled;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{Channel, Role, User, UserId};
use cw_storage::StoreError;
use serde::{Deserialize, Deserializer, Serialize};

/// The body of `PUT /v1/users/{id}`. No `Debug`: it holds contact points.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    #[serde(default)]
    pub role: Option<Role>,
    /// E.164 (`+` and 8–15 digits); `null` removes it, absent keeps it.
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    /// `null` removes it, absent keeps it.
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// Replaces the preferences as a whole when present (`{}`: back to the service's
    /// routing); absent or `null` keeps them.
    #[serde(default)]
    pub notify: Option<NotifyInput>,
}

/// A field that is present, even as `null` (absent stays `None` by `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `NotifyPreferences` as a request spells it: unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyInput {
    #[serde(default)]
    pub high: Option<Vec<Channel>>,
    #[serde(default)]
    pub medium: Option<Vec<Channel>>,
    #[serde(default)]
    pub low: Option<Vec<Channel>>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursInput>,
    #[serde(default)]
    pub snooze_until_ns: Option<Nanos>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursInput {
    pub start_min_utc: u16,
    pub end_min_utc: u16,
}

impl From<NotifyInput> for NotifyPreferences {
    fn from(input: NotifyInput) -> Self {
        Self {
            high: input.high,
            medium: input.medium,
            low: input.low,
            quiet_hours: input.quiet_hours.map(|q| QuietHours {
                start_min_utc: q.start_min_utc,
                end_min_utc: q.end_min_utc,
            }),
            snooze_until_ns: input.snooze_until_ns,
        }
    }
}

/// A user's record as the api answers it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub user: String,
    pub role: Role,
    pub active: bool,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub notify: NotifyPreferences,
    pub disabled: Option<Disabled>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            user: user.id.to_string(),
            role: user.role,
            active: !user.is_disabled(),
            phone: user.phone,
            email: user.email,
            notify: user.notify,
            disabled: user.disabled,
        }
    }
}

/// One line of `GET /v1/users`: which contact points are set, not their values.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub user: String,
    pub role: Role,
    pub active: bool,
    /// Whether the user can sign in with a password (`PUT /v1/users/{id}/login`).
    pub has_login: bool,
    /// Whether a user record exists: without one the notifier pages nobody for this user
    /// (a login alone has no phone or email).
    pub has_record: bool,
    pub phone_set: bool,
    pub email_set: bool,
    /// Whether the user set preferences of their own (else the service's routing).
    pub notify_set: bool,
}

impl From<User> for UserSummary {
    fn from(user: User) -> Self {
        Self {
            active: !user.is_disabled(),
            has_login: false,
            has_record: true,
            phone_set: user.phone.is_some(),
            email_set: user.email.is_some(),
            notify_set: user.notify != NotifyPreferences::default(),
            user: user.id.to_string(),
            role: user.role,
        }
    }
}

#[utoipa::path(put, path = "/v1/users/{id}", summary = "Create or change a user's role, phone (E.164), email and notification preferences; fields left out stay, null removes phone/email (admin)",
    extensions(("x-access" = json!(Access::Admin))),
    params(("id" = String, Path, description = "user id")),
    request_body = UserInput,
    responses((status = 200, body = UserView)))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    body: Result<Json<UserInput>, JsonRejection>,
) -> Result<Json<UserView>, ApiError> {
    let target = parse_user(&id)?;
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let change = UserChange {
        role: input.role,
        phone: input.phone,
        email: input.email,
        notify: input.notify.map(Into::into),
    };
    let actor = Actor {
        user: Some(&caller.user),
        default_role: None,
    };
    apply(
        &state,
        &caller,
        request_id,
        UPDATE_ACTION,
        &target,
        change,
        actor,
    )
    .await
}

#[utoipa::path(put, path = "/v1/users/me/notify", summary = "Set one's own notification preferences: channels per priority, quiet hours, snooze (high priority always goes to every routed channel)",
    extensions(("x-access" = json!(Access::AnyRole))),
    request_body = NotifyInput,
    responses((status = 200, body = UserView)))]
pub async fn put_own_notify(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    body: Result<Json<NotifyInput>, JsonRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Json(input) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let change = UserChange {
        notify: Some(input.into()),
        ..UserChange::default()
    };
    // A caller with no record yet (a login or token only) gets one with their role.
    let actor = Actor {
        user: Some(&caller.user),
        default_role: Some(caller.role),
    };
    let target = caller.user.clone();
    apply(
        &state,
        &caller,
        request_id,
        NOTIFY_ACTION,
        &target,
        change,
        actor,
    )
    .await
}

#[utoipa::path(get, path = "/v1/users", summary = "User directory: role, active, which contact points are set (admin)",
    extensions(("x-access" = json!(Access::Admin))),
    responses((status = 200, body = Vec<UserSummary>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let mut logins: std::collections::BTreeMap<UserId, Role> =
        state.records.login_roles().await?.into_iter().collect();
    let mut out: Vec<UserSummary> = Vec::new();
    for user in state.records.users().await? {
        let has_login = logins.remove(&user.id).is_some();
        out.push(UserSummary {
            has_login,
            ..user.into()
        });
    }
    // Logins with no record yet: active, nothing to page them on.
    out.extend(logins.into_iter().map(|(id, role)| UserSummary {
        user: id.to_string(),
        role,
        active: true,
        has_login: true,
        has_record: false,
        phone_set: false,
        email_set: false,
        notify_set: false,
    }));
    out.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(Json(out))
}

#[utoipa::path(get, path = "/v1/users/{id}", summary = "A user's record: role, phone, email, notification preferences (admin, or the user)",
    extensions(("x-access" = json!(Access::AdminOrSelf))),
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let target = parse_user(&id)?;
    match accounts::account(state.records.as_ref(), &target).await {
        Ok(user) => Ok(Json(user.into())),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("user")),
        Err(e) => Err(e.into()),
    }
}

/// Plan, audit (no audit, no change), save.
async fn apply(
    state: &AppState,
    caller: &Caller,
    request_id: RequestId,
    action: &str,
    target: &UserId,
    change: UserChange,
    actor: Actor<'_>,
) -> Result<Json<UserView>, ApiError> {
    let max_snooze_ns =
        state.snooze.max_medium_s.max(state.snooze.max_low_s) as Nanos * NANOS_PER_SEC;
    let records = state.records.as_ref();
    let planned = user_records::plan(records, target, change, actor, now_ns(), max_snooze_ns)
        .await
        .map_err(|e| match e {
            ChangeError::Invalid(e) => ApiError::Invalid {
                field: Some(e.field),
                message: e.message,
            },
            ChangeError::OwnRole => {
                ApiError::Conflict("an admin cannot change their own role; another admin can")
            }
            ChangeError::Store(e) => e.into(),
        })?;
    let reason = planned.audit_reason();
    let event = accounts::audit_entry(
        caller.user.as_str(),
        role_name(caller.role),
        action,
        target,
        &reason,
        request_id.0,
    );
    records
        .append_audit(&event)
        .await
        .map_err(|_| ApiError::AuditUnavailable)?;
    let user = user_records::save(records, &planned).await?;
    // Field names only: contact points never go to the log.
    tracing::info!(user = %target, by = %caller.user, action, changed = %reason, "user record changed");
    Ok(Json(user.into()))
}
