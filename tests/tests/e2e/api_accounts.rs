//! Disabled accounts, through the api on real stores: an admin disables a doctor and the
//! doctor's still-valid access token stops working on the next request (403
//! `account_disabled`), as do password login and refresh; enabling lets the login back
//! in, but no token or refresh token from before the disable (its sessions ended). Both changes are in the audit chain with
//! the admin, the target and the reason. Only an admin may do it, never to themselves;
//! an unknown user is 404. An open live socket of a disabled doctor closes with 4003 at
//! the next re-check, and `cardiowatch user disable|enable` does the same on the store.

use cw_core::audit::{AuditEvent, AuditOutcome};
use cw_core::{Role, User, UserId};
use cw_e2e::api::ApiHarness;
use cw_e2e::live::{Auth, close_code, open_live};
use cw_e2e::processes::bin_dir;
use cw_e2e::system::Mode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";

async fn send(
    h: &ApiHarness,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = h.http.request(method, h.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(h: &ApiHarness, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    send(h, reqwest::Method::POST, path, token, Some(body)).await
}

async fn get(h: &ApiHarness, path: &str, token: &str) -> (u16, Value) {
    send(h, reqwest::Method::GET, path, Some(token), None).await
}

/// The admin gives doctor A a password login (no user record: the account is the login).
async fn give_doctor_a_a_login(h: &ApiHarness, admin: &str) {
    let (status, _) = send(
        h,
        reqwest::Method::PUT,
        &format!("/v1/users/{}/login", h.doctor_a),
        Some(admin),
        Some(json!({"role": "doctor", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 204, "the admin sets doctor A's login");
}

async fn login(h: &ApiHarness, user: &UserId) -> (u16, Value) {
    post(
        h,
        "/v1/auth/login",
        None,
        json!({"user": user.as_str(), "password": PASSWORD}),
    )
    .await
}

fn disable_path(user: &UserId) -> String {
    format!("/v1/users/{user}/disable")
}

fn enable_path(user: &UserId) -> String {
    format!("/v1/users/{user}/enable")
}

/// A user record for `id` (doctor, active), as a deployment has for its doctors.
async fn put_active_user(h: &ApiHarness, id: &UserId) {
    h.stores
        .records
        .put_user(&User {
            id: id.clone(),
            role: Role::Doctor,
            phone: None,
            email: None,
            notify: Default::default(),
            disabled: None,
            sessions: Default::default(),
        })
        .await
        .expect("user record");
}

async fn audit(h: &ApiHarness) -> Vec<AuditEvent> {
    h.stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit events")
}

async fn a_disabled_doctor_is_cut_off_at_once_and_enabling_lets_them_back(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let admin = h.token(&h.admin, Role::Admin);
    give_doctor_a_a_login(&h, &admin).await;
    let (status, tokens) = login(&h, &h.doctor_a).await;
    assert_eq!(status, 200, "doctor A logs in: {tokens}");
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let own = format!("/v1/patients/{}/thresholds", h.own);
    let alerts = format!("/v1/alerts?patient={}", h.own);
    assert_ne!(
        get(&h, &own, &access).await.0,
        403,
        "doctor A reaches their patient"
    );
    assert_eq!(get(&h, &alerts, &access).await.0, 200);

    let reason = "left the hospital on 2026-11-25";
    let (status, body) = post(
        &h,
        &disable_path(&h.doctor_a),
        Some(&admin),
        json!({"reason": reason}),
    )
    .await;
    assert_eq!(status, 200, "the admin disables doctor A: {body}");
    assert_eq!(body["active"], false);
    assert_eq!(body["disabled"]["by"], h.admin.as_str());
    assert_eq!(
        body["patients_without_active_doctor"],
        json!([h.own.to_string()]),
        "the admin learns which patients now page nobody"
    );
    assert!(
        h.stores
            .records
            .user(&h.doctor_a)
            .await
            .expect("the account now has a user record")
            .is_disabled(),
        "stored as disabled"
    );

    // The access token is still valid for minutes; it opens nothing now, on any route.
    for path in [&own, &alerts, "/v1/patients"] {
        let (status, body) = get(&h, path, &access).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "account_disabled", "{path}: {body}");
    }
    let (status, body) = post(
        &h,
        &format!("/v1/alerts/{}/ack", h.own_alert),
        Some(&access),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("account_disabled")),
        "no change either: {body}"
    );
    let (status, body) = login(&h, &h.doctor_a).await;
    assert_eq!(
        status, 403,
        "the right password does not log a disabled account in"
    );
    assert_eq!(body["error"]["code"], "account_disabled");
    let (status, body) = post(
        &h,
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert!(
        matches!(status, 401 | 403),
        "a refresh token of a disabled account is refused: {status} {body}"
    );
    // Another doctor is not affected.
    let doctor_b = h.token(&h.doctor_b, Role::Doctor);
    assert_eq!(
        get(&h, &format!("/v1/alerts?patient={}", h.other), &doctor_b)
            .await
            .0,
        200
    );

    let (status, body) = post(
        &h,
        &enable_path(&h.doctor_a),
        Some(&admin),
        json!({"reason": "contract renewed"}),
    )
    .await;
    assert_eq!(status, 200, "the admin enables doctor A: {body}");
    assert_eq!(body["active"], true);
    assert_eq!(
        get(&h, &alerts, &access).await.0,
        401,
        "an access token from before the disable stays ended: sign in again"
    );
    let (status, _) = login(&h, &h.doctor_a).await;
    assert_eq!(status, 200, "login works again");
    let (status, _) = post(
        &h,
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(
        status, 401,
        "refresh tokens from before the disable stay revoked: sign in again"
    );

    let events = audit(&h).await;
    let change = |action: &str, why: &str| {
        events.iter().any(|e| {
            e.entry.action == action
                && e.entry.actor == h.admin.as_str()
                && e.entry.role == "admin"
                && e.entry.resource == format!("/v1/users/{}", h.doctor_a)
                && e.entry.reason == why
                && e.entry.patient.is_none()
        })
    };
    assert!(change("account_disable", reason), "the disable is audited");
    assert!(
        change("account_enable", "contract renewed"),
        "the enable is audited"
    );
    assert!(
        events.iter().any(|e| e.entry.actor == h.doctor_a.as_str()
            && e.entry.outcome == AuditOutcome::Denied
            && e.entry.status == 403
            && e.entry.action == "GET /v1/alerts"),
        "the disabled doctor's attempts are audited as denials under their name"
    );
    let report = cw_storage::audit::verify_chain(h.stores.records.as_ref(), &h.storage.audit)
        .await
        .expect("verify");
    assert!(report.faults.is_empty(), "{:?}", report.faults);
}

#[tokio::test]
async fn embedded_a_disabled_doctor_is_cut_off_at_once_and_enabling_lets_them_back() {
    a_disabled_doctor_is_cut_off_at_once_and_enabling_lets_them_back(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_a_disabled_doctor_is_cut_off_at_once_and_enabling_lets_them_back() {
    a_disabled_doctor_is_cut_off_at_once_and_enabling_lets_them_back(Mode::Servers).await;
}

async fn only_an_admin_disables_never_themselves_and_unknown_users_are_404(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let admin = h.token(&h.admin, Role::Admin);
    put_active_user(&h, &h.doctor_b).await;
    let reason = json!({"reason": "credential suspected stolen"});
    let target = disable_path(&h.doctor_b);
    for (who, token) in [
        ("doctor", h.token(&h.doctor_a, Role::Doctor)),
        ("ops", h.token(&h.ops, Role::Ops)),
    ] {
        let (status, body) = post(&h, &target, Some(&token), reason.clone()).await;
        assert_eq!(status, 403, "{who} may not disable: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _) = post(&h, &enable_path(&h.doctor_b), Some(&token), json!({})).await;
        assert_eq!(status, 403, "{who} may not enable");
    }
    assert_eq!(post(&h, &target, None, reason.clone()).await.0, 401);
    let (status, body) = post(&h, &disable_path(&h.admin), Some(&admin), reason.clone()).await;
    assert_eq!(status, 409, "an admin cannot disable themselves: {body}");
    assert_eq!(body["error"]["code"], "conflict");
    let unknown = UserId::random();
    let (status, body) = post(&h, &disable_path(&unknown), Some(&admin), reason.clone()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        post(&h, &enable_path(&unknown), Some(&admin), json!({}))
            .await
            .0,
        404
    );
    let (status, body) = post(&h, &target, Some(&admin), json!({"reason": ""})).await;
    assert_eq!(status, 422, "a reason is required: {body}");
    assert_eq!(body["error"]["field"], "reason");
    assert_eq!(
        post(&h, &target, Some(&admin), json!({})).await.0,
        400,
        "no reason at all"
    );
    assert!(
        !h.stores
            .records
            .user(&h.doctor_b)
            .await
            .expect("user")
            .is_disabled(),
        "none of the refused requests disabled doctor B"
    );
    // Enable takes no body at all, too.
    let response = h
        .http
        .post(h.url(&enable_path(&h.doctor_b)))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("api answers");
    assert_eq!(response.status(), 200, "enable without a body");
}

#[tokio::test]
async fn embedded_only_an_admin_disables_never_themselves_and_unknown_users_are_404() {
    only_an_admin_disables_never_themselves_and_unknown_users_are_404(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_only_an_admin_disables_never_themselves_and_unknown_users_are_404() {
    only_an_admin_disables_never_themselves_and_unknown_users_are_404(Mode::Servers).await;
}

/// An open live socket is not a way around it: the next access re-check closes it with
/// 4003, and a new socket is refused at the upgrade.
#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_doctors_open_live_socket_closes_with_4003_at_the_next_recheck() {
    const RECHECK_S: u64 = 2;
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.live.event_endpoints = Vec::new();
        cfg.live.sample_endpoints = Vec::new();
        cfg.live.access_recheck_s = RECHECK_S;
    })
    .await;
    put_active_user(&h, &h.doctor_a).await;
    let port: u16 = h
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("api port");
    let ca = h.dir.path().join("certs").join("ca.pem");
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let (mut socket, _) = open_live(port, &ca, h.own.as_str(), Auth::Header(&doctor), None)
        .await
        .expect("doctor A's socket opens");

    let admin = h.token(&h.admin, Role::Admin);
    let (status, _) = post(
        &h,
        &disable_path(&h.doctor_a),
        Some(&admin),
        json!({"reason": "left the hospital"}),
    )
    .await;
    assert_eq!(status, 200);
    let disabled = Instant::now();
    let code = close_code(&mut socket, Duration::from_secs(RECHECK_S + 3)).await;
    assert_eq!(code, 4003, "closed as access revoked");
    assert!(
        disabled.elapsed() < Duration::from_secs(RECHECK_S + 1),
        "within one re-check interval: {:?}",
        disabled.elapsed()
    );
    let refused = open_live(port, &ca, h.own.as_str(), Auth::Header(&doctor), None).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403, "a new socket is refused");
        }
        other => panic!("a disabled doctor's new socket must be refused: {other:?}"),
    }
}

/// `cardiowatch user disable|enable <id>` changes the store the api reads: the api
/// refuses the doctor's token after the CLI disabled them, and lets it in after enable.
#[tokio::test]
async fn the_cli_disables_and_enables_an_account_the_api_honours() {
    let h = ApiHarness::start(Mode::Embedded).await;
    put_active_user(&h, &h.doctor_a).await;
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let alerts = format!("/v1/alerts?patient={}", h.own);
    assert_eq!(get(&h, &alerts, &doctor).await.0, 200);

    let bin = bin_dir().join("cardiowatch");
    assert!(
        bin.exists(),
        "{} is missing: build the binaries first (scripts/test does)",
        bin.display()
    );
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .args(args)
            .args(["--config", "/dev/null"])
            .envs(cw_e2e::env::embedded_store_env(&h.storage))
            .envs(cw_e2e::env::audit_key_env(&h.storage.audit))
            .output()
            .expect("cardiowatch runs");
        assert!(
            out.status.success(),
            "cardiowatch {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let id = h.doctor_a.to_string();
    let printed = cli(&["user", "disable", &id, "--reason", "badge reported lost"]);
    assert!(printed.contains("disabled"), "{printed}");
    let (status, body) = get(&h, &alerts, &doctor).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("account_disabled"))
    );
    let printed = cli(&["user", "enable", &id]);
    assert!(printed.contains("active"), "{printed}");
    assert_eq!(
        get(&h, &alerts, &doctor).await.0,
        401,
        "the disable ended the tokens issued before it"
    );
    let doctor = h.current_token(&h.doctor_a, Role::Doctor).await;
    assert_eq!(get(&h, &alerts, &doctor).await.0, 200);
    assert!(
        audit(&h)
            .await
            .iter()
            .any(|e| e.entry.action == "account_disable"
                && e.entry.actor.starts_with("cli:")
                && e.entry.reason == "badge reported lost"),
        "the CLI's change is audited"
    );
}

/// Refresh asks the account check itself, not only the revocation that disabling does:
/// a user record marked disabled by another path (another replica's write racing a
/// login, an operator's restore) still stops the refresh.
#[tokio::test]
async fn a_refresh_of_an_account_marked_disabled_in_the_store_is_refused_as_disabled() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let admin = h.token(&h.admin, Role::Admin);
    give_doctor_a_a_login(&h, &admin).await;
    let (status, tokens) = login(&h, &h.doctor_a).await;
    assert_eq!(status, 200);
    let mut user = cw_api::accounts::account(h.stores.records.as_ref(), &h.doctor_a)
        .await
        .expect("the login's account");
    user.disabled = Some(cw_core::patient::Disabled {
        since_ns: cw_core::time::now_ns(),
        by: "restore".into(),
    });
    h.stores.records.put_user(&user).await.expect("disabled");
    let (status, body) = post(
        &h,
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": tokens["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "account_disabled");
}
