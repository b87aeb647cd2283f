//! Wiring: the alert PULL socket, periodic reconcile from the store, the admin listener.

use crate::config::NotifierConfig;
use crate::dispatch::Dispatcher;
use crate::events::{AckedElsewhere, AlertEventReceived, OpenAlertReconciled};
use crate::metrics::NotifierMetrics;
use crate::providers::ses::SesClient;
use crate::providers::twilio::TwilioClient;
use anyhow::Context;
use axum::Router;
use cw_bus::{Discovery, Kind, Puller, Sealer};
use cw_core::{AlertEvent, AlertState};
use cw_runtime::InternalEvent;
use cw_storage::NotifierStores;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Running {
    pub admin_addr: SocketAddr,
    /// The Twilio webhook listener, when configured.
    pub webhook_addr: Option<SocketAddr>,
    pub task: JoinHandle<()>,
}
/// Runs the service as its binary does: opens the configured stores, serves until
/// `shutdown` is cancelled, drains, and returns.
pub async fn run(cfg: NotifierConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let stores = cw_storage::open(&cfg.storage).await?;
    start(cfg, stores.into(), shutdown).await?.task.await?;
    Ok(())
}

pub async fn start(
    cfg: NotifierConfig,
    stores: NotifierStores,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    // Acknowledgements are audited (an ack whose event cannot be sealed fails): without the audit key no event could be sealed.
    cfg.storage.audit.require_key()?;
    if let Some(w) = &cfg.webhooks {
        check_public_url(&w.public_url)?;
    }
    let links = crate::console_link::ConsoleLinks::from_config(cfg.console_url.as_deref())?;
    let sealer = Sealer::from_config(&cfg.bus)?;
    let discovery = Discovery::from_config(&cfg.bus)?;
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
        console_links = links.is_some(),
        "notifier channels"
    );
    // In the background: a provider that does not answer must not hold up start-up (its
    // timeout can be seconds), and its failure only warns (provider_check.rs).
    {
        let (twilio, ses, metrics) = (twilio.clone(), ses.clone(), metrics.clone());
        tokio::spawn(async move {
            crate::provider_check::check_providers(twilio.as_ref(), ses.as_ref(), &metrics).await;
        });
    }
    let callbacks = cfg
        .webhooks
        .as_ref()
        .map(|w| crate::webhooks::CallbackUrls::new(&w.public_url));
    let auth_token = twilio.as_ref().map(|t| t.auth_token().clone());
    let watchdog_twilio = twilio.clone();
    let (statuses, mut status_rx) = tokio::sync::mpsc::unbounded_channel();
    let alert_managers = cfg
        .alert_managers
        .iter()
        .map(|am| {
            crate::acm::mllp::Link::spawn(
                am.clone(),
                metrics.clone(),
                statuses.clone(),
                shutdown.clone(),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dispatcher = Arc::new(
        Dispatcher::new(
            stores.records.clone(),
            cfg.routing.clone(),
            cfg.reliability.clone(),
            cfg.faults.clone(),
            twilio,
            ses,
            callbacks.clone(),
            crate::evidence::Evidence {
                links,
                samples: Some(stores.samples.clone()),
            },
            metrics.clone(),
        )
        .with_alert_managers(alert_managers),
    );
    {
        // PCD-05s an alert manager sends after its first answer.
        let dispatcher = dispatcher.clone();
        tokio::spawn(async move {
            while let Some(status) = status_rx.recv().await {
                if let Err(e) = dispatcher.record_unsolicited(status).await {
                    tracing::warn!(error = %e, "alert manager status not recorded");
                }
            }
        });
    }
    let webhook_addr = match (&cfg.webhooks, callbacks, auth_token) {
        (Some(w), Some(urls), Some(auth_token)) => {
            let listener = cw_tls::Listener::bind(&w.listen, &w.tls)
                .await
                .with_context(|| format!("binding the webhook listener at {}", w.listen))?;
            let addr = listener.local_addr()?;
            let state = Arc::new(crate::webhooks::routes::WebhookState {
                records: stores.records.clone(),
                metrics: metrics.clone(),
                urls,
                auth_token,
            });
            tokio::spawn(cw_tls::serve(
                listener,
                crate::webhooks::router(state),
                shutdown.clone(),
            ));
            crate::webhooks::replay_pruning::spawn(
                stores.records.clone(),
                w.replay_retention_days,
                shutdown.clone(),
            );
            Some(addr)
        }
        (Some(_), _, None) => {
            anyhow::bail!("webhooks need twilio configured (its auth token signs them)")
        }
        _ => None,
    };
    let puller = Puller::connect(
        &cfg.alert_endpoints,
        Kind::AlertEvent,
        sealer,
        metrics.bus.clone(),
        &discovery,
        shutdown.clone(),
    );

    let admin = cw_tls::Listener::bind(&cfg.admin_listen, &cfg.admin_tls)
        .await
        .with_context(|| format!("binding the admin listener at {}", cfg.admin_listen))?;
    let admin_addr = admin.local_addr()?;
    // After the admin bind: its port names this replica's synthetic patient by default.
    if let Some(w) = cfg.watchdog.clone() {
        crate::watchdog::spawn(
            w,
            admin_addr.port(),
            stores.records.clone(),
            watchdog_twilio,
            metrics.clone(),
            shutdown.clone(),
        )
        .context("watchdog.identity: at most 40 characters of [A-Za-z0-9_-]")?;
    }
    // Pages are driven from the store (the sweep); the alert bus only makes them
    // faster, and the webhooks must keep answering acks while an engine restarts: its
    // links are reported, not required.
    let readiness = cw_runtime::Readiness::default()
        .require("record_store", cw_storage::probe(stores.records.clone()))
        .report("bus.alerts", {
            let links = puller.links();
            move || std::future::ready(links.probe())
        });
    let router: Router = cw_runtime::admin_routes(readiness, {
        let metrics = metrics.clone();
        move || metrics.render()
    });
    tokio::spawn(cw_tls::serve(admin, router, shutdown.clone()));

    // The sweep is the reconcile: it re-reads open alerts from the store, so alerts that
    // fired while we were down, lost bus events, due retries, orphaned claims and due
    // escalations are all handled by the same idempotent `drive`.
    let interval = Duration::from_millis(
        cfg.sweep_interval_ms
            .min(cfg.reconcile_interval_s.saturating_mul(1000))
            .max(50),
    );
    if cfg.reliability.low_digest_s > 0 {
        let dispatcher = dispatcher.clone();
        let period = Duration::from_secs(cfg.reliability.low_digest_s);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            // The first tick is immediate; the first digest waits one period.
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = dispatcher.send_digests().await {
                    tracing::warn!(error = %e, "digest: store unavailable; next period retries");
                }
            }
        });
    }
    let task = tokio::spawn(consume_alerts(dispatcher, puller, interval, shutdown));
    Ok(Running {
        admin_addr,
        webhook_addr,
        task,
    })
}

async fn consume_alerts(
    dispatcher: Arc<Dispatcher>,
    mut puller: Puller,
    interval: Duration,
    shutdown: CancellationToken,
) {
    // The first tick fires at once: alerts that fired while we were down go out first.
    let mut reconcile = tokio::time::interval(interval);
    // Until the store answered once: alarms that ended while we were down.
    let mut ended_while_down = !dispatcher.alert_managers.is_empty();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            event = puller.recv::<AlertEvent>() => {
                let Some(envelope) = event else { break };
                AlertEventReceived.emit(&dispatcher.metrics);
                let event = envelope.body;
                // Every kind: an acknowledgement or an end is reported to the alert
                // managers (a no-op without them: `drive` pages firing alerts only).
                // Off the receive loop: a slow provider must not hold up other alerts.
                let dispatcher = dispatcher.clone();
                tokio::spawn(async move {
                    if let Err(e) = dispatcher.drive(&event.alert).await {
                        tracing::warn!(alert = %event.alert.id, error = %e, "notify failed; the sweep will retry");
                    }
                });
            }
            _ = reconcile.tick() => {
                if ended_while_down {
                    match dispatcher.watch_ended_while_down().await {
                        Ok(()) => ended_while_down = false,
                        Err(e) => tracing::warn!(error = %e, "alarms ended while down: store unavailable; next sweep retries"),
                    }
                }
                reconcile_open_alerts(&dispatcher).await
            }
        }
    }
    tracing::info!("notifier stopped");
}

/// Drives every firing alert; the outbox rows make this a no-op for deliveries already
/// made and not due again.
async fn reconcile_open_alerts(dispatcher: &Dispatcher) {
    let alerts = match dispatcher.records.open_alerts().await {
        Ok(alerts) => alerts,
        Err(e) => {
            tracing::warn!(error = %e, "reconcile: cannot read open alerts");
            return;
        }
    };
    // Acks made elsewhere (REST api, another replica) show here first.
    for acked in dispatcher.metrics.acks.unseen(&alerts) {
        AckedElsewhere {
            seconds_to_ack: crate::ack_tally::seconds_to_ack(acked),
        }
        .emit(&dispatcher.metrics);
    }
    // Alert managers hear of acknowledged alerts and of those resolved since the last
    // sweep too; without them only firing alerts have anything to do.
    let reported = !dispatcher.alert_managers.is_empty();
    for ended in dispatcher.ended_since(&alerts) {
        match dispatcher.records.get_alert(&ended).await {
            Ok(alert) => {
                if let Err(e) = dispatcher.drive(&alert).await {
                    tracing::warn!(alert = %ended, error = %e, "reconcile: end not reported");
                }
            }
            Err(e) => {
                tracing::warn!(alert = %ended, error = %e, "reconcile: cannot read an ended alert")
            }
        }
    }
    let due = alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing || reported);
    let drives = due.map(|alert| async move {
        OpenAlertReconciled.emit(&dispatcher.metrics);
        if let Err(e) = dispatcher.drive(alert).await {
            tracing::warn!(alert = %alert.id, error = %e, "reconcile: notify failed");
        }
    });
    futures::future::join_all(drives).await;
}

/// Twilio signs each webhook over the URL it called, built from `webhooks.public_url`: an
/// empty or relative one (compose leaves `CW_WEBHOOKS__PUBLIC_URL` empty until ops set
/// it, deploy/README.md) would fail every signature, so the notifier refuses to start.
fn check_public_url(public_url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(public_url).map_err(|e| {
        anyhow::anyhow!(
            "webhooks.public_url `{public_url}` is not an absolute URL ({e}): set it \
             (CW_WEBHOOKS__PUBLIC_URL) to the https URL Twilio calls this listener at"
        )
    })?;
    anyhow::ensure!(
        matches!(parsed.scheme(), "https" | "http"),
        "webhooks.public_url `{public_url}`: Twilio calls http(s) URLs only"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_public_url;

    #[test]
    fn webhook_public_url_must_be_an_absolute_http_url() {
        assert!(check_public_url("https://notify.example.org:8445").is_ok());
        for bad in [
            "",
            "notify.example.org:8445/x",
            "/twilio",
            "ftp://notify.example.org",
        ] {
            let err = check_public_url(bad).expect_err(bad).to_string();
            assert!(err.contains("webhooks.public_url"), "{bad}: {err}");
        }
    }
}
