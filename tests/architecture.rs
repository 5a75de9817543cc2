//! The crate rule (ADR 0016), checked from `cargo metadata`: the services' crates never depend on
//! each other, directly or transitively (save the gateway's use of auth), and `domain` stays free
//! of I/O.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Normal (non-dev, non-build) dependencies of every package, by package name.
fn dependency_graph() -> HashMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| name_of[d["pkg"].as_str().unwrap()].to_string())
                .collect();
            (name_of[n["id"].as_str().unwrap()].to_string(), deps)
        })
        .collect()
}

fn closure(graph: &HashMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_string()];
    while let Some(p) = stack.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

/// The one allowed edge between services: the gateway in front of every query route verifies
/// tokens and hands handlers a `Caller` with auth's types (ADR 0016).
const ALLOWED: &[(&str, &str)] = &[("mediagw-query-api", "mediagw-auth")];

#[test]
fn service_crates_never_depend_on_each_other() {
    let graph = dependency_graph();
    let services = [
        "mediagw-commands",
        "mediagw-projectors",
        "mediagw-query-api",
        "mediagw-auth",
    ];
    for s in services {
        assert!(graph.contains_key(s), "{s} is not in the workspace");
        let reach = closure(&graph, s);
        for other in services
            .iter()
            .filter(|o| **o != s && !ALLOWED.contains(&(s, **o)))
        {
            assert!(
                !reach.contains(*other),
                "{s} depends on {other}: services meet through topics and ports, not imports"
            );
        }
    }
}

#[test]
fn the_domain_has_no_io_dependency() {
    let graph = dependency_graph();
    let reach = closure(&graph, "mediagw-domain");
    let io = [
        "tokio",
        "mio",
        "sqlx",
        "sqlx-core",
        "rdkafka",
        "cqrs-es",
        "postgres-es",
        "redis",
        "reqwest",
        "hyper",
        "axum",
        "tonic",
        "qdrant-edge",
        "ort",
    ];
    let found: Vec<&str> = io.iter().copied().filter(|c| reach.contains(*c)).collect();
    assert!(found.is_empty(), "domain reaches I/O crates: {found:?}");
    let workspace: Vec<&String> = reach.iter().filter(|c| c.starts_with("mediagw")).collect();
    assert!(workspace.is_empty(), "domain depends on {workspace:?}");
}
