//! What the sandbox received, and the idempotency memory that goes with it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// One SMS as Twilio would have received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMessage {
    /// The `SM…` SID the sandbox answered with.
    pub sid: String,
    /// The account SID from the request path.
    pub account_sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status_callback: Option<String>,
    /// The `I-Twilio-Idempotency-Token` header, when sent.
    pub idempotency_token: Option<String>,
}

/// One voice call as Twilio would have received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The `CA…` SID the sandbox answered with.
    pub sid: String,
    pub account_sid: String,
    pub to: String,
    pub from: String,
    /// Inline TwiML, when the call was placed with `Twiml`.
    pub twiml: Option<String>,
    /// TwiML URL, when the call was placed with `Url` instead.
    pub url: Option<String>,
    pub status_callback: Option<String>,
    pub idempotency_token: Option<String>,
}

/// Which resource an idempotency token was used for; Twilio keys tokens per request
/// target, so the same token on a message and on a call are two different requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Message,
    Call,
}

#[derive(Default)]
struct Store {
    messages: Vec<RecordedMessage>,
    calls: Vec<RecordedCall>,
    /// (account, kind, token) → the JSON answered the first time.
    answered: HashMap<(String, Kind, String), serde_json::Value>,
    /// Requests answered from `answered`: a token sent again.
    replayed: u64,
}

/// State shared between the HTTP handlers and the [`crate::TwilioSandbox`] handle.
pub(crate) struct Shared {
    store: Mutex<Store>,
    /// Bumped on every new record so waiters wake without polling.
    changed: watch::Sender<()>,
    pub(crate) faults: crate::faults::Faults,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            store: Mutex::new(Store::default()),
            changed: watch::Sender::new(()),
            faults: crate::faults::Faults::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panicking handler cannot leave the vectors half-written, so poisoning only
        // means "someone panicked": keep serving the data.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn messages(&self) -> Vec<RecordedMessage> {
        self.lock().messages.clone()
    }

    pub(crate) fn calls(&self) -> Vec<RecordedCall> {
        self.lock().calls.clone()
    }

    pub(crate) fn replayed(&self) -> u64 {
        self.lock().replayed
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// Records a message unless its token was seen meanwhile; returns the answer to give.
    pub(crate) fn record_message(
        &self,
        msg: RecordedMessage,
        answer: serde_json::Value,
    ) -> serde_json::Value {
        let answer = {
            let mut store = self.lock();
            if let Some(token) = &msg.idempotency_token {
                let key = (msg.account_sid.clone(), Kind::Message, token.clone());
                if let Some(first) = store.answered.get(&key).cloned() {
                    store.replayed += 1;
                    return first;
                }
                store.answered.insert(key, answer.clone());
            }
            store.messages.push(msg);
            answer
        };
        self.changed.send_replace(());
        answer
    }

    /// Records a call unless its token was seen meanwhile; returns the answer to give.
    pub(crate) fn record_call(
        &self,
        call: RecordedCall,
        answer: serde_json::Value,
    ) -> serde_json::Value {
        let answer = {
            let mut store = self.lock();
            if let Some(token) = &call.idempotency_token {
                let key = (call.account_sid.clone(), Kind::Call, token.clone());
                if let Some(first) = store.answered.get(&key).cloned() {
                    store.replayed += 1;
                    return first;
                }
                store.answered.insert(key, answer.clone());
            }
            store.calls.push(call);
            answer
        };
        self.changed.send_replace(());
        answer
    }
}
