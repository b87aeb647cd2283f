//! Wiring: router, config publisher, listener.

use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::routes::{alerts, audit, auth, break_glass, patients, thresholds};
use crate::{audit_trail, request_id};
use anyhow::Context;
use axum::Router;
use axum::routing::{get, post, put};
use cw_bus::{Kind, Publisher, Sealer};
use cw_storage::{RecordStore, Stores};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub records: Arc<dyn RecordStore>,
    pub config_publisher: Publisher,
    pub jwt_secret: Arc<Vec<u8>>,
    pub issuer: Arc<str>,
    pub break_glass_ttl_s: u64,
    /// Login limits and lifetimes.
    pub auth: Arc<crate::config::AuthConfig>,
    pub login_limiter: Arc<crate::login_limiter::LoginLimiter>,
    /// `None` when no PHI key is configured.
    pub phi: Option<Arc<cw_phi::PhiVault>>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub scheme: &'static str,
    pub config_publish_endpoint: String,
    pub task: JoinHandle<()>,
}

pub async fn start(
    cfg: ApiConfig,
    stores: Stores,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let sealer = Sealer::from_config(&cfg.bus).context("bus key")?;
    let jwt_secret = cfg.auth.secret()?;
    let (config_publisher, config_publish_endpoint) = Publisher::bind(
        &cfg.config_publish_endpoint,
        Kind::ConfigChange,
        sealer,
        Arc::new(cw_bus::BusStats::default()),
        shutdown.clone(),
    )
    .await
    .with_context(|| {
        format!(
            "binding the config PUB socket at {}",
            cfg.config_publish_endpoint
        )
    })?;
    let state = AppState {
        records: stores.records.clone(),
        config_publisher,
        jwt_secret: Arc::new(jwt_secret),
        issuer: cfg.auth.issuer.clone().into(),
        break_glass_ttl_s: cfg.auth.break_glass_ttl_s,
        auth: Arc::new(cfg.auth.clone()),
        login_limiter: Arc::new(crate::login_limiter::LoginLimiter::new(
            cfg.auth.login_per_minute,
        )),
        phi: if cfg.phi.is_configured() {
            Some(Arc::new(
                cw_phi::PhiVault::from_config(&cfg.phi).context("PHI keys")?,
            ))
        } else {
            tracing::warn!("no PHI master key configured: patient PHI endpoints answer 503");
            None
        },
    };
    let router = Router::new()
        .route("/v1/patients", get(patients::list).post(patients::create))
        .route("/v1/patients/lookup", post(patients::lookup))
        .route("/v1/patients/{id}", get(patients::get))
        .route("/v1/patients/{id}/doctors", put(patients::assign))
        .route(
            "/v1/patients/{id}/thresholds",
            get(thresholds::get).put(thresholds::put),
        )
        .route("/v1/alerts", get(alerts::list))
        .route("/v1/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/v1/alerts/{id}/deliveries", get(alerts::deliveries))
        .route("/v1/patients/{id}/break-glass", post(break_glass::open))
        .route("/v1/audit", get(audit::list))
        .route("/v1/auth/login", post(auth::login))
        .route("/v1/auth/refresh", post(auth::refresh))
        .route("/v1/auth/logout", post(auth::logout))
        .route("/v1/users/{id}/login", put(auth::set_login))
        .merge(cw_runtime::health_routes(String::new))
        .fallback(|| async { ApiError::NotFound("route") })
        // Inner to outer: audit sees the request id; both see every /v1 request.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_trail::record,
        ))
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state);
    let listener = cw_tls::Listener::bind(&cfg.listen, &cfg.tls)
        .await
        .with_context(|| format!("binding the api listener at {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let scheme = listener.scheme();
    tracing::info!(%addr, scheme, "api listening");
    let task = tokio::spawn(cw_tls::serve(listener, router, shutdown));
    Ok(Running {
        addr,
        scheme,
        config_publish_endpoint,
        task,
    })
}
