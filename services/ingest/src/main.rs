//! `cw-ingest --config ingest.toml` — the gateway endpoint.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about = "cardiowatch ingest: TLS endpoint for ECG gateways")]
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
    let cfg: cw_ingest::IngestConfig = cw_config::load(args.config.as_deref())?;
    let stores = cw_storage::open(&cfg.storage).await?;
    let shutdown = cw_telemetry::shutdown_on_signal();
    let running = cw_ingest::start(cfg, stores, shutdown).await?;
    running.task.await?;
    Ok(())
}
