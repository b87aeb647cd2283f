//! Wiring: router, config publisher, listener.

use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::routes::{
    alert_actions, alerts, alerts_live, audit, auth, backtest, beats, break_glass, devices, ecg,
    ecg_export, hr_trend, infra, live, news2, oidc_signin, patients, report, reports, shards,
    thresholds, user_directory, users, vitals,
};
use crate::{audit_trail, fhir, panic_guard, request_id, request_metrics, security_headers};
use anyhow::Context;
use axum::{Extension, Router};
use cw_bus::{Kind, Publisher, Sealer};
use cw_core::secret::ExposeSecret;
use cw_storage::{ApiRecords, ApiStores};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub records: Arc<dyn ApiRecords>,
    pub samples: Arc<dyn cw_storage::SampleStore>,
    pub config_publisher: Publisher,
    pub jwt_secret: Arc<cw_core::secret::SecretBox<[u8]>>,
    pub issuer: Arc<str>,
    pub break_glass_ttl_s: u64,
    /// Login limits and lifetimes.
    pub auth: Arc<crate::config::AuthConfig>,
    pub login_limiter: Arc<crate::login_limiter::LoginLimiter>,
    /// The lockout played for login names that do not exist.
    pub unknown_logins: Arc<crate::login_limiter::UnknownLogins>,
    /// `None` when no PHI key is configured.
    pub phi: Option<Arc<cw_phi::PhiVault>>,
    /// `None` unless `[oidc]` is enabled.
    pub oidc: Option<Arc<crate::oidc::OidcVerifier>>,
    /// The console's sign-in through that provider: `None` unless `oidc.client_id` is set.
    pub oidc_flow: Option<Arc<crate::oidc_flow::CodeFlow>>,
    /// Bounds of alert snoozes.
    pub snooze: Arc<crate::config::SnoozeConfig>,
    /// Live views (`GET /v1/patients/{id}/live`).
    pub live: Arc<crate::live::hub::LiveHub>,
    /// Anonymous refusals, aggregated per source and window in the audit chain.
    pub anonymous_denials: Arc<crate::anonymous_denials::AnonymousDenials>,
    /// `/readyz` (here and on the admin listener).
    pub readiness: cw_runtime::Readiness,
    /// The audit keys and checkpoint file, for `GET /v1/audit/verify`.
    pub audit: Arc<cw_storage::AuditConfig>,
    /// Where raw ECG ends and only the downsampled series is left (`routes/ecg.rs`).
    pub ecg_retention: crate::routes::ecg::EcgRetention,
}

pub struct Running {
    pub addr: SocketAddr,
    pub scheme: &'static str,
    pub config_publish_endpoint: String,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`).
    pub admin_addr: SocketAddr,
    pub task: JoinHandle<()>,
}
/// Every api route, each declared once beside its handler with `#[utoipa::path]` (its
/// schemas and its access rule) and registered through
/// [`guarded`](crate::access_rule::guarded) (or [`fhir::guarded`], which refuses in
/// FHIR's shape), one handler per `routes!`, which enforces that rule; `/openapi.json` is
/// made from the same declarations (`access_rule.rs`). Only the console's static pages
/// are served beside them, undocumented (docs/api.md).
fn api_routes(state: &AppState) -> anyhow::Result<OpenApiRouter<AppState>> {
    let guarded = |r| crate::access_rule::guarded(state, r);
    let fhir = |r| fhir::guarded(state, r);
    Ok(OpenApiRouter::new()
        .routes(guarded(routes!(infra::healthz))?)
        .routes(guarded(routes!(infra::readyz))?)
        .routes(guarded(routes!(infra::document))?)
        .routes(guarded(routes!(auth::login))?)
        .routes(guarded(routes!(auth::refresh))?)
        .routes(guarded(routes!(auth::logout))?)
        .routes(guarded(routes!(oidc_signin::options))?)
        .routes(guarded(routes!(oidc_signin::start))?)
        .routes(guarded(routes!(oidc_signin::callback))?)
        .routes(guarded(routes!(oidc_signin::session))?)
        .routes(guarded(routes!(auth::set_login))?)
        .routes(guarded(routes!(users::disable))?)
        .routes(guarded(routes!(users::enable))?)
        .routes(guarded(routes!(user_directory::list))?)
        .routes(guarded(routes!(user_directory::get))?)
        .routes(guarded(routes!(user_directory::put))?)
        .routes(guarded(routes!(user_directory::put_own_notify))?)
        .routes(guarded(routes!(patients::list))?)
        .routes(guarded(routes!(patients::create))?)
        .routes(guarded(routes!(patients::lookup))?)
        .routes(guarded(routes!(patients::get))?)
        .routes(guarded(routes!(patients::assign))?)
        .routes(guarded(routes!(thresholds::get))?)
        .routes(guarded(routes!(thresholds::put))?)
        .routes(guarded(routes!(thresholds::history))?)
        .routes(guarded(routes!(backtest::post))?)
        .routes(guarded(routes!(break_glass::open))?)
        .routes(guarded(routes!(ecg::range))?)
        .routes(guarded(routes!(ecg_export::export))?)
        .routes(guarded(routes!(beats::range))?)
        .routes(guarded(routes!(hr_trend::range))?)
        .routes(guarded(routes!(vitals::range))?)
        .routes(guarded(routes!(news2::trend))?)
        .routes(guarded(routes!(live::open))?)
        .routes(guarded(routes!(alerts::list))?)
        .routes(guarded(routes!(alerts_live::open))?)
        .routes(guarded(routes!(alerts::acknowledge))?)
        .routes(guarded(routes!(alerts::snooze))?)
        .routes(guarded(routes!(alert_actions::triage))?)
        .routes(guarded(routes!(alert_actions::escalate))?)
        .routes(guarded(routes!(alerts::deliveries))?)
        .routes(guarded(routes!(devices::list))?)
        .routes(guarded(routes!(devices::register))?)
        .routes(guarded(routes!(devices::revoke))?)
        .routes(guarded(routes!(devices::issue_token))?)
        .routes(guarded(routes!(devices::pin_certificate))?)
        .routes(guarded(routes!(audit::list))?)
        .routes(guarded(routes!(audit::verify))?)
        .routes(guarded(routes!(reports::fatigue))?)
        .routes(guarded(routes!(report::get))?)
        .routes(guarded(routes!(shards::map))?)
        .routes(fhir(routes!(fhir::routes::metadata))?)
        .routes(fhir(routes!(fhir::routes::patient))?)
        .routes(fhir(routes!(fhir::routes::device))?)
        .routes(fhir(routes!(fhir::record_routes::patients))?)
        .routes(fhir(routes!(fhir::record_routes::devices))?)
        .routes(fhir(routes!(fhir::routes::observations))?)
        .routes(fhir(routes!(fhir::routes::detected_issues))?)
        .routes(fhir(routes!(fhir::routes::diagnostic_reports))?)
        .routes(fhir(routes!(fhir::trail_routes::communications))?)
        .routes(fhir(routes!(fhir::trail_routes::audit_events))?))
}

/// Runs the service as its binary does: opens the configured stores, serves until
/// `shutdown` is cancelled, drains, and returns.
pub async fn run(cfg: ApiConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let stores = cw_storage::open(&cfg.storage).await?;
    start(cfg, stores.into(), shutdown).await?.task.await?;
    Ok(())
}

pub async fn start(
    cfg: ApiConfig,
    stores: ApiStores,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    // Every request is audited: without the audit key no event could be sealed.
    cfg.storage.audit.require_key()?;
    let sealer = Sealer::from_config(&cfg.bus)?;
    let jwt_secret = cfg.auth.secret()?;
    let oidc = if cfg.oidc.enabled {
        Some(Arc::new(
            crate::oidc::OidcVerifier::new(&cfg.oidc).context("[oidc]")?,
        ))
    } else {
        None
    };
    let oidc_flow = match &oidc {
        Some(verifier) if !cfg.oidc.client_id.is_empty() => Some(Arc::new(
            crate::oidc_flow::CodeFlow::new(verifier.clone(), jwt_secret.expose_secret())
                .context("[oidc] sign-in")?,
        )),
        _ => None,
    };
    let (config_publisher, config_publish_endpoint) = Publisher::bind(
        &cfg.config_publish_endpoint,
        Kind::ConfigChange,
        sealer.clone(),
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
    // REST needs both stores; threshold changes are announced on the config PUB. Live
    // views subscribe per watched shard on demand, so they are no readiness check.
    let readiness = cw_runtime::Readiness::default()
        .require("sample_store", cw_storage::probe(stores.samples.clone()))
        .require("record_store", cw_storage::probe(stores.records.clone()))
        .require("bus.config_pub", {
            let publisher = config_publisher.clone();
            move || std::future::ready(publisher.probe())
        });
    let state = AppState {
        records: stores.records.clone(),
        samples: stores.samples.clone(),
        config_publisher,
        jwt_secret: Arc::new(jwt_secret),
        issuer: cfg.auth.issuer.clone().into(),
        break_glass_ttl_s: cfg.auth.break_glass_ttl_s,
        auth: Arc::new(cfg.auth.clone()),
        login_limiter: Arc::new(crate::login_limiter::LoginLimiter::new(
            cfg.auth.login_per_minute,
        )),
        unknown_logins: Arc::new(crate::login_limiter::UnknownLogins::new(
            cfg.auth.max_failures,
            std::time::Duration::from_secs(cfg.auth.lockout_s),
        )),
        phi: if cfg.phi.is_configured() {
            Some(Arc::new(
                cw_phi::PhiVault::from_config(&cfg.phi).context("PHI keys")?,
            ))
        } else {
            tracing::warn!("no PHI master key configured: patient PHI endpoints answer 503");
            None
        },
        oidc,
        oidc_flow,
        snooze: Arc::new(cfg.snooze.clone()),
        ecg_retention: crate::routes::ecg::EcgRetention::from(&cfg.storage.retention),
        live: crate::live::hub::LiveHub::start(
            cfg.live.clone(),
            sealer,
            cw_bus::Discovery::from_config(&cfg.bus)?,
            stores.records.clone(),
            shutdown.clone(),
        ),
        anonymous_denials: crate::anonymous_denials::AnonymousDenials::start(
            cfg.anonymous_denials.clone(),
            stores.records.clone(),
            shutdown.clone(),
        ),
        readiness: readiness.clone(),
        audit: Arc::new(cfg.storage.audit.clone()),
    };
    let metrics = Arc::new(request_metrics::RequestMetrics::default());
    let live = state.live.clone();
    let (api, doc) = api_routes(&state)?.split_for_parts();
    let doc = crate::openapi::finish(doc);
    let document = infra::Document(serde_json::to_string(&doc)?.into());
    let router = api
        .merge(crate::console::routes())
        .layer(Extension(document))
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Inner to outer: a panic becomes a 500 that audit records; audit sees the
        // request id; both see every /v1 request.
        .layer(axum::middleware::from_fn(panic_guard::catch))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_trail::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            request_metrics::count,
        ))
        .layer(axum::middleware::from_fn(request_id::assign))
        .layer(axum::middleware::from_fn(security_headers::add))
        // Outermost: a browser's socket token (subprotocol) becomes a bearer header first.
        .layer(axum::middleware::from_fn(
            crate::routes::live::bearer_from_subprotocol,
        ))
        .with_state(state);
    let admin = cw_tls::Listener::bind(&cfg.admin_listen, &cfg.tls)
        .await
        .with_context(|| format!("binding the admin listener at {}", cfg.admin_listen))?;
    let admin_addr = admin.local_addr()?;
    let admin_router: Router = cw_runtime::admin_routes(readiness, move || {
        format!("{}{}", metrics.render(), live.metrics.render())
    });
    tokio::spawn(cw_tls::serve(admin, admin_router, shutdown.clone()));
    let listener = cw_tls::Listener::bind(&cfg.listen, &cfg.tls)
        .await
        .with_context(|| format!("binding the api listener at {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let scheme = listener.scheme();
    tracing::info!(%addr, scheme, %admin_addr, "api listening");
    let task = tokio::spawn(cw_tls::serve(listener, router, shutdown));
    Ok(Running {
        addr,
        scheme,
        config_publish_endpoint,
        admin_addr,
        task,
    })
}
