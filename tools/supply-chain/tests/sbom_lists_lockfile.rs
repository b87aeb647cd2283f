//! The SBOM is CycloneDX JSON that lists every package of Cargo.lock exactly once,
//! with the lock's checksum for each downloaded crate and a resolvable dependency graph.
//! Cargo.lock is read here on its own, as the ground truth the generator must match;
//! the official CycloneDX schema (through cyclonedx-python-lib, which scripts/test
//! installs and names in CW_TEST_CYCLONEDX_PYTHON) judges the format.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use cw_supply_chain::{lockfile, sbom, workspace_root};
use serde_json::Value;

#[test]
fn sbom_command_lists_every_cargo_lock_package_with_its_checksum() -> anyhow::Result<()> {
    let root = workspace_root();
    let out_dir = tempfile::tempdir()?;
    let path = out_dir.path().join("cardiowatch.cdx.json");
    // The documented command, through the real binary.
    let status = Command::new(env!("CARGO_BIN_EXE_cw-supply-chain"))
        .arg("sbom")
        .arg(&path)
        .status()?;
    assert!(status.success(), "cw-supply-chain sbom failed: {status}");
    let validation = Command::new(required("CW_TEST_CYCLONEDX_PYTHON"))
        .arg(root.join("tools/supply-chain/tests/validate_cyclonedx.py"))
        .arg(&path)
        .output()?;
    assert!(
        validation.status.success(),
        "the SBOM is not valid CycloneDX: {}",
        String::from_utf8_lossy(&validation.stderr)
    );
    let bom: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;

    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], sbom::SPEC_VERSION);
    assert_eq!(bom["version"], 1);
    assert_eq!(bom["metadata"]["component"]["name"], sbom::PRODUCT);
    assert_eq!(bom["metadata"]["component"]["type"], "application");

    let components = bom["components"].as_array().cloned().unwrap_or_default();
    let mut listed: BTreeMap<String, Value> = BTreeMap::new();
    for c in components.iter().chain([&bom["metadata"]["component"]]) {
        let key = format!("{}@{}", str_of(c, "name"), str_of(c, "version"));
        assert_eq!(str_of(c, "bom-ref"), key);
        assert!(
            listed.insert(key.clone(), c.clone()).is_none(),
            "{key} listed twice"
        );
    }

    let lock = lockfile::load(&root)?;
    assert_eq!(
        listed.len(),
        lock.packages.len(),
        "SBOM and Cargo.lock differ in size"
    );
    for package in &lock.packages {
        let key = format!("{}@{}", package.name, package.version);
        let c = listed
            .get(&key)
            .ok_or_else(|| anyhow::anyhow!("{key} missing from SBOM"))?;
        if let Some(sum) = &package.checksum {
            assert_eq!(c["hashes"][0]["alg"], "SHA-256", "{key}");
            assert_eq!(
                c["hashes"][0]["content"].as_str(),
                Some(sum.as_str()),
                "{key}"
            );
            assert_eq!(str_of(c, "purl"), format!("pkg:cargo/{key}"));
            let licence = c["licenses"][0]["expression"].as_str().unwrap_or("");
            assert!(!licence.is_empty(), "{key} has no licence");
        }
    }

    let refs: BTreeSet<&str> = listed.keys().map(String::as_str).collect();
    let dependencies = bom["dependencies"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        dependencies.len(),
        lock.packages.len(),
        "one dependency entry per package"
    );
    for d in &dependencies {
        assert!(refs.contains(str_of(d, "ref")), "unknown ref {d}");
        for to in d["dependsOn"].as_array().into_iter().flatten() {
            assert!(
                refs.contains(to.as_str().unwrap_or("")),
                "unknown dependsOn {to}"
            );
        }
    }
    Ok(())
}

/// Set by scripts/test; a missing one is a setup error, not a reason to skip.
fn required(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run through scripts/test -p cw-supply-chain"))
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("")
}
