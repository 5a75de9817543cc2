//! `mediagw train search-ranker`: learns the rerank stage's weights (ADR 0020) from labeled query
//! sets against a running API. Each query's fused top titles come back with their features
//! (`explain`); coordinate ascent then looks for the weights whose order puts the relevant titles
//! highest (mean reciprocal rank at 10, each query set weighing the same), on the train split
//! only; then LambdaMART boosts shallow trees on top of that linear score, as many as keep
//! improving the dev split (its only use here). Prints the config section to use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mediagw_domain::search::prior;
use mediagw_domain::search::rerank::{feature_index, model_score, Features, Tree, FEATURES};
use serde_json::{json, Value};

use super::search::{load, Labeled};

/// One query's candidates (fused order) and which are relevant.
struct Sample {
    set: usize,
    rows: Vec<(Features, bool)>,
}

/// Candidates' places, best first (ties: fused order).
fn order(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
    order
}

fn rr_of(scores: &[f32], s: &Sample) -> f64 {
    order(scores)
        .iter()
        .take(10)
        .position(|i| s.rows[*i].1)
        .map_or(0.0, |p| 1.0 / (p as f64 + 1.0))
}

/// Reciprocal rank at 10 under the linear weights plus `trees`.
fn rr_model(w: &Features, trees: &[Tree], s: &Sample) -> f64 {
    let scores: Vec<f32> = s
        .rows
        .iter()
        .map(|(x, _)| model_score(w, trees, x))
        .collect();
    rr_of(&scores, s)
}

fn rr_at_10(w: &Features, s: &Sample) -> f64 {
    rr_model(w, &[], s)
}

/// Mean of each set's MRR@10, so a large generated set does not outvote a small hand-written one.
fn objective(w: &Features, samples: &[Sample], sets: usize) -> f64 {
    per_set_mean(samples.iter().map(|s| (s.set, rr_at_10(w, s))), sets)
}

/// Mean over sets of each set's mean, from (set, reciprocal rank) per query.
fn per_set_mean(rr: impl Iterator<Item = (usize, f64)>, sets: usize) -> f64 {
    let mut sum = vec![0.0; sets];
    let mut n = vec![0usize; sets];
    for (set, r) in rr {
        sum[set] += r;
        n[set] += 1;
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

/// The sample as it would be without any user interactions: `engaged` 0 and the prior back to
/// the catalog's own.
fn without_interactions(s: &Sample) -> Sample {
    let (p, e) = (feature("prior"), feature("engaged"));
    Sample {
        set: s.set,
        rows: s
            .rows
            .iter()
            .map(|(x, rel)| {
                let mut x = *x;
                x[p] = prior::without_interactions(x[p], x[e]);
                x[e] = 0.0;
                (x, *rel)
            })
            .collect(),
    }
}

fn feature(name: &str) -> usize {
    feature_index(name).expect("a ranking feature")
}

/// LambdaMART's settings: shallow trees, small steps, leaves that hold enough candidates.
#[derive(Debug, Clone, Copy)]
struct Boosting {
    max_trees: usize,
    /// Levels per tree (2: four leaves).
    depth: u32,
    learning_rate: f32,
    /// Candidates a leaf must hold.
    min_leaf: usize,
    /// Stop after this many trees without a better dev objective (the first trees from the
    /// linear scores often dip before they climb).
    patience: usize,
    /// Exactly `max_trees`, whatever the dev split says.
    fixed: bool,
}

impl Default for Boosting {
    fn default() -> Self {
        Self {
            max_trees: 600,
            depth: 2,
            learning_rate: 0.05,
            min_leaf: 20,
            patience: 300,
            fixed: false,
        }
    }
}

/// Cut points per feature: split candidates, at most this many (quantiles of the train values).
const BINS: usize = 32;
/// Only places in the top 10 count (MRR@10, nDCG@10).
const CUTOFF: usize = 10;
/// The threshold of a split that sends everything left.
const NO_SPLIT: f32 = 1.0e9;
/// Newton step regulariser (keeps a leaf with little curvature from jumping).
const L2: f64 = 1.0;

fn discount(place: usize) -> f64 {
    if place < CUTOFF {
        1.0 / (place as f64 + 2.0).log2()
    } else {
        0.0
    }
}

/// Per-candidate LambdaRank gradient and curvature (nDCG@10 swap deltas), each query weighted so
/// every set counts the same.
fn lambdas(samples: &[Sample], scores: &[Vec<f32>], weight: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n: usize = samples.iter().map(|s| s.rows.len()).sum();
    let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
    let mut base = 0;
    for ((s, sc), qw) in samples.iter().zip(scores).zip(weight) {
        let relevant = s.rows.iter().filter(|r| r.1).count();
        if relevant > 0 && relevant < s.rows.len() {
            let mut place = vec![0; s.rows.len()];
            for (p, i) in order(sc).into_iter().enumerate() {
                place[i] = p;
            }
            let ideal: f64 = (0..relevant).map(discount).sum();
            for i in (0..s.rows.len()).filter(|i| s.rows[*i].1) {
                for j in (0..s.rows.len()).filter(|j| !s.rows[*j].1) {
                    let delta = (discount(place[i]) - discount(place[j])).abs() / ideal;
                    if delta == 0.0 {
                        continue;
                    }
                    let rho = 1.0 / (1.0 + f64::from(sc[i] - sc[j]).exp());
                    let (gi, hi) = (rho * delta * qw, rho * (1.0 - rho) * delta * qw);
                    g[base + i] -= gi;
                    g[base + j] += gi;
                    h[base + i] += hi;
                    h[base + j] += hi;
                }
            }
        }
        base += s.rows.len();
    }
    (g, h)
}

/// Split candidates per feature: up to [`BINS`] distinct quantiles of the train values.
fn cuts(rows: &[&Features]) -> Vec<Vec<f32>> {
    (0..FEATURES.len())
        .map(|f| {
            let mut v: Vec<f32> = rows.iter().map(|x| x[f]).collect();
            v.sort_by(f32::total_cmp);
            let mut c: Vec<f32> = (1..BINS)
                .map(|q| v[(q * v.len() / BINS).min(v.len().saturating_sub(1))])
                .collect();
            c.dedup();
            c
        })
        .collect()
}

/// One tree fitted to the gradients by Newton steps: at each node the split with the best gain
/// (both sides holding `min_leaf` candidates), or none (both children alike).
fn grow(rows: &[&Features], cuts: &[Vec<f32>], g: &[f64], h: &[f64], b: &Boosting) -> Tree {
    let internal = (1usize << b.depth) - 1;
    let mut splits = Vec::with_capacity(internal);
    let mut members: Vec<Vec<usize>> = vec![(0..rows.len()).collect()];
    let leaf = |ids: &[usize]| {
        let (gs, hs) = ids
            .iter()
            .fold((0.0, 0.0), |(a, c), i| (a + g[*i], c + h[*i]));
        (-gs / (hs + L2)) as f32 * b.learning_rate
    };
    let gain = |gs: f64, hs: f64| gs * gs / (hs + L2);
    for k in 0..internal {
        let ids = std::mem::take(&mut members[k]);
        let (gt, ht) = ids
            .iter()
            .fold((0.0, 0.0), |(a, c), i| (a + g[*i], c + h[*i]));
        let mut best: Option<(f64, usize, f32)> = None;
        for (f, cs) in cuts.iter().enumerate() {
            // Per cut: gradient, curvature and count of the candidates at or below it.
            let mut acc = vec![(0.0, 0.0, 0usize); cs.len()];
            for i in &ids {
                let bin = cs.partition_point(|c| *c < rows[*i][f]);
                if bin < cs.len() {
                    acc[bin].0 += g[*i];
                    acc[bin].1 += h[*i];
                    acc[bin].2 += 1;
                }
            }
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0);
            for (c, (ga, ha, na)) in cs.iter().zip(acc) {
                gl += ga;
                hl += ha;
                nl += na;
                if nl < b.min_leaf || ids.len() - nl < b.min_leaf {
                    continue;
                }
                let gain = gain(gl, hl) + gain(gt - gl, ht - hl) - gain(gt, ht);
                if gain > 1e-9 && best.is_none_or(|(bg, _, _)| gain > bg) {
                    best = Some((gain, f, *c));
                }
            }
        }
        // No split worth making: everything goes left (features are in [0, 1]).
        let (f, t) = best.map_or((0, NO_SPLIT), |(_, f, t)| (f, t));
        let (left, right): (Vec<usize>, Vec<usize>) = ids.iter().partition(|i| rows[**i][f] <= t);
        splits.push((f, t));
        members.push(left);
        members.push(right);
    }
    let leaves = members[internal..].iter().map(|ids| leaf(ids)).collect();
    Tree::new(splits, leaves).expect("a complete tree")
}

/// LambdaMART from the linear model's scores: trees are added while the dev objective improves
/// (kept: the prefix with the best dev objective; none when no tree helps).
fn boost(train: &[Sample], dev: &[Sample], sets: usize, w: &Features, b: &Boosting) -> Vec<Tree> {
    let rows: Vec<&Features> = train
        .iter()
        .flat_map(|s| s.rows.iter().map(|r| &r.0))
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    let cuts = cuts(&rows);
    let mut per_set = vec![0usize; sets];
    for s in train {
        per_set[s.set] += 1;
    }
    let weight: Vec<f64> = train
        .iter()
        .map(|s| train.len() as f64 / (sets as f64 * per_set[s.set] as f64))
        .collect();
    let linear = |ss: &[Sample]| -> Vec<Vec<f32>> {
        ss.iter()
            .map(|s| s.rows.iter().map(|(x, _)| model_score(w, &[], x)).collect())
            .collect()
    };
    let (mut tr, mut dv) = (linear(train), linear(dev));
    let dev_objective = |dv: &[Vec<f32>]| {
        per_set_mean(
            dev.iter().zip(dv).map(|(s, sc)| (s.set, rr_of(sc, s))),
            sets,
        )
    };
    let mut best = (dev_objective(&dv), 0);
    let mut trees = Vec::new();
    while trees.len() < b.max_trees && (b.fixed || trees.len() - best.1 < b.patience) {
        let (g, h) = lambdas(train, &tr, &weight);
        let tree = grow(&rows, &cuts, &g, &h, b);
        for (s, sc) in train
            .iter()
            .zip(tr.iter_mut())
            .chain(dev.iter().zip(dv.iter_mut()))
        {
            for ((x, _), v) in s.rows.iter().zip(sc.iter_mut()) {
                *v += tree.eval(x);
            }
        }
        trees.push(tree);
        let o = dev_objective(&dv);
        if o > best.0 + 1e-9 || b.fixed {
            best = (o, trees.len());
        }
        if trees.len() % 25 == 0 {
            let t = per_set_mean(
                train.iter().zip(&tr).map(|(s, sc)| (s.set, rr_of(sc, s))),
                sets,
            );
            eprintln!("  {} trees: train {t:.4}, dev {o:.4}", trees.len());
        }
    }
    trees.truncate(best.1);
    trees
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
        let mut rows: Vec<(Features, bool)> = body["results"]
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
        // Fused order, whatever model the API serves (the objective breaks ties by it).
        rows.sort_by(|a, b| b.0[0].total_cmp(&a.0[0]));
        out.push(Sample { set, rows });
    }
    Ok(out)
}

pub async fn train(
    api: &str,
    files: &[PathBuf],
    depth: u32,
    trees: Option<usize>,
    without: &[String],
) -> anyhow::Result<()> {
    anyhow::ensure!((2..=100).contains(&depth), "--depth must be in 2..=100");
    let ablated = without
        .iter()
        .map(|n| {
            feature_index(n).filter(|i| *i > 0).ok_or_else(|| {
                anyhow::anyhow!(
                    "--without {n}: not a feature the model can drop ({})",
                    FEATURES[1..].join(", ")
                )
            })
        })
        .collect::<anyhow::Result<Vec<usize>>>()?;
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
    for s in train.iter_mut().chain(dev.iter_mut()) {
        for (x, _) in &mut s.rows {
            for i in &ablated {
                x[*i] = 0.0;
            }
        }
    }
    let sets = files.len();
    let fused: Features = {
        let mut w = [0.0; FEATURES.len()];
        w[0] = 1.0;
        w
    };
    // How the model would do for a deployment without interactions yet (reported, not trained).
    let cold_dev: Vec<Sample> = dev.iter().map(without_interactions).collect();
    let w = fit(&train, sets);
    let boosting = match trees {
        Some(n) => Boosting {
            max_trees: n,
            fixed: true,
            ..Boosting::default()
        },
        None => Boosting::default(),
    };
    let trees = boost(&train, &dev, sets, &w, &boosting);
    eprintln!("{} boosted trees", trees.len());
    let report = |name: &str, s: &[Sample]| {
        let per_set: Vec<String> = (0..sets)
            .map(|i| {
                let mine: Vec<&Sample> = s.iter().filter(|x| x.set == i).collect();
                let m = |w: &Features, trees: &[Tree]| {
                    mine.iter().map(|x| rr_model(w, trees, x)).sum::<f64>()
                        / mine.len().max(1) as f64
                };
                // The ceiling: queries with a relevant title anywhere among the candidates.
                let reachable = mine
                    .iter()
                    .filter(|x| x.rows.iter().any(|(_, rel)| *rel))
                    .count() as f64
                    / mine.len().max(1) as f64;
                format!(
                    "{}: {:.3} → {:.3} → {:.3} (relevant within depth: {:.3})",
                    files[i].display(),
                    m(&fused, &[]),
                    m(&w, &[]),
                    m(&w, &trees),
                    reachable
                )
            })
            .collect();
        eprintln!(
            "{name} MRR@10 (fused → linear → with trees): {}",
            per_set.join("; ")
        );
    };
    report("train", &train);
    report("dev", &dev);
    report("dev without interactions", &cold_dev);
    let weights: BTreeMap<&str, f32> = FEATURES
        .iter()
        .copied()
        .zip(w)
        .filter(|(_, v)| *v != 0.0)
        .collect();
    println!("[search.ranker]\ndepth = {depth}\ntrees = [");
    for t in &trees {
        println!("  {},", tree_toml(t));
    }
    println!("]\n\n[search.ranker.weights]");
    for (k, v) in weights {
        println!("{k} = {:.2}", v);
    }
    Ok(())
}

/// A tree as one TOML inline table (the config's form; floats as written, so they read back
/// exactly).
fn tree_toml(t: &Tree) -> String {
    let join = |v: Vec<String>| v.join(", ");
    format!(
        "{{ features = [{}], thresholds = [{}], leaves = [{}] }}",
        join(
            t.splits()
                .iter()
                .map(|(f, _)| format!("\"{}\"", FEATURES[*f]))
                .collect()
        ),
        join(t.splits().iter().map(|(_, c)| format!("{c:?}")).collect()),
        join(t.leaves().iter().map(|v| format!("{v:?}")).collect()),
    )
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
    fn trees_learn_what_depends_on_the_query_and_a_line_cannot() {
        // Where the title channel fired the relevant title is the known one, elsewhere the
        // engaged one: within a query the title feature is constant, so no weight vector can
        // put both first; two-level trees can.
        let at = |n: &str| FEATURES.iter().position(|f| *f == n).unwrap();
        let query = |titled: bool| Sample {
            set: 0,
            rows: [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 0.0)]
                .into_iter()
                .map(|(prior, engaged)| {
                    let mut x = [0.0; FEATURES.len()];
                    x[0] = 0.5;
                    x[at("title")] = if titled { 1.0 } else { 0.0 };
                    x[at("prior")] = prior;
                    x[at("engaged")] = engaged;
                    let rel = if titled {
                        prior == 1.0 && engaged == 0.0
                    } else {
                        prior == 0.0 && engaged == 1.0
                    };
                    (x, rel)
                })
                .collect(),
        };
        let samples: Vec<Sample> = (0..40).map(|i| query(i % 2 == 0)).collect();
        let w = fit(&samples, 1);
        let linear = objective(&w, &samples, 1);
        assert!(linear < 0.8, "{linear}");
        let b = Boosting {
            min_leaf: 5,
            ..Boosting::default()
        };
        let trees = boost(&samples, &samples, 1, &w, &b);
        assert!(!trees.is_empty());
        let boosted = per_set_mean(samples.iter().map(|s| (s.set, rr_model(&w, &trees, s))), 1);
        assert_eq!(boosted, 1.0);
        // The config form reads back as the same trees.
        for t in &trees {
            let toml = format!("t = {}", tree_toml(t));
            #[derive(serde::Deserialize)]
            struct T {
                t: Tree,
            }
            use figment::providers::Format;
            let back: T = figment::Figment::from(figment::providers::Toml::string(&toml))
                .extract()
                .unwrap();
            assert_eq!(&back.t, t);
        }
    }

    #[test]
    fn removing_interactions_gives_back_the_catalog_prior() {
        use mediagw_domain::search::rerank::Engagement;
        let id = uuid::Uuid::from_u128;
        let e = Engagement::new(std::collections::HashMap::from([(id(1), 1000), (id(2), 3)]));
        for (n, catalog) in [(1, 0.2), (1, 0.9), (2, 0.1), (2, 0.6), (3, 0.4)] {
            let mut x = [0.0; FEATURES.len()];
            x[feature("prior")] = e.prior(&id(n), catalog);
            x[feature("engaged")] = e.share(&id(n));
            let cold = without_interactions(&Sample {
                set: 0,
                rows: vec![(x, true)],
            });
            let y = cold.rows[0].0;
            assert!(
                (y[feature("prior")] - catalog).abs() < 1e-6,
                "{n} {catalog}"
            );
            assert_eq!(y[feature("engaged")], 0.0);
        }
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
