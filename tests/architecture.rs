//! The crate rule (ADR 0016), checked from `cargo metadata`: the services' crates never depend on
//! each other, directly or transitively (save the gateway's use of auth), and `domain` stays free
//! of I/O; and no source file imports another that imports it back (ADR 0016).

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

/// `crate::a::b` / `super::a` paths named in a source file (tests excluded), as module paths.
fn module_refs(src: &str) -> Vec<(bool, Vec<String>)> {
    let src = src.split("#[cfg(test)]").next().unwrap_or("");
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    for (kw, is_crate) in [("crate::", true), ("super::", false)] {
        let mut from = 0;
        while let Some(i) = src[from..].find(kw).map(|i| i + from) {
            from = i + kw.len();
            let prev = i.checked_sub(1).map(|p| bytes[p] as char);
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let parts: Vec<String> = src[from..]
                .split("::")
                .map(|seg| {
                    seg.chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect::<String>()
                })
                .scan(true, |go, seg| {
                    let keep = *go && !seg.is_empty();
                    *go = keep;
                    keep.then_some(seg)
                })
                .collect();
            out.push((is_crate, parts));
        }
    }
    out
}

/// The file that defines the longest prefix of `parts` under `src`.
fn module_file(src: &std::path::Path, parts: &[String]) -> Option<std::path::PathBuf> {
    (1..=parts.len()).rev().find_map(|n| {
        let base = parts[..n].iter().fold(src.to_path_buf(), |p, s| p.join(s));
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|f| f.is_file())
    })
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_file_imports_another_that_imports_it_back() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let crates = [
        ".",
        "domain",
        "schemas",
        "eventstore",
        "search-adapters",
        "api-error",
        "auth",
        "commands",
        "projectors",
        "query-api",
    ];
    let mut cycles = Vec::new();
    for c in crates {
        let src = root.join(c).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let graph: HashMap<std::path::PathBuf, BTreeSet<std::path::PathBuf>> = files
            .iter()
            .map(|f| {
                let rel: Vec<String> = f
                    .strip_prefix(&src)
                    .unwrap()
                    .with_extension("")
                    .iter()
                    .map(|s| s.to_string_lossy().into_owned())
                    .collect();
                let mut module = rel.clone();
                if module.last().is_some_and(|l| l == "mod") {
                    module.pop();
                }
                let text = std::fs::read_to_string(f).unwrap();
                let edges = module_refs(&text)
                    .into_iter()
                    .filter_map(|(is_crate, parts)| {
                        let mut path: Vec<String> = if is_crate {
                            vec![]
                        } else {
                            module[..module.len().saturating_sub(1)].to_vec()
                        };
                        path.extend(parts);
                        module_file(&src, &path)
                    })
                    .filter(|t| t != f)
                    .collect();
                (f.clone(), edges)
            })
            .collect();
        for (from, tos) in &graph {
            for to in tos {
                if closure_files(&graph, to).contains(from) {
                    cycles.push(format!("{} ⇄ {}", from.display(), to.display()));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "files importing each other: {cycles:#?}");
}

fn closure_files(
    graph: &HashMap<std::path::PathBuf, BTreeSet<std::path::PathBuf>>,
    start: &std::path::Path,
) -> BTreeSet<std::path::PathBuf> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_path_buf()];
    while let Some(f) = stack.pop() {
        for t in graph.get(&f).into_iter().flatten() {
            if seen.insert(t.clone()) {
                stack.push(t.clone());
            }
        }
    }
    seen
}
