//! The user directory through the api, on real stores: the phone an admin sets with
//! `PUT /v1/users/{id}` is the number the notifier pages (Twilio sandbox); bad input is
//! 422 naming the field (400 for unknown fields or broken JSON) and stores nothing; only
//! an admin sets contact points, a doctor sets their own preferences
//! (`PUT /v1/users/me/notify`) and reads only their own record; each change is an audit
//! event naming the changed fields, never the phone or email itself; `disabled` is left
//! as it is.

use crate::notify_ack_metrics::start_api;
use cw_core::audit::AuditEvent;
use cw_core::{DeliveryStatus, Priority, Role, UserId};
use cw_e2e::api::{ApiHarness, patient};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// One request with an optional bearer token and a raw body; (status, JSON or null).
async fn call(
    http: &reqwest::Client,
    method: Method,
    url: String,
    token: Option<&str>,
    body: Option<String>,
) -> (u16, Value) {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn put(h: &ApiHarness, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(
        &h.http,
        Method::PUT,
        h.url(path),
        Some(token),
        Some(body.to_string()),
    )
    .await
}

async fn get(h: &ApiHarness, path: &str, token: Option<&str>) -> (u16, Value) {
    call(&h.http, Method::GET, h.url(path), token, None).await
}

async fn audit_events(records: &dyn cw_storage::RecordStore) -> Vec<AuditEvent> {
    records.audit_events(1, 100_000).await.expect("audit")
}

/// The directory change events (`action`) about `user`.
fn changes_of<'a>(events: &'a [AuditEvent], action: &str, user: &UserId) -> Vec<&'a AuditEvent> {
    let resource = format!("/v1/users/{user}");
    events
        .iter()
        .filter(|e| e.entry.action == action && e.entry.resource == resource)
        .collect()
}

/// Waits for the alert's SMS to be accepted by the sandbox and returns the number it was
/// sent to (the sandbox's record of the message with the delivery's provider id).
async fn sms_to(h: &mut NotifierHarness, alert: &cw_core::AlertId) -> String {
    let rows = h
        .wait_deliveries(alert, "the SMS sent", |rows| {
            rows.iter()
                .any(|d| d.channel == cw_core::Channel::Sms && d.status == DeliveryStatus::Sent)
        })
        .await;
    let sid = rows
        .iter()
        .find(|d| d.channel == cw_core::Channel::Sms)
        .and_then(|d| d.provider_id.clone())
        .expect("the SMS has a provider id");
    h.sandbox
        .messages()
        .into_iter()
        .find(|m| m.sid == sid)
        .map(|m| m.to)
        .expect("the sandbox holds the SMS")
}

async fn the_phone_set_through_the_api_is_the_number_paged(mode: Mode) {
    const FIRST: &str = "+15005550731";
    const SECOND: &str = "+15005550732";
    let mut h = NotifierHarness::new(mode).await;
    let shutdown = CancellationToken::new();
    let secret = cw_bus::Sealer::generate_key_hex();
    let api = start_api(&h, &secret, &shutdown).await;
    let http = h.https();
    let token = |user: &UserId, role| {
        cw_api::token::issue(secret.as_bytes(), "cardiowatch", user, role, 300).expect("token")
    };
    let (admin, doctor) = (UserId::random(), UserId::random());
    let admin_token = token(&admin, Role::Admin);
    let doctor_token = token(&doctor, Role::Doctor);
    let monitored = patient(&[]);
    h.stores
        .records
        .put_patient(&monitored)
        .await
        .expect("patient");

    // The admin registers the doctor's phone, then assigns the doctor to the patient.
    let (status, body) = call(
        &http,
        Method::PUT,
        format!("{api}/v1/users/{doctor}"),
        Some(&admin_token),
        Some(json!({"role": "doctor", "phone": FIRST}).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone"], FIRST);
    let (status, body) = call(
        &http,
        Method::PUT,
        format!("{api}/v1/patients/{}/doctors", monitored.id),
        Some(&admin_token),
        Some(json!({"doctors": [doctor.as_str()]}).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The doctor wants medium alarms by SMS and in-app only.
    let (status, body) = call(
        &http,
        Method::PUT,
        format!("{api}/v1/users/me/notify"),
        Some(&doctor_token),
        Some(json!({"medium": ["sms", "in_app"]}).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone"], FIRST, "own preferences keep the phone");

    h.spawn(&Tuning::default());
    h.wait_ready().await;
    let alert = h.fire(&monitored.id, Priority::Medium).await;
    assert_eq!(
        sms_to(&mut h, &alert.id).await,
        FIRST,
        "the number set through the api is paged"
    );
    assert!(
        h.sandbox.calls().is_empty(),
        "medium: no call by preference"
    );

    // A new number replaces the old one for the next page.
    let (status, body) = call(
        &http,
        Method::PUT,
        format!("{api}/v1/users/{doctor}"),
        Some(&admin_token),
        Some(json!({"phone": SECOND}).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let assigned = h
        .stores
        .records
        .patient(&monitored.id)
        .await
        .expect("patient");
    let second = h.another_patient_like(&assigned).await;
    let alert = h.fire(&second.id, Priority::Medium).await;
    assert_eq!(sms_to(&mut h, &alert.id).await, SECOND);

    // Audited by field name: created with role and phone, the new phone, the doctor's own
    // preferences — and no phone number anywhere in the chain.
    let events = audit_events(h.stores.records.as_ref()).await;
    let reasons: Vec<&str> = changes_of(&events, "user_update", &doctor)
        .iter()
        .map(|e| e.entry.reason.as_str())
        .collect();
    assert_eq!(reasons, ["created; fields: role, phone", "fields: phone"]);
    let own = changes_of(&events, "notify_preferences", &doctor);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].entry.actor, doctor.as_str());
    assert_eq!(own[0].entry.reason, "fields: notify.medium");
    let chain = serde_json::to_string(&events).expect("events serialize");
    for number in [FIRST, SECOND] {
        assert!(
            !chain.contains(&number[1..]),
            "a phone number in the audit chain"
        );
    }
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_the_phone_set_through_the_api_is_the_number_paged() {
    the_phone_set_through_the_api_is_the_number_paged(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_the_phone_set_through_the_api_is_the_number_paged() {
    the_phone_set_through_the_api_is_the_number_paged(Mode::Servers).await;
}

async fn bad_input_is_refused_naming_the_field_and_stores_nothing(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let admin = h.token(&h.admin, Role::Admin);
    let target = UserId::random();
    let path = format!("/v1/users/{target}");
    for (body, field) in [
        (
            json!({"role": "doctor", "phone": "+1 500 555 0006"}),
            "phone",
        ),
        (json!({"role": "doctor", "phone": "15005550006"}), "phone"),
        (json!({"role": "doctor", "phone": "+1234567"}), "phone"),
        (json!({"role": "doctor", "email": "dr@localhost"}), "email"),
        (
            json!({"role": "doctor", "email": "dr house@x.org"}),
            "email",
        ),
        (json!({"phone": "+15005550006"}), "role"),
        (
            json!({"role": "doctor", "notify": {"medium": ["sms"]}}),
            "notify.medium",
        ),
        (
            json!({"role": "doctor", "phone": "+15005550006", "notify": {"low": ["sms", "sms"]}}),
            "notify.low",
        ),
        (
            json!({"role": "doctor", "notify": {"quiet_hours": {"start_min_utc": 1500, "end_min_utc": 60}}}),
            "notify.quiet_hours.start_min_utc",
        ),
        (
            json!({"role": "doctor", "notify": {"snooze_until_ns": 1}}),
            "notify.snooze_until_ns",
        ),
        (json!({"role": "doctor", "phone": "+15005550006"}), ""),
    ] {
        let (status, answer) = put(&h, &path, &admin, body.clone()).await;
        if field.is_empty() {
            // The control: the same request with good values is accepted.
            assert_eq!(status, 200, "{body}: {answer}");
            continue;
        }
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        if let Some(phone) = body["phone"].as_str() {
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.contains(phone), "the value is not echoed");
        }
    }
    let other = format!("/v1/users/{}", UserId::random());
    for raw in [
        r#"{"role": "doctor", "pager": "+15005550006"}"#,
        r#"{"role": "doctor", "notify": {"sms_after_midnight": true}}"#,
        r#"{"role": "doctor", "phone": "+150055"#,
        r#"{"role": "surgeon"}"#,
    ] {
        let (status, answer) = call(
            &h.http,
            Method::PUT,
            h.url(&other),
            Some(&admin),
            Some(raw.to_owned()),
        )
        .await;
        assert_eq!(status, 400, "{raw}: {answer}");
        assert_eq!(answer["error"]["code"], "bad_request");
    }
    // Nothing refused was stored: the one accepted request made the only record.
    let users = h.stores.records.users().await.expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].id, target);
    assert_eq!(users[0].phone.as_deref(), Some("+15005550006"));
    let (status, _) = get(&h, &other, Some(&admin)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn embedded_bad_input_is_refused_naming_the_field_and_stores_nothing() {
    bad_input_is_refused_naming_the_field_and_stores_nothing(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_bad_input_is_refused_naming_the_field_and_stores_nothing() {
    bad_input_is_refused_naming_the_field_and_stores_nothing(Mode::Servers).await;
}

async fn only_an_admin_sets_contacts_and_a_doctor_sets_only_their_own_preferences(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let admin = h.token(&h.admin, Role::Admin);
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let ops = h.token(&h.ops, Role::Ops);
    let (own, other) = (
        format!("/v1/users/{}", h.doctor_a),
        format!("/v1/users/{}", h.doctor_b),
    );
    let contact = json!({"role": "doctor", "phone": "+15005550741", "email": "b@hospital.example"});
    for path in [&own, &other] {
        let (status, _) = put(&h, path, &doctor, contact.clone()).await;
        assert_eq!(
            status, 403,
            "a doctor sets no contact point, not even their own"
        );
        let (status, _) = put(&h, path, &ops, contact.clone()).await;
        assert_eq!(status, 403);
    }
    let (status, _) = call(
        &h.http,
        Method::PUT,
        h.url(&other),
        None,
        Some(contact.to_string()),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = put(&h, &other, &admin, contact.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "b@hospital.example");

    // The doctor's own preferences; another's record stays closed to them.
    let prefs = json!({"high": ["voice"], "low": ["in_app"], "quiet_hours": {"start_min_utc": 1320, "end_min_utc": 360}});
    let (status, body) = put(&h, "/v1/users/me/notify", &doctor, prefs.clone()).await;
    assert_eq!(status, 422, "voice without a phone: {body}");
    assert_eq!(body["error"]["field"], "notify.high");
    let (status, _) = put(
        &h,
        &own,
        &admin,
        json!({"role": "doctor", "phone": "+15005550742"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = put(&h, "/v1/users/me/notify", &doctor, prefs.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&h, &own, Some(&doctor)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notify"]["high"], json!(["voice"]));
    assert_eq!(body["notify"]["quiet_hours"]["start_min_utc"], 1320);
    assert_eq!(body["phone"], "+15005550742");
    let (status, _) = get(&h, &other, Some(&doctor)).await;
    assert_eq!(status, 403);
    let (status, _) = get(&h, "/v1/users", Some(&doctor)).await;
    assert_eq!(status, 403);
    let (status, _) = get(&h, "/v1/users", Some(&ops)).await;
    assert_eq!(status, 403);
    let (status, _) = get(&h, "/v1/users", None).await;
    assert_eq!(status, 401);

    // The admin's list says which contact points are set, not what they are — and shows
    // an account with a login but no record (nothing to page it on) too.
    let login_only = UserId::random();
    let (status, _) = put(
        &h,
        &format!("/v1/users/{login_only}/login"),
        &admin,
        json!({"role": "ops", "password": "correct horse battery staple"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, list) = get(&h, "/v1/users", Some(&admin)).await;
    assert_eq!(status, 200, "{list}");
    let row = |user: &UserId| {
        list.as_array()
            .expect("a list")
            .iter()
            .find(|r| r["user"] == user.as_str())
            .cloned()
            .expect("listed")
    };
    let a = row(&h.doctor_a);
    assert_eq!(
        (
            &a["role"],
            &a["active"],
            &a["phone_set"],
            &a["email_set"],
            &a["notify_set"]
        ),
        (
            &json!("doctor"),
            &json!(true),
            &json!(true),
            &json!(false),
            &json!(true)
        )
    );
    assert_eq!(row(&h.doctor_b)["email_set"], true);
    let lone = row(&login_only);
    assert_eq!(
        (
            &lone["role"],
            &lone["has_login"],
            &lone["has_record"],
            &lone["phone_set"]
        ),
        (&json!("ops"), &json!(true), &json!(false), &json!(false))
    );
    assert_eq!(
        (&a["has_login"], &a["has_record"]),
        (&json!(false), &json!(true))
    );
    assert!(
        !list.to_string().contains("5550741"),
        "no numbers in the list"
    );

    // Roles: not one's own.
    let (status, body) = put(
        &h,
        &format!("/v1/users/{}", h.admin),
        &admin,
        json!({"role": "admin"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = put(
        &h,
        &format!("/v1/users/{}", h.admin),
        &admin,
        json!({"role": "doctor"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Disabled stays disabled through a contact change; only enable changes it.
    let (status, _) = call(
        &h.http,
        Method::POST,
        h.url(&format!("{other}/disable")),
        Some(&admin),
        Some(json!({"reason": "left the hospital"}).to_string()),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = put(&h, &other, &admin, json!({"phone": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(body["phone"], Value::Null);
    let stored = h.stores.records.user(&h.doctor_b).await.expect("user");
    assert!(stored.is_disabled());
    assert_eq!(stored.phone, None);
    assert_eq!(stored.email.as_deref(), Some("b@hospital.example"));

    // Every change in the chain, by field name, with the actor.
    let events = audit_events(h.stores.records.as_ref()).await;
    let b: Vec<(&str, &str)> = changes_of(&events, "user_update", &h.doctor_b)
        .iter()
        .map(|e| (e.entry.actor.as_str(), e.entry.reason.as_str()))
        .collect();
    assert_eq!(
        b,
        [
            (h.admin.as_str(), "created; fields: role, phone, email"),
            (h.admin.as_str(), "fields: phone"),
        ]
    );
    let own_prefs = changes_of(&events, "notify_preferences", &h.doctor_a);
    assert_eq!(own_prefs.len(), 1);
    assert_eq!(
        own_prefs[0].entry.reason,
        "fields: notify.high, notify.low, notify.quiet_hours"
    );
    let chain = serde_json::to_string(&events).expect("events serialize");
    assert!(!chain.contains("5550741") && !chain.contains("5550742"));
    assert!(!chain.contains("b@hospital.example"));
}

#[tokio::test]
async fn embedded_only_an_admin_sets_contacts_and_a_doctor_sets_only_their_own_preferences() {
    only_an_admin_sets_contacts_and_a_doctor_sets_only_their_own_preferences(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_only_an_admin_sets_contacts_and_a_doctor_sets_only_their_own_preferences() {
    only_an_admin_sets_contacts_and_a_doctor_sets_only_their_own_preferences(Mode::Servers).await;
}

/// A doctor with a password login made ops by `PUT /v1/users/{id}`: the record and the
/// login both say ops after the one change (audited once with both fields), the doctor's
/// access and refresh tokens stop working at once, and a fresh sign-in acts as ops.
async fn a_role_change_reaches_the_login_and_ends_the_sessions(mode: Mode) {
    const PASSWORD: &str = "correct horse battery staple";
    let h = ApiHarness::start(mode).await;
    let admin = h.token(&h.admin, Role::Admin);
    let doctor = h.doctor_a.clone();
    let own = format!("/v1/users/{doctor}");
    let (status, _) = put(
        &h,
        &format!("{own}/login"),
        &admin,
        json!({"role": "doctor", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 204);
    let sign_in = json!({"user": doctor.as_str(), "password": PASSWORD}).to_string();
    let (status, tokens) = call(
        &h.http,
        Method::POST,
        h.url("/v1/auth/login"),
        None,
        Some(sign_in.clone()),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(
        get(&h, &own, Some(&access)).await.0,
        200,
        "the doctor reads their record"
    );

    let (status, body) = put(&h, &own, &admin, json!({"role": "ops"})).await;
    assert_eq!(status, 200, "the admin makes the doctor ops: {body}");
    assert_eq!(body["role"], "ops");
    assert_eq!(
        get(&h, &own, Some(&access)).await.0,
        401,
        "the doctor-role access token is refused at once"
    );
    let (status, _) = call(
        &h.http,
        Method::POST,
        h.url("/v1/auth/refresh"),
        None,
        Some(json!({"refresh_token": refresh}).to_string()),
    )
    .await;
    assert_eq!(status, 401, "the refresh token ended with the sessions");
    let records = h.stores.records.as_ref();
    assert_eq!(records.login(&doctor).await.expect("login").role, Role::Ops);
    assert_eq!(records.user(&doctor).await.expect("record").role, Role::Ops);

    let (status, tokens) = call(
        &h.http,
        Method::POST,
        h.url("/v1/auth/login"),
        None,
        Some(sign_in),
    )
    .await;
    assert_eq!(status, 200, "the same password signs in: {tokens}");
    let fresh = tokens["access_token"].as_str().expect("access");
    let claims =
        cw_api::token::verify(h.secret.as_bytes(), "cardiowatch", fresh).expect("our token");
    assert_eq!(claims.role, Role::Ops);
    assert_eq!(get(&h, &own, Some(fresh)).await.0, 200);

    let events = audit_events(h.stores.records.as_ref()).await;
    let reasons: Vec<&str> = changes_of(&events, "user_update", &doctor)
        .iter()
        .map(|e| e.entry.reason.as_str())
        .collect();
    assert_eq!(reasons, ["created; fields: role, login.role"]);
}

#[tokio::test]
async fn embedded_a_role_change_reaches_the_login_and_ends_the_sessions() {
    a_role_change_reaches_the_login_and_ends_the_sessions(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_a_role_change_reaches_the_login_and_ends_the_sessions() {
    a_role_change_reaches_the_login_and_ends_the_sessions(Mode::Servers).await;
}

/// `cardiowatch user set-contact` on the store: the api shows what it set, a bad phone is
/// refused with the same rule (nothing stored), and the change is audited by field name.
#[tokio::test]
async fn the_cli_sets_a_contact_the_api_shows_with_the_same_rules() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let bin = cw_e2e::processes::bin_dir().join("cardiowatch");
    assert!(
        bin.exists(),
        "{} is missing: build the binaries first (scripts/test does)",
        bin.display()
    );
    let cli = |args: &[&str]| {
        std::process::Command::new(&bin)
            .args(args)
            .args(["--config", "/dev/null"])
            .envs(cw_e2e::env::embedded_store_env(&h.storage))
            .envs(cw_e2e::env::audit_key_env(&h.storage.audit))
            .output()
            .expect("cardiowatch runs")
    };
    let id = h.doctor_a.to_string();
    let refused = cli(&[
        "user",
        "set-contact",
        &id,
        "--role",
        "doctor",
        "--phone",
        "+1 500 555 0751",
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--phone") && stderr.contains("E.164"),
        "{stderr}"
    );
    assert!(h.stores.records.users().await.expect("users").is_empty());

    let done = cli(&[
        "user",
        "set-contact",
        &id,
        "--role",
        "doctor",
        "--phone",
        "+15005550751",
        "--email",
        "a@hospital.example",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let printed = String::from_utf8_lossy(&done.stdout);
    assert!(printed.contains("phone set, email set"), "{printed}");
    assert!(!printed.contains("5550751"), "no number printed: {printed}");
    let admin = h.token(&h.admin, Role::Admin);
    let (status, body) = get(&h, &format!("/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["role"], &body["phone"], &body["email"]),
        (
            &json!("doctor"),
            &json!("+15005550751"),
            &json!("a@hospital.example")
        )
    );
    let events = audit_events(h.stores.records.as_ref()).await;
    let by_cli = changes_of(&events, "user_update", &h.doctor_a);
    assert_eq!(by_cli.len(), 1);
    assert!(by_cli[0].entry.actor.starts_with("cli:"));
    assert_eq!(
        by_cli[0].entry.reason,
        "created; fields: role, phone, email"
    );
}

/// A contact change planned before a disable landed and saved after it keeps the account
/// disabled: `save` re-reads `disabled` just before it writes.
#[tokio::test]
async fn a_contact_change_racing_a_disable_does_not_enable_the_account() {
    use cw_api::user_records::{self, Actor, UserChange};
    let h = ApiHarness::start(Mode::Embedded).await;
    let records = h.stores.records.as_ref();
    let plan = |phone: &str| {
        user_records::plan(
            records,
            &h.doctor_a,
            UserChange {
                role: Some(Role::Doctor),
                phone: Some(Some(phone.to_owned())),
                ..UserChange::default()
            },
            Actor {
                user: None,
                default_role: None,
            },
            cw_core::time::now_ns(),
            3_600 * cw_core::time::NANOS_PER_SEC,
        )
    };
    let first = plan("+15005550761").await.expect("plan");
    user_records::save(records, &first).await.expect("save");
    let second = plan("+15005550762").await.expect("plan");
    assert_eq!(second.changed, ["phone"]);
    let account = cw_api::accounts::account(records, &h.doctor_a)
        .await
        .expect("account");
    cw_api::accounts::disable(records, account, "admin-x", cw_core::time::now_ns())
        .await
        .expect("disable");
    let saved = user_records::save(records, &second).await.expect("save");
    assert!(saved.is_disabled());
    let stored = records.user(&h.doctor_a).await.expect("user");
    assert!(stored.is_disabled(), "the disable stands");
    assert_eq!(stored.phone.as_deref(), Some("+15005550762"));
}
