//! Certificate and key reload: a listener's TLS acceptor is rebuilt when its PEM files
//! change (renewed certificates take effect without a restart). Open connections keep
//! the configuration they were accepted with. A file that does not load (half-written,
//! mismatched key) leaves the old acceptor in place and is tried again on its next change.

use crate::{ClientCertConfig, TlsError, TlsServerConfig, server_config_with_client_certs};
use std::path::Path;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};
use tokio_rustls::TlsAcceptor;

/// How often the files are looked at; a poll works on every filesystem and volume mount.
const POLL: Duration = Duration::from_secs(1);

pub(crate) struct ReloadingAcceptor {
    current: RwLock<TlsAcceptor>,
    cfg: TlsServerConfig,
    client: ClientCertConfig,
}

type Stamp = Vec<Option<(SystemTime, u64)>>;

fn stamp(cfg: &TlsServerConfig) -> Stamp {
    [&cfg.cert_path, &cfg.key_path]
        .iter()
        .map(|p: &&std::path::PathBuf| {
            let meta = std::fs::metadata(Path::new(p)).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

impl ReloadingAcceptor {
    /// Loads the files now (failing if they do not load) and starts watching them; the
    /// watch ends when the acceptor is dropped.
    pub(crate) fn start(
        cfg: &TlsServerConfig,
        client: &ClientCertConfig,
    ) -> Result<Arc<Self>, TlsError> {
        let first = stamp(cfg);
        let acceptor = TlsAcceptor::from(server_config_with_client_certs(cfg, client)?);
        let this = Arc::new(Self {
            current: RwLock::new(acceptor),
            cfg: cfg.clone(),
            client: client.clone(),
        });
        tokio::spawn(watch(Arc::downgrade(&this), first));
        Ok(this)
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn watch(weak: Weak<ReloadingAcceptor>, mut seen: Stamp) {
    loop {
        tokio::time::sleep(POLL).await;
        let Some(this) = weak.upgrade() else { return };
        let now = stamp(&this.cfg);
        if now == seen {
            continue;
        }
        seen = now;
        match server_config_with_client_certs(&this.cfg, &this.client) {
            Ok(config) => {
                *this.current.write().unwrap_or_else(|p| p.into_inner()) =
                    TlsAcceptor::from(config);
                tracing::info!(cert = %this.cfg.cert_path.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                tracing::warn!(error = %e, "TLS certificate files changed but do not load; keeping the previous ones");
            }
        }
    }
}
