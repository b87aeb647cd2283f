//! The handle tests and the demo hold: starts the server, reads what it recorded.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use crate::callbacks::{gather_action, post_signed};
use crate::handlers::router;
use crate::records::{RecordedCall, RecordedMessage, Shared};

/// A Twilio-compatible recording server on 127.0.0.1. It stops when dropped.
pub struct TwilioSandbox {
    port: u16,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl TwilioSandbox {
    /// Binds 127.0.0.1:port (0 = any free port) and serves in a background tokio task.
    pub async fn start(port: u16) -> std::io::Result<TwilioSandbox> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new());
        let app = router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "twilio sandbox stopped");
            }
        });
        tracing::info!(port, "twilio sandbox listening");
        Ok(TwilioSandbox {
            port,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:PORT` — the Twilio client's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message recorded so far, in arrival order (idempotent repeats excluded).
    pub fn messages(&self) -> Vec<RecordedMessage> {
        self.shared.messages()
    }

    /// Every call recorded so far, in arrival order (idempotent repeats excluded).
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.calls()
    }

    /// Waits until at least `n` messages were recorded or `timeout` passed, and returns
    /// what it has either way — the caller asserts on the count.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<RecordedMessage> {
        self.wait_for(n, timeout, || self.shared.messages()).await
    }

    /// Like [`Self::wait_for_messages`], for calls.
    pub async fn wait_for_calls(&self, n: usize, timeout: Duration) -> Vec<RecordedCall> {
        self.wait_for(n, timeout, || self.shared.calls()).await
    }

    /// Refuses the next `n` requests with HTTP `status` (before recording them).
    pub fn fail_next(&self, n: u32, status: u16) {
        self.shared.faults.fail_next(n, status);
    }

    /// Refuses every request with HTTP `status` until called with `None`: an outage.
    pub fn fail_all(&self, status: Option<u16>) {
        self.shared.faults.fail_all(status);
    }

    /// Records each request, then holds the answer this long (`None`: answer at once).
    pub fn delay_answers(&self, delay: Option<Duration>) {
        self.shared.faults.delay_answers(delay);
    }

    /// Requests that carried an idempotency token already used: Twilio (and this
    /// sandbox) answer them with the first resource instead of sending again.
    pub fn replayed(&self) -> u64 {
        self.shared.replayed()
    }

    /// Requests refused by [`Self::fail_next`] / [`Self::fail_all`].
    pub fn refused(&self) -> u64 {
        self.shared.faults.refused()
    }

    /// Posts Twilio's status callback for a recorded message or call (by SID) to the
    /// `StatusCallback` URL it was created with, signed with `auth_token`.
    pub async fn send_status(
        &self,
        client: &reqwest::Client,
        auth_token: &str,
        sid: &str,
        status: &str,
    ) -> Result<(u16, String), String> {
        if let Some(m) = self.messages().into_iter().find(|m| m.sid == sid) {
            let url = m.status_callback.ok_or("message has no StatusCallback")?;
            let params = [
                ("MessageSid", sid),
                ("MessageStatus", status),
                ("To", m.to.as_str()),
            ];
            return post_signed(client, auth_token, &url, &params)
                .await
                .map_err(|e| e.to_string());
        }
        let call = self
            .calls()
            .into_iter()
            .find(|c| c.sid == sid)
            .ok_or("no such sid")?;
        let url = call.status_callback.ok_or("call has no StatusCallback")?;
        let params = [
            ("CallSid", sid),
            ("CallStatus", status),
            ("To", call.to.as_str()),
        ];
        post_signed(client, auth_token, &url, &params)
            .await
            .map_err(|e| e.to_string())
    }

    /// The callee pressed `digit` during a recorded call: posts `Digits` to the call's
    /// `<Gather action>`, signed, and returns the TwiML answer.
    pub async fn press_key(
        &self,
        client: &reqwest::Client,
        auth_token: &str,
        call_sid: &str,
        digit: &str,
    ) -> Result<(u16, String), String> {
        let call = self
            .calls()
            .into_iter()
            .find(|c| c.sid == call_sid)
            .ok_or("no such call")?;
        let twiml = call.twiml.ok_or("call has no inline TwiML")?;
        let url = gather_action(&twiml).ok_or("the call's TwiML gathers no key press")?;
        let params = [
            ("CallSid", call_sid),
            ("Digits", digit),
            ("From", call.to.as_str()),
            ("To", call.from.as_str()),
        ];
        post_signed(client, auth_token, &url, &params)
            .await
            .map_err(|e| e.to_string())
    }

    /// A text from `from` to our Twilio number, posted to the application's inbound SMS
    /// webhook `url`, signed.
    pub async fn reply_sms(
        &self,
        client: &reqwest::Client,
        auth_token: &str,
        url: &str,
        from: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
        let sid = format!("SM{:032x}", rand::random::<u128>());
        let params = [("MessageSid", sid.as_str()), ("From", from), ("Body", body)];
        post_signed(client, auth_token, url, &params)
            .await
            .map_err(|e| e.to_string())
    }

    async fn wait_for<T>(&self, n: usize, timeout: Duration, read: impl Fn() -> Vec<T>) -> Vec<T> {
        let deadline = Instant::now() + timeout;
        // Subscribed before the first read: a record landing between a read and the wait
        // still marks the channel changed, so it is never missed.
        let mut changes = self.shared.subscribe();
        loop {
            let items = read();
            if items.len() >= n {
                return items;
            }
            match timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                // Deadline reached (or the sender is gone, which cannot outlive `self`).
                _ => return read(),
            }
        }
    }
}

impl Drop for TwilioSandbox {
    fn drop(&mut self) {
        // Frees the port for the next test; in-flight requests are cut off, which is
        // what a test tearing down wants.
        self.server.abort();
    }
}
