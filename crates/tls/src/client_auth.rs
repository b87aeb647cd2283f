//! Client certificates (mTLS) for listeners that identify devices by certificate.
//!
//! A listener configured to request them asks every client for a certificate but does
//! not require one (gateways with bearer tokens send none). The handshake proves the
//! client holds the certificate's private key; who the certificate belongs to is the
//! application's decision, by the certificate's SHA-256 fingerprint ([`PeerCert`] in
//! each request's extensions). With a CA configured, a certificate that does not chain
//! to it is refused in the handshake.

use crate::TlsError;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientCertConfig {
    /// Ask clients for a certificate (optional for them).
    pub request: bool,
    /// PEM CA bundle: when set, a client certificate must chain to one of these.
    pub ca_path: Option<PathBuf>,
}

/// The client certificate a connection presented, for the handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCert {
    /// Hex SHA-256 of the leaf certificate's DER.
    pub sha256: String,
    /// The chain was verified against the configured client CA (so its subject can be
    /// trusted); false when no CA is configured.
    pub ca_verified: bool,
    /// The leaf's subject common name, if it has one.
    pub common_name: Option<String>,
}

impl PeerCert {
    /// Describes the leaf certificate `der`; `ca_verified` says whether the handshake
    /// checked it against a configured CA.
    pub fn from_der(der: &[u8], ca_verified: bool) -> Self {
        let common_name = x509_parser::parse_x509_certificate(der)
            .ok()
            .and_then(|(_, cert)| {
                cert.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map(str::to_owned)
            });
        Self {
            sha256: cert_sha256(der),
            ca_verified,
            common_name,
        }
    }
}

/// Hex SHA-256 of a certificate's DER: the fingerprint devices are registered by.
pub fn cert_sha256(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex_lower(&Sha256::digest(der))
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The fingerprint of the first certificate in a PEM file (what `cardiowatch device add
/// --cert` registers).
pub fn cert_sha256_of_pem(path: &std::path::Path) -> Result<String, TlsError> {
    let chain = crate::config::certs(path)?;
    Ok(cert_sha256(chain[0].as_ref()))
}

/// The verifier for `cfg`, or `None` when client certificates are not requested.
pub(crate) fn verifier(
    cfg: &ClientCertConfig,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, TlsError> {
    if !cfg.request {
        // A CA that is silently not used would let an operator believe device
        // certificates are checked against it.
        if cfg.ca_path.is_some() {
            return Err(TlsError::Config(
                "client_certs.ca_path is set but client_certs.request is false: set request = true to ask gateways for certificates checked against that CA, or remove ca_path",
            ));
        }
        return Ok(None);
    }
    let provider = crate::crypto_provider();
    if let Some(ca) = &cfg.ca_path {
        let mut roots = rustls::RootCertStore::empty();
        for cert in crate::config::certs(ca)? {
            roots.add(cert)?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Generate(format!("client CA: {e}")))?;
        return Ok(Some(verifier));
    }
    Ok(Some(Arc::new(AnyClientCert {
        algorithms: provider.signature_verification_algorithms,
    })))
}

/// A pinned certificate is still a certificate: outside its notBefore..notAfter it is
/// refused in the handshake, as a CA-verified one is (docs/security.md, Edge).
fn within_validity(der: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    use rustls::CertificateError;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

/// Accepts any certificate within its validity whose key signed the handshake: identity
/// is by fingerprint, checked by the application against its device registry.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        within_validity(end_entity, now)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
