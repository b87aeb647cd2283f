//! `cardiowatch config-doc`: docs/config.md from the four services' config types
//! (`cw_config::reference`); `--write` replaces the file, `--check` fails when it differs.

use anyhow::{Context, bail};
use cw_config::reference::{ServiceConfig, markdown};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ConfigDocArgs {
    /// Write the reference to this file instead of printing it.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub write: Option<PathBuf>,
    /// Exit 1 when this file differs from what the config types say.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}

/// The reference, as the config types say today.
pub fn render() -> String {
    markdown(&[
        ServiceConfig::of::<cw_ingest::IngestConfig>("cw-ingest", "deploy/config/ingest.toml"),
        ServiceConfig::of::<cw_api::ApiConfig>("cw-api", "deploy/config/api.toml"),
        ServiceConfig::of::<cw_alert_engine::AlertEngineConfig>(
            "cw-alert-engine",
            "deploy/config/alert-engine.toml",
        ),
        ServiceConfig::of::<cw_notifier::NotifierConfig>(
            "cw-notifier",
            "deploy/config/notifier.toml",
        ),
    ])
}

pub fn run(args: ConfigDocArgs) -> anyhow::Result<()> {
    let doc = render();
    match (args.write, args.check) {
        (Some(path), _) => {
            std::fs::write(&path, doc).with_context(|| format!("writing {}", path.display()))
        }
        (None, Some(path)) => {
            let current = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if current != doc {
                bail!(
                    "{} is not what the config types say: run `cardiowatch config-doc --write {}`",
                    path.display(),
                    path.display()
                );
            }
            Ok(())
        }
        (None, None) => {
            print!("{doc}");
            Ok(())
        }
    }
}
