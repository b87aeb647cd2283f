//! `cw-alert-engine --config alert-engine.toml` — beats, heart rate, rules, alerts.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service("alert-engine", cw_alert_engine::run).await
}
