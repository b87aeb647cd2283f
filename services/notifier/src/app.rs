//! Wiring: the alert PULL socket, periodic reconcile from the store, the admin listener.

use crate::config::NotifierConfig;
use crate::dispatch::Dispatcher;
use crate::metrics::NotifierMetrics;
use crate::providers::ses::SesClient;
use crate::providers::twilio::TwilioClient;
use anyhow::Context;
use axum::Router;
use cw_bus::{Kind, Puller, Sealer};
use cw_core::{AlertEvent, AlertEventKind, AlertState};
use cw_storage::Stores;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Running {
    pub admin_addr: SocketAddr,
    pub task: JoinHandle<()>,
}

pub async fn start(
    cfg: NotifierConfig,
    stores: Stores,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let sealer = Sealer::from_config(&cfg.bus).context("bus key")?;
    let metrics = Arc::new(NotifierMetrics::default());
    let twilio = cfg
        .twilio
        .clone()
        .map(TwilioClient::new)
        .transpose()
        .context("twilio client")?;
    let ses = match cfg.ses.clone() {
        Some(ses) => Some(SesClient::new(ses).await.context("ses client")?),
        None => None,
    };
    tracing::info!(
        sms_voice = twilio.is_some(),
        email = ses.is_some(),
        "notifier channels"
    );
    let dispatcher = Arc::new(Dispatcher {
        records: stores.records.clone(),
        routing: cfg.routing.clone(),
        twilio,
        ses,
        metrics: metrics.clone(),
    });
    let puller = Puller::connect(
        &cfg.alert_endpoints,
        Kind::AlertEvent,
        sealer,
        metrics.bus.clone(),
        shutdown.clone(),
    );

    let admin = cw_tls::Listener::bind(&cfg.admin_listen, &cfg.admin_tls)
        .await
        .with_context(|| format!("binding the admin listener at {}", cfg.admin_listen))?;
    let admin_addr = admin.local_addr()?;
    let router: Router = cw_runtime::health_routes({
        let metrics = metrics.clone();
        move || metrics.render()
    });
    tokio::spawn(cw_tls::serve(admin, router, shutdown.clone()));

    let interval = Duration::from_secs(cfg.reconcile_interval_s.max(1));
    let task = tokio::spawn(run(dispatcher, puller, interval, shutdown));
    Ok(Running { admin_addr, task })
}

async fn run(
    dispatcher: Arc<Dispatcher>,
    mut puller: Puller,
    interval: Duration,
    shutdown: CancellationToken,
) {
    // The first tick fires at once: alerts that fired while we were down go out first.
    let mut reconcile = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            event = puller.recv::<AlertEvent>() => {
                let Some(envelope) = event else { break };
                dispatcher.metrics.alerts_received.inc();
                let event = envelope.body;
                if event.kind == AlertEventKind::Fired
                    && let Err(e) = dispatcher.notify(&event.alert).await
                {
                    tracing::warn!(alert = %event.alert.id, error = %e, "notify failed; reconcile will retry");
                }
            }
            _ = reconcile.tick() => reconcile_open_alerts(&dispatcher).await,
        }
    }
    tracing::info!("notifier stopped");
}

/// Re-delivers every firing alert; claims in the store make this a no-op for deliveries
/// that were already made.
async fn reconcile_open_alerts(dispatcher: &Dispatcher) {
    let alerts = match dispatcher.records.open_alerts().await {
        Ok(alerts) => alerts,
        Err(e) => {
            tracing::warn!(error = %e, "reconcile: cannot read open alerts");
            return;
        }
    };
    for alert in alerts.iter().filter(|a| a.state == AlertState::Firing) {
        dispatcher.metrics.reconciled.inc();
        if let Err(e) = dispatcher.notify(alert).await {
            tracing::warn!(alert = %alert.id, error = %e, "reconcile: notify failed");
        }
    }
}
