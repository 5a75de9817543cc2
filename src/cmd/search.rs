//! `mediagw eval search` (relevance of dense, keyword and hybrid retrieval on a labeled query set)
//! and `mediagw bench search` (latency and throughput over HTTP), both against a running API whose
//! index holds the shared dataset (`scripts/bench-search` prepares one).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{percentile, Rng};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct Labeled {
    kind: String,
    query: String,
    /// (title, year) pairs from the dataset.
    relevant: Vec<(String, i64)>,
}

fn load(path: &Path) -> anyhow::Result<Vec<Labeled>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

async fn search(
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
pub async fn eval(api: &str, queries: &Path) -> anyhow::Result<()> {
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

/// Closed-loop load: `concurrency` clients send the labeled queries round-robin for `duration`.
pub async fn bench(
    api: &str,
    queries: &Path,
    concurrency: usize,
    duration: Duration,
    cached: bool,
    rate: Option<f64>,
) -> anyhow::Result<()> {
    let set = load(queries)?;
    let texts: Arc<Vec<String>> = Arc::new(set.into_iter().map(|q| q.query).collect());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    // Warm up: every query once (model, index pages, connections).
    for q in texts.iter() {
        search(&http, api, q, "hybrid", 10).await?;
    }
    if let Some(rate) = rate {
        return bench_open_loop(&http, api, texts, rate, concurrency, duration, cached).await;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (http, texts, api) = (http.clone(), texts.clone(), api.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut i = worker;
            while started.elapsed() < duration {
                let q = &texts[i % texts.len()];
                i += concurrency;
                let t = Instant::now();
                if timed_search(&http, &api, q, cached).await {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "search over HTTP ({}, concurrency {concurrency}, {:.0} s): {} requests, {errors} errors, {:.0} QPS, latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        if cached { "cache allowed" } else { "uncached: query embedding + index every time" },
        secs,
        lat.len(),
        lat.len() as f64 / secs,
        pct(0.50),
        pct(0.95),
        pct(0.99)
    );
    Ok(())
}

/// One benchmark search (bypassing the cache unless `cached`), read to the end; true on success.
async fn timed_search(http: &reqwest::Client, api: &str, q: &str, cached: bool) -> bool {
    let mut req = http
        .post(format!("{api}/v1/search"))
        .json(&json!({"query": q, "page_size": 10}));
    if !cached {
        req = req.header("cache-control", "no-cache");
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}

/// Open-loop load: requests leave on a fixed schedule (`rate` per second) whether or not earlier
/// ones have returned, so a slow server shows up as latency (time from the scheduled send), not
/// as a lower request rate. At most `max_in_flight` are outstanding; a send that would exceed it
/// is counted as dropped.
async fn bench_open_loop(
    http: &reqwest::Client,
    api: &str,
    texts: Arc<Vec<String>>,
    rate: f64,
    max_in_flight: usize,
    duration: Duration,
    cached: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(rate > 0.0, "--rate must be positive");
    let interval = Duration::from_secs_f64(1.0 / rate);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let (mut sent, mut dropped) = (0usize, 0usize);
    while started.elapsed() < duration {
        let due = started + interval.mul_f64(sent as f64);
        tokio::time::sleep_until(due.into()).await;
        let q = texts[sent % texts.len()].clone();
        sent += 1;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            dropped += 1;
            continue;
        };
        let (http, api) = (http.clone(), api.to_string());
        tasks.spawn(async move {
            let _permit = permit;
            timed_search(&http, &api, &q, cached)
                .await
                .then(|| due.elapsed())
        });
    }
    let mut lat = Vec::new();
    let mut errors = 0usize;
    while let Some(r) = tasks.join_next().await {
        match r? {
            Some(d) => lat.push(d.as_secs_f64() * 1000.0),
            None => errors += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!(
        "search over HTTP, open loop at {rate:.0}/s ({}, {:.0} s): {} answered ({:.0} QPS), {errors} errors, {dropped} not sent (more than {max_in_flight} in flight), latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        if cached { "cache allowed" } else { "uncached: query embedding + index every time" },
        secs,
        lat.len(),
        lat.len() as f64 / secs,
        percentile(&lat, 0.50),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// Indexing-side embedding throughput on the shared dataset's texts (`embedding_text` of each film),
/// with the configured model, sessions, batch and token limit.
pub async fn bench_embed(
    config: &crate::config::Config,
    data: &Path,
    texts: usize,
    queries: &Path,
) -> anyhow::Result<()> {
    use mediagw_domain::catalog::{ContentType, TitleMetadata};
    use mediagw_search::embed::{Embedder, OnnxConfig, OnnxEmbedder};
    let mut files: Vec<_> = std::fs::read_dir(data)
        .with_context(|| format!("reading {}", data.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    'files: for f in files {
        let items: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
        for m in items {
            let (Some(title), Some(year)) = (m["title"].as_str(), m["year"].as_i64()) else {
                continue;
            };
            let md = TitleMetadata {
                content_type: ContentType::Movie,
                title: title.to_string(),
                original_title: None,
                overview: m["extract"].as_str().map(str::to_string),
                release_date: chrono::NaiveDate::from_ymd_opt(year as i32, 1, 1)
                    .unwrap_or_default(),
                genres: m["genres"]
                    .as_array()
                    .map(|g| {
                        g.iter()
                            .filter_map(|x| x.as_str())
                            .map(str::to_lowercase)
                            .collect()
                    })
                    .unwrap_or_default(),
                runtime_minutes: None,
                cast: vec![],
            };
            out.push(mediagw_domain::search::text::embedding_text(&md));
            if out.len() >= texts {
                break 'files;
            }
        }
    }
    let c = &config.search;
    let cfg = OnnxConfig {
        model_dir: c.model_dir.clone(),
        sessions: c.embed_sessions,
        batch: c.embed_batch,
        max_tokens: c.embed_max_tokens,
    };
    let embedder = tokio::task::spawn_blocking(move || OnnxEmbedder::load(&cfg)).await??;
    embedder.embed(out[..out.len().min(64)].to_vec()).await?;
    let started = Instant::now();
    // Indexer-sized calls: one projector batch at a time.
    for chunk in out.chunks(500) {
        embedder.embed(chunk.to_vec()).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "embedded {} texts in {secs:.1} s = {:.0} texts/s (sessions {}, batch {}, max tokens {})",
        out.len(),
        out.len() as f64 / secs,
        c.embed_sessions,
        c.embed_batch,
        c.embed_max_tokens
    );
    bench_query_encoders(&embedder, queries).await
}

/// Query encoders on the labeled queries (as typed and as the intent parser passes them on):
/// one query at a time, the full model against its distilled token table, and how closely the
/// distilled vectors agree with the model's (cosine).
async fn bench_query_encoders(
    model: &mediagw_search::embed::OnnxEmbedder,
    queries: &Path,
) -> anyhow::Result<()> {
    use chrono::Datelike;
    use mediagw_search::embed::distilled::Distilled;
    use mediagw_search::embed::Embedder;
    let labeled: Vec<Labeled> = serde_json::from_str(
        &std::fs::read_to_string(queries)
            .with_context(|| format!("reading {}", queries.display()))?,
    )?;
    let year = chrono::Utc::now().year();
    let mut texts: Vec<String> = Vec::new();
    for q in &labeled {
        texts.push(q.query.clone());
        let i = mediagw_domain::search::parse_intent(&q.query, year);
        let s = i.semantic_text();
        if !s.is_empty() && s != q.query {
            texts.push(s);
        }
    }
    let distilled = Distilled::new(model)?;
    let t = Instant::now();
    distilled.warm(None).await?;
    println!(
        "distilled token table: {} tokens in {:.1} s",
        distilled.known_tokens(),
        t.elapsed().as_secs_f64()
    );
    let mut cosines = Vec::new();
    let (mut t_model, mut t_distilled) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        for text in &texts {
            let t = Instant::now();
            let a = model.embed(vec![text.clone()]).await?.remove(0);
            t_model.push(t.elapsed());
            let t = Instant::now();
            let b = distilled.embed(vec![text.clone()]).await?.remove(0);
            t_distilled.push(t.elapsed());
            cosines.push(a.iter().zip(&b).map(|(x, y)| x * y).sum::<f32>());
        }
    }
    let ms = |v: &mut Vec<Duration>, p: f64| {
        let mut x: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        x.sort_by(f64::total_cmp);
        percentile(&x, p)
    };
    println!(
        "{} query texts, one at a time: model p50 {:.3} ms, p95 {:.3} ms; distilled p50 {:.3} ms, p95 {:.3} ms",
        texts.len(),
        ms(&mut t_model, 0.50),
        ms(&mut t_model, 0.95),
        ms(&mut t_distilled, 0.50),
        ms(&mut t_distilled, 0.95),
    );
    cosines.sort_by(f32::total_cmp);
    println!(
        "cosine(distilled, model): mean {:.3}, min {:.3}, p10 {:.3}, median {:.3}",
        cosines.iter().sum::<f32>() / cosines.len() as f32,
        cosines[0],
        cosines[cosines.len() / 10],
        cosines[cosines.len() / 2]
    );
    Ok(())
}

const GENRES: &[&str] = &[
    "action",
    "adventure",
    "animation",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "family",
    "fantasy",
    "history",
    "horror",
    "music",
    "mystery",
    "romance",
    "science fiction",
    "thriller",
    "war",
    "western",
];
const PLATFORMS: &[&str] = &[
    "netflix",
    "prime_video",
    "disney_plus",
    "hulu",
    "max",
    "apple_tv",
    "peacock",
    "paramount_plus",
];

fn synthetic_doc(rng: &mut Rng, n: u64) -> mediagw_search::index::IndexDoc {
    use mediagw_domain::search::SparseVector;
    use mediagw_search::index::{DocPayload, IndexDoc, DIM};
    // Dense: clustered (200 topic centres plus noise), like real embeddings, then normalised.
    let topic = rng.below(200);
    let mut centre = Rng(topic.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut dense: Vec<f32> = (0..DIM)
        .map(|_| (centre.unit() - 0.5) + 0.6 * (rng.unit() - 0.5))
        .collect();
    let norm = dense.iter().map(|x| x * x).sum::<f32>().sqrt();
    dense.iter_mut().for_each(|x| *x /= norm);
    // Sparse: ~40 terms from a skewed 100k vocabulary; ~12 title trigrams.
    let text = SparseVector::from_pairs(
        (0..40)
            .map(|_| {
                let u = rng.unit();
                ((u * u * 100_000.0) as u32, 0.5 + 2.5 * rng.unit())
            })
            .collect(),
    );
    let title =
        SparseVector::from_pairs((0..12).map(|_| (rng.below(50_000) as u32, 1.0)).collect());
    let genres: Vec<String> = (0..1 + rng.below(3))
        .map(|_| GENRES[rng.below(GENRES.len() as u64) as usize].to_string())
        .collect();
    let platforms: Vec<String> = PLATFORMS
        .iter()
        .filter(|_| rng.below(4) == 0)
        .map(|p| p.to_string())
        .collect();
    // Cast: 5 of 200k actors, skewed (a few appear in many titles).
    let cast_names: Vec<String> = (0..5)
        .map(|_| {
            let u = rng.unit();
            format!("Actor {}", (u * u * 200_000.0) as u32)
        })
        .collect();
    IndexDoc {
        id: uuid::Uuid::from_u128(0x5EED_0000_0000_0000_0000_0000_0000_0000 | n as u128),
        dense,
        text,
        title,
        cast: mediagw_domain::search::text::cast_vector(&cast_names),
        payload: DocPayload {
            title: format!("Synthetic title {n}"),
            year: 1920 + rng.below(106) as i64,
            content_type: if rng.below(4) == 0 { "series" } else { "movie" }.into(),
            genres,
            offers: platforms.iter().map(|p| format!("{p}:US")).collect(),
            platforms,
            rating: 1.0 + 9.0 * rng.unit() as f64,
            popularity: rng.unit() as f64 * 100.0,
            cast: cast_names,
        },
    }
}

/// Candidates per channel, as `search.depth` in production.
const DEPTH: usize = 50;

/// The production query shape: dense + keyword + title channels, [`DEPTH`] deep with brief
/// payloads (as a search asks for candidates), half of them with a decade filter.
fn synthetic_query(rng: &mut Rng) -> Vec<mediagw_search::index::ChannelQuery> {
    use mediagw_search::index::{ChannelQuery, Filter, PayloadFields, Probe, TEXT, TITLE};
    let probe_doc = synthetic_doc(rng, u64::MAX >> 8);
    let filter = if rng.below(2) == 0 {
        let from = 1920 + rng.below(96) as i64;
        Filter {
            year_range: Some((from, from + 10)),
            ..Filter::default()
        }
    } else {
        Filter::default()
    };
    let mut text = probe_doc.text.clone();
    text.indices.truncate(6);
    text.values.truncate(6);
    vec![
        ChannelQuery {
            probe: Probe::Dense(probe_doc.dense),
            filter: filter.clone(),
            limit: DEPTH,
            fields: PayloadFields::Brief,
        },
        ChannelQuery {
            probe: Probe::Sparse(TEXT, text),
            filter: filter.clone(),
            limit: DEPTH,
            fields: PayloadFields::Brief,
        },
        ChannelQuery {
            probe: Probe::Sparse(TITLE, probe_doc.title),
            filter,
            limit: DEPTH,
            fields: PayloadFields::Brief,
        },
    ]
}

/// Closed-loop index queries for `duration`: (count, p50, p95, p99) in ms.
async fn index_load(
    index: Arc<dyn mediagw_search::index::SearchIndex>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(usize, f64, f64, f64)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let index = index.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xABCD_0000 + w as u64);
            let mut lat = Vec::new();
            while started.elapsed() < duration {
                let q = synthetic_query(&mut rng);
                let t = Instant::now();
                index.query(1, q).await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p| percentile(&lat, p);
    Ok((lat.len(), pct(0.5), pct(0.95), pct(0.99)))
}

/// `mediagw bench index`: a synthetic index of `points` titles (clustered 384-d vectors, BM25-like
/// and trigram sparse vectors, payloads) in a scratch directory: upsert rate, ANN build time, and
/// query latency at `concurrency` while the ANN index builds and after.
pub async fn bench_index(
    dir: &Path,
    points: usize,
    concurrency: usize,
    seconds: u64,
    reuse: bool,
) -> anyhow::Result<()> {
    use mediagw_search::index::edge::EdgeIndex;
    use mediagw_search::index::SearchIndex;
    let report = |when: &str, (n, p50, p95, p99): (usize, f64, f64, f64)| {
        println!(
            "{when} (concurrency {concurrency}): {n} queries in {seconds} s ({:.0} QPS), p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms (3 channels × {DEPTH} deep, brief payloads, half with a decade filter)",
            n as f64 / seconds as f64
        )
    };
    if reuse {
        let index: Arc<dyn SearchIndex> = Arc::new(EdgeIndex::new(dir));
        let opened = Instant::now();
        let n = index.count(1).await?;
        anyhow::ensure!(n > 0, "no index to reuse in {}", dir.display());
        println!(
            "reusing {n} points in {} (opened in {:.1} s)",
            dir.display(),
            opened.elapsed().as_secs_f64()
        );
        let after = index_load(index, concurrency, Duration::from_secs(seconds)).await?;
        report("built index", after);
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dir);
    let index: Arc<dyn SearchIndex> = Arc::new(EdgeIndex::new(dir));
    let mut rng = Rng(0x5EED);
    let started = Instant::now();
    let batch = 2_000;
    let mut n = 0u64;
    while (n as usize) < points {
        let docs: Vec<_> = (0..batch.min(points - n as usize))
            .map(|i| synthetic_doc(&mut rng, n + i as u64))
            .collect();
        n += docs.len() as u64;
        index.upsert(1, docs).await?;
        if n.is_multiple_of(100_000) {
            eprintln!("{n} points in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    index.flush(1).await?;
    let loaded = started.elapsed().as_secs_f64();
    println!(
        "synthetic index: {points} points upserted in {loaded:.0} s ({:.0} points/s)",
        points as f64 / loaded
    );
    let build = {
        let index = index.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            while index.optimize(1).await? {}
            anyhow::Ok(t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = index_load(index.clone(), concurrency, Duration::from_secs(seconds)).await?;
    report("while the ANN index builds", during);
    let took = build.await??;
    println!("ANN build: {:.0} s", took.as_secs_f64());
    let after = index_load(index.clone(), concurrency, Duration::from_secs(seconds)).await?;
    report("after the build", after);
    Ok(())
}
