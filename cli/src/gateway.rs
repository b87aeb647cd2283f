//! The gateway simulator: streams a WFDB record over WSS like a bedside hub would —
//! real-time pacing (or faster), a window of unacknowledged frames, reconnect with
//! backoff and jitter, and resend of everything not acknowledged.

use anyhow::{Context, bail};
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_protocol::{Frame, NumericsFrame, Reply};
use futures::{SinkExt, StreamExt};
use rand::Rng;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// `wss://host:port/v1/stream` (or `ws://` against a plaintext dev listener).
    pub url: String,
    pub device_token: String,
    /// CA certificate to trust (PEM); required for `wss://`.
    pub ca_cert: Option<PathBuf>,
    pub record: PathBuf,
    /// 1.0 = real time. Faster runs send an already-past timeline that ends at "now".
    pub speed: f64,
    /// Seconds of the record to send; `None` = all of it.
    pub seconds: Option<f64>,
    /// Start this many seconds into the record (staggers simulated patients).
    pub offset_s: f64,
    /// Samples per lead in one frame.
    pub block_ms: u32,
    /// Frames in flight before waiting for acks.
    pub window: usize,
    /// Numerics to stream beside the ECG (`gateway_vitals.rs`); None: ECG only.
    pub vitals: Option<crate::gateway_vitals::VitalsOptions>,
}

/// What a gateway has done so far; read concurrently for progress lines.
#[derive(Debug, Default)]
pub struct GatewayStats {
    pub frames_sent: AtomicU64,
    pub acked: AtomicU64,
    pub nacked: AtomicU64,
    pub resent: AtomicU64,
    pub reconnects: AtomicU64,
    pub samples_acked: AtomicU64,
}

struct Prepared {
    frames: Vec<PreparedFrame>,
}

/// One encoded frame (samples or numerics) and when it may go out.
struct PreparedFrame {
    seq: u64,
    bytes: Vec<u8>,
    /// Samples per lead times leads (0 for numerics), for the acked-samples count.
    samples: usize,
    /// After the stream's start: a frame goes out once its last reading exists.
    due: Duration,
}

/// A WFDB record's samples, read once per process: a simulator with 1,000 patients on
/// one record must not hold 1,000 copies.
pub(crate) struct LoadedRecord {
    pub(crate) fs: f64,
    pub(crate) leads: usize,
    pub(crate) frames: usize,
    pub(crate) samples_uv: Vec<i16>,
}

pub(crate) fn load_record(path: &std::path::Path) -> anyhow::Result<Arc<LoadedRecord>> {
    static CACHE: std::sync::Mutex<BTreeMap<PathBuf, Arc<LoadedRecord>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(loaded) = cache.get(path) {
        return Ok(loaded.clone());
    }
    let record = if crate::embedded_record::is_embedded(path) {
        crate::embedded_record::record_100()
    } else {
        cw_wfdb::Record::open(path)
    }
    .with_context(|| format!("reading record {}", path.display()))?;
    let loaded = Arc::new(LoadedRecord {
        fs: record.fs,
        leads: record.signal_count(),
        frames: record.len(),
        samples_uv: record.microvolts_interleaved(),
    });
    cache.insert(path.to_owned(), loaded.clone());
    Ok(loaded)
}

/// Cuts the record into encoded frames with a timeline that ends at about "now" when
/// the last one is sent (so every start time is within the server's clock-skew limit).
fn prepare(opts: &GatewayOptions) -> anyhow::Result<Prepared> {
    if !(opts.speed > 0.0 && opts.speed.is_finite()) {
        bail!("--speed must be a positive number");
    }
    let record = load_record(&opts.record)?;
    let fs = record.fs;
    let leads = record.leads;
    let all = &record.samples_uv;
    let total_frames = record.frames;
    let first = ((opts.offset_s * fs) as usize).min(total_frames);
    let wanted = opts
        .seconds
        .map(|s| (s * fs) as usize)
        .unwrap_or(total_frames - first)
        .min(total_frames - first);
    let per_frame = ((f64::from(opts.block_ms) / 1000.0) * fs).round().max(1.0) as usize;
    let duration_s = wanted as f64 / fs;
    let lag_s = duration_s - duration_s / opts.speed;
    if lag_s > 240.0 {
        bail!(
            "{duration_s:.0} s at speed {} would start {lag_s:.0} s in the past; ingest accepts ±300 s. Send fewer --seconds or lower --speed",
            opts.speed
        );
    }
    let start_ns = now_ns() - (lag_s * NANOS_PER_SEC as f64) as i64;
    let rate_hz = fs.round() as u32;
    // Sample frames first (each due at the end of its span), numerics merged in by due
    // time; sequence numbers are given in sending order once merged.
    let mut pending: Vec<(Duration, Pending)> = Vec::new();
    let mut at = first;
    let frame_duration = Duration::from_secs_f64(per_frame as f64 / fs / opts.speed);
    while at < first + wanted {
        let n = per_frame.min(first + wanted - at);
        let offset_ns = (((at - first) as f64) * NANOS_PER_SEC as f64 / fs) as i64;
        let due = frame_duration.mul_f64((pending.len() + 1) as f64);
        pending.push((due, Pending::Samples { at, n, offset_ns }));
        at += n;
    }
    if let Some(vitals) = &opts.vitals {
        let numerics =
            crate::gateway_vitals::numerics_frames(vitals, start_ns, duration_s, opts.speed)?;
        pending.extend(
            numerics
                .into_iter()
                .map(|d| (d.due, Pending::Numerics(d.frame))),
        );
        // Stable: a numerics frame due with a sample frame goes after it.
        pending.sort_by_key(|(due, _)| *due);
    }
    // Sequence numbers must only grow per device, across runs too (ingest refuses seqs
    // far below the highest it saw as `stale_seq`): a run starts at the wall clock in
    // microseconds, above any earlier run's numbers.
    let first_seq = u64::try_from(now_ns() / 1_000).unwrap_or(1).max(1);
    let frames = pending
        .into_iter()
        .zip(first_seq..)
        .map(|((due, frame), seq)| match frame {
            Pending::Samples { at, n, offset_ns } => {
                let samples = &all[at * leads..(at + n) * leads];
                let bytes = Frame::encode_i16(
                    seq,
                    start_ns + offset_ns,
                    rate_hz,
                    leads as u8,
                    false,
                    samples,
                );
                PreparedFrame {
                    seq,
                    bytes,
                    samples: samples.len(),
                    due,
                }
            }
            Pending::Numerics(frame) => PreparedFrame {
                seq,
                bytes: NumericsFrame { seq, ..frame }.encode(),
                samples: 0,
                due,
            },
        })
        .collect();
    Ok(Prepared { frames })
}

/// A frame of [`prepare`] before its sequence number is known.
enum Pending {
    Samples { at: usize, n: usize, offset_ns: i64 },
    Numerics(NumericsFrame),
}

/// Streams until every frame is acknowledged (or nacked for good), or `shutdown`.
pub async fn stream_record(
    opts: GatewayOptions,
    stats: Arc<GatewayStats>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let connector = match &opts.ca_cert {
        Some(ca) => Some(tokio_rustls::TlsConnector::from(cw_tls::client_config(ca)?)),
        None => None,
    };
    stream_record_with(opts, connector, stats, shutdown).await
}

/// As [`stream_record`] over the given TLS connector (e.g. one presenting a client
/// certificate, for gateways identified by mTLS instead of a token).
pub async fn stream_record_with(
    opts: GatewayOptions,
    connector: Option<tokio_rustls::TlsConnector>,
    stats: Arc<GatewayStats>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let prepared = prepare(&opts)?;
    let started = Instant::now();
    let mut next = 0usize; // next frame never sent
    let mut unacked: BTreeMap<u64, usize> = BTreeMap::new(); // seq → index
    let mut backoff = Duration::from_millis(200);
    // Separate from the connect backoff: storage outages outlast healthy reconnects.
    let mut storage_backoff = Duration::from_millis(500);
    while next < prepared.frames.len() || !unacked.is_empty() {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let socket = match connect(&opts, connector.as_ref()).await {
            Ok(socket) => socket,
            Err(e) => {
                if let Some(status) = credentials_refused(&e) {
                    // Retrying cannot help: the device is unknown, revoked, or its token
                    // or certificate is wrong.
                    bail!(
                        "ingest refused this device's credentials ({status}); check the token or certificate and the device's registration (`cardiowatch device list`)"
                    );
                }
                stats.reconnects.fetch_add(1, Ordering::Relaxed);
                let jitter = rand::rng().random_range(0..=backoff.as_millis() as u64 / 2);
                tracing::warn!(error = %e, "gateway cannot connect; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(backoff + Duration::from_millis(jitter)) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        let (mut sink, mut replies) = socket.split();
        // Resend what the last connection never got an answer for, oldest first.
        let resend: Vec<usize> = unacked.values().copied().collect();
        let mut failed = false;
        for index in resend {
            stats.resent.fetch_add(1, Ordering::Relaxed);
            if sink
                .send(Message::Binary(prepared.frames[index].bytes.clone().into()))
                .await
                .is_err()
            {
                failed = true;
                break;
            }
        }
        while !failed && (next < prepared.frames.len() || !unacked.is_empty()) {
            // A device can send a block only once its last sample exists: block k goes out
            // at the end of its span, not its start (which would flatter every latency
            // measured from sample time by one block).
            let due = started + prepared.frames.get(next).map_or(Duration::ZERO, |f| f.due);
            let can_send = next < prepared.frames.len() && unacked.len() < opts.window;
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(due.into()), if can_send => {
                    let frame = &prepared.frames[next];
                    unacked.insert(frame.seq, next);
                    next += 1;
                    stats.frames_sent.fetch_add(1, Ordering::Relaxed);
                    if sink.send(Message::Binary(frame.bytes.clone().into())).await.is_err() {
                        failed = true;
                    }
                }
                reply = replies.next() => match reply {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<Reply>(&text) {
                        Ok(Reply::Ack { seq }) => {
                            if let Some(index) = unacked.remove(&seq) {
                                // Progress: the next loss starts its backoff afresh.
                                backoff = Duration::from_millis(200);
                                storage_backoff = Duration::from_millis(500);
                                stats.acked.fetch_add(1, Ordering::Relaxed);
                                stats.samples_acked.fetch_add(prepared.frames[index].samples as u64, Ordering::Relaxed);
                            }
                        }
                        Ok(Reply::Nack { seq, code, message }) => {
                            stats.nacked.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(?seq, code = code.as_str(), %message, "frame refused");
                            if !code.is_retryable() {
                                if let Some(seq) = seq { unacked.remove(&seq); }
                            } else {
                                // Storage is down: back off (doubling, with jitter, to
                                // 10 s), reconnect, resend everything unacked.
                                let jitter = rand::rng().random_range(0..=storage_backoff.as_millis() as u64 / 2);
                                tokio::time::sleep(storage_backoff + Duration::from_millis(jitter)).await;
                                storage_backoff = (storage_backoff * 2).min(Duration::from_secs(10));
                                failed = true;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "unreadable reply"),
                    },
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => failed = true,
                },
            }
        }
        if failed {
            stats.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                unacked = unacked.len(),
                "gateway connection lost; reconnecting"
            );
            // The same backoff as a failed connect, reset only by an ack: a connection
            // that ingest closes at once (say, over a frame too large to answer) must not
            // turn into a tight reconnect-and-resend loop.
            let jitter = rand::rng().random_range(0..=backoff.as_millis() as u64 / 2);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(backoff + Duration::from_millis(jitter)) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
    Ok(())
}

/// A connected gateway WebSocket.
pub type Socket = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// The byte stream under the WebSocket: TLS, or plain TCP against a dev listener.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// The HTTP status when ingest refused the upgrade for the device's credentials (401 or
/// 403): a permanent answer, unlike a network error or a 503.
fn credentials_refused(error: &anyhow::Error) -> Option<http::StatusCode> {
    match error.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
        Some(tokio_tungstenite::tungstenite::Error::Http(response))
            if matches!(response.status().as_u16(), 401 | 403) =>
        {
            Some(response.status())
        }
        _ => None,
    }
}

/// Opens the WebSocket to ingest (TLS when the URL is `wss://`), authenticated by the
/// device token, or by the connector's client certificate when the token is empty.
pub async fn connect(
    opts: &GatewayOptions,
    connector: Option<&tokio_rustls::TlsConnector>,
) -> anyhow::Result<Socket> {
    let url = url::Url::parse(&opts.url).context("gateway --url")?;
    let host = url.host_str().context("url has no host")?.to_owned();
    let port = url.port_or_known_default().context("url has no port")?;
    let mut request = opts.url.as_str().into_client_request()?;
    // No token: the device is identified by its client certificate (mTLS).
    if !opts.device_token.is_empty() {
        request.headers_mut().insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Bearer {}", opts.device_token))
                .context("device token")?,
        );
    }
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    let io: Box<dyn Io> = match (url.scheme(), connector) {
        ("wss", Some(connector)) => {
            let name =
                rustls_pki_types::ServerName::try_from(host.clone()).context("server name")?;
            Box::new(connector.connect(name, tcp).await?)
        }
        ("wss", None) => bail!("wss:// needs --ca (the CA certificate to trust)"),
        ("ws", _) => Box::new(tcp),
        (other, _) => bail!("unsupported scheme {other}"),
    };
    // tungstenite zero-fills up to `read_buffer_size` before every read (even one that
    // finds nothing); replies are small JSON, so 16 KiB instead of the 128 KiB default
    // saves a memset per ack. It caps one read, not the size of a message.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(request, io, Some(config)).await?;
    Ok(socket)
}
