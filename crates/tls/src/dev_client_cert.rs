//! Self-signed client certificates, as a gateway would make for itself before its
//! fingerprint is registered (`cardiowatch device add --cert`); tests and the simulator
//! use them for mTLS.

use crate::TlsError;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct ClientCertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes `dir/{name}.pem` and `dir/{name}-key.pem`, a fresh key pair each call.
pub fn make_client_cert(dir: &Path, name: &str) -> Result<ClientCertFiles, TlsError> {
    self_signed(dir, name, |_| {})
}

/// [`make_client_cert`] for a certificate that expired in 2020 (validity tests).
pub fn make_expired_client_cert(dir: &Path, name: &str) -> Result<ClientCertFiles, TlsError> {
    self_signed(dir, name, |params| {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    })
}

fn self_signed(
    dir: &Path,
    name: &str,
    adjust: impl FnOnce(&mut rcgen::CertificateParams),
) -> Result<ClientCertFiles, TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Read { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    adjust(&mut params);
    let cert = params.self_signed(&key).map_err(generate)?;
    let files = ClientCertFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&files.cert, cert.pem()).map_err(io(&files.cert))?;
    std::fs::write(&files.key, key.serialize_pem()).map_err(io(&files.key))?;
    Ok(files)
}

/// A CA that issues gateway certificates (`[client_certs] ca_path` trusts its `cert`).
pub struct ClientCa {
    pub cert: PathBuf,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// Writes `dir/{name}.pem`, a new CA certificate; its key stays in memory.
pub fn make_client_ca(dir: &Path, name: &str) -> Result<ClientCa, TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).map_err(generate)?;
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, cert.pem()).map_err(|source| TlsError::Read {
        path: path.clone(),
        source,
    })?;
    Ok(ClientCa {
        cert: path,
        issuer: rcgen::Issuer::new(params, key),
    })
}

impl ClientCa {
    /// Issues a client certificate whose subject CN is `device_id`, written as
    /// `dir/{device_id}.pem` and `dir/{device_id}-key.pem`.
    pub fn issue(&self, dir: &Path, device_id: &str) -> Result<ClientCertFiles, TlsError> {
        let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TlsError::Read { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let key = rcgen::KeyPair::generate().map_err(generate)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, device_id);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).map_err(generate)?;
        let files = ClientCertFiles {
            cert: dir.join(format!("{device_id}.pem")),
            key: dir.join(format!("{device_id}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem()).map_err(io(&files.cert))?;
        std::fs::write(&files.key, key.serialize_pem()).map_err(io(&files.key))?;
        Ok(files)
    }
}
