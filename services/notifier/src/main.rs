//! `cw-notifier --config notifier.toml` — reaches doctors by SMS, voice, email, in-app.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service(
        "notifier",
        |cfg: cw_notifier::NotifierConfig, shutdown| async move {
            let stores = cw_storage::open(&cfg.storage).await?;
            Ok(cw_notifier::start(cfg, stores, shutdown).await?.task)
        },
    )
    .await
}
