//! The four services started in one process, wired over loopback ZeroMQ sockets and one
//! embedded store: what `cardiowatch demo` runs and what `bench alerts` measures.

use anyhow::Context;
use cw_bus::BusConfig;
use cw_notifier::providers::twilio::TwilioConfig;
use cw_storage::{StorageConfig, Stores};
use cw_tls::TlsServerConfig;
use tokio_util::sync::CancellationToken;

/// What the services share: listener certificate, bus key, storage, and where SMS go.
pub struct Wiring {
    pub tls: TlsServerConfig,
    pub bus: BusConfig,
    pub storage: StorageConfig,
    /// The api's JWT secret; `None` runs without the api (and without config changes).
    pub jwt_secret: Option<String>,
    pub twilio: TwilioConfig,
}

pub struct Services {
    pub ingest: cw_ingest::Running,
    pub api: Option<cw_api::Running>,
    pub engine: cw_alert_engine::Running,
    pub notifier: cw_notifier::Running,
}

impl Services {
    /// Waits until every service task has ended (after `shutdown` was cancelled).
    pub async fn join(self) {
        let api = async {
            if let Some(api) = self.api {
                let _ = api.task.await;
            }
        };
        let _ = tokio::join!(self.ingest.task, api, self.engine.task, self.notifier.task);
    }
}

/// Parts the demo turns on beyond what a benchmark needs.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// The notifier's Twilio webhook listener (status callbacks, SMS replies, key
    /// presses) on a loopback port: `Services::notifier.webhook_addr`.
    pub twilio_webhooks: bool,
    /// Ingest, engine and notifier each open their own store connection, as separate
    /// processes do (the embedded store otherwise serialises all four on one connection).
    pub own_store_connections: bool,
    /// The api's PHI keys (`[phi]`); unset, patient PHI endpoints answer 503.
    pub phi: cw_phi::KeyConfig,
    /// The api's `live.max_connections`, when a run needs more live sockets than 1,000.
    pub live_max_connections: Option<usize>,
    /// Ingest's `[writer]` section instead of its defaults (benchmarks tuning the batch).
    pub ingest_writer: Option<cw_ingest::WriterConfig>,
}

/// Starts ingest, api (when configured), alert-engine and notifier on free loopback ports.
pub async fn start(
    wiring: &Wiring,
    stores: &Stores,
    shutdown: &CancellationToken,
) -> anyhow::Result<Services> {
    start_with(wiring, &Extras::default(), stores, shutdown).await
}

/// A free loopback port, for an endpoint another service must be told before it binds
/// (the api subscribes to the engine's events PUB, and the engine starts after the api).
fn loopback_port() -> anyhow::Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").context("probing a free port")?;
    Ok(probe.local_addr()?.port())
}

/// [`start`] with extras.
pub async fn start_with(
    wiring: &Wiring,
    extras: &Extras,
    stores: &Stores,
    shutdown: &CancellationToken,
) -> anyhow::Result<Services> {
    let (tls, bus, storage) = (&wiring.tls, &wiring.bus, &wiring.storage);
    let own = |name: &'static str| async move {
        if extras.own_store_connections {
            cw_storage::open(storage)
                .await
                .with_context(|| format!("opening the {name}'s store"))
        } else {
            Ok(stores.clone())
        }
    };
    let ingest_stores = own("ingest").await?;
    let engine_stores = own("engine").await?;
    let notifier_stores = own("notifier").await?;
    let ingest = cw_ingest::start(
        cw_ingest::IngestConfig {
            listen: "127.0.0.1:0".into(),
            tls: tls.clone(),
            admin_listen: "127.0.0.1:0".into(),
            publish_endpoint: "tcp://127.0.0.1:0".into(),
            storage: storage.clone(),
            bus: bus.clone(),
            writer: extras.ingest_writer.clone().unwrap_or_default(),
            ..Default::default()
        },
        ingest_stores.into(),
        shutdown.clone(),
    )
    .await
    .context("starting ingest")?;
    let live_endpoint = format!("tcp://127.0.0.1:{}", loopback_port()?);
    let api = match &wiring.jwt_secret {
        Some(secret) => {
            let mut cfg = cw_api::ApiConfig {
                listen: "127.0.0.1:0".into(),
                tls: tls.clone(),
                admin_listen: "127.0.0.1:0".into(),
                config_publish_endpoint: "tcp://127.0.0.1:0".into(),
                auth: cw_api::config::AuthConfig {
                    jwt_secret: Some(secret.clone().into()),
                    ..Default::default()
                },
                storage: storage.clone(),
                bus: bus.clone(),
                ..Default::default()
            };
            cfg.phi = extras.phi.clone();
            // Live views: the engine's events PUB and ingest's samples PUB.
            cfg.live.event_endpoints = vec![live_endpoint.clone()];
            cfg.live.sample_endpoints = vec![ingest.publish_endpoint.clone()];
            if let Some(max) = extras.live_max_connections {
                cfg.live.max_connections = max;
            }
            Some(
                cw_api::start(cfg, stores.clone().into(), shutdown.clone())
                    .await
                    .context("starting api")?,
            )
        }
        None => None,
    };
    let engine = cw_alert_engine::start(
        cw_alert_engine::AlertEngineConfig {
            sample_endpoints: vec![ingest.publish_endpoint.clone()],
            config_endpoints: api
                .iter()
                .map(|a| a.config_publish_endpoint.clone())
                .collect(),
            alert_push_endpoint: "tcp://127.0.0.1:0".into(),
            live_publish_endpoint: live_endpoint,
            admin_listen: "127.0.0.1:0".into(),
            admin_tls: tls.clone(),
            storage: storage.clone(),
            bus: bus.clone(),
            ..Default::default()
        },
        engine_stores.into(),
        shutdown.clone(),
    )
    .await
    .context("starting alert-engine")?;
    let webhooks = match extras.twilio_webhooks {
        true => {
            let port = loopback_port()?;
            Some(cw_notifier::config::WebhookConfig {
                listen: format!("127.0.0.1:{port}"),
                tls: tls.clone(),
                public_url: format!("https://127.0.0.1:{port}"),
                replay_retention_days: cw_notifier::config::DEFAULT_REPLAY_RETENTION_DAYS,
            })
        }
        false => None,
    };
    let notifier = cw_notifier::start(
        cw_notifier::NotifierConfig {
            alert_endpoints: vec![engine.alert_push_endpoint.clone()],
            twilio: Some(wiring.twilio.clone()),
            webhooks,
            // Pages link to the alert in this run's console (docs/console.md).
            console_url: api
                .as_ref()
                .filter(|a| a.scheme == "https")
                .map(|a| format!("https://{}/console/", a.addr)),
            admin_listen: "127.0.0.1:0".into(),
            admin_tls: tls.clone(),
            storage: storage.clone(),
            bus: bus.clone(),
            ..Default::default()
        },
        notifier_stores.into(),
        shutdown.clone(),
    )
    .await
    .context("starting notifier")?;
    Ok(Services {
        ingest,
        api,
        engine,
        notifier,
    })
}

/// Twilio settings pointing at a local sandbox, which checks the shape of credentials,
/// not their value. The auth token — what signs the webhook requests that acknowledge
/// alerts — is random per run: a constant one would let anyone forge the demo's acks.
pub fn sandbox_twilio(base_url: &str) -> TwilioConfig {
    TwilioConfig {
        base_url: base_url.to_owned(),
        account_sid: "AC00000000000000000000000000000000".into(),
        auth_token: crate::secrets::random_secret().into(),
        from_number: "+15005550006".into(),
        status_callback_url: None,
        timeout_ms: 10_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::secret::ExposeSecret;

    #[test]
    fn the_sandbox_auth_token_is_random_per_run() {
        let (a, b) = (sandbox_twilio("http://x"), sandbox_twilio("http://x"));
        let (a, b) = (a.auth_token.expose_secret(), b.auth_token.expose_secret());
        assert_ne!(a, b);
        assert!(a.len() >= 32, "256 random bits");
    }
}
