//! Supply-chain documents for device software (issue 13, item 5): a CycloneDX SBOM
//! and the IEC 62304 SOUP list, both derived from `cargo metadata` and `Cargo.lock`
//! so they cannot drift from what is actually built. See docs/security.md, "Supply chain".

pub mod inventory;
pub mod lockfile;
pub mod metadata;
pub mod purposes;
pub mod sbom;
pub mod soup;

use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading the inputs.
#[derive(Debug, thiserror::Error)]
pub enum SupplyError {
    #[error("running `cargo metadata`: {0}")]
    CargoSpawn(std::io::Error),
    #[error("`cargo metadata --locked` failed (is Cargo.lock out of date?): {0}")]
    CargoFailed(String),
    #[error("parsing `cargo metadata` output: {0}")]
    Metadata(serde_json::Error),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error(
        "{} is out of step with the manifests: {problems}. Edit it (one line per direct dependency) and regenerate with `cargo run -p cw-supply-chain -- soup --write`",
        purposes::PURPOSES_FILE
    )]
    Purposes { problems: String },
}

/// The workspace root: this crate lives at tools/supply-chain.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
