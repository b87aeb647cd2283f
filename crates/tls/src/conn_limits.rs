//! Limits every listener applies to its connections, so that slow, silent or numerous
//! clients cannot hold the service's tasks and sockets (docs/security.md, Edge):
//! a deadline for request headers, an idle timeout, and caps on open connections in all
//! and per client address.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionLimits {
    /// A request's headers (HTTP/1) must have arrived this long after the connection
    /// began waiting for them: half-sent headers are cut off, not held.
    pub header_read_timeout_ms: u64,
    /// A connection — also an upgraded WebSocket — on which no byte moved either way for
    /// this long is closed.
    pub idle_timeout_s: u64,
    /// Open connections of the listener; more are closed at once.
    pub max_connections: usize,
    /// Open connections from one client IP address; more are closed at once. Gateways
    /// behind one NAT address share it: size it for the largest such site.
    pub max_per_client: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            idle_timeout_s: 300,
            max_connections: 20_000,
            max_per_client: 2_000,
        }
    }
}

/// Counts open connections against [`ConnectionLimits`].
pub(crate) struct Admission {
    limits: ConnectionLimits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; released when dropped.
pub(crate) struct Admitted {
    admission: Arc<Admission>,
    client: IpAddr,
}

impl Admission {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// Takes a place for a connection from `client`, or `None` over a cap.
    pub(crate) fn admit(self: &Arc<Self>, client: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, per_client) = &mut *open;
        let mine = per_client.get(&client).copied().unwrap_or(0);
        if *total >= self.limits.max_connections || mine >= self.limits.max_per_client {
            return None;
        }
        *total += 1;
        per_client.insert(client, mine + 1);
        Some(Admitted {
            admission: Arc::clone(self),
            client,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (total, per_client) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(n) = per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                per_client.remove(&self.client);
            }
        }
    }
}

/// When a byte last moved on a connection (ms since `epoch`).
#[derive(Clone)]
pub(crate) struct Activity {
    epoch: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

/// A stream that records activity on every read or write that moved bytes.
pub(crate) struct Watched<S> {
    pub(crate) inner: S,
    pub(crate) activity: Activity,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_in_all_and_per_client_and_free_on_drop() {
        let a = Admission::new(ConnectionLimits {
            max_connections: 3,
            max_per_client: 2,
            ..ConnectionLimits::default()
        });
        let (x, y): (IpAddr, IpAddr) = (
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        );
        let first = a.admit(x).expect("1st");
        let _second = a.admit(x).expect("2nd");
        assert!(a.admit(x).is_none(), "per-client cap");
        let _third = a.admit(y).expect("other client");
        assert!(a.admit(y).is_none(), "global cap");
        drop(first);
        assert!(a.admit(x).is_some(), "a closed connection frees its place");
    }
}
