//! `cw-supply-chain soup [--write]` prints (or writes) docs/soup.md;
//! `cw-supply-chain sbom [PATH]` prints (or writes) the CycloneDX SBOM.
//! Both read `cargo metadata --locked` and Cargo.lock of this workspace.

use anyhow::{Context, bail};
use cw_supply_chain::{
    inventory::Inventory, lockfile, metadata, purposes, sbom, soup, workspace_root,
};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let inventory = Inventory::from_metadata(&metadata::load(&root)?);
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["soup", rest @ ..] => {
            let purposes = purposes::load(&root)?;
            purposes::check(&purposes, &inventory.direct_names())?;
            let text = soup::render(&inventory, &purposes);
            match rest {
                [] => print!("{text}"),
                ["--write"] => {
                    let path = root.join(soup::SOUP_FILE);
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                _ => bail!("usage: cw-supply-chain soup [--write]"),
            }
        }
        ["sbom", rest @ ..] => {
            let checksums = lockfile::load(&root)?.checksums();
            let text = serde_json::to_string_pretty(&sbom::render(&inventory, &checksums))?;
            match rest {
                [] => println!("{text}"),
                [path] => {
                    std::fs::write(path, text + "\n").with_context(|| format!("writing {path}"))?
                }
                _ => bail!("usage: cw-supply-chain sbom [PATH]"),
            }
        }
        _ => bail!("usage: cw-supply-chain soup [--write] | sbom [PATH]"),
    }
    Ok(())
}
