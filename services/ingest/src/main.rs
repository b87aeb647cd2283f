//! `cw-ingest --config ingest.toml` — the gateway endpoint.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service("ingest", cw_ingest::run).await
}
