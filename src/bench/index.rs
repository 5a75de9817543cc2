//! `mediagw bench index`: index-only latency on a synthetic index in a scratch directory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sample::{percentile, Rng};

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

fn synthetic_doc(rng: &mut Rng, n: u64) -> mediagw_search_adapters::index::IndexDoc {
    use mediagw_domain::search::SparseVector;
    use mediagw_search_adapters::index::{DocPayload, IndexDoc, DIM};
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
    // A director of 20k, as skewed.
    let directors = vec![format!("Director {}", {
        let u = rng.unit();
        (u * u * 20_000.0) as u32
    })];
    IndexDoc {
        id: uuid::Uuid::from_u128(0x5EED_0000_0000_0000_0000_0000_0000_0000 | n as u128),
        dense,
        text,
        title,
        cast: mediagw_domain::search::text::people_vector(&cast_names, &directors),
        payload: DocPayload {
            title: format!("Synthetic title {n}"),
            year: 1920 + rng.below(106) as i64,
            content_type: if rng.below(4) == 0 { "series" } else { "movie" }.into(),
            genres,
            offers: platforms.iter().map(|p| format!("{p}:US")).collect(),
            platforms,
            rating: 1.0 + 9.0 * rng.unit() as f64,
            popularity: rng.unit() as f64,
            cast: cast_names,
            directors,
            runtime: 70 + rng.below(110) as i64,
        },
    }
}

/// Candidates per channel, as `search.depth` in production.
const DEPTH: usize = 50;

/// The production query shape: dense + keyword + title channels, [`DEPTH`] deep with brief
/// payloads (as a search asks for candidates), half of them with a decade filter.
fn synthetic_query(rng: &mut Rng) -> Vec<mediagw_search_adapters::index::ChannelQuery> {
    use mediagw_search_adapters::index::{ChannelQuery, Filter, PayloadFields, Probe, TEXT, TITLE};
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
    index: Arc<dyn mediagw_search_adapters::index::SearchIndex>,
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
pub async fn run(
    dir: &Path,
    points: usize,
    concurrency: usize,
    seconds: u64,
    reuse: bool,
) -> anyhow::Result<()> {
    use mediagw_search_adapters::index::edge::EdgeIndex;
    use mediagw_search_adapters::index::SearchIndex;
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
