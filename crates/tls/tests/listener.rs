//! The shared HTTPS listener: TLS with the dev CA works (1.2 and 1.3), plaintext HTTP
//! on a TLS port gets no HTTP answer, and plaintext only when explicitly configured.

use axum::Router;
use axum::routing::get;
use cw_tls::{Listener, TlsServerConfig, ensure_dev_certs, serve};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn start(
    insecure_plaintext: bool,
) -> (
    std::net::SocketAddr,
    cw_tls::DevCerts,
    tempfile::TempDir,
    CancellationToken,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = ensure_dev_certs(dir.path()).expect("dev certs");
    let listener = Listener::bind(
        "127.0.0.1:0",
        &TlsServerConfig {
            cert_path: certs.server_cert.clone(),
            key_path: certs.server_key.clone(),
            insecure_plaintext,
            connections: Default::default(),
        },
    )
    .await
    .expect("binds");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    tokio::spawn(serve(listener, router, shutdown.clone()));
    (addr, certs, dir, shutdown)
}

const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";

async fn https_get(addr: std::net::SocketAddr, config: Arc<rustls::ClientConfig>) -> String {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .expect("handshake");
    tls.write_all(REQUEST).await.expect("request");
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    answer
}

#[tokio::test]
async fn https_with_the_dev_ca_answers_over_tls_1_3_and_1_2() {
    let (addr, certs, _dir, shutdown) = start(false).await;
    let modern = cw_tls::client_config(&certs.ca_cert).expect("client config");
    assert!(https_get(addr, modern).await.starts_with("HTTP/1.1 200"));

    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&certs.ca_cert).expect("ca");
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("cert")).expect("root");
    }
    let tls12_only = rustls::ClientConfig::builder_with_provider(cw_tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    assert!(
        https_get(addr, Arc::new(tls12_only))
            .await
            .starts_with("HTTP/1.1 200")
    );
    shutdown.cancel();
}

#[tokio::test]
async fn plaintext_http_on_a_tls_port_gets_no_http_answer() {
    let (addr, _certs, _dir, shutdown) = start(false).await;
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    tcp.write_all(REQUEST).await.expect("written");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await;
    assert!(!String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"));
    shutdown.cancel();
}

#[tokio::test]
async fn plaintext_listener_exists_only_when_explicitly_configured() {
    let (addr, _certs, _dir, shutdown) = start(true).await;
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    tcp.write_all(REQUEST).await.expect("written");
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    shutdown.cancel();
}
