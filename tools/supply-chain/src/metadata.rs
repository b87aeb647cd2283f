//! The subset of `cargo metadata --format-version 1` this tool reads.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use crate::SupplyError;

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub packages: Vec<Package>,
    pub workspace_members: Vec<String>,
    pub resolve: Resolve,
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub version: String,
    pub license: Option<String>,
    pub description: Option<String>,
    /// `None` for path (workspace) packages.
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Resolve {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
pub struct Node {
    pub id: String,
    pub deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
pub struct NodeDep {
    pub pkg: String,
    pub dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
pub struct DepKind {
    /// `None` for a normal dependency, else "dev" or "build".
    pub kind: Option<String>,
}

/// Runs `cargo metadata` in `root`. `--locked` makes a stale Cargo.lock an error
/// instead of silently describing a different build; all platforms are kept, so the
/// lists cover every package Cargo.lock can bring in.
pub fn load(root: &Path) -> Result<Metadata, SupplyError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(SupplyError::CargoSpawn)?;
    if !out.status.success() {
        return Err(SupplyError::CargoFailed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    parse(&out.stdout)
}

pub fn parse(json: &[u8]) -> Result<Metadata, SupplyError> {
    serde_json::from_slice(json).map_err(SupplyError::Metadata)
}
