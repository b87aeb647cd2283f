//! The sandbox speaks enough Twilio for our client and refuses what Twilio refuses.

use std::time::Duration;

use cw_sandbox::TwilioSandbox;
use serde_json::Value;

const SID: &str = "AC0123456789abcdef0123456789abcdef";

fn messages_url(sandbox: &TwilioSandbox) -> String {
    format!(
        "{}/2010-04-01/Accounts/{SID}/Messages.json",
        sandbox.base_url()
    )
}

#[tokio::test]
async fn health_answers() {
    let sandbox = TwilioSandbox::start(0).await.expect("starts");
    let resp = reqwest::get(format!("{}/healthz", sandbox.base_url()))
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn missing_basic_auth_is_401_like_twilio() {
    let sandbox = TwilioSandbox::start(0).await.expect("starts");
    let resp = reqwest::Client::new()
        .post(messages_url(&sandbox))
        .form(&[
            ("To", "+15005550010"),
            ("From", "+15005550006"),
            ("Body", "x"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 20003);
    assert!(sandbox.messages().is_empty());
}

#[tokio::test]
async fn missing_fields_are_400_and_not_recorded() {
    let sandbox = TwilioSandbox::start(0).await.expect("starts");
    let client = reqwest::Client::new();
    let cases: [(&[(&str, &str)], u64); 3] = [
        (&[("From", "+15005550006"), ("Body", "x")], 21604),
        (&[("To", "+15005550010"), ("Body", "x")], 21603),
        (&[("To", "+15005550010"), ("From", "+15005550006")], 21602),
    ];
    for (form, code) in cases {
        let resp = client
            .post(messages_url(&sandbox))
            .basic_auth(SID, Some("token"))
            .form(form)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["code"], code);
    }
    let call = client
        .post(format!(
            "{}/2010-04-01/Accounts/{SID}/Calls.json",
            sandbox.base_url()
        ))
        .basic_auth(SID, Some("token"))
        .form(&[("To", "+15005550010"), ("From", "+15005550006")])
        .send()
        .await
        .expect("post");
    assert_eq!(call.status(), 400);
    assert!(sandbox.messages().is_empty() && sandbox.calls().is_empty());
}

#[tokio::test]
async fn json_body_is_refused() {
    let sandbox = TwilioSandbox::start(0).await.expect("starts");
    let resp = reqwest::Client::new()
        .post(messages_url(&sandbox))
        .basic_auth(SID, Some("token"))
        .json(&serde_json::json!({"To": "+1", "From": "+1", "Body": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 415);
}

#[tokio::test]
async fn answers_twilio_shaped_resource() {
    let sandbox = TwilioSandbox::start(0).await.expect("starts");
    let resp = reqwest::Client::new()
        .post(messages_url(&sandbox))
        .basic_auth(SID, Some("token"))
        .form(&[
            ("To", "+15005550010"),
            ("From", "+15005550006"),
            ("Body", "x"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    let sid = body["sid"].as_str().expect("sid");
    assert!(sid.starts_with("SM") && sid.len() == 34);
    assert!(sid[2..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(body["status"], "queued");
    assert_eq!(body["account_sid"], SID);
    assert_eq!(
        body["uri"],
        format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json")
    );
}

#[tokio::test]
async fn wait_returns_what_it_has_at_timeout() {
    let sandbox = TwilioSandbox::start(0).await.expect("starts");
    let started = std::time::Instant::now();
    let got = sandbox
        .wait_for_messages(1, Duration::from_millis(100))
        .await;
    assert!(got.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn wait_wakes_on_arrival() {
    let sandbox = TwilioSandbox::start(0).await.expect("starts");
    let url = messages_url(&sandbox);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = reqwest::Client::new()
            .post(url)
            .basic_auth(SID, Some("token"))
            .form(&[
                ("To", "+15005550010"),
                ("From", "+15005550006"),
                ("Body", "x"),
            ])
            .send()
            .await;
    });
    let started = std::time::Instant::now();
    let got = sandbox.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}
