//! The link to one alert manager: HL7 over MLLP (each message framed by 0x0B … 0x1C
//! 0x0D) on TCP, TLS when a CA file is configured. One message in flight at a time, so
//! an alarm's changes arrive in the order they happened; each waits for its accept
//! acknowledgement or PCD-05 (`ack_timeout_ms`).
//!
//! **Keep-alive, both ways.** While nothing is sent for `keep_alive_s`, the link sends a
//! keep-alive PCD-04 (`pcd04::keep_alive`) and expects its answer; messages the manager
//! sends on its own (its keep-alive, a later PCD-05) are acknowledged and handed to the
//! reporter. A connect that fails, an answer that does not come, or the manager closing
//! the connection mark the link **down**: logged at error level, counted
//! (`cw_notifier_alert_manager_link_lost_total`, `cw_notifier_alert_managers_down`,
//! alerted on by `CardiowatchAlertManagerDown` in deploy/prometheus/rules.yml), and
//! reconnected with doubling backoff up to `reconnect_max_ms`. While it is down a send
//! fails at once and the row waits in the outbox for its retry (docs/integration.md,
//! "Alert managers").

use super::pcd04::{self, Parties};
use super::pcd05::{self, Reply, ReplyError};
use crate::events::AlertManagerLinkLost;
use crate::metrics::NotifierMetrics;
use cw_core::UserId;
use cw_core::time::now_ns;
use cw_runtime::InternalEvent;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

const START: u8 = 0x0B;
const END: [u8; 2] = [0x1C, 0x0D];
/// A frame larger than this is not an HL7 answer: the link is dropped.
const MAX_FRAME: usize = 1 << 20;

/// One alert manager (`[[alert_managers]]`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertManagerConfig {
    /// Names the manager on its delivery rows and in logs: 1–64 of `[A-Za-z0-9_-]`.
    pub name: String,
    /// `host:port` of its MLLP listener.
    pub address: String,
    /// CA certificate (PEM) the manager's certificate must chain to: TLS 1.2+ when set,
    /// plain TCP when absent (only on a network segment the hospital protects).
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// The name the manager's certificate carries, when not the host of `address`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// MSH-3 to MSH-6.
    #[serde(default = "default_application")]
    pub sending_application: String,
    #[serde(default)]
    pub sending_facility: String,
    #[serde(default)]
    pub receiving_application: String,
    #[serde(default)]
    pub receiving_facility: String,
    /// How long an answer to each message may take before the link counts as lost.
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    /// A keep-alive goes after this long without traffic.
    #[serde(default = "default_keep_alive_s")]
    pub keep_alive_s: u64,
    /// Longest wait between reconnects (the wait doubles from 0.5 s).
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Sends of one change at most while the manager rejects it (`AR`/`CR`, a refusal
    /// of its own that may pass): retried with backoff until the change has been sent
    /// this often, then failed for good and the alarm's next change goes. At least 1.
    #[serde(default = "default_max_rejects")]
    pub max_rejects: u32,
}

fn default_application() -> String {
    "CARDIOWATCH".into()
}
fn default_ack_timeout_ms() -> u64 {
    5_000
}
fn default_keep_alive_s() -> u64 {
    30
}
fn default_reconnect_max_ms() -> u64 {
    30_000
}
fn default_max_rejects() -> u32 {
    5
}

/// Why a message did not get its answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("alert manager link is down")]
    Down,
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("connection: {0}")]
    Io(String),
    #[error("unreadable answer: {0}")]
    Reply(#[from] ReplyError),
}

struct Request {
    message: String,
    control_id: String,
    answer: oneshot::Sender<Result<Reply, LinkError>>,
}

/// A message the manager sent on its own, after we acknowledged it.
pub struct Unsolicited {
    pub manager: UserId,
    pub reply: Reply,
}

/// The handle the reporter sends through; the connection lives in its own task.
pub struct Link {
    /// The manager's name as a delivery row's recipient.
    pub recipient: UserId,
    pub parties: Parties,
    /// `max_rejects` of its configuration.
    pub max_rejects: u32,
    requests: mpsc::Sender<Request>,
    up: Arc<AtomicBool>,
}

type Stream = Box<dyn Io>;
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Link {
    /// Checks the configuration (name, TLS files) and starts the connection task.
    pub fn spawn(
        cfg: AlertManagerConfig,
        metrics: Arc<NotifierMetrics>,
        unsolicited: mpsc::UnboundedSender<Unsolicited>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let recipient = UserId::parse(&cfg.name).map_err(|_| {
            anyhow::anyhow!("alert_managers.name `{}`: 1-64 of [A-Za-z0-9_-]", cfg.name)
        })?;
        let tls = match &cfg.tls_ca_file {
            Some(ca) => Some(
                cw_tls::client_config(ca)
                    .map(tokio_rustls::TlsConnector::from)
                    .map_err(|e| {
                        anyhow::anyhow!("alert manager {}: CA file {}: {e}", cfg.name, ca.display())
                    })?,
            ),
            None => None,
        };
        let parties = Parties {
            sending_application: cfg.sending_application.clone(),
            sending_facility: cfg.sending_facility.clone(),
            receiving_application: cfg.receiving_application.clone(),
            receiving_facility: cfg.receiving_facility.clone(),
        };
        let max_rejects = cfg.max_rejects.max(1);
        let (requests, rx) = mpsc::channel(64);
        let up = Arc::new(AtomicBool::new(false));
        // Down until the first connect: a manager never reached is as unreachable as a lost one.
        metrics.acm.down.fetch_add(1, Ordering::Relaxed);
        let task = Connection {
            cfg,
            tls,
            parties: parties.clone(),
            recipient: recipient.clone(),
            up: up.clone(),
            metrics,
            unsolicited,
            shutdown,
            keep_alives: 0,
        };
        tokio::spawn(task.run(rx));
        Ok(Self {
            recipient,
            parties,
            max_rejects,
            requests,
            up,
        })
    }

    /// Sends one message and waits for the manager's answer to it. Fails at once while
    /// the link is down.
    pub async fn send(&self, message: String, control_id: String) -> Result<Reply, LinkError> {
        if !self.up.load(Ordering::Relaxed) {
            return Err(LinkError::Down);
        }
        let (answer, rx) = oneshot::channel();
        let request = Request {
            message,
            control_id,
            answer,
        };
        self.requests
            .send(request)
            .await
            .map_err(|_| LinkError::Down)?;
        rx.await.unwrap_or(Err(LinkError::Down))
    }
}

struct Connection {
    cfg: AlertManagerConfig,
    tls: Option<tokio_rustls::TlsConnector>,
    parties: Parties,
    recipient: UserId,
    up: Arc<AtomicBool>,
    metrics: Arc<NotifierMetrics>,
    unsolicited: mpsc::UnboundedSender<Unsolicited>,
    shutdown: CancellationToken,
    keep_alives: u64,
}

impl Connection {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        const FIRST_WAIT: Duration = Duration::from_millis(500);
        let mut wait = FIRST_WAIT;
        let max_wait = Duration::from_millis(self.cfg.reconnect_max_ms.max(500));
        while !self.shutdown.is_cancelled() {
            let why = match self.connect().await {
                Ok(stream) => {
                    wait = FIRST_WAIT;
                    if !self.up.swap(true, Ordering::Relaxed) {
                        self.metrics.acm.down.fetch_sub(1, Ordering::Relaxed);
                    }
                    tracing::info!(manager = %self.recipient, address = %self.cfg.address, "alert manager link up");
                    self.serve(stream, &mut rx).await
                }
                Err(e) => format!("connect: {e}"),
            };
            if self.shutdown.is_cancelled() {
                return;
            }
            if self.up.swap(false, Ordering::Relaxed) {
                self.metrics.acm.down.fetch_add(1, Ordering::Relaxed);
                AlertManagerLinkLost {
                    manager: &self.recipient,
                    address: &self.cfg.address,
                    reason: &why,
                }
                .emit(&self.metrics);
            } else {
                tracing::warn!(manager = %self.recipient, address = %self.cfg.address, reason = %why, retry_in_ms = wait.as_millis() as u64, "alert manager unreachable");
            }
            // Requests that raced the loss get their answer now, not at the next connect.
            while let Ok(request) = rx.try_recv() {
                let _ = request.answer.send(Err(LinkError::Down));
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(max_wait);
        }
    }

    async fn connect(&self) -> Result<Stream, String> {
        let timeout = Duration::from_millis(self.cfg.ack_timeout_ms.max(100));
        let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&self.cfg.address))
            .await
            .map_err(|_| format!("no TCP connection within {} ms", timeout.as_millis()))?
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let host = match &self.cfg.tls_server_name {
            Some(name) => name.clone(),
            None => self
                .cfg
                .address
                .rsplit_once(':')
                .map_or(self.cfg.address.clone(), |(h, _)| {
                    h.trim_matches(['[', ']']).to_owned()
                }),
        };
        let name = rustls_pki_types::ServerName::try_from(host)
            .map_err(|e| format!("TLS server name: {e}"))?;
        let stream = tokio::time::timeout(timeout, tls.connect(name, tcp))
            .await
            .map_err(|_| "TLS handshake timed out".to_owned())?
            .map_err(|e| format!("TLS: {e}"))?;
        Ok(Box::new(stream))
    }

    /// Carries requests and keep-alives until the link breaks; returns why.
    async fn serve(&mut self, stream: Stream, rx: &mut mpsc::Receiver<Request>) -> String {
        let (reader, mut writer) = tokio::io::split(stream);
        let mut frames = Frames {
            reader,
            buf: Vec::new(),
        };
        let period = Duration::from_secs(self.cfg.keep_alive_s.max(1));
        let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return "shutdown".into(),
                request = rx.recv() => {
                    let Some(request) = request else { return "notifier stopping".into() };
                    let result = self
                        .exchange(&mut writer, &mut frames, &request.message, &request.control_id)
                        .await;
                    let broken = match &result {
                        Err(LinkError::Io(e)) => Some(e.clone()),
                        Err(LinkError::Timeout(ms)) => Some(format!("no answer within {ms} ms")),
                        _ => None,
                    };
                    let _ = request.answer.send(result);
                    if let Some(why) = broken {
                        return why;
                    }
                    keep_alive.reset();
                }
                _ = keep_alive.tick() => {
                    self.keep_alives += 1;
                    let id = format!("ka-{}-{}", self.recipient, self.keep_alives);
                    let message = pcd04::keep_alive(&self.parties, &id, now_ns());
                    if let Err(e) = self.exchange(&mut writer, &mut frames, &message, &id).await {
                        return format!("keep-alive unanswered: {e}");
                    }
                }
                frame = frames.next() => match frame {
                    Ok(Some(text)) => {
                        if let Err(e) = self.answer_unsolicited(&mut writer, &text).await {
                            return e.to_string();
                        }
                    }
                    Ok(None) => return "closed by the alert manager".into(),
                    Err(e) => return e.to_string(),
                },
            }
        }
    }

    /// Writes one message and reads until its answer comes (acknowledging what the
    /// manager sends meanwhile), within `ack_timeout_ms`.
    async fn exchange<W: AsyncWrite + Unpin, R: AsyncRead + Unpin>(
        &self,
        writer: &mut W,
        frames: &mut Frames<R>,
        message: &str,
        control_id: &str,
    ) -> Result<Reply, LinkError> {
        let timeout = self.cfg.ack_timeout_ms;
        let work = async {
            write_frame(writer, message).await?;
            loop {
                let text = frames
                    .next()
                    .await?
                    .ok_or_else(|| LinkError::Io("closed by the alert manager".into()))?;
                match pcd05::parse(&text) {
                    Ok(reply) if reply.control_id == control_id => return Ok(reply),
                    // An answer to a message we gave up on, or the manager's own message.
                    _ => self.answer_unsolicited(writer, &text).await?,
                }
            }
        };
        tokio::time::timeout(Duration::from_millis(timeout), work)
            .await
            .unwrap_or(Err(LinkError::Timeout(timeout)))
    }

    /// Acknowledges a message the manager sent on its own and hands a PCD-05 to the
    /// reporter; answers (ACKs) to nothing pending are dropped.
    async fn answer_unsolicited<W: AsyncWrite + Unpin>(
        &self,
        writer: &mut W,
        text: &str,
    ) -> Result<(), LinkError> {
        let Some((kind, control)) = pcd05::header(text) else {
            tracing::warn!(manager = %self.recipient, "alert manager sent a frame that is no HL7 message; ignored");
            return Ok(());
        };
        if kind.starts_with("ACK") {
            return Ok(());
        }
        let ours = format!("ack-{}-{}", self.recipient, now_ns());
        write_frame(
            writer,
            &pcd05::accept(&self.parties.sending_application, &control, &ours, now_ns()),
        )
        .await?;
        if let Ok(reply) = pcd05::parse(text) {
            let _ = self.unsolicited.send(Unsolicited {
                manager: self.recipient.clone(),
                reply,
            });
        }
        Ok(())
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    message: &str,
) -> Result<(), LinkError> {
    let mut frame = Vec::with_capacity(message.len() + 3);
    frame.push(START);
    frame.extend_from_slice(message.as_bytes());
    frame.extend_from_slice(&END);
    let io = |e: std::io::Error| LinkError::Io(e.to_string());
    writer.write_all(&frame).await.map_err(io)?;
    writer.flush().await.map_err(io)
}

/// MLLP frames off a byte stream. `next` is cancel-safe: bytes read stay in `buf`.
struct Frames<R> {
    reader: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Frames<R> {
    async fn next(&mut self) -> Result<Option<String>, LinkError> {
        loop {
            if let Some(frame) = take_frame(&mut self.buf) {
                return Ok(Some(frame));
            }
            if self.buf.len() > MAX_FRAME {
                return Err(LinkError::Io(format!("frame over {MAX_FRAME} bytes")));
            }
            let n = self
                .reader
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| LinkError::Io(e.to_string()))?;
            if n == 0 {
                return Ok(None);
            }
        }
    }
}

/// Takes the first whole frame out of `buf` (bytes before a start byte are noise and
/// dropped), as text.
fn take_frame(buf: &mut Vec<u8>) -> Option<String> {
    let start = buf.iter().position(|&b| b == START)?;
    if start > 0 {
        buf.drain(..start);
    }
    let end = buf.windows(2).position(|w| w == END)?;
    let frame = String::from_utf8_lossy(&buf[1..end]).into_owned();
    buf.drain(..end + 2);
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::take_frame;

    #[test]
    fn frames_are_cut_at_their_end_and_noise_before_a_start_is_dropped() {
        let mut buf = b"xx\x0bMSH|a\x1c\x0d\x0bMSH|b\x1c".to_vec();
        assert_eq!(take_frame(&mut buf).as_deref(), Some("MSH|a"));
        assert_eq!(take_frame(&mut buf), None, "second frame not complete yet");
        buf.push(0x0d);
        assert_eq!(take_frame(&mut buf).as_deref(), Some("MSH|b"));
        assert!(buf.is_empty());
    }
}
