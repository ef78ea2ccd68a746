//! The layer table of `docs/architecture.md`, checked against `cargo
//! metadata`: every workspace crate has a row, and each of its (non-dev)
//! dependencies on another workspace crate belongs to a layer its row allows.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const PREFIX: &str = "jobenrich-";

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Backticked names of a table cell: "`cli`, `worker`" → [cli, worker].
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

struct LayerTable {
    /// Layer name → its crates.
    crates_of: BTreeMap<String, Vec<String>>,
    /// Crate → the layers it may depend on.
    allowed: BTreeMap<String, Vec<String>>,
}

fn layer_table() -> LayerTable {
    let doc = std::fs::read_to_string(repo_root().join("docs/architecture.md")).unwrap();
    let section = &doc[doc.find("## Layers").expect("a Layers section")..];
    let mut crates_of = BTreeMap::new();
    let mut allowed = BTreeMap::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 3 || cells[0] == "layer" || cells[0].starts_with("---") {
            continue;
        }
        let crates = backticked(cells[1]);
        // Parenthesized text names non-workspace dependencies.
        let may: Vec<String> = cells[2]
            .split('(')
            .next()
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for c in &crates {
            allowed.insert(c.clone(), may.clone());
        }
        crates_of.insert(cells[0].to_string(), crates);
    }
    // A layer is also named by its crate (`services`, `bootstrap`).
    let singles: Vec<(String, Vec<String>)> = crates_of
        .values()
        .filter(|c| c.len() == 1)
        .map(|c| (c[0].clone(), c.clone()))
        .collect();
    crates_of.extend(singles);
    LayerTable { crates_of, allowed }
}

/// Workspace crate → its non-dev dependencies on workspace crates.
fn workspace_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let short = |name: &str| name.strip_prefix(PREFIX).unwrap_or(name).to_string();
    let members: BTreeSet<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut out = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let deps = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null()) // normal dependencies; dev and build are not layering
            .filter_map(|d| d["name"].as_str())
            .filter(|name| members.contains(*name))
            .map(short)
            .collect();
        out.insert(short(package["name"].as_str().unwrap()), deps);
    }
    out
}

#[test]
fn crate_dependencies_follow_the_layer_table_of_the_architecture_doc() {
    let table = layer_table();
    let deps = workspace_dependencies();
    assert!(
        deps.contains_key("cli") && deps.contains_key("domain"),
        "{deps:?}"
    );
    let mut broken = Vec::new();
    for (krate, uses) in &deps {
        let Some(layers) = table.allowed.get(krate) else {
            broken.push(format!("{krate} has no row in the layer table"));
            continue;
        };
        let allowed: BTreeSet<&String> = layers
            .iter()
            .flat_map(|layer| {
                table
                    .crates_of
                    .get(layer)
                    .unwrap_or_else(|| panic!("{krate}'s row names an unknown layer {layer:?}"))
            })
            .collect();
        for dep in uses {
            if !allowed.contains(dep) {
                broken.push(format!(
                    "{krate} depends on {dep}, not allowed by its row {layers:?}"
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "docs/architecture.md layers broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_layer_table_parser_sees_every_row() {
    let table = layer_table();
    assert_eq!(table.crates_of["pure libraries"].len(), 3);
    assert_eq!(
        table.allowed["cli"],
        ["domain", "pure libraries", "services", "bootstrap"]
    );
    assert!(table.allowed["domain"].is_empty());
}
