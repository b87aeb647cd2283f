//! Start-up checks of the configured providers (docs/operations.md, "Provider checks at
//! start-up"): each client makes one harmless authenticated call, so wrong credentials
//! or a wrong URL show in the log at start and not at the first real page. A failed check
//! warns and is counted; the notifier keeps running, because a provider that is down must
//! not stop it paging by the other channels (and it may come back before the first page).

use crate::events::{ProviderCheckFailed, ProviderCheckPassed};
use crate::metrics::NotifierMetrics;
use crate::providers::ProviderError;
use crate::providers::ses::SesClient;
use crate::providers::twilio::TwilioClient;
use cw_runtime::InternalEvent;

/// What went wrong, in the words an operator acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFailure {
    /// The provider answered 401/403: it does not accept our credentials.
    CredentialsRejected,
    /// No answer: connection refused, DNS, TLS, timeout, or the provider's 5xx.
    Unreachable,
    /// Something answered, but not as the provider would.
    Unexpected,
}

impl CheckFailure {
    pub fn of(error: &ProviderError) -> Self {
        match error {
            ProviderError::Rejected {
                status: 401 | 403, ..
            } => CheckFailure::CredentialsRejected,
            ProviderError::Unavailable(_) | ProviderError::RateLimited { .. } => {
                CheckFailure::Unreachable
            }
            _ => CheckFailure::Unexpected,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckFailure::CredentialsRejected => "credentials rejected",
            CheckFailure::Unreachable => "unreachable",
            CheckFailure::Unexpected => "unexpected answer",
        }
    }
}

/// A provider the notifier checks, with the remedy for each way its check fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Twilio,
    Ses,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Ses => "ses",
        }
    }

    /// The settings to look at (docs/config.md), never their values.
    pub fn remedy(self, failure: CheckFailure) -> &'static str {
        match (self, failure) {
            (Provider::Twilio, CheckFailure::CredentialsRejected) => {
                "check twilio.account_sid and twilio.auth_token (CW_TWILIO__AUTH_TOKEN_FILE): they must be the same account's"
            }
            (Provider::Twilio, CheckFailure::Unreachable) => {
                "check twilio.base_url and that this host reaches it (DNS, firewall, egress proxy)"
            }
            (Provider::Twilio, CheckFailure::Unexpected) => {
                "check twilio.base_url: it must be the Twilio REST API's root (default https://api.twilio.com)"
            }
            (Provider::Ses, CheckFailure::CredentialsRejected) => {
                "check the AWS credentials (ses.static_credentials or the AWS chain) and that they allow ses:ListEmailIdentities and ses:SendEmail in ses.region"
            }
            (Provider::Ses, CheckFailure::Unreachable) => {
                "check ses.region / ses.endpoint_url and that this host reaches it (DNS, firewall, egress proxy)"
            }
            (Provider::Ses, CheckFailure::Unexpected) => {
                "check ses.endpoint_url: it must be an SES v2 endpoint (unset for AWS's own)"
            }
        }
    }
}

/// Checks each configured provider once and reports each result (one line each).
pub async fn check_providers(
    twilio: Option<&TwilioClient>,
    ses: Option<&SesClient>,
    metrics: &NotifierMetrics,
) {
    if let Some(client) = twilio {
        report(
            Provider::Twilio,
            &client.endpoint(),
            client.check().await,
            metrics,
        );
    }
    if let Some(client) = ses {
        report(
            Provider::Ses,
            client.endpoint(),
            client.check().await,
            metrics,
        );
    }
}

fn report(
    provider: Provider,
    url: &str,
    result: Result<(), ProviderError>,
    metrics: &NotifierMetrics,
) {
    match result {
        Ok(()) => ProviderCheckPassed {
            provider: provider.as_str(),
            url,
        }
        .emit(metrics),
        Err(error) => {
            let failure = CheckFailure::of(&error);
            ProviderCheckFailed {
                provider: provider.as_str(),
                url,
                failure: failure.as_str(),
                loud: failure == CheckFailure::CredentialsRejected,
                remedy: provider.remedy(failure),
                error: &error,
            }
            .emit(metrics)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_for_the_operator() {
        let rejected = |status| ProviderError::Rejected {
            status,
            message: String::new(),
        };
        assert_eq!(
            CheckFailure::of(&rejected(401)),
            CheckFailure::CredentialsRejected
        );
        assert_eq!(
            CheckFailure::of(&rejected(403)),
            CheckFailure::CredentialsRejected
        );
        assert_eq!(CheckFailure::of(&rejected(404)), CheckFailure::Unexpected);
        assert_eq!(
            CheckFailure::of(&ProviderError::Unavailable("refused".into())),
            CheckFailure::Unreachable
        );
        assert_eq!(
            CheckFailure::of(&ProviderError::InvalidResponse("html".into())),
            CheckFailure::Unexpected
        );
    }
}
