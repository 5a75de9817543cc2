//! The Kubernetes manifests (k8s/) give every setting of `config/default.toml` a place and run
//! every role. Text only: no cluster, no YAML or TOML parser. `scripts/check-k8s` checks the
//! rendered manifests further (schemas, checkov, exactly one place per setting, partitions).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Free-form tables (librdkafka properties, per-projector and per-channel maps): kept whole in the
/// mounted config file.
const MAP_TABLES: [&str; 5] = [
    "kafka.producer",
    "kafka.consumer",
    "projector.fetch_wait_ms",
    "search.ranker.weights",
    "search.weights",
];

/// `Role::ALL` of src/role.rs, and `mcp`.
const ROLES: [&str; 11] = [
    "api",
    "registry",
    "relay",
    "projector:catalog",
    "projector:search",
    "projector:search-activity",
    "projector:sync",
    "projector:user-profiles",
    "projector:playback",
    "connectors",
    "mcp",
];

/// `(table, key)` of every `key = value` line of a TOML text (tables from `[a.b]` headers).
fn settings(toml: &str) -> Vec<(String, String)> {
    let mut table = String::new();
    let mut out = Vec::new();
    for line in toml.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            table = line.trim_matches(['[', ']']).trim().to_string();
        } else if let Some((key, _)) = line.split_once('=') {
            out.push((table.clone(), key.trim().trim_matches('"').to_string()));
        }
    }
    out
}

/// Every file under `dir`, as `(path, text)`.
fn read_all(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("k8s directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            read_all(&path, out);
        } else {
            let text = fs::read_to_string(&path).expect("manifest text");
            out.push((path.display().to_string(), text));
        }
    }
}

/// k8s/base and k8s/overlays/prod.
fn prod_manifests() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    read_all(&root.join("k8s/base"), &mut files);
    read_all(&root.join("k8s/overlays/prod"), &mut files);
    files
}

/// `name` occurs as a whole variable name, not as the start of a longer one.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        !text[i + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The texts of the files whose path ends with `suffix`, one after the other.
fn joined(files: &[(String, String)], suffix: &str) -> String {
    let chosen = files.iter().filter(|(path, _)| path.ends_with(suffix));
    chosen
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_setting_has_a_place_in_the_prod_manifests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let defaults = fs::read_to_string(root.join("config/default.toml")).expect("defaults");
    let files = prod_manifests();
    let all = joined(&files, "");
    let config_file = joined(&files, ".toml");
    let in_file: BTreeSet<(String, String)> = settings(&config_file).into_iter().collect();
    let mut missing = Vec::new();
    for (table, key) in settings(&defaults) {
        let section = table.replace('.', "__");
        let env = format!("MEDIAGW__{section}__{key}").to_uppercase();
        let placed = if MAP_TABLES.contains(&table.as_str()) {
            config_file.contains(&format!("[{table}]"))
        } else {
            in_file.contains(&(table.clone(), key.clone())) || mentions(&all, &env)
        };
        if !placed {
            missing.push(format!("{table}.{key} ({env})"));
        }
    }
    assert!(
        missing.is_empty(),
        "settings without a place in k8s/: {missing:?}"
    );
}

#[test]
fn every_role_has_a_deployment() {
    let files = prod_manifests();
    let all: Vec<String> = files.iter().map(|(_, t)| t.replace(' ', "")).collect();
    for role in ROLES {
        let args = format!("[\"serve\",\"--role\",\"{role}\"]");
        assert!(
            all.iter().any(|t| t.contains(&args)),
            "no Deployment runs `serve --role {role}`"
        );
    }
}
