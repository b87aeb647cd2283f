//! The `main` of every service binary: parse `--config`, set up logging and TLS crypto,
//! load the config, start the service, run until it ends or a signal asks it to stop.

use clap::Parser;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// TOML config file; every key also reads from CW_<SECTION>__<KEY>.
    #[arg(long, env = "CW_CONFIG")]
    config: Option<PathBuf>,
}

/// Runs one service. `run` receives the loaded config and the shutdown token and returns
/// when the service has stopped.
pub async fn run_service<C, F, Fut>(about: &'static str, run: F) -> anyhow::Result<()>
where
    C: DeserializeOwned,
    F: FnOnce(C, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    crate::init_logging();
    cw_tls::install_default_crypto();
    let args = Args::parse();
    let config: C = cw_config::load(args.config.as_deref())?;
    for var in cw_config::unknown_env_vars::<C>(std::env::vars().map(|(name, _)| name)) {
        tracing::warn!(
            %var,
            "environment variable names no config key of this service (misspelt, or meant for another service); ignored (docs/config.md lists every key)"
        );
    }
    let shutdown = crate::shutdown_on_signal();
    tracing::info!(service = about, "starting");
    run(config, shutdown).await
}
