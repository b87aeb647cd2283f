//! `cardiowatch health URL`: the image's healthcheck, so the runtime image needs no curl.
//! Exits 0 when the endpoint answers 2xx, 1 otherwise (what Docker's HEALTHCHECK reads).

use anyhow::{Context, bail};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct HealthArgs {
    /// e.g. https://localhost:8443/readyz
    pub url: String,
    /// CA certificate (PEM) to trust for an https URL, e.g. the deployment's CA.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

pub async fn run(args: HealthArgs) -> anyhow::Result<()> {
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(args.timeout.max(1)));
    if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading --ca {}", ca.display()))?;
        client = client.add_root_certificate(
            reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("--ca {} is not a PEM certificate", ca.display()))?,
        );
    }
    let response = client
        .build()?
        .get(&args.url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", args.url, e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("{} answered {status}: {}", args.url, body.trim());
    }
    println!("{} {status}", args.url);
    Ok(())
}
