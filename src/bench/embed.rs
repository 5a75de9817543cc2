//! `mediagw bench embed`: embedding throughput for indexing, and the query encoders' latency and
//! agreement on the labeled queries.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use crate::eval::search::load;
use crate::sample::percentile;

/// Indexing-side embedding throughput on the shared dataset's texts (`embedding_text` of each film),
/// with the configured model, sessions, batch and token limit.
pub async fn run(
    config: &crate::config::Config,
    data: &Path,
    texts: usize,
    queries: &Path,
) -> anyhow::Result<()> {
    use mediagw_domain::catalog::{ContentType, TitleMetadata};
    use mediagw_search_adapters::embed::{Embedder, OnnxConfig, OnnxEmbedder};
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
                rating: None,
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
    query_encoders(&embedder, queries).await
}

/// Query encoders on the labeled queries (as typed and as the intent parser passes them on):
/// one query at a time, the full model against its distilled token table, and how closely the
/// distilled vectors agree with the model's (cosine).
async fn query_encoders(
    model: &mediagw_search_adapters::embed::OnnxEmbedder,
    queries: &Path,
) -> anyhow::Result<()> {
    use chrono::Datelike;
    use mediagw_search_adapters::embed::distilled::Distilled;
    use mediagw_search_adapters::embed::Embedder;
    let labeled = load(queries)?;
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
