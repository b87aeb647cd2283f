//! Twilio REST API 2010-04-01 client for SMS and voice calls.
//!
//! Form-encoded POSTs with HTTP basic auth (account SID : auth token), one
//! `I-Twilio-Idempotency-Token` per delivery attempt group so that a retry after a
//! timeout or a restart never pages a doctor twice.

use std::time::Duration;

use cw_core::secret::{ExposeSecret, SecretString};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use url::Url;

use super::{ProviderError, ProviderReceipt, error_chain, truncate_message};

pub use super::twiml::alert_call_twiml;

/// The header Twilio uses to deduplicate requests carrying the same token.
const IDEMPOTENCY_HEADER: &str = "I-Twilio-Idempotency-Token";
const API_VERSION: &str = "2010-04-01";

/// Twilio account and endpoint settings.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct TwilioConfig {
    /// Scheme, host and optional path prefix of the REST API; tests and the demo point
    /// it at a local server. Default `https://api.twilio.com`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Account SID (`AC…`): the basic-auth user and part of every resource path.
    pub account_sid: String,
    /// Auth token: the basic-auth password and the webhook signing key. Never serialised.
    #[serde(skip_serializing)]
    pub auth_token: SecretString,
    /// The Twilio number messages and calls come from (E.164).
    pub from_number: String,
    /// Where Twilio posts delivery / call status updates; none when unset.
    #[serde(default)]
    pub status_callback_url: Option<String>,
    /// Whole-request timeout in milliseconds. Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    "https://api.twilio.com".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Sends SMS and places voice calls through Twilio.
#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    account_url: Url,
    messages_url: Url,
    calls_url: Url,
    cfg: TwilioConfig,
}

/// The only part of Twilio's Message/Call resource we need.
#[derive(Deserialize)]
struct ResourceSid {
    sid: String,
}

/// Twilio's error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Deserialize)]
struct TwilioErrorBody {
    code: Option<u64>,
    message: Option<String>,
}

impl TwilioClient {
    pub fn new(cfg: TwilioConfig) -> Result<Self, ProviderError> {
        if cfg.account_sid.is_empty() || cfg.auth_token.expose_secret().is_empty() {
            return Err(ProviderError::Config(
                "twilio account_sid and auth_token must be set".to_owned(),
            ));
        }
        if cfg.from_number.is_empty() {
            return Err(ProviderError::Config(
                "twilio from_number must be set".to_owned(),
            ));
        }
        let account_url = account_url(&cfg.base_url, &cfg.account_sid)?;
        let messages_url = resource_url(&cfg.base_url, &cfg.account_sid, "Messages.json")?;
        let calls_url = resource_url(&cfg.base_url, &cfg.account_sid, "Calls.json")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            // A redirected POST turns into a GET and would silently lose the message.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProviderError::Config(format!("twilio http client: {e}")))?;
        Ok(Self {
            http,
            account_url,
            messages_url,
            calls_url,
            cfg,
        })
    }

    /// Sends an SMS. `idempotency_key` must be the same for every retry of the same
    /// notification; Twilio then answers a repeat with the original message.
    pub async fn send_sms(
        &self,
        to: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<ProviderReceipt, ProviderError> {
        self.send_sms_with_callback(to, body, idempotency_key, None)
            .await
    }

    /// [`Self::send_sms`] with a status callback URL of this delivery's own (so the
    /// callback names the outbox row), instead of the configured one.
    pub async fn send_sms_with_callback(
        &self,
        to: &str,
        body: &str,
        idempotency_key: &str,
        status_callback: Option<&str>,
    ) -> Result<ProviderReceipt, ProviderError> {
        let url = &self.messages_url;
        self.create(
            "sms",
            url,
            to,
            ("Body", body),
            idempotency_key,
            status_callback,
        )
        .await
    }

    /// Places a voice call that runs `twiml` (see [`alert_call_twiml`]).
    pub async fn place_call(
        &self,
        to: &str,
        twiml: &str,
        idempotency_key: &str,
    ) -> Result<ProviderReceipt, ProviderError> {
        self.place_call_with_callback(to, twiml, idempotency_key, None)
            .await
    }

    /// [`Self::place_call`] with a status callback URL of this delivery's own.
    pub async fn place_call_with_callback(
        &self,
        to: &str,
        twiml: &str,
        idempotency_key: &str,
        status_callback: Option<&str>,
    ) -> Result<ProviderReceipt, ProviderError> {
        // Only the final `completed` status event is requested (Twilio's default): its
        // CallStatus (completed/busy/no-answer/failed) is what escalation needs.
        let url = &self.calls_url;
        self.create(
            "call",
            url,
            to,
            ("Twiml", twiml),
            idempotency_key,
            status_callback,
        )
        .await
    }

    /// The start-up check (docs/operations.md, "Provider checks at start-up"): fetches the
    /// account resource with our credentials, which proves the base URL answers as Twilio
    /// and the SID/token pair is accepted, without sending anything to anyone.
    pub async fn check(&self) -> Result<(), ProviderError> {
        let response = self
            .http
            .get(self.account_url.clone())
            .basic_auth(
                &self.cfg.account_sid,
                Some(self.cfg.auth_token.expose_secret()),
            )
            .send()
            .await
            .map_err(|e| transport_error("account", &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error("account", &e))?;
        interpret(status, &headers, &bytes).map(|_| ())
    }

    /// The configured base URL without any user or password in it, for log lines.
    pub fn endpoint(&self) -> String {
        super::without_credentials(&self.cfg.base_url)
    }

    /// The auth token, for verifying `X-Twilio-Signature` on Twilio's requests to us.
    pub fn auth_token(&self) -> &SecretString {
        &self.cfg.auth_token
    }

    /// Creates one Message or Call resource; `content` is its `Body` or `Twiml` field.
    async fn create(
        &self,
        kind: &'static str,
        url: &Url,
        to: &str,
        content: (&'static str, &str),
        idempotency_key: &str,
        status_callback: Option<&str>,
    ) -> Result<ProviderReceipt, ProviderError> {
        let mut form = vec![("To", to), ("From", self.cfg.from_number.as_str()), content];
        if let Some(cb) = status_callback.or(self.cfg.status_callback_url.as_deref()) {
            form.push(("StatusCallback", cb));
        }
        self.post(kind, url, &form, idempotency_key).await
    }

    async fn post(
        &self,
        kind: &'static str,
        url: &Url,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<ProviderReceipt, ProviderError> {
        let request = self
            .http
            .post(url.clone())
            .basic_auth(
                &self.cfg.account_sid,
                Some(self.cfg.auth_token.expose_secret()),
            )
            .header(IDEMPOTENCY_HEADER, idempotency_key)
            .form(form)
            .build()
            .map_err(|e| ProviderError::InvalidRequest(format!("twilio {kind} request: {e}")))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| transport_error(kind, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(kind, &e))?;
        let result = interpret(status, &headers, &bytes);
        match &result {
            Ok(receipt) => tracing::debug!(
                kind,
                idempotency_key,
                sid = %receipt.provider_id,
                "twilio accepted"
            ),
            Err(err) => tracing::warn!(
                kind,
                idempotency_key,
                status = status.as_u16(),
                error = %err,
                "twilio did not accept"
            ),
        }
        result
    }
}

/// `{base}/2010-04-01/Accounts/{sid}/{leaf}`, with the SID pushed as one escaped path
/// segment so that a malformed SID cannot change which resource we post to.
fn resource_url(base: &str, account_sid: &str, leaf: &str) -> Result<Url, ProviderError> {
    api_url(base, &[API_VERSION, "Accounts", account_sid, leaf])
}

/// `base` with `segments` appended, each escaped as one path segment.
fn api_url(base: &str, segments: &[&str]) -> Result<Url, ProviderError> {
    let mut url = Url::parse(base)
        .map_err(|e| ProviderError::Config(format!("twilio base_url {base:?}: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| ProviderError::Config(format!("twilio base_url {base:?} cannot be a base")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// `{base}/2010-04-01/Accounts/{sid}.json`, the account resource itself.
fn account_url(base: &str, account_sid: &str) -> Result<Url, ProviderError> {
    api_url(
        base,
        &[API_VERSION, "Accounts", &format!("{account_sid}.json")],
    )
}

fn transport_error(kind: &str, err: &reqwest::Error) -> ProviderError {
    // Timeouts and connection failures may or may not have reached Twilio; the
    // idempotency token makes the retry safe either way.
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    ProviderError::Unavailable(format!("twilio {kind} {what}: {}", error_chain(err)))
}

fn interpret(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<ProviderReceipt, ProviderError> {
    if status.is_success() {
        let resource: ResourceSid = serde_json::from_slice(body).map_err(|e| {
            ProviderError::InvalidResponse(format!("HTTP {status} without a sid: {e}"))
        })?;
        if resource.sid.is_empty() {
            return Err(ProviderError::InvalidResponse(format!(
                "HTTP {status} with an empty sid"
            )));
        }
        return Ok(ProviderReceipt {
            provider_id: resource.sid,
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::RateLimited {
            retry_after: retry_after(headers),
        });
    }
    if status.is_server_error() {
        return Err(ProviderError::Unavailable(format!(
            "twilio answered HTTP {status}"
        )));
    }
    // 4xx, and 1xx/3xx that nothing here would make go away by retrying.
    Err(ProviderError::Rejected {
        status: status.as_u16(),
        message: error_message(body),
    })
}

fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<TwilioErrorBody>(body) {
        Ok(TwilioErrorBody {
            code: Some(code),
            message: Some(message),
        }) => truncate_message(&format!("{code}: {message}")),
        Ok(TwilioErrorBody {
            message: Some(message),
            ..
        }) => truncate_message(&message),
        _ => truncate_message(&String::from_utf8_lossy(body)),
    }
}

/// Retry-After in its delta-seconds form; the HTTP-date form is rare enough from Twilio
/// that the outbox's own backoff is good enough for it.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_url_escapes_sid_and_keeps_prefix() {
        let url = resource_url("http://h:1/prefix/", "AC/../x?y", "Messages.json");
        let url = url.map(|u| u.to_string()).unwrap_or_default();
        assert_eq!(
            url,
            "http://h:1/prefix/2010-04-01/Accounts/AC%2F..%2Fx%3Fy/Messages.json"
        );
    }

    #[test]
    fn debug_redacts_token() {
        let cfg = TwilioConfig {
            base_url: default_base_url(),
            account_sid: "AC1".into(),
            auth_token: "supersecret".into(),
            from_number: "+15005550006".into(),
            status_callback_url: None,
            timeout_ms: default_timeout_ms(),
        };
        assert!(!format!("{cfg:?}").contains("supersecret"));
    }

    #[test]
    fn maps_statuses() {
        let h = HeaderMap::new();
        let ok = interpret(StatusCode::CREATED, &h, br#"{"sid":"SM1"}"#);
        assert!(matches!(ok, Ok(r) if r.provider_id == "SM1"));
        let rejected = interpret(
            StatusCode::BAD_REQUEST,
            &h,
            br#"{"code":21211,"message":"bad To"}"#,
        );
        assert!(
            matches!(&rejected, Err(ProviderError::Rejected { status: 400, message }) if message == "21211: bad To")
        );
        assert!(matches!(interpret(StatusCode::BAD_GATEWAY, &h, b""), Err(e) if e.is_retryable()));
        assert!(matches!(
            interpret(StatusCode::OK, &h, b"<html>"),
            Err(ProviderError::InvalidResponse(_))
        ));
    }
}
