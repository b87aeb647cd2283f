//! What the workspace is made of, in the terms both documents use: every locked
//! package, which third-party ones our crates name directly, and the dependency graph.

use std::collections::{BTreeMap, BTreeSet};

use crate::metadata::Metadata;

/// One package of Cargo.lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub license: Option<String>,
    pub description: Option<String>,
    /// Ours (a workspace member) rather than SOUP.
    pub ours: bool,
    /// Came from a registry (crates.io), as opposed to a path.
    pub from_registry: bool,
}

impl Component {
    /// Unique within one Cargo.lock: the SBOM's bom-ref.
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// A third-party package that one of our crates names in its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectDependency {
    pub component: Component,
    /// "normal", "build", "dev" (dev = tests and benches only).
    pub kinds: BTreeSet<String>,
    /// Our crates that name it.
    pub used_by: BTreeSet<String>,
}

#[derive(Debug)]
pub struct Inventory {
    /// Sorted by name, then version.
    pub components: Vec<Component>,
    pub direct: Vec<DirectDependency>,
    /// key -> keys it depends on.
    pub edges: BTreeMap<String, BTreeSet<String>>,
}

impl Inventory {
    pub fn from_metadata(meta: &Metadata) -> Inventory {
        let members: BTreeSet<&str> = meta.workspace_members.iter().map(String::as_str).collect();
        let by_id: BTreeMap<&str, Component> = meta
            .packages
            .iter()
            .map(|p| {
                let component = Component {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    license: p.license.clone(),
                    description: p.description.clone(),
                    ours: members.contains(p.id.as_str()),
                    from_registry: p
                        .source
                        .as_deref()
                        .is_some_and(|s| s.starts_with("registry+")),
                };
                (p.id.as_str(), component)
            })
            .collect();

        let mut direct: BTreeMap<String, DirectDependency> = BTreeMap::new();
        let mut edges = BTreeMap::new();
        for node in &meta.resolve.nodes {
            let Some(from) = by_id.get(node.id.as_str()) else {
                continue;
            };
            let mut targets = BTreeSet::new();
            for dep in &node.deps {
                let Some(to) = by_id.get(dep.pkg.as_str()) else {
                    continue;
                };
                targets.insert(to.key());
                if from.ours && !to.ours {
                    let entry = direct.entry(to.key()).or_insert_with(|| DirectDependency {
                        component: to.clone(),
                        kinds: BTreeSet::new(),
                        used_by: BTreeSet::new(),
                    });
                    entry.used_by.insert(from.name.clone());
                    for kind in &dep.dep_kinds {
                        entry
                            .kinds
                            .insert(kind.kind.clone().unwrap_or_else(|| "normal".to_owned()));
                    }
                }
            }
            edges.insert(from.key(), targets);
        }

        let mut components: Vec<Component> = by_id.into_values().collect();
        components.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        let mut direct: Vec<DirectDependency> = direct.into_values().collect();
        direct.sort_by(|a, b| {
            (&a.component.name, &a.component.version)
                .cmp(&(&b.component.name, &b.component.version))
        });
        Inventory {
            components,
            direct,
            edges,
        }
    }

    /// Names of the third-party packages our manifests name.
    pub fn direct_names(&self) -> BTreeSet<&str> {
        self.direct
            .iter()
            .map(|d| d.component.name.as_str())
            .collect()
    }
}
