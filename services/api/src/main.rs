//! `cw-api --config api.toml` — the doctors' REST API.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service("api", |cfg: cw_api::ApiConfig, shutdown| async move {
        let stores = cw_storage::open(&cfg.storage).await?;
        Ok(cw_api::start(cfg, stores, shutdown).await?.task)
    })
    .await
}
