//! `cw-api --config api.toml` — the doctors' REST API.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cw_runtime::run_service("api", cw_api::run).await
}
