//! The api's standing attack suite (issue 13): each test replays one attack found
//! against a running api — as an outsider or as a signed-in role — against the real
//! stores, and asserts the attack no longer works. `docs/security.md` maps each finding
//! to its control and to the test here that proves it.

use cw_core::audit::AuditOutcome;
use cw_core::time::NANOS_PER_SEC;
use cw_core::{DeviceId, Role, SampleBlock};
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::{Value, json};

/// One 10 s, one-lead block of the own patient's ECG at `start_ns`.
async fn write_ecg(h: &ApiHarness, start_ns: i64) {
    let block = SampleBlock {
        patient: h.own.clone(),
        device: DeviceId::random(),
        seq: 1,
        start_ns,
        rate_hz: 250,
        leads: 1,
        samples_uv: vec![100; 2500],
        lead_off: false,
    };
    h.stores.samples.write(&[block]).await.expect("write");
}

/// Doctor A's ECG request for their own patient over `from..to`: status and body.
async fn ecg(h: &ApiHarness, from: i64, to: i64) -> (u16, Value, String) {
    let response = h
        .http
        .get(h.url(&format!(
            "/v1/patients/{}/ecg?from_ns={from}&to_ns={to}&max_points=10",
            h.own
        )))
        .bearer_auth(h.token(&h.doctor_a, Role::Doctor))
        .send()
        .await
        .expect("the api answers (it did not drop the connection)");
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        request_id,
    )
}

#[tokio::test]
async fn an_overflowing_ecg_range_cannot_read_the_whole_history() {
    let h = ApiHarness::start(Mode::Embedded).await;
    // Two strips a year apart: no one-hour window holds both.
    let start = cw_e2e::env::recent_second() * NANOS_PER_SEC;
    write_ecg(&h, start).await;
    write_ecg(&h, start + 365 * 86_400 * NANOS_PER_SEC).await;
    // `to - from` is 1.2e19: past i64::MAX, it wrapped negative and passed the 1 h cap.
    let (status, body, _) = ecg(&h, -6_000_000_000_000_000_000, 6_000_000_000_000_000_000).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid");
    assert_eq!(body["error"]["field"], "to_ns");
}

#[tokio::test]
async fn the_widest_ecg_range_is_refused_and_audited_not_a_divide_by_zero_panic() {
    let h = ApiHarness::start(Mode::Embedded).await;
    write_ecg(&h, cw_e2e::env::recent_second() * NANOS_PER_SEC).await;
    // i64::MIN..i64::MAX: the wrapped width made bucket_ns 0, and the division panicked
    // before the audit middleware wrote its record.
    let (status, body, request_id) = ecg(&h, i64::MIN, i64::MAX).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "to_ns");
    let events = h.stores.records.audit_events(1, 1000).await.expect("audit");
    let event = events
        .iter()
        .find(|e| e.entry.request_id == request_id)
        .expect("the refused read is in the audit chain");
    assert_eq!(event.entry.actor, h.doctor_a.as_str());
    assert_eq!(event.entry.patient.as_ref(), Some(&h.own));
    assert_eq!(event.entry.outcome, AuditOutcome::Failed);
    assert_eq!(event.entry.status, 422);
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Gives `user` a password login (as doctor), through the admin endpoint.
async fn set_password(h: &ApiHarness, user: &cw_core::UserId) {
    assert_eq!(set_login(h, user, "doctor").await, 204);
}

/// Gives `user` a password login with `role`, through the admin endpoint: the status.
pub(crate) async fn set_login(h: &ApiHarness, user: &cw_core::UserId, role: &str) -> u16 {
    call(
        h,
        reqwest::Method::PUT,
        &format!("/v1/users/{user}/login"),
        &h.token(&h.admin, Role::Admin),
        json!({"role": role, "password": PASSWORD}),
    )
    .await
}

/// `POST /v1/auth/logout` of the session `refresh` belongs to: the status.
pub(crate) async fn log_out(h: &ApiHarness, refresh: &str) -> u16 {
    h.http
        .post(h.url("/v1/auth/logout"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .expect("logout")
        .status()
        .as_u16()
}

/// `POST /v1/auth/login` as `user` with `password`: status and body.
async fn login(h: &ApiHarness, user: &str, password: &str) -> (u16, Value) {
    let response = h
        .http
        .post(h.url("/v1/auth/login"))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await
        .expect("login request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// 15 wrong passwords at once: each was checked before any failure was counted, so 13
/// guesses were verified where the lockout allows 5.
async fn parallel_guesses_get_no_more_tries_than_the_lockout_allows(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    set_password(&h, &h.doctor_a).await;
    let guesses = (0..15).map(|i| {
        let h = &h;
        async move { login(h, h.doctor_a.as_str(), &format!("wrong guess number {i}")).await }
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    let verified = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 423).count();
    assert_eq!(
        (verified, locked),
        (5, 10),
        "max_failures = 5: five guesses checked, the rest refused locked: {statuses:?}"
    );
    // Locked means locked: the right password is refused too.
    assert_eq!(login(&h, h.doctor_a.as_str(), PASSWORD).await.0, 423);
}

#[tokio::test]
async fn embedded_parallel_guesses_get_no_more_tries_than_the_lockout_allows() {
    parallel_guesses_get_no_more_tries_than_the_lockout_allows(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_parallel_guesses_get_no_more_tries_than_the_lockout_allows() {
    parallel_guesses_get_no_more_tries_than_the_lockout_allows(Mode::Servers).await;
}

/// Password login as `user`: its access and refresh tokens.
pub(crate) async fn signed_in(h: &ApiHarness, user: &cw_core::UserId) -> (String, String) {
    let (status, tokens) = login(h, user.as_str(), PASSWORD).await;
    assert_eq!(status, 200, "{tokens}");
    let token = |name: &str| tokens[name].as_str().expect("token").to_owned();
    (token("access_token"), token("refresh_token"))
}

/// `method path` with `token` (and a JSON body): the status.
pub(crate) async fn call(
    h: &ApiHarness,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> u16 {
    let mut request = h
        .http
        .request(method.clone(), h.url(path))
        .bearer_auth(token);
    if method != reqwest::Method::GET {
        request = request.json(&body);
    }
    request.send().await.expect("request").status().as_u16()
}

#[tokio::test]
async fn a_demoted_admins_token_loses_admin_at_once() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let demoted = cw_core::UserId::random();
    assert_eq!(set_login(&h, &demoted, "admin").await, 204);
    let (access, _) = signed_in(&h, &demoted).await;
    assert_eq!(
        call(&h, reqwest::Method::GET, "/v1/audit", &access, Value::Null).await,
        200
    );
    assert_eq!(
        set_login(&h, &demoted, "doctor").await,
        204,
        "another admin demotes them"
    );
    // The token still says admin and has minutes to live: it must not act as one.
    assert_eq!(
        call(&h, reqwest::Method::GET, "/v1/audit", &access, Value::Null).await,
        401,
        "the demoted admin's old token is refused"
    );
    assert_eq!(
        call(
            &h,
            reqwest::Method::PUT,
            &format!("/v1/users/{}/login", h.doctor_b),
            &access,
            json!({"role": "admin", "password": PASSWORD}),
        )
        .await,
        401,
        "and cannot make anyone admin"
    );
    // Signing in again gives a token of the new role.
    let (access, _) = signed_in(&h, &demoted).await;
    assert_eq!(
        call(&h, reqwest::Method::GET, "/v1/audit", &access, Value::Null).await,
        403
    );
}

#[tokio::test]
async fn a_logged_out_access_token_opens_nothing() {
    let h = ApiHarness::start(Mode::Embedded).await;
    set_password(&h, &h.doctor_a).await;
    let (access, refresh) = signed_in(&h, &h.doctor_a).await;
    let (other_access, _) = signed_in(&h, &h.doctor_a).await;
    let thresholds = format!("/v1/patients/{}/thresholds", h.own);
    assert_eq!(
        call(&h, reqwest::Method::GET, &thresholds, &access, Value::Null).await,
        200
    );
    assert_eq!(log_out(&h, &refresh).await, 204);
    assert_eq!(
        call(&h, reqwest::Method::GET, &thresholds, &access, Value::Null).await,
        401,
        "the access token of the ended session is refused"
    );
    assert_eq!(
        call(
            &h,
            reqwest::Method::GET,
            &thresholds,
            &other_access,
            Value::Null
        )
        .await,
        200,
        "the same doctor's other session goes on"
    );
}

#[tokio::test]
async fn an_access_token_from_before_a_disable_stays_dead_after_enable() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let root = h.token(&h.admin, Role::Admin);
    set_password(&h, &h.doctor_a).await;
    let (access, _) = signed_in(&h, &h.doctor_a).await;
    for action in ["disable", "enable"] {
        let path = format!("/v1/users/{}/{action}", h.doctor_a);
        let status = call(
            &h,
            reqwest::Method::POST,
            &path,
            &root,
            json!({"reason": "stolen laptop reported"}),
        )
        .await;
        assert_eq!(status, 200, "{action}");
    }
    assert_eq!(
        call(
            &h,
            reqwest::Method::GET,
            "/v1/patients",
            &access,
            Value::Null
        )
        .await,
        401,
        "a token (say, on the stolen laptop) from before the disable does not come back"
    );
    let (access, _) = signed_in(&h, &h.doctor_a).await;
    assert_eq!(
        call(
            &h,
            reqwest::Method::GET,
            "/v1/patients",
            &access,
            Value::Null
        )
        .await,
        200
    );
}

#[tokio::test]
async fn break_glass_cannot_silence_another_doctors_patient() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let glass = call(
        &h,
        reqwest::Method::POST,
        &format!("/v1/patients/{}/break-glass", h.other),
        &token,
        json!({"reason": "patient collapsed in ward 3, covering doctor"}),
    )
    .await;
    assert_eq!(
        glass, 200,
        "doctor A opens break-glass on doctor B's patient"
    );
    let thresholds = format!("/v1/patients/{}/thresholds", h.other);
    assert_eq!(
        call(&h, reqwest::Method::GET, &thresholds, &token, Value::Null).await,
        200,
        "reading works under the grant"
    );
    let before = format!("{:?}", h.stores.records.policy(&h.other).await.ok());
    // The attack: replace the policy with "no alarms at all".
    let silence = h
        .http
        .put(h.url(&format!("{thresholds}?allow_no_alarms=true")))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(silence.status(), 403);
    let body: Value = silence.json().await.expect("json");
    assert_eq!(body["error"]["code"], "break_glass_read_only", "{body}");
    assert_eq!(
        format!("{:?}", h.stores.records.policy(&h.other).await.ok()),
        before,
        "the policy is unchanged"
    );
    let ack = h
        .http
        .post(h.url(&format!("/v1/alerts/{}/ack", h.other_alert)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(ack.status(), 403);
    let body: Value = ack.json().await.expect("json");
    assert_eq!(body["error"]["code"], "break_glass_read_only", "{body}");
    let alert = h
        .stores
        .records
        .get_alert(&h.other_alert)
        .await
        .expect("alert");
    assert!(alert.acked_by.is_none(), "the alarm stays unacknowledged");
}

#[tokio::test]
async fn a_missing_alert_and_another_doctors_alert_look_the_same() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let answer = |alert: String| {
        let (h, token) = (&h, &token);
        async move {
            let response = h
                .http
                .post(h.url(&format!("/v1/alerts/{alert}/ack")))
                .bearer_auth(token)
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.expect("json")["error"].clone(),
            )
        }
    };
    let foreign = answer(h.other_alert.to_string()).await;
    let missing = answer(cw_core::AlertId::random().to_string()).await;
    assert_eq!(foreign, missing, "no oracle for which alert ids exist");
    assert_eq!(foreign.0, 403);
}

#[tokio::test]
async fn an_unknown_login_locks_like_a_real_one() {
    let h = ApiHarness::start(Mode::Embedded).await;
    set_password(&h, &h.doctor_a).await;
    let mut real = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..6 {
        real.push(login(&h, h.doctor_a.as_str(), &format!("wrong guess {i}")).await);
        unknown.push(login(&h, "dr-nobody-here", &format!("wrong guess {i}")).await);
    }
    assert_eq!(real, unknown, "the answers do not tell which login exists");
    assert_eq!(real.last().map(|(status, _)| *status), Some(423));
}

#[tokio::test]
async fn an_oidc_token_without_email_verified_cannot_claim_a_doctors_email() {
    use crate::api_oidc::{claims, email_mapped_api, sign};
    let (_jwks, key, h) = email_mapped_api().await;
    // A provider account that set its email to the doctor's but never verified it.
    let mut c = claims("someone-elses-subject");
    c["email"] = json!("alice@hospital.example");
    let token = sign(&key, "e1", &c);
    let response = h
        .http
        .get(h.url("/v1/alerts"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401, "an unverified email maps to nobody");
}
