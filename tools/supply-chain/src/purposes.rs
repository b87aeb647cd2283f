//! The one hand-kept input: why we use each direct dependency (IEC 62304 asks for
//! the purpose of every SOUP item). Everything else in docs/soup.md is generated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::SupplyError;

/// Relative to the workspace root.
pub const PURPOSES_FILE: &str = "tools/supply-chain/purposes.toml";

pub type Purposes = BTreeMap<String, String>;

pub fn load(root: &Path) -> Result<Purposes, SupplyError> {
    let path = root.join(PURPOSES_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| SupplyError::Read {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| SupplyError::Toml { path, source })
}

/// Every direct dependency has a purpose and every purpose names a direct dependency.
pub fn check(purposes: &Purposes, direct: &BTreeSet<&str>) -> Result<(), SupplyError> {
    let missing: Vec<&str> = direct
        .iter()
        .copied()
        .filter(|name| purposes.get(*name).is_none_or(|p| p.trim().is_empty()))
        .collect();
    let stale: Vec<&str> = purposes
        .keys()
        .map(String::as_str)
        .filter(|name| !direct.contains(name))
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("no purpose for {}", missing.join(", ")));
    }
    if !stale.is_empty() {
        problems.push(format!(
            "purpose for crates no manifest names: {}",
            stale.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SupplyError::Purposes {
            problems: problems.join("; "),
        })
    }
}
