//! docs/soup.md must be exactly what the generator makes from today's manifests,
//! Cargo.lock and purposes.toml; otherwise the SOUP list describes a different build.

use cw_supply_chain::{inventory::Inventory, metadata, purposes, soup, workspace_root};

#[test]
fn soup_list_matches_cargo_lock_and_manifests() -> anyhow::Result<()> {
    let root = workspace_root();
    let inventory = Inventory::from_metadata(&metadata::load(&root)?);
    let purposes = purposes::load(&root)?;
    purposes::check(&purposes, &inventory.direct_names())?;
    let expected = soup::render(&inventory, &purposes);
    let committed = std::fs::read_to_string(root.join(soup::SOUP_FILE))?;
    assert!(
        committed == expected,
        "{} is stale (dependencies changed): regenerate it with `cargo run -p cw-supply-chain -- soup --write` and commit it",
        soup::SOUP_FILE
    );
    Ok(())
}

#[test]
fn every_direct_dependency_has_a_purpose_and_none_is_stale() -> anyhow::Result<()> {
    let root = workspace_root();
    let inventory = Inventory::from_metadata(&metadata::load(&root)?);
    let mut purposes = purposes::load(&root)?;
    let direct = inventory.direct_names();
    purposes::check(&purposes, &direct)?;

    // The check must bite both ways: a dependency without a purpose, and a purpose for
    // a crate no manifest names.
    let (name, purpose) = purposes
        .pop_first()
        .ok_or_else(|| anyhow::anyhow!("no purposes"))?;
    let missing = purposes::check(&purposes, &direct)
        .map(|()| "accepted")
        .unwrap_err_string();
    assert!(
        missing.contains(&format!("no purpose for {name}")),
        "{missing}"
    );
    purposes.insert(name, purpose);
    purposes.insert("not-a-dependency".into(), "nothing".into());
    let stale = purposes::check(&purposes, &direct)
        .map(|()| "accepted")
        .unwrap_err_string();
    assert!(stale.contains("not-a-dependency"), "{stale}");
    Ok(())
}

trait ErrString {
    fn unwrap_err_string(self) -> String;
}

impl<T: std::fmt::Debug, E: std::fmt::Display> ErrString for Result<T, E> {
    fn unwrap_err_string(self) -> String {
        match self {
            Ok(v) => format!("unexpectedly Ok: {v:?}"),
            Err(e) => e.to_string(),
        }
    }
}
