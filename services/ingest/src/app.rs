//! Wiring: the router, the bus publisher, and the listener.

use crate::config::IngestConfig;
use crate::metrics::IngestMetrics;
use crate::pipeline::Pipeline;
use crate::writer::Writer;
use crate::{batch, stream};
use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use cw_bus::{Kind, Publisher, Sealer};
use cw_storage::{IngestRecords, IngestStores};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub pipeline: Arc<Pipeline>,
    /// Devices and the audit trail only (cw_storage::bundles).
    pub records: Arc<dyn IngestRecords>,
    pub frames_in_flight: usize,
    pub shutdown: CancellationToken,
}

/// A started ingest: where it listens, and the task serving it.
pub struct Running {
    pub addr: SocketAddr,
    /// `https` (or `http` when plaintext was explicitly configured).
    pub scheme: &'static str,
    pub publish_endpoint: String,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`).
    pub admin_addr: SocketAddr,
    pub task: JoinHandle<()>,
}
/// Runs the service as its binary does: opens the configured stores, serves until
/// `shutdown` is cancelled, drains, and returns.
pub async fn run(cfg: IngestConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let stores = cw_storage::open(&cfg.storage).await?;
    start(cfg, stores.into(), shutdown).await?.task.await?;
    Ok(())
}

/// Binds the listener and the PUB socket and serves until `shutdown`.
pub async fn start(
    cfg: IngestConfig,
    stores: IngestStores,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    // Refused connections are audited: without the audit key no event could be sealed.
    cfg.storage.audit.require_key()?;
    let sealer = Sealer::from_config(&cfg.bus)?;
    let metrics = Arc::new(IngestMetrics::default());
    let (publisher, publish_endpoint) = Publisher::bind(
        &cfg.publish_endpoint,
        Kind::Samples,
        sealer,
        metrics.bus.clone(),
        shutdown.clone(),
    )
    .await
    .with_context(|| format!("binding the sample PUB socket at {}", cfg.publish_endpoint))?;
    let writer = Writer::start(stores.samples.clone(), &cfg.writer, metrics.clone());
    // Numerics live in the sample store's backend, beside the ECG (docs/vitals.md).
    let vitals_store: Arc<dyn cw_storage::VitalStore> = stores.samples.clone();
    let vitals = Writer::start(vitals_store, &cfg.writer, metrics.clone());
    // Gateways are acked only after a durable write and authenticated against the
    // records: without either store, or the PUB socket, ingest is not ready. With the
    // samples on several nodes one that answers is enough: the writer acks each node's
    // patients apart (writer.rs), and an unready ingest would cut off every gateway.
    let readiness = cw_runtime::Readiness::default()
        .require(
            "sample_store",
            cw_storage::probe_any_node(stores.samples.clone()),
        )
        .require("record_store", cw_storage::probe(stores.records.clone()))
        .require("bus.samples_pub", {
            let publisher = publisher.clone();
            move || std::future::ready(publisher.probe())
        });
    let streaming = Arc::new(crate::unmonitored::Streaming::default());
    let pipeline = Arc::new(Pipeline::new(
        writer,
        vitals,
        publisher,
        cfg.limits.clone(),
        metrics.clone(),
        streaming.clone(),
    ));
    let watch = crate::unmonitored::UnmonitoredWatch::new(
        stores.records.clone(),
        streaming,
        cfg.unmonitored.clone(),
        metrics.clone(),
    );
    tokio::spawn(watch.run(shutdown.clone()));
    let state = AppState {
        pipeline,
        records: stores.records.clone(),
        frames_in_flight: cfg.writer.frames_in_flight_per_connection.max(1),
        shutdown: shutdown.clone(),
    };
    let router = Router::new()
        .route("/v1/stream", get(stream::upgrade))
        .route("/v1/batches", post(batch::post))
        .merge(cw_runtime::health_routes(readiness.clone()))
        .with_state(state);
    let listener =
        cw_tls::Listener::bind_with_client_certs(&cfg.listen, &cfg.tls, &cfg.client_certs)
            .await
            .with_context(|| format!("binding the gateway listener at {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let scheme = listener.scheme();
    let admin = cw_tls::Listener::bind(&cfg.admin_listen, &cfg.tls)
        .await
        .with_context(|| format!("binding the admin listener at {}", cfg.admin_listen))?;
    let admin_addr = admin.local_addr()?;
    let admin_router: Router = cw_runtime::admin_routes(readiness, move || metrics.render());
    tokio::spawn(cw_tls::serve(admin, admin_router, shutdown.clone()));
    tracing::info!(%addr, scheme, %publish_endpoint, %admin_addr, "ingest listening");
    let task = tokio::spawn(cw_tls::serve(listener, router, shutdown));
    Ok(Running {
        addr,
        scheme,
        publish_endpoint,
        admin_addr,
        task,
    })
}
