//! Cargo.lock's package list: the SBOM's checksums and the test's ground truth.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::SupplyError;

#[derive(Debug, Deserialize)]
pub struct Lockfile {
    #[serde(rename = "package")]
    pub packages: Vec<LockedPackage>,
}

#[derive(Debug, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    /// SHA-256 of the downloaded .crate; absent for path packages.
    pub checksum: Option<String>,
}

pub fn load(root: &Path) -> Result<Lockfile, SupplyError> {
    let path = root.join("Cargo.lock");
    let text = std::fs::read_to_string(&path).map_err(|source| SupplyError::Read {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| SupplyError::Toml { path, source })
}

impl Lockfile {
    /// Checksum per `name@version`.
    pub fn checksums(&self) -> BTreeMap<String, String> {
        self.packages
            .iter()
            .filter_map(|p| {
                let sum = p.checksum.clone()?;
                Some((format!("{}@{}", p.name, p.version), sum))
            })
            .collect()
    }
}
