//! `mediagw eval search`: relevance of dense, keyword and hybrid retrieval on a labeled query set,
//! against a running API whose index holds the shared dataset (`scripts/bench-search` prepares
//! one). `mediagw bench search` and `bench embed` replay the same queries.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
pub(crate) struct Labeled {
    kind: String,
    pub query: String,
    /// (title, year) pairs from the dataset.
    relevant: Vec<(String, i64)>,
}

pub(crate) fn load(path: &Path) -> anyhow::Result<Vec<Labeled>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// One uncached search in `mode`; an error unless it succeeded.
pub(crate) async fn search(
    http: &reqwest::Client,
    api: &str,
    query: &str,
    mode: &str,
    page_size: u32,
) -> anyhow::Result<Value> {
    let resp = http
        .post(format!("{api}/v1/search"))
        .header("cache-control", "no-cache")
        .json(&json!({"query": query, "page_size": page_size, "mode": mode}))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    anyhow::ensure!(
        status.is_success(),
        "search `{query}` ({mode}): {status} {body}"
    );
    Ok(body)
}

#[derive(Default, Clone, Copy)]
struct Score {
    rr: f64,
    recall: f64,
    n: usize,
}

/// MRR@10 and recall@10 (relevant found in the top 10 / min(10, relevant)) per mode and kind.
pub async fn run(api: &str, queries: &Path) -> anyhow::Result<()> {
    let set = load(queries)?;
    let http = reqwest::Client::new();
    let modes = ["dense", "keyword", "hybrid"];
    let mut by: BTreeMap<(String, &str), Score> = BTreeMap::new();
    for q in &set {
        for mode in modes {
            let body = search(&http, api, &q.query, mode, 10).await?;
            let got: Vec<(String, i64)> = body["results"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| {
                            (
                                r["content"]["title"].as_str().unwrap_or("").to_lowercase(),
                                r["content"]["release_year"].as_i64().unwrap_or(0),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let is_rel = |t: &(String, i64)| {
                q.relevant
                    .iter()
                    .any(|(rt, ry)| rt.to_lowercase() == t.0 && *ry == t.1)
            };
            let first = got.iter().position(is_rel);
            let hits = got.iter().filter(|t| is_rel(t)).count();
            let rr = first.map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
            let recall = hits as f64 / q.relevant.len().min(10) as f64;
            for key in [(q.kind.clone(), mode), ("all".to_string(), mode)] {
                let s = by.entry(key).or_default();
                s.rr += rr;
                s.recall += recall;
                s.n += 1;
            }
            if mode == "hybrid" && first.is_none_or(|p| p > 2) {
                eprintln!(
                    "hybrid missed (first relevant at {:?}): {}",
                    first.map(|p| p + 1),
                    q.query
                );
            }
        }
    }
    println!("{} queries from {}", set.len(), queries.display());
    println!(
        "{:<14} {:>6} | {:>9} {:>9} | {:>9} {:>9} | {:>9} {:>9}",
        "kind", "n", "dense MRR", "recall", "kw MRR", "recall", "hyb MRR", "recall"
    );
    let kinds: Vec<String> = {
        let mut k: Vec<String> = by.keys().map(|(k, _)| k.clone()).collect();
        k.dedup();
        k.retain(|k| k != "all");
        k.push("all".into());
        k
    };
    let mut summary = serde_json::Map::new();
    for kind in kinds {
        let s = |m: &str| by.get(&(kind.clone(), m)).copied().unwrap_or_default();
        let (d, k, h) = (s("dense"), s("keyword"), s("hybrid"));
        let avg = |x: f64, s: Score| x / s.n.max(1) as f64;
        println!(
            "{:<14} {:>6} | {:>9.3} {:>9.3} | {:>9.3} {:>9.3} | {:>9.3} {:>9.3}",
            kind,
            h.n,
            avg(d.rr, d),
            avg(d.recall, d),
            avg(k.rr, k),
            avg(k.recall, k),
            avg(h.rr, h),
            avg(h.recall, h)
        );
        summary.insert(
            kind,
            json!({
                "queries": h.n,
                "dense": {"mrr@10": avg(d.rr, d), "recall@10": avg(d.recall, d)},
                "keyword": {"mrr@10": avg(k.rr, k), "recall@10": avg(k.recall, k)},
                "hybrid": {"mrr@10": avg(h.rr, h), "recall@10": avg(h.recall, h)},
            }),
        );
    }
    println!("{}", Value::Object(summary));
    Ok(())
}
