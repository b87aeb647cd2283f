//! The HTTPS accept loop shared by ingest and api: rustls handshake, then hyper with
//! upgrades (WebSockets), the peer address as `ConnectInfo`, and graceful shutdown.

use crate::conn_limits::{Activity, Admission, Watched};
use crate::reload::ReloadingAcceptor;
use crate::{ClientCertConfig, ConnectionLimits, PeerCert, TlsError, TlsServerConfig};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// A slow or silent client must not hold a task forever before it even speaks TLS.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after shutdown is requested.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound listener: TLS unless the config explicitly asked for plaintext. Its
/// certificate and key are reloaded when their files change.
pub struct Listener {
    tcp: TcpListener,
    limits: ConnectionLimits,
    tls: Option<Arc<ReloadingAcceptor>>,
    /// Client certificates are verified against a configured CA in the handshake.
    client_ca: bool,
}

impl Listener {
    pub async fn bind(addr: &str, tls: &TlsServerConfig) -> Result<Self, TlsError> {
        Self::bind_with_client_certs(addr, tls, &ClientCertConfig::default()).await
    }

    /// As [`Listener::bind`], asking clients for certificates as `client` says; a
    /// presented certificate reaches handlers as a [`PeerCert`] request extension.
    pub async fn bind_with_client_certs(
        addr: &str,
        tls: &TlsServerConfig,
        client: &ClientCertConfig,
    ) -> Result<Self, TlsError> {
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| TlsError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        let tls_cfg_limits = tls.connections.clone();
        let tls = if tls.insecure_plaintext {
            tracing::warn!(%addr, "serving PLAINTEXT HTTP (insecure_plaintext = true): local development only");
            None
        } else {
            Some(ReloadingAcceptor::start(tls, client)?)
        };
        Ok(Self {
            tcp,
            limits: tls_cfg_limits,
            tls,
            client_ca: client.request && client.ca_path.is_some(),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// `https` or `http`, for printing URLs.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// Serves `router` until `shutdown` is cancelled, then drains open connections.
pub async fn serve(listener: Listener, router: Router, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    let admission = Admission::new(listener.limits.clone());
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.tcp.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Over a cap the socket is closed before any handshake work is done.
        let Some(admitted) = admission.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: over the listener's connection caps");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let limits = listener.limits.clone();
        let activity = Activity::new();
        let tcp = Watched {
            inner: tcp,
            activity: activity.clone(),
        };
        let tls = listener.tls.as_ref().map(|t| t.acceptor());
        let client_ca = listener.client_ca;
        let router = router.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let _admitted = admitted;
            let conn = ConnLimits { limits, activity };
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let cert = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|chain| chain.first())
                                .map(|leaf| PeerCert::from_der(leaf.as_ref(), client_ca));
                            serve_connection(stream, peer, cert, router, shutdown, conn).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_connection(tcp, peer, None, router, shutdown, conn).await,
            }
        });
    }
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after drain timeout; closing them");
    }
}

/// What one connection is held to.
struct ConnLimits {
    limits: ConnectionLimits,
    activity: Activity,
}

/// Resolves once the connection has moved no byte for the idle timeout.
async fn idle(conn: &ConnLimits) {
    let timeout = Duration::from_secs(conn.limits.idle_timeout_s.max(1));
    loop {
        let quiet = conn.activity.idle_for();
        if quiet >= timeout {
            return;
        }
        tokio::time::sleep(timeout - quiet).await;
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    cert: Option<PeerCert>,
    router: Router,
    shutdown: CancellationToken,
    limits: ConnLimits,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(cert) = &cert {
            req.extensions_mut().insert(cert.clone());
        }
        req
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(
            limits.limits.header_read_timeout_ms.max(1),
        ));
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        }
        _ = idle(&limits) => {
            tracing::debug!(%peer, "connection closed: idle timeout");
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
        }
    }
}
