//! A CycloneDX 1.5 JSON SBOM of the whole Cargo.lock. Deterministic (no timestamp or
//! random serial number), so two runs on one commit give the same bytes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::inventory::{Component, Inventory};

pub const SPEC_VERSION: &str = "1.5";

/// The product the SBOM describes: the `cardiowatch` package stands for the workspace.
pub const PRODUCT: &str = "cardiowatch";

pub fn render(inventory: &Inventory, checksums: &BTreeMap<String, String>) -> Value {
    let product = inventory
        .components
        .iter()
        .find(|c| c.ours && c.name == PRODUCT);
    let components: Vec<Value> = inventory
        .components
        .iter()
        .filter(|c| Some(*c) != product)
        .map(|c| component(c, checksums))
        .collect();
    let dependencies: Vec<Value> = inventory
        .edges
        .iter()
        .map(|(from, to)| json!({ "ref": from, "dependsOn": to }))
        .collect();
    let mut bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "tools": { "components": [{ "type": "application", "name": "cw-supply-chain" }] },
        },
        "components": components,
        "dependencies": dependencies,
    });
    if let (Some(product), Some(metadata)) = (product, bom.get_mut("metadata")) {
        let mut root = component(product, checksums);
        root["type"] = json!("application");
        metadata["component"] = root;
    }
    bom
}

fn component(c: &Component, checksums: &BTreeMap<String, String>) -> Value {
    let mut value = json!({
        "type": "library",
        "bom-ref": c.key(),
        "name": c.name,
        "version": c.version,
        "purl": format!("pkg:cargo/{}@{}", c.name, c.version),
    });
    if let Some(license) = &c.license {
        // Old manifests write "MIT/Apache-2.0"; SPDX spells that "MIT OR Apache-2.0".
        value["licenses"] = json!([{ "expression": spdx_expression(license) }]);
    }
    if let Some(description) = &c.description {
        value["description"] = json!(description.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    if let Some(sum) = checksums.get(&c.key()) {
        value["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
    }
    if c.ours {
        // Our own crates are not published: a purl would point at someone else's crate.
        if let Some(obj) = value.as_object_mut() {
            obj.remove("purl");
        }
    }
    value
}

fn spdx_expression(license: &str) -> String {
    license
        .replace('/', " OR ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
