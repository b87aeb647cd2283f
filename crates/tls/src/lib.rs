//! TLS for every cardiowatch listener and client.
//!
//! Listeners are TLS 1.2+ (rustls, ring provider) with certificate and key from PEM files.
//! A plaintext listener exists only when a config sets `insecure_plaintext = true`
//! explicitly, for local development behind another TLS terminator.

mod client_auth;
mod config;
mod conn_limits;
mod dev_certs;
mod dev_client_cert;
mod reload;
mod serve;

pub use client_auth::{ClientCertConfig, PeerCert, cert_sha256, cert_sha256_of_pem};
pub use config::{
    TlsError, TlsServerConfig, client_config, client_config_with_cert, server_config,
    server_config_with_client_certs,
};
pub use conn_limits::ConnectionLimits;
pub use dev_certs::{DevCerts, ensure_dev_certs};
pub use dev_client_cert::{
    ClientCa, ClientCertFiles, make_client_ca, make_client_cert, make_expired_client_cert,
};
pub use serve::{Listener, serve};

/// The crypto provider every rustls config here is built with. Named once so the process
/// never depends on which provider some dependency enabled.
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process default for libraries that build their own rustls
/// configs (several providers are compiled in, so rustls cannot choose one itself).
/// Safe to call more than once.
pub fn install_default_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
