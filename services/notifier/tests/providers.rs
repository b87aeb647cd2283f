//! Provider clients against real far ends on loopback: Prism serving Twilio's own
//! OpenAPI description (request validation), our recording sandbox (state, idempotency),
//! moto (SES v2), and tiny axum servers for failure modes. Run through `scripts/test`,
//! which starts Prism and moto and exports their URLs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use cw_notifier::providers::ProviderError;
use cw_notifier::providers::ses::{SesClient, SesConfig, SesStaticCredentials};
use cw_notifier::providers::twilio::{TwilioClient, TwilioConfig, alert_call_twiml};
use cw_sandbox::TwilioSandbox;

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const FROM: &str = "+15005550006";
const TO: &str = "+15005550010";

/// A server address exported by `scripts/test`. Missing means the test is being run
/// without its servers, which must fail — a skipped provider test proves nothing.
fn server_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{var} is not set: run these tests with `scripts/test -p cw-notifier`, \
             which starts Prism (Twilio) and moto (SES) and exports their addresses"
        ),
    }
}

/// Unique per test within this process, so tests sharing one moto server never see
/// each other's mail.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn twilio_config(base_url: &str) -> TwilioConfig {
    TwilioConfig {
        base_url: base_url.to_owned(),
        account_sid: ACCOUNT_SID.to_owned(),
        auth_token: "test-auth-token".into(),
        from_number: FROM.to_owned(),
        status_callback_url: Some("http://127.0.0.1:9/twilio/status".to_owned()),
        timeout_ms: 5_000,
    }
}

fn twilio(base_url: &str) -> TwilioClient {
    TwilioClient::new(twilio_config(base_url)).expect("valid twilio config")
}

async fn ses(from_address: &str) -> SesClient {
    ses_at(&server_url("CW_TEST_SES_URL"), from_address, 5_000).await
}

/// An SES client for `endpoint` with moto's static test credentials.
async fn ses_at(endpoint: &str, from_address: &str, timeout_ms: u64) -> SesClient {
    SesClient::new(SesConfig {
        endpoint_url: Some(endpoint.to_owned()),
        region: "us-east-1".to_owned(),
        from_address: from_address.to_owned(),
        static_credentials: Some(SesStaticCredentials {
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".into(),
        }),
        timeout_ms,
    })
    .await
    .expect("valid ses config")
}

/// A loopback address nothing listens on (bound, then dropped).
async fn nothing_listens() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("addr")
}

/// Serves `router` on a free loopback port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

// ---- Twilio through Prism: our requests match Twilio's own API description ----

#[tokio::test]
async fn sms_through_prism_returns_message_sid() {
    let client = twilio(&server_url("CW_TEST_TWILIO_URL"));
    let receipt = client
        .send_sms(TO, "Alert 01JABC: heart rate 162 bpm", &unique("sms"))
        .await
        .expect("prism accepts a valid message");
    assert!(
        receipt.provider_id.starts_with("SM"),
        "sid {:?}",
        receipt.provider_id
    );
}

#[tokio::test]
async fn malformed_account_sid_is_rejected_by_prism() {
    let mut cfg = twilio_config(&server_url("CW_TEST_TWILIO_URL"));
    cfg.account_sid = "not-an-account".to_owned();
    let client = TwilioClient::new(cfg).expect("sid format is the provider's call");
    let err = client
        .send_sms(TO, "x", &unique("sms"))
        .await
        .expect_err("bad sid");
    assert!(
        matches!(err, ProviderError::Rejected { status: 422, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn non_url_status_callback_is_rejected_by_prism() {
    let mut cfg = twilio_config(&server_url("CW_TEST_TWILIO_URL"));
    cfg.status_callback_url = Some("not a url".to_owned());
    let err = TwilioClient::new(cfg)
        .expect("valid config")
        .send_sms(TO, "x", &unique("sms"))
        .await
        .expect_err("bad callback");
    assert!(
        matches!(err, ProviderError::Rejected { status: 422, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn voice_call_through_prism_returns_call_sid() {
    let client = twilio(&server_url("CW_TEST_TWILIO_URL"));
    let twiml = alert_call_twiml(
        "Alert for patient 01JABC: asystole.",
        Some("http://127.0.0.1:9/twilio/gather?alert=01JXYZ&attempt=1"),
    );
    let receipt = client
        .place_call(TO, &twiml, &unique("call"))
        .await
        .expect("call accepted");
    assert!(
        receipt.provider_id.starts_with("CA"),
        "sid {:?}",
        receipt.provider_id
    );
}

// ---- Twilio against the recording sandbox: what actually arrives ----

#[tokio::test]
async fn sms_to_sandbox_arrives_with_fields_and_idempotency_token() {
    let sandbox = TwilioSandbox::start(0).await.expect("sandbox starts");
    let client = twilio(&sandbox.base_url());
    let key = unique("alert-sms");
    let receipt = client
        .send_sms(TO, "Alert 01JABC: HR 40 & falling", &key)
        .await
        .expect("sent");

    let messages = sandbox.wait_for_messages(1, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.sid, receipt.provider_id);
    assert_eq!(m.account_sid, ACCOUNT_SID);
    assert_eq!((m.to.as_str(), m.from.as_str()), (TO, FROM));
    assert_eq!(m.body, "Alert 01JABC: HR 40 & falling");
    assert_eq!(
        m.status_callback.as_deref(),
        Some("http://127.0.0.1:9/twilio/status")
    );
    assert_eq!(m.idempotency_token.as_deref(), Some(key.as_str()));
    assert!(m.sid.starts_with("SM") && m.sid.len() == 34, "{}", m.sid);
}

#[tokio::test]
async fn same_idempotency_key_twice_is_one_message_with_one_sid() {
    let sandbox = TwilioSandbox::start(0).await.expect("sandbox starts");
    let client = twilio(&sandbox.base_url());
    let key = unique("alert-sms");
    let first = client.send_sms(TO, "Alert", &key).await.expect("first");
    let again = client.send_sms(TO, "Alert", &key).await.expect("retry");
    let other = client
        .send_sms(TO, "Alert", &unique("alert-sms"))
        .await
        .expect("other key");

    assert_eq!(first, again);
    assert_ne!(first, other);
    let messages = sandbox.wait_for_messages(2, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
}

#[tokio::test]
async fn voice_call_to_sandbox_carries_escaped_twiml() {
    let sandbox = TwilioSandbox::start(0).await.expect("sandbox starts");
    let client = twilio(&sandbox.base_url());
    let twiml = alert_call_twiml("HR < 30", Some("http://127.0.0.1:9/gather?a=1&b=2"));
    let receipt = client
        .place_call(TO, &twiml, &unique("call"))
        .await
        .expect("placed");

    let calls = sandbox.wait_for_calls(1, Duration::from_secs(5)).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].sid, receipt.provider_id);
    assert_eq!(calls[0].twiml.as_deref(), Some(twiml.as_str()));
    assert!(
        twiml.contains("HR &lt; 30") && twiml.contains("a=1&amp;b=2"),
        "{twiml}"
    );
}

// ---- Twilio failure modes ----

#[tokio::test]
async fn twilio_503_is_unavailable_and_retryable() {
    let base = serve(Router::new().fallback(post(|| async {
        (StatusCode::SERVICE_UNAVAILABLE, "upstream overloaded")
    })))
    .await;
    let err = twilio(&base)
        .send_sms(TO, "x", &unique("sms"))
        .await
        .expect_err("503");
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn twilio_429_is_rate_limited_with_retry_after() {
    let base = serve(Router::new().fallback(post(|| async {
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"code":20429,"message":"Too Many Requests"}"#,
        )
            .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        resp
    })))
    .await;
    let err = twilio(&base)
        .send_sms(TO, "x", &unique("sms"))
        .await
        .expect_err("429");
    assert!(
        matches!(err, ProviderError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7)),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn twilio_timeout_is_unavailable_and_retryable() {
    let base = serve(Router::new().fallback(post(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        StatusCode::CREATED
    })))
    .await;
    let mut cfg = twilio_config(&base);
    cfg.timeout_ms = 200;
    let err = TwilioClient::new(cfg)
        .expect("valid config")
        .send_sms(TO, "x", &unique("sms"))
        .await
        .expect_err("timeout");
    assert!(
        matches!(&err, ProviderError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn unreachable_twilio_is_unavailable_and_retryable() {
    let addr = nothing_listens().await;
    let err = twilio(&format!("http://{addr}"))
        .send_sms(TO, "x", &unique("sms"))
        .await
        .expect_err("refused");
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
}

// ---- SES v2 through moto ----

#[tokio::test]
async fn email_through_moto_is_sent_and_recorded() {
    let from = format!("{}@cardiowatch.test", unique("alerts"));
    let to = format!("{}@hospital.test", unique("dr"));
    let client = ses(&from).await;
    client
        .ensure_identity(&from)
        .await
        .expect("identity created");
    client
        .ensure_identity(&from)
        .await
        .expect("creating it again is fine");

    let threading = cw_notifier::providers::mime::Threading {
        message_id: "01jxyz.dr-1.1@cardiowatch.test",
        references: "01jxyz@cardiowatch.test",
    };
    let receipt = client
        .send_email(
            &to,
            "High priority alert 01JXYZ",
            "Patient 01JABC: asystole for 4 s.",
            Some(&threading),
        )
        .await
        .expect("moto accepts mail from a created identity");
    assert!(!receipt.provider_id.is_empty());

    // moto keeps sent raw mail under ses.RawMessage[] = {id, source, destinations,
    // raw_data}.
    let data: serde_json::Value = reqwest::get(format!(
        "{}/moto-api/data.json",
        server_url("CW_TEST_SES_URL")
    ))
    .await
    .expect("moto data endpoint")
    .json()
    .await
    .expect("moto data is json");
    let messages = data["ses"]["RawMessage"]
        .as_array()
        .expect("ses.RawMessage is a list");
    let sent = messages
        .iter()
        .find(|m| m["id"] == receipt.provider_id.as_str())
        .unwrap_or_else(|| panic!("message {} not in moto: {messages:?}", receipt.provider_id));
    assert_eq!(sent["source"], from.as_str());
    let raw = sent["raw_data"].as_str().expect("raw mail");
    for line in [
        format!("To: {to}"),
        "Subject: High priority alert 01JXYZ".to_owned(),
        "Message-ID: <01jxyz.dr-1.1@cardiowatch.test>".to_owned(),
        "References: <01jxyz@cardiowatch.test>".to_owned(),
        "Patient 01JABC: asystole for 4 s.".to_owned(),
    ] {
        assert!(raw.contains(&format!("{line}\r\n")), "{line:?} in {raw:?}");
    }
}

#[tokio::test]
async fn email_from_unverified_sender_is_rejected() {
    let from = format!("{}@cardiowatch.test", unique("never-created"));
    let err = ses(&from)
        .await
        .send_email("dr@hospital.test", "s", "t", None)
        .await
        .expect_err("unverified sender");
    assert!(
        matches!(&err, ProviderError::Rejected { status: 400, message } if message.contains("MessageRejected")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn unreachable_ses_is_unavailable_and_retryable() {
    let addr = nothing_listens().await;
    let client = ses_at(&format!("http://{addr}"), "alerts@cardiowatch.test", 2_000).await;
    let err = client
        .send_email("dr@hospital.test", "s", "t", None)
        .await
        .expect_err("refused");
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
}

// ---- Start-up checks (docs/operations.md, "Provider checks at start-up") ----

#[tokio::test]
async fn twilio_check_passes_at_prism_and_the_sandbox() {
    // Prism checks the request against Twilio's own description of "Fetch an Account".
    twilio(&server_url("CW_TEST_TWILIO_URL"))
        .check()
        .await
        .expect("prism serves the account resource");
    let sandbox = TwilioSandbox::start(0).await.expect("sandbox starts");
    twilio(&sandbox.base_url())
        .check()
        .await
        .expect("the sandbox serves the account resource");
}

#[tokio::test]
async fn twilio_check_reports_rejected_credentials() {
    let base = serve(Router::new().fallback(axum::routing::get(|| async {
        (
            StatusCode::UNAUTHORIZED,
            r#"{"code":20003,"message":"Authenticate","status":401}"#,
        )
    })))
    .await;
    let err = twilio(&base).check().await.expect_err("401");
    assert!(
        matches!(&err, ProviderError::Rejected { status: 401, message } if message.contains("20003")),
        "{err:?}"
    );
}

#[tokio::test]
async fn twilio_check_reports_an_unreachable_url() {
    let addr = nothing_listens().await;
    let client = twilio(&format!("http://{addr}"));
    let err = client.check().await.expect_err("refused");
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn twilio_endpoint_for_logs_drops_credentials() {
    let client = twilio("https://AC1:hunter2@api.twilio.com/");
    assert_eq!(client.endpoint(), "https://api.twilio.com/");
}

#[tokio::test]
async fn ses_check_passes_at_moto_and_reports_an_unreachable_url() {
    ses("alerts@cardiowatch.test")
        .await
        .check()
        .await
        .expect("moto answers ListEmailIdentities");
    let addr = nothing_listens().await;
    let client = ses_at(&format!("http://{addr}"), "alerts@cardiowatch.test", 2_000).await;
    assert_eq!(client.endpoint(), format!("http://{addr}/"));
    let err = client.check().await.expect_err("refused");
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

// ---- TLS set-up ----

/// The workspace compiles rustls with both ring (ours, reqwest) and aws-lc-rs (the AWS
/// SDK), so rustls cannot pick a process-wide default provider. Both clients must choose
/// theirs explicitly; this drives each into a TLS handshake with no default installed
/// and expects an ordinary retryable error rather than a panic.
#[tokio::test]
async fn https_endpoints_need_no_process_crypto_provider() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        // Accept and hang up: the client has started its handshake by then.
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });

    let err = twilio(&format!("https://{addr}"))
        .send_sms(TO, "x", &unique("sms"))
        .await
        .expect_err("no TLS server");
    assert!(err.is_retryable(), "{err:?}");

    let client = ses_at(&format!("https://{addr}"), "alerts@cardiowatch.test", 2_000).await;
    let err = client
        .send_email("dr@hospital.test", "s", "t", None)
        .await
        .expect_err("no TLS server");
    assert!(err.is_retryable(), "{err:?}");
}
