//! PUB/SUB: fast fan-out that may drop (slow subscribers, slow joiners). Used for samples,
//! live events and config changes — never as the only copy of anything.

use crate::BusError;
use crate::discovery::{Discovery, spawn_peers};
use crate::envelope::{Envelope, Kind, Sealer, random_id, random_u64};
use crate::events::{MessageReceived, MessageRejected, MessageSent, MessagesLost, SendFailed};
use crate::links::Links;
use crate::stats::BusStats;
use bytes::Bytes;
use cw_runtime::InternalEvent;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeromq::{PubSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

/// Messages waiting for the publishing task. When full, new messages are dropped and
/// counted: a stalled socket must never stall ingest (the samples are already stored).
const PUBLISH_QUEUE: usize = 16_384;

/// Publishes sealed messages of one kind; cheap to clone, usable from many tasks.
#[derive(Clone)]
pub struct Publisher {
    queue: mpsc::Sender<(String, Vec<u8>)>,
    sealer: Sealer,
    kind: Kind,
    publisher: u64,
    /// Sequence per topic, so a subscriber to some topics can still see exact gaps.
    seqs: Arc<Mutex<HashMap<String, u64>>>,
    stats: Arc<BusStats>,
}

impl Publisher {
    /// Binds a PUB socket (e.g. `tcp://0.0.0.0:5550`; port 0 picks one) and returns the
    /// publisher and the endpoint actually bound.
    pub async fn bind(
        endpoint: &str,
        kind: Kind,
        sealer: Sealer,
        stats: Arc<BusStats>,
        shutdown: CancellationToken,
    ) -> Result<(Self, String), BusError> {
        let mut socket = PubSocket::new();
        let bound = socket.bind(endpoint).await?.to_string();
        let (queue, mut rx) = mpsc::channel::<(String, Vec<u8>)>(PUBLISH_QUEUE);
        tokio::spawn(async move {
            loop {
                let (topic, payload) = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    next = rx.recv() => match next { Some(m) => m, None => break },
                };
                let frames = vec![Bytes::from(topic), Bytes::from(payload)];
                let Ok(message) = ZmqMessage::try_from(frames) else {
                    continue;
                };
                if let Err(e) = socket.send(message).await {
                    tracing::warn!(error = %e, "PUB send failed");
                }
            }
            let _ = socket.close().await;
        });
        Ok((
            Self {
                queue,
                sealer,
                kind,
                publisher: random_u64(),
                seqs: Arc::new(Mutex::new(HashMap::new())),
                stats,
            },
            bound,
        ))
    }

    /// A publisher of messages of `kind` on the same socket (ingest's vitals beside its
    /// samples). Give it topics of its own: a subscriber opens one kind, and one that
    /// receives another kind on its topics rejects and counts it.
    pub fn sibling(&self, kind: Kind) -> Self {
        Self {
            kind,
            seqs: Arc::new(Mutex::new(HashMap::new())),
            ..self.clone()
        }
    }

    /// Readiness: `Ok` while the socket's task runs (it ends at shutdown).
    pub fn probe(&self) -> Result<(), String> {
        if self.queue.is_closed() {
            Err(format!("{:?} PUB socket closed", self.kind))
        } else {
            Ok(())
        }
    }

    /// Seals and queues one message. Never waits: a full queue drops and counts.
    pub fn publish<T: Serialize>(&self, topic: &str, body: &T) -> Result<(), BusError> {
        let seq = {
            let mut seqs = self
                .seqs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let seq = seqs.entry(topic.to_owned()).or_insert(0);
            *seq += 1;
            *seq
        };
        let envelope = Envelope {
            id: random_id(),
            publisher: self.publisher,
            seq,
            sent_ns: now_ns(),
            body,
        };
        let sealed = self.sealer.seal(self.kind, topic.as_bytes(), &envelope)?;
        match self.queue.try_send((topic.to_owned(), sealed)) {
            Ok(()) => {
                MessageSent.emit(&self.stats);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                SendFailed.emit(&self.stats);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(BusError::Closed),
        }
    }
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

/// Receives one kind of message from one or more publishers, for a set of topic prefixes.
pub struct Subscriber {
    rx: mpsc::Receiver<(Bytes, Bytes)>,
    sealer: Sealer,
    kind: Kind,
    /// Last sequence seen per (publisher, topic).
    last_seq: HashMap<(u64, Bytes), u64>,
    stats: Arc<BusStats>,
    reject_log: crate::reject_log::RejectLog,
    links: Arc<Links>,
}

impl Subscriber {
    /// Connects (in the background, retrying until each publisher is up) to every
    /// endpoint, subscribed to `topics` (prefixes; `""` is everything). An endpoint
    /// whose host is a DNS name is followed: every address it resolves to is a publisher
    /// (`discovery`).
    pub fn connect(
        endpoints: &[String],
        topics: &[String],
        kind: Kind,
        sealer: Sealer,
        stats: Arc<BusStats>,
        discovery: &Discovery,
        shutdown: CancellationToken,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let links = Arc::new(Links::new(endpoints.len(), stats.clone()));
        let topics: Arc<[String]> = topics.into();
        spawn_peers(endpoints, discovery, &stats, &shutdown, {
            let links = links.clone();
            move |endpoint, stop| {
                subscribe_one(endpoint, topics.clone(), tx.clone(), links.clone(), stop)
            }
        });
        Self {
            rx,
            sealer,
            kind,
            last_seq: HashMap::new(),
            stats,
            reject_log: Default::default(),
            links,
        }
    }

    /// Its connections to the publishers, for readiness. A SUB connection counts from
    /// its first successful connect (zmq.rs reconnects it by itself afterwards) until it
    /// is dropped (its address left DNS) or shut down.
    pub fn links(&self) -> Arc<Links> {
        self.links.clone()
    }

    /// The next message that opens; rejected ones are counted and skipped. `None` once
    /// shut down.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Option<(String, Envelope<T>)> {
        loop {
            let (topic, payload) = self.rx.recv().await?;
            match self.sealer.open::<T>(self.kind, &topic, &payload) {
                Ok(envelope) => {
                    MessageReceived.emit(&self.stats);
                    self.count_gap(envelope.publisher, &topic, envelope.seq);
                    return Some((String::from_utf8_lossy(&topic).into_owned(), envelope));
                }
                Err(error) => MessageRejected {
                    error: &error,
                    log: &mut self.reject_log,
                }
                .emit(&self.stats),
            }
        }
    }

    fn count_gap(&mut self, publisher: u64, topic: &Bytes, seq: u64) {
        if let Some(last) = self.last_seq.insert((publisher, topic.clone()), seq)
            && seq > last + 1
        {
            MessagesLost {
                messages: seq - last - 1,
            }
            .emit(&self.stats);
        }
    }
}

/// One SUB socket to one publisher address, until `shutdown` (which is also how
/// discovery drops the peer: the socket is dropped and its connection closed).
async fn subscribe_one(
    endpoint: String,
    topics: Arc<[String]>,
    tx: mpsc::Sender<(Bytes, Bytes)>,
    links: Arc<Links>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let mut socket = loop {
        let mut socket = SubSocket::new();
        let mut ok = true;
        for topic in topics.iter() {
            if let Err(e) = socket.subscribe(topic).await {
                tracing::warn!(error = %e, "subscribe failed");
                ok = false;
            }
        }
        if ok {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                result = socket.connect(&endpoint) => match result {
                    Ok(()) => break socket,
                    Err(e) => tracing::info!(%endpoint, error = %e, "publisher not reachable yet; retrying"),
                },
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    };
    tracing::info!(%endpoint, "subscribed");
    let _connected = links.connected();
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return,
            m = socket.recv() => m,
        };
        match message {
            Ok(message) => {
                let mut frames = message.into_vec().into_iter();
                let (Some(topic), Some(payload)) = (frames.next(), frames.next()) else {
                    continue;
                };
                if tx.send((topic, payload)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(%endpoint, error = %e, "SUB receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
