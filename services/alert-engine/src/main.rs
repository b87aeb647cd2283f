//! `cw-alert-engine --config alert-engine.toml` — beats, heart rate, rules, alerts.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service(
        "alert-engine",
        |cfg: cw_alert_engine::AlertEngineConfig, shutdown| async move {
            let stores = cw_storage::open(&cfg.storage).await?;
            Ok(cw_alert_engine::start(cfg, stores, shutdown).await?.task)
        },
    )
    .await
}
