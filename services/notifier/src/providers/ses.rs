//! Amazon SES v2 email client (`SendEmail` with raw MIME content).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sesv2::config::Credentials;
use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use cw_core::secret::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::mime::{self, InlinePng, Threading};
use super::{ProviderError, ProviderReceipt, error_chain, truncate_message};

/// SES settings. Credentials come from the standard AWS chain (environment, profile,
/// web identity, instance/container role) unless `static_credentials` is set.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct SesConfig {
    /// Overrides the SES endpoint (e.g. a local moto server); the AWS default when unset.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// AWS region. Default `us-east-1`.
    #[serde(default = "default_region")]
    pub region: String,
    /// The verified sender address.
    pub from_address: String,
    /// Fixed credentials instead of the AWS chain — for local emulators and tests, where
    /// the chain would find nothing (or the developer's real account).
    #[serde(default)]
    pub static_credentials: Option<SesStaticCredentials>,
    /// Per-operation timeout in milliseconds. Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// An access key pair given in configuration.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct SesStaticCredentials {
    pub access_key_id: String,
    // Never serialised (serialising serves docs/config.md's defaults).
    #[serde(skip_serializing)]
    pub secret_access_key: SecretString,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Sends email through SES v2.
#[derive(Debug, Clone)]
pub struct SesClient {
    client: aws_sdk_sesv2::Client,
    from_address: String,
    endpoint: String,
}

impl SesClient {
    pub async fn new(cfg: SesConfig) -> Result<Self, ProviderError> {
        if cfg.from_address.is_empty() {
            return Err(ProviderError::Config(
                "ses from_address must be set".to_owned(),
            ));
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_millis(cfg.timeout_ms))
                    .build(),
            )
            // SendEmail is not idempotent, and the notifier's outbox already retries
            // with backoff and escalation; a second, hidden retry layer here would only
            // add duplicate mail and latency.
            .retry_config(RetryConfig::disabled());
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(creds) = &cfg.static_credentials {
            loader = loader.credentials_provider(Credentials::new(
                &creds.access_key_id,
                creds.secret_access_key.expose_secret(),
                None,
                None,
                "cardiowatch-config",
            ));
        }
        let sdk_config = loader.load().await;
        let endpoint = match &cfg.endpoint_url {
            Some(url) => super::without_credentials(url),
            None => format!("https://email.{}.amazonaws.com", cfg.region),
        };
        Ok(Self {
            client: aws_sdk_sesv2::Client::new(&sdk_config),
            from_address: cfg.from_address,
            endpoint,
        })
    }

    /// The verified sender address (its domain names our `Message-ID`s).
    pub fn from_address(&self) -> &str {
        &self.from_address
    }

    /// Sends a plain-text email from the configured sender, as raw MIME so that it
    /// carries `threading`'s ids when given; returns SES's MessageId. (SES itself
    /// replaces a `Message-ID` it is given with its own; `References` it keeps.)
    pub async fn send_email(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        threading: Option<&Threading<'_>>,
    ) -> Result<ProviderReceipt, ProviderError> {
        self.send_email_with_image(to, subject, text, threading, None)
            .await
    }

    /// [`Self::send_email`] with a PNG shown inline under the text (the event strip).
    pub async fn send_email_with_image(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        threading: Option<&Threading<'_>>,
        image: Option<&InlinePng<'_>>,
    ) -> Result<ProviderReceipt, ProviderError> {
        let mail = mime::compose(&self.from_address, to, subject, text, threading, image)?;
        let raw = RawMessage::builder()
            .data(Blob::new(mail.into_bytes()))
            .build()
            .map_err(|e| ProviderError::InvalidRequest(format!("ses raw message: {e}")))?;
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from_address)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| {
                let err = map_sdk_error("SendEmail", e);
                tracing::warn!(error = %err, "ses did not accept");
                err
            })?;
        match output.message_id {
            Some(id) if !id.is_empty() => {
                tracing::debug!(message_id = %id, "ses accepted");
                Ok(ProviderReceipt { provider_id: id })
            }
            _ => Err(ProviderError::InvalidResponse(
                "SendEmail without a MessageId".to_owned(),
            )),
        }
    }

    /// Where requests go (the endpoint override without credentials, or SES's regional
    /// endpoint), for log lines.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The start-up check (docs/operations.md, "Provider checks at start-up"): one
    /// signed read, `ListEmailIdentities` with a page of one, which proves the endpoint
    /// answers as SES and the credentials are accepted, without sending mail. (moto
    /// serves no `GetAccount`; needs `ses:ListEmailIdentities`.)
    pub async fn check(&self) -> Result<(), ProviderError> {
        self.client
            .list_email_identities()
            .page_size(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| map_sdk_error("ListEmailIdentities", e))
    }

    /// Makes sure `address` exists as an SES email identity (CreateEmailIdentity),
    /// accepting "already exists". On real SES the identity still has to be verified by
    /// its owner; emulators (moto) treat it as verified at once, which is what tests and
    /// the demo rely on.
    pub async fn ensure_identity(&self, address: &str) -> Result<(), ProviderError> {
        match self
            .client
            .create_email_identity()
            .email_identity(address)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_already_exists_exception() => Ok(()),
            Err(e) => Err(map_sdk_error("CreateEmailIdentity", e)),
        }
    }
}

fn map_sdk_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ConstructionFailure(_) => {
            ProviderError::InvalidRequest(format!("ses {operation}: {}", error_chain(&err)))
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("unknown");
            let message = service.err().message().unwrap_or("");
            if status == 429 || code == "TooManyRequestsException" {
                ProviderError::RateLimited { retry_after: None }
            } else if (400..500).contains(&status) {
                ProviderError::Rejected {
                    status,
                    message: truncate_message(&format!("{code}: {message}")),
                }
            } else {
                ProviderError::Unavailable(truncate_message(&format!(
                    "ses {operation} HTTP {status} {code}: {message}"
                )))
            }
        }
        // Timeouts, connection failures and unreadable responses: the far end may come
        // back, so the outbox should try again.
        _ => ProviderError::Unavailable(format!("ses {operation}: {}", error_chain(&err))),
    }
}
