//! PUSH/PULL: alert events from alert-engines to notifiers.
//!
//! zmq.rs PUSH/PULL sockets do not reconnect when the binding side restarts, so the
//! puller watches its socket's monitor and rebuilds the connection itself. A PUSH with
//! no reader fails at once; the caller relies on the store (the notifier reconciles open
//! alerts from it), never on the bus alone.

use crate::BusError;
use crate::dedupe::Deduper;
use crate::discovery::{Discovery, spawn_peers};
use crate::envelope::{Envelope, Kind, Sealer, random_id, random_u64};
use crate::events::{DuplicateDropped, MessageReceived, MessageRejected, MessageSent, SendFailed};
use crate::links::Links;
use crate::pubsub::now_ns;
use crate::stats::BusStats;
use bytes::Bytes;
use cw_runtime::InternalEvent;
use futures::StreamExt;
use serde::{Serialize, de::DeserializeOwned};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use zeromq::{PullSocket, PushSocket, Socket, SocketEvent, SocketRecv, SocketSend, ZmqMessage};

/// A send that cannot complete in this time (reader gone or not reading) is reported as
/// failed; it may still be delivered later, which consumers dedupe.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Pusher {
    socket: Arc<Mutex<PushSocket>>,
    sealer: Sealer,
    kind: Kind,
    publisher: u64,
    seq: Arc<AtomicU64>,
    stats: Arc<BusStats>,
}

impl Pusher {
    pub async fn bind(
        endpoint: &str,
        kind: Kind,
        sealer: Sealer,
        stats: Arc<BusStats>,
    ) -> Result<(Self, String), BusError> {
        let mut socket = PushSocket::new();
        let bound = socket.bind(endpoint).await?.to_string();
        Ok((
            Self {
                socket: Arc::new(Mutex::new(socket)),
                sealer,
                kind,
                publisher: random_u64(),
                seq: Arc::new(AtomicU64::new(0)),
                stats,
            },
            bound,
        ))
    }

    /// Seals and sends one message to one connected puller.
    pub async fn push<T: Serialize>(&self, body: &T) -> Result<(), BusError> {
        let envelope = Envelope {
            id: random_id(),
            publisher: self.publisher,
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            sent_ns: now_ns(),
            body,
        };
        let sealed = self.sealer.seal(self.kind, b"", &envelope)?;
        let result = tokio::time::timeout(SEND_TIMEOUT, async {
            self.socket
                .lock()
                .await
                .send(ZmqMessage::from(sealed))
                .await
        })
        .await;
        match result {
            Ok(Ok(())) => {
                MessageSent.emit(&self.stats);
                Ok(())
            }
            Ok(Err(_)) | Err(_) => {
                SendFailed.emit(&self.stats);
                Err(BusError::NoPeer)
            }
        }
    }
}

/// Receives from one or more pushers, reconnecting whenever a pusher restarts, and
/// dropping duplicates by message id.
pub struct Puller {
    rx: mpsc::Receiver<Bytes>,
    sealer: Sealer,
    kind: Kind,
    dedupe: Deduper,
    stats: Arc<BusStats>,
    reject_log: crate::reject_log::RejectLog,
    links: Arc<Links>,
}

impl Puller {
    /// Connects to every endpoint in the background; an endpoint whose host is a DNS
    /// name is followed: every address it resolves to is a pusher (`discovery`).
    pub fn connect(
        endpoints: &[String],
        kind: Kind,
        sealer: Sealer,
        stats: Arc<BusStats>,
        discovery: &Discovery,
        shutdown: CancellationToken,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let links = Arc::new(Links::new(endpoints.len(), stats.clone()));
        spawn_peers(endpoints, discovery, &stats, &shutdown, {
            let links = links.clone();
            move |endpoint, stop| pull_one(endpoint, tx.clone(), links.clone(), stop)
        });
        Self {
            rx,
            sealer,
            kind,
            dedupe: Deduper::new(65_536),
            stats,
            reject_log: Default::default(),
            links,
        }
    }

    /// Its connections to the pushers (up and down as they restart), for readiness.
    pub fn links(&self) -> Arc<Links> {
        self.links.clone()
    }

    /// The next new message that opens. `None` once shut down.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Option<Envelope<T>> {
        loop {
            let payload = self.rx.recv().await?;
            match self.sealer.open::<T>(self.kind, b"", &payload) {
                Ok(envelope) if self.dedupe.first_time(envelope.id) => {
                    MessageReceived.emit(&self.stats);
                    return Some(envelope);
                }
                Ok(_) => DuplicateDropped.emit(&self.stats),
                Err(error) => MessageRejected {
                    error: &error,
                    log: &mut self.reject_log,
                }
                .emit(&self.stats),
            }
        }
    }
}

/// One connection to one pusher address, rebuilt from scratch whenever the pusher goes
/// away, until `shutdown` (which is also how discovery drops the peer).
async fn pull_one(
    endpoint: String,
    tx: mpsc::Sender<Bytes>,
    links: Arc<Links>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut socket = PullSocket::new();
        let mut monitor = socket.monitor();
        let connected = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = socket.connect(&endpoint) => r,
        };
        if let Err(e) = connected {
            tracing::info!(%endpoint, error = %e, "pusher not reachable yet; retrying");
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
            continue;
        }
        tracing::info!(%endpoint, "connected to pusher");
        backoff = Duration::from_millis(100);
        // Counted down however this connection ends (pusher gone, error, shutdown).
        let _connected = links.connected();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                event = monitor.next() => match event {
                    Some(SocketEvent::Disconnected(_)) | None => {
                        tracing::warn!(%endpoint, "pusher went away; reconnecting");
                        break;
                    }
                    Some(_) => {}
                },
                message = socket.recv() => match message {
                    Ok(message) => {
                        for frame in message.into_vec() {
                            if tx.send(frame).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%endpoint, error = %e, "PULL receive failed; reconnecting");
                        break;
                    }
                },
            }
        }
        drop(socket);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
