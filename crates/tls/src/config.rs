use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{path} holds no usable {what}")]
    Missing { path: PathBuf, what: &'static str },
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("{0}")]
    Config(&'static str),
}

/// A listener's TLS settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsServerConfig {
    /// PEM certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
    /// Serve plain HTTP instead. For local development only; logged loudly.
    pub insecure_plaintext: bool,
    /// Header deadline, idle timeout and connection caps of this listener.
    pub connections: crate::ConnectionLimits,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn certs(
    path: &Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            path: path.to_owned(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// A rustls server config: TLS 1.2 and 1.3 only, HTTP/1.1 ALPN.
pub fn server_config(cfg: &TlsServerConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_with_client_certs(cfg, &crate::ClientCertConfig::default())
}

/// As [`server_config`], asking clients for certificates as `client` says.
pub fn server_config_with_client_certs(
    cfg: &TlsServerConfig,
    client: &crate::ClientCertConfig,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certs(&cfg.cert_path)?;
    let key_pem = read(&cfg.key_path)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| TlsError::Read {
            path: cfg.key_path.clone(),
            source,
        })?
        .ok_or_else(|| TlsError::Missing {
            path: cfg.key_path.clone(),
            what: "private key",
        })?;
    let mut config = rustls::ServerConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(match crate::client_auth::verifier(client)? {
            Some(verifier) => verifier,
            None => rustls::server::WebPkiClientVerifier::no_client_auth(),
        })
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn private_key(path: &Path) -> Result<rustls_pki_types::PrivateKeyDer<'static>, TlsError> {
    let key_pem = read(path)?;
    rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| TlsError::Missing {
            path: path.to_owned(),
            what: "private key",
        })
}

/// As [`client_config`], presenting the client certificate `cert_path` (PEM chain, leaf
/// first) with its key `key_path`: mTLS, as a gateway with a registered certificate.
pub fn client_config_with_cert(
    ca_path: &Path,
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(ca_path)? {
        roots.add(cert)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs(cert_path)?, private_key(key_path)?)?;
    Ok(Arc::new(config))
}

/// A rustls client config trusting the CA certificates in `ca_path` (PEM).
pub fn client_config(ca_path: &Path) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(ca_path)? {
        roots.add(cert)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
