//! `cw-ingest --config ingest.toml` — the gateway endpoint.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service(
        "ingest",
        |cfg: cw_ingest::IngestConfig, shutdown| async move {
            let stores = cw_storage::open(&cfg.storage).await?;
            Ok(cw_ingest::start(cfg, stores, shutdown).await?.task)
        },
    )
    .await
}
