//! The notifier's own TLS listener for what Twilio sends us: delivery status callbacks,
//! SMS replies ("1" or "ACK <code>") and key presses on alert calls. Every request is
//! checked against `X-Twilio-Signature` first; one that does not verify gets 403 and
//! changes nothing.

mod ack;
pub(crate) mod replay_pruning;
pub(crate) mod routes;
pub mod signature;

pub use routes::router;
/// Paths of the listener (after `public_url`): status callbacks, key presses, SMS replies.
pub use routes::{GATHER_PATH, SMS_PATH, STATUS_PATH};

use cw_core::Delivery;
use url::Url;

/// The URLs Twilio is given for one delivery: they name the outbox row, so a callback
/// finds it without a lookup by provider id.
#[derive(Clone, Debug)]
pub struct CallbackUrls {
    public_url: String,
}

impl CallbackUrls {
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    fn with_row(&self, path: &str, delivery: &Delivery) -> String {
        let base = format!("{}{path}", self.public_url);
        match Url::parse_with_params(
            &base,
            [
                ("alert", delivery.alert.as_str()),
                ("key", delivery.idempotency_key().as_str()),
            ],
        ) {
            Ok(url) => url.to_string(),
            // public_url is validated at start; keep the page going without a callback.
            Err(_) => base,
        }
    }

    pub fn status(&self, delivery: &Delivery) -> String {
        self.with_row(routes::STATUS_PATH, delivery)
    }

    pub fn gather(&self, delivery: &Delivery) -> String {
        self.with_row(routes::GATHER_PATH, delivery)
    }

    /// The URL Twilio signed for a request that arrived with this path and query.
    pub fn signed_url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.public_url)
    }
}
