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
    let cert = params.self_signed(&key).map_err(generate)?;
    let files = ClientCertFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&files.cert, cert.pem()).map_err(io(&files.cert))?;
    std::fs::write(&files.key, key.serialize_pem()).map_err(io(&files.key))?;
    Ok(files)
}
