//! `mediagw train search-ranker`: learns the rerank stage's weights (ADR 0020) from labeled query
//! sets against a running API. Each query's fused top titles come back with their features
//! (`explain`); coordinate ascent then looks for the weights whose order puts the relevant titles
//! highest (mean reciprocal rank at 10, each query set weighing the same), on the train split
//! only; the dev split says whether it generalised. Prints the config section to use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mediagw_domain::search::rerank::{score, Features, FEATURES};
use serde_json::{json, Value};

use super::search::{load, Labeled};

/// One query's candidates (fused order) and which are relevant.
struct Sample {
    set: usize,
    rows: Vec<(Features, bool)>,
}

fn rr_at_10(w: &Features, s: &Sample) -> f64 {
    let mut order: Vec<(f32, usize, bool)> = s
        .rows
        .iter()
        .enumerate()
        .map(|(i, (x, rel))| (score(w, x), i, *rel))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    order
        .iter()
        .take(10)
        .position(|(_, _, rel)| *rel)
        .map_or(0.0, |p| 1.0 / (p as f64 + 1.0))
}

/// Mean of each set's MRR@10, so a large generated set does not outvote a small hand-written one.
fn objective(w: &Features, samples: &[Sample], sets: usize) -> f64 {
    let mut sum = vec![0.0; sets];
    let mut n = vec![0usize; sets];
    for s in samples {
        sum[s.set] += rr_at_10(w, s);
        n[s.set] += 1;
    }
    let used: Vec<f64> = (0..sets)
        .filter(|i| n[*i] > 0)
        .map(|i| sum[i] / n[i] as f64)
        .collect();
    used.iter().sum::<f64>() / used.len().max(1) as f64
}

/// Coordinate ascent (Metzler & Croft) from fused order: the fused score's weight stays 1 (the
/// scale), every other weight moves by the step that helps most, until no step helps.
fn fit(samples: &[Sample], sets: usize) -> Features {
    let mut w: Features = [0.0; FEATURES.len()];
    w[0] = 1.0;
    let mut best = objective(&w, samples, sets);
    const STEPS: [f32; 12] = [
        -2.0, -1.0, -0.5, -0.25, -0.1, -0.05, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0,
    ];
    for _round in 0..20 {
        let mut improved = false;
        for j in 1..FEATURES.len() {
            let mut pick = None;
            for step in STEPS {
                let mut t = w;
                t[j] += step;
                let o = objective(&t, samples, sets);
                // Ties go to the smaller weight: no gain, no change.
                if o > best + 1e-9 {
                    best = o;
                    pick = Some(t[j]);
                }
            }
            if let Some(v) = pick {
                w[j] = v;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    w
}

async fn samples(
    http: &reqwest::Client,
    api: &str,
    set: usize,
    queries: &[Labeled],
    depth: u32,
) -> anyhow::Result<Vec<Sample>> {
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let resp = http
            .post(format!("{api}/v1/search"))
            .header("cache-control", "no-cache")
            .json(&json!({"query": q.query, "page_size": depth, "mode": "hybrid", "explain": true}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        anyhow::ensure!(status.is_success(), "search `{}`: {status} {body}", q.query);
        let rows = body["results"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        let f = &r["ranking_features"];
                        let x: Features = FEATURES.map(|n| f[n].as_f64().unwrap_or(0.0) as f32);
                        let rel = q.is_relevant(
                            r["content"]["title"].as_str().unwrap_or(""),
                            r["content"]["release_year"].as_i64().unwrap_or(0),
                        );
                        (x, rel)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Sample { set, rows });
    }
    Ok(out)
}

pub async fn train(api: &str, files: &[PathBuf], depth: u32) -> anyhow::Result<()> {
    anyhow::ensure!((2..=100).contains(&depth), "--depth must be in 2..=100");
    let http = reqwest::Client::new();
    let (mut train, mut dev) = (Vec::new(), Vec::new());
    for (i, f) in files.iter().enumerate() {
        let set = load(f)?;
        let split = |name: &str| -> Vec<Labeled> {
            set.iter()
                .filter(|q| q.split.as_deref() == Some(name))
                .cloned()
                .collect()
        };
        let (t, d) = (split("train"), split("dev"));
        anyhow::ensure!(!t.is_empty(), "{} has no train split", f.display());
        eprintln!(
            "{}: {} train, {} dev queries",
            f.display(),
            t.len(),
            d.len()
        );
        train.extend(samples(&http, api, i, &t, depth).await?);
        dev.extend(samples(&http, api, i, &d, depth).await?);
    }
    let sets = files.len();
    let fused: Features = {
        let mut w = [0.0; FEATURES.len()];
        w[0] = 1.0;
        w
    };
    let w = fit(&train, sets);
    let report = |name: &str, s: &[Sample]| {
        let per_set: Vec<String> = (0..sets)
            .map(|i| {
                let mine: Vec<&Sample> = s.iter().filter(|x| x.set == i).collect();
                let m = |w: &Features| {
                    mine.iter().map(|x| rr_at_10(w, x)).sum::<f64>() / mine.len().max(1) as f64
                };
                // The ceiling: queries with a relevant title anywhere among the candidates.
                let reachable = mine
                    .iter()
                    .filter(|x| x.rows.iter().any(|(_, rel)| *rel))
                    .count() as f64
                    / mine.len().max(1) as f64;
                format!(
                    "{}: {:.3} → {:.3} (relevant within depth: {:.3})",
                    files[i].display(),
                    m(&fused),
                    m(&w),
                    reachable
                )
            })
            .collect();
        eprintln!("{name} MRR@10 (fused → reranked): {}", per_set.join("; "));
    };
    report("train", &train);
    report("dev", &dev);
    let weights: BTreeMap<&str, f32> = FEATURES
        .iter()
        .copied()
        .zip(w)
        .filter(|(_, v)| *v != 0.0)
        .collect();
    println!("[search.ranker]\ndepth = {depth}\n\n[search.ranker.weights]");
    for (k, v) in weights {
        println!("{k} = {:.2}", v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fused: f32, prior: f32, rel: bool) -> (Features, bool) {
        let mut x = [0.0; FEATURES.len()];
        x[0] = fused;
        x[FEATURES.iter().position(|n| *n == "prior").unwrap()] = prior;
        (x, rel)
    }

    #[test]
    fn learns_a_weight_that_lifts_relevant_known_titles() {
        // In every query the relevant title is second by fused score but better known.
        let samples: Vec<Sample> = (0..20)
            .map(|_| Sample {
                set: 0,
                rows: vec![
                    row(1.0, 0.1, false),
                    row(0.9, 0.9, true),
                    row(0.5, 0.2, false),
                ],
            })
            .collect();
        let fused = {
            let mut w = [0.0; FEATURES.len()];
            w[0] = 1.0;
            w
        };
        assert_eq!(objective(&fused, &samples, 1), 0.5);
        let w = fit(&samples, 1);
        assert_eq!(objective(&w, &samples, 1), 1.0);
        assert!(w[FEATURES.iter().position(|n| *n == "prior").unwrap()] > 0.0);
    }

    #[test]
    fn each_set_weighs_the_same() {
        let hit = Sample {
            set: 0,
            rows: vec![row(1.0, 0.0, true)],
        };
        let miss = Sample {
            set: 1,
            rows: vec![row(1.0, 0.0, false)],
        };
        let w = {
            let mut w = [0.0; FEATURES.len()];
            w[0] = 1.0;
            w
        };
        let many_hits: Vec<Sample> = (0..9)
            .map(|_| Sample {
                set: 0,
                rows: hit.rows.clone(),
            })
            .chain([miss])
            .collect();
        assert_eq!(objective(&w, &many_hits, 2), 0.5);
    }
}
