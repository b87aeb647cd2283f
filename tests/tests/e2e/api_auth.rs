//! Local authentication against the real store: argon2id logins, refresh rotation with
//! reuse detection and logout, account lockout and per-address rate limiting.

use cw_core::{Role, UserId};
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn set_password(h: &ApiHarness, user: &UserId) {
    let admin = h.token(&h.admin, Role::Admin);
    let set = h
        .http
        .put(h.url(&format!("/v1/users/{user}/login")))
        .bearer_auth(&admin)
        .json(&json!({"role": "doctor", "password": PASSWORD}))
        .send()
        .await
        .expect("set login");
    assert_eq!(set.status(), 204);
}

async fn post(h: &ApiHarness, path: &str, body: Value) -> (u16, Value) {
    let response = h
        .http
        .post(h.url(path))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn login_refresh_rotation_and_reuse(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    set_password(&h, &h.doctor_a).await;
    let (status, _) = post(
        &h,
        "/v1/auth/login",
        json!({"user": h.doctor_a.as_str(), "password": "wrong password!"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &h,
        "/v1/auth/login",
        json!({"user": "nobody", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, tokens) = post(
        &h,
        "/v1/auth/login",
        json!({"user": h.doctor_a.as_str(), "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let access = tokens["access_token"].as_str().expect("access token");
    assert!(tokens["expires_in"].as_u64().expect("expires_in") <= 900);
    let mine = h
        .http
        .get(h.url("/v1/patients"))
        .bearer_auth(access)
        .send()
        .await
        .expect("request");
    assert_eq!(mine.status(), 200, "the access token works");

    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (status, rotated) = post(&h, "/v1/auth/refresh", json!({"refresh_token": first})).await;
    assert_eq!(status, 200);
    let second = rotated["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(first, second, "each refresh returns a new token");

    // Replaying the first token (a stolen copy) fails and revokes the family, so the
    // legitimate holder's newer token stops working too.
    let (status, _) = post(&h, "/v1/auth/refresh", json!({"refresh_token": first})).await;
    assert_eq!(status, 401);
    let (status, _) = post(&h, "/v1/auth/refresh", json!({"refresh_token": second})).await;
    assert_eq!(status, 401);

    // Logout revokes: a fresh login's refresh token no longer refreshes after it.
    let (_, tokens) = post(
        &h,
        "/v1/auth/login",
        json!({"user": h.doctor_a.as_str(), "password": PASSWORD}),
    )
    .await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (status, _) = post(&h, "/v1/auth/logout", json!({"refresh_token": refresh})).await;
    assert_eq!(status, 204);
    let (status, _) = post(&h, "/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn embedded_login_then_refresh_rotates_and_a_reused_token_revokes_its_family() {
    login_refresh_rotation_and_reuse(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_login_then_refresh_rotates_and_a_reused_token_revokes_its_family() {
    login_refresh_rotation_and_reuse(Mode::Servers).await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| cfg.auth.max_failures = 3).await;
    set_password(&h, &h.doctor_a).await;
    for _ in 0..3 {
        let (status, _) = post(
            &h,
            "/v1/auth/login",
            json!({"user": h.doctor_a.as_str(), "password": "guess guess guess"}),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, body) = post(
        &h,
        "/v1/auth/login",
        json!({"user": h.doctor_a.as_str(), "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 423);
    assert_eq!(body["error"]["code"], "locked");
}

#[tokio::test]
async fn one_address_is_rate_limited_on_login() {
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| cfg.auth.login_per_minute = 4).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, _) = post(
            &h,
            "/v1/auth/login",
            json!({"user": "someone", "password": "x"}),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn only_admins_set_logins_and_short_passwords_are_refused() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let by_doctor = h
        .http
        .put(h.url(&format!("/v1/users/{}/login", h.doctor_b)))
        .bearer_auth(&doctor)
        .json(&json!({"role": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(by_doctor.status(), 403);
    let admin = h.token(&h.admin, Role::Admin);
    let short = h
        .http
        .put(h.url(&format!("/v1/users/{}/login", h.doctor_b)))
        .bearer_auth(&admin)
        .json(&json!({"role": "doctor", "password": "short"}))
        .send()
        .await
        .expect("request");
    assert_eq!(short.status(), 422);
}

#[tokio::test]
async fn a_login_set_by_the_cli_logs_in_through_the_api() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let config = h.dir.path().join("api.toml");
    std::fs::write(&config, cw_e2e::env::embedded_store_toml(&h.storage)).expect("config written");
    cardiowatch::users::set_login(
        &cardiowatch::store_args::StoreArgs::file(&config),
        "first-admin",
        Role::Admin,
        PASSWORD.into(),
    )
    .await
    .expect("set login");
    let (status, tokens) = post(
        &h,
        "/v1/auth/login",
        json!({"user": "first-admin", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let audit = h
        .http
        .get(h.url("/v1/audit"))
        .bearer_auth(tokens["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("audit");
    assert_eq!(audit.status(), 200, "the role came from the stored login");
}
