//! `cw-notifier --config notifier.toml` — reaches doctors by SMS, voice, email, in-app.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service("notifier", cw_notifier::run).await
}
