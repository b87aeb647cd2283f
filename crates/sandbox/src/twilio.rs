//! The handle tests and the demo hold: starts the server, reads what it recorded.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

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
