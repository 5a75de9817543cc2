//! `mediagw eval search`: relevance of dense, keyword and hybrid retrieval on a labeled query set,
//! against a running API whose index holds the shared dataset (`scripts/bench-search` prepares
//! one). `mediagw bench search` and `bench embed` replay the same queries.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Labeled {
    kind: String,
    pub query: String,
    /// (title, year) pairs from the dataset.
    relevant: Vec<(String, i64)>,
    /// `train`, `dev` or `test` (generated sets); absent in hand-written ones.
    #[serde(default)]
    pub split: Option<String>,
}

impl Labeled {
    /// Whether a result (title, year) is one of the relevant titles (titles compared caseless).
    pub fn is_relevant(&self, title: &str, year: i64) -> bool {
        self.relevant
            .iter()
            .any(|(t, y)| *y == year && t.to_lowercase() == title.to_lowercase())
    }
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

#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct Score {
    rr: f64,
    recall: f64,
    hit: f64,
    ndcg: f64,
    n: usize,
}

/// One query's metrics at 10 from which of the top 10 are relevant and how many relevant exist:
/// reciprocal rank, recall (hits / min(10, relevant)), hit (any), nDCG (binary gains).
fn at_10(relevant_at: &[bool], n_relevant: usize) -> Score {
    let top = &relevant_at[..relevant_at.len().min(10)];
    let first = top.iter().position(|r| *r);
    let hits = top.iter().filter(|r| **r).count();
    let ideal = n_relevant.min(10);
    let dcg: f64 = top
        .iter()
        .enumerate()
        .filter(|(_, r)| **r)
        .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    let idcg: f64 = (0..ideal).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
    Score {
        rr: first.map_or(0.0, |p| 1.0 / (p as f64 + 1.0)),
        recall: if ideal == 0 {
            0.0
        } else {
            hits as f64 / ideal as f64
        },
        hit: if first.is_some() { 1.0 } else { 0.0 },
        ndcg: if idcg == 0.0 { 0.0 } else { dcg / idcg },
        n: 1,
    }
}

/// MRR@10, recall@10, hit@10 and nDCG@10 per mode and kind, on one split when asked.
pub async fn run(
    api: &str,
    queries: &Path,
    split: Option<&str>,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut set = load(queries)?;
    if let Some(sp) = split {
        set.retain(|q| q.split.as_deref() == Some(sp));
        anyhow::ensure!(
            !set.is_empty(),
            "no query of split `{sp}` in {}",
            queries.display()
        );
    }
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
            let is_rel = |t: &(String, i64)| q.is_relevant(&t.0, t.1);
            let first = got.iter().position(is_rel);
            let flags: Vec<bool> = got.iter().map(is_rel).collect();
            let one = at_10(&flags, q.relevant.len());
            for key in [(q.kind.clone(), mode), ("all".to_string(), mode)] {
                let s = by.entry(key).or_default();
                s.rr += one.rr;
                s.recall += one.recall;
                s.hit += one.hit;
                s.ndcg += one.ndcg;
                s.n += 1;
            }
            if !json_out && mode == "hybrid" && first.is_none_or(|p| p > 2) {
                eprintln!(
                    "hybrid missed (first relevant at {:?}): {}",
                    first.map(|p| p + 1),
                    q.query
                );
            }
        }
    }
    println!(
        "{} queries from {}{}",
        set.len(),
        queries.display(),
        split.map(|s| format!(" (split {s})")).unwrap_or_default()
    );
    println!(
        "{:<14} {:>5} | {:>27} | {:>27} | {:>27}",
        "kind",
        "n",
        "dense MRR/hit/rec/nDCG",
        "keyword MRR/hit/rec/nDCG",
        "hybrid MRR/hit/rec/nDCG"
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
        let cell = |s: Score| {
            let n = s.n.max(1) as f64;
            (s.rr / n, s.hit / n, s.recall / n, s.ndcg / n)
        };
        let (d, k, h) = (cell(s("dense")), cell(s("keyword")), cell(s("hybrid")));
        let fmt = |c: (f64, f64, f64, f64)| format!("{:.3} {:.3} {:.3} {:.3}", c.0, c.1, c.2, c.3);
        println!(
            "{:<14} {:>5} | {:>27} | {:>27} | {:>27}",
            kind,
            s("hybrid").n,
            fmt(d),
            fmt(k),
            fmt(h)
        );
        let obj = |c: (f64, f64, f64, f64)| json!({"mrr@10": c.0, "hit@10": c.1, "recall@10": c.2, "ndcg@10": c.3});
        let row =
            json!({"queries": s("hybrid").n, "dense": obj(d), "keyword": obj(k), "hybrid": obj(h)});
        summary.insert(kind.clone(), row);
    }
    if json_out {
        println!("{}", Value::Object(summary));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_at_ten() {
        let s = at_10(&[false, true, false, true], 2);
        assert_eq!((s.rr, s.hit, s.recall), (0.5, 1.0, 1.0));
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((s.ndcg - (1.0 / 3f64.log2() + 1.0 / 5f64.log2()) / ideal).abs() < 1e-12);
        let miss = at_10(&[false; 12], 1);
        assert_eq!(
            (miss.rr, miss.hit, miss.recall, miss.ndcg),
            (0.0, 0.0, 0.0, 0.0)
        );
        let late = at_10(
            &[
                false, false, false, false, false, false, false, false, false, false, true,
            ],
            1,
        );
        assert_eq!(late.hit, 0.0, "only the top 10 count");
        let many = at_10(&[true; 10], 30);
        assert_eq!(
            (many.recall, many.ndcg),
            (1.0, 1.0),
            "recall over min(10, relevant)"
        );
    }
}
