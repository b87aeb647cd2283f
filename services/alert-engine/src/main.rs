//! `cw-alert-engine --config alert-engine.toml` — beats, heart rate, rules, alerts.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "cardiowatch alert-engine: detection and threshold rules"
)]
struct Args {
    /// TOML config file; every key also reads from CW_<SECTION>__<KEY>.
    #[arg(long, env = "CW_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_telemetry::init_logging();
    cw_tls::install_default_crypto();
    let args = Args::parse();
    let cfg: cw_alert_engine::AlertEngineConfig = cw_config::load(args.config.as_deref())?;
    let stores = cw_storage::open(&cfg.storage).await?;
    let shutdown = cw_telemetry::shutdown_on_signal();
    let running = cw_alert_engine::start(cfg, stores, shutdown).await?;
    running.task.await?;
    Ok(())
}
