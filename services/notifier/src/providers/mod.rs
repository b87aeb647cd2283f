//! Clients for the external providers that carry notifications to people:
//! Twilio (SMS and voice calls) and Amazon SES v2 (email).
//!
//! Every base URL is configuration, so tests and the demo point the *real* client code
//! at a local far end (Prism, moto, `cw-sandbox`). The clients do no retrying of their
//! own: the notifier's outbox owns retries, backoff and escalation, and decides from
//! [`ProviderError::is_retryable`].

pub mod mime;
pub mod ses;
pub mod twilio;
mod twiml;

use std::time::Duration;

/// What a provider returns when it accepted a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReceipt {
    /// The provider's own id: a Twilio Message/Call SID or an SES MessageId. Stored on the
    /// delivery so status callbacks can be matched to it.
    pub provider_id: String,
}

/// Why a provider did not accept a notification.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Our own configuration is unusable (bad base URL, empty sender, ...). Retrying
    /// cannot help until an operator fixes it.
    #[error("provider configuration: {0}")]
    Config(String),
    /// The request could not even be built locally (e.g. an idempotency key that is not a
    /// valid header value). Same request, same failure: not retryable.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The provider answered with a 4xx: it understood us and said no (bad number,
    /// unverified sender, bad credentials). Not retryable as-is.
    #[error("rejected by provider (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// The provider asked us to slow down (HTTP 429 / throttling). Retryable, after
    /// `retry_after` when the provider said how long.
    #[error("rate limited by provider")]
    RateLimited { retry_after: Option<Duration> },
    /// The provider could not be reached or failed on its side: connection refused,
    /// timeout, 5xx. Retryable; the idempotency key makes a retry of a request that did
    /// arrive harmless on Twilio.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider said yes (2xx) but the answer did not carry the id we need.
    /// Retryable: with the same idempotency key Twilio answers with the same resource.
    #[error("unexpected provider response: {0}")]
    InvalidResponse(String),
}

impl ProviderError {
    /// Whether sending the same notification again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Config(_)
            | ProviderError::InvalidRequest(_)
            | ProviderError::Rejected { .. } => false,
            ProviderError::RateLimited { .. }
            | ProviderError::Unavailable(_)
            | ProviderError::InvalidResponse(_) => true,
        }
    }
}

/// Provider error texts end up in logs and in the deliveries collection; a misbehaving
/// far end (an HTML error page, a proxy) must not flood either.
pub(crate) fn truncate_message(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Client libraries' top-level errors are terse ("dispatch failure", "error sending
/// request"); the cause an operator needs is further down the source chain.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    truncate_message(&text)
}

/// `url` with any `user:password@` removed, for log lines; an unparsable URL is shown as
/// "(unparsable URL)" rather than risk printing credentials embedded in it.
pub(crate) fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            // Both fail only for URLs that cannot carry credentials in the first place.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}
