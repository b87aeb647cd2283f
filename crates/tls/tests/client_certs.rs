//! mTLS and certificate reload on the shared listener: a presented client certificate
//! reaches handlers as its fingerprint, clients without one still connect, a configured
//! CA refuses certificates it did not issue, and new certificate files are served
//! without a restart.

use axum::Router;
use axum::routing::get;
use cw_tls::{
    ClientCertConfig, Listener, PeerCert, TlsServerConfig, cert_sha256_of_pem, ensure_dev_certs,
    make_client_ca, make_client_cert, serve,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn start(
    dir: &std::path::Path,
    client: ClientCertConfig,
) -> (std::net::SocketAddr, cw_tls::DevCerts, CancellationToken) {
    let certs = ensure_dev_certs(&dir.join("server")).expect("dev certs");
    let listener = Listener::bind_with_client_certs(
        "127.0.0.1:0",
        &TlsServerConfig {
            cert_path: certs.server_cert.clone(),
            key_path: certs.server_key.clone(),
            insecure_plaintext: false,
            connections: Default::default(),
        },
        &client,
    )
    .await
    .expect("binds");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let router = Router::new().route(
        "/whoami",
        get(|cert: Option<axum::Extension<PeerCert>>| async move {
            cert.map(|c| {
                format!(
                    "{} {} {}",
                    c.0.sha256,
                    c.0.ca_verified,
                    c.0.common_name.clone().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "none".into())
        }),
    );
    tokio::spawn(serve(listener, router, shutdown.clone()));
    (addr, certs, shutdown)
}

/// The body of `GET /whoami`, or the handshake/IO error.
async fn whoami(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    tls.write_all(b"GET /whoami HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await?;
    Ok(answer.rsplit("\r\n").next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_client_certificate_reaches_handlers_as_its_fingerprint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (addr, certs, shutdown) = start(
        dir.path(),
        ClientCertConfig {
            request: true,
            ca_path: None,
        },
    )
    .await;
    let gw = make_client_cert(&dir.path().join("gw"), "gw-1").expect("client cert");
    let with_cert =
        cw_tls::client_config_with_cert(&certs.ca_cert, &gw.cert, &gw.key).expect("config");
    assert_eq!(
        whoami(addr, with_cert).await.expect("mTLS"),
        format!(
            "{} false gw-1",
            cert_sha256_of_pem(&gw.cert).expect("fingerprint")
        )
    );
    let without = cw_tls::client_config(&certs.ca_cert).expect("config");
    assert_eq!(
        whoami(addr, without).await.expect("no cert"),
        "none",
        "a client without a certificate still connects (bearer tokens)"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn with_a_client_ca_a_certificate_it_did_not_issue_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let other_ca = ensure_dev_certs(&dir.path().join("other")).expect("other CA");
    let (addr, certs, shutdown) = start(
        dir.path(),
        ClientCertConfig {
            request: true,
            ca_path: Some(other_ca.ca_cert.clone()),
        },
    )
    .await;
    let gw = make_client_cert(&dir.path().join("gw"), "gw-1").expect("client cert");
    let self_signed =
        cw_tls::client_config_with_cert(&certs.ca_cert, &gw.cert, &gw.key).expect("config");
    assert!(whoami(addr, self_signed).await.is_err(), "refused");
    shutdown.cancel();
}

#[tokio::test]
async fn a_certificate_issued_by_the_client_ca_reaches_handlers_as_verified_with_its_cn() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = make_client_ca(&dir.path().join("ca"), "gateway-ca").expect("client CA");
    let (addr, certs, shutdown) = start(
        dir.path(),
        ClientCertConfig {
            request: true,
            ca_path: Some(ca.cert.clone()),
        },
    )
    .await;
    let gw = ca.issue(&dir.path().join("gw"), "gw-7").expect("issued");
    let config =
        cw_tls::client_config_with_cert(&certs.ca_cert, &gw.cert, &gw.key).expect("config");
    assert_eq!(
        whoami(addr, config).await.expect("mTLS"),
        format!(
            "{} true gw-7",
            cert_sha256_of_pem(&gw.cert).expect("fingerprint")
        )
    );
    shutdown.cancel();
}

#[tokio::test]
async fn new_certificate_files_are_served_without_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (addr, old, shutdown) = start(dir.path(), ClientCertConfig::default()).await;
    let old_config = cw_tls::client_config(&old.ca_cert).expect("config");
    assert_eq!(whoami(addr, old_config.clone()).await.expect("old"), "none");

    // Renew: a new CA and server certificate written over the served files.
    let renewed = ensure_dev_certs(&dir.path().join("renewed")).expect("new certs");
    std::fs::copy(&renewed.server_key, &old.server_key).expect("key");
    std::fs::copy(&renewed.server_cert, &old.server_cert).expect("cert");
    let new_config = cw_tls::client_config(&renewed.ca_cert).expect("config");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while whoami(addr, new_config.clone()).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate is served within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        whoami(addr, old_config).await.is_err(),
        "the old certificate is no longer served"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn a_client_ca_without_request_is_a_startup_error_not_silently_ignored() {
    cw_tls::install_default_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = ensure_dev_certs(&dir.path().join("server")).expect("dev certs");
    let bound = Listener::bind_with_client_certs(
        "127.0.0.1:0",
        &certs.server_tls(),
        &ClientCertConfig {
            request: false,
            ca_path: Some(dir.path().join("client-ca.pem")),
        },
    )
    .await;
    let err = bound.err().expect("refused at start");
    assert!(err.to_string().contains("request = true"), "{err}");
}
