//! `cardiowatch` — the command people run. Services run as their own binaries
//! (`cw-ingest`, `cw-alert-engine`, `cw-notifier`, `cw-api`) in production.

mod commands;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::init_logging_with_default("warn");
    cw_tls::install_default_crypto();
    commands::Cli::parse().run().await
}
