//! Development certificates: a local CA and a server certificate for localhost, made on
//! first run so `cardiowatch demo` is TLS end to end with nothing to set up.

use crate::{TlsError, TlsServerConfig};
use std::path::{Path, PathBuf};

/// Where the generated files live. Gateways and curl trust `ca_cert`.
#[derive(Clone, Debug)]
pub struct DevCerts {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl DevCerts {
    /// A listener serving the dev server certificate over TLS.
    pub fn server_tls(&self) -> TlsServerConfig {
        TlsServerConfig {
            cert_path: self.server_cert.clone(),
            key_path: self.server_key.clone(),
            insecure_plaintext: false,
            connections: Default::default(),
        }
    }
}

/// Creates `dir/{ca.pem, server.pem, server-key.pem}` unless they exist already.
pub fn ensure_dev_certs(dir: &Path) -> Result<DevCerts, TlsError> {
    let certs = DevCerts {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
    };
    if certs.ca_cert.exists() && certs.server_cert.exists() && certs.server_key.exists() {
        return Ok(certs);
    }
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Read {
        path: dir.to_owned(),
        source,
    })?;

    let ca_key = rcgen::KeyPair::generate().map_err(generate)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cardiowatch dev CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(generate)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let server_key = rcgen::KeyPair::generate().map_err(generate)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cardiowatch dev server");
    let server_cert = params.signed_by(&server_key, &issuer).map_err(generate)?;

    write(&certs.ca_cert, &ca_cert.pem())?;
    write(&certs.server_cert, &server_cert.pem())?;
    write(&certs.server_key, &server_key.serialize_pem())?;
    restrict_permissions(&certs.server_key);
    Ok(certs)
}

/// The private key is readable by its owner only.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(error = %e, "could not restrict dev key permissions");
        }
    }
}
