//! `mediagw bench search`: search latency and throughput over HTTP against a running API, with
//! the labeled queries of `eval search` (`scripts/bench-search`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::eval::search::{load, search};
use crate::sample::percentile;

/// Closed-loop load: `concurrency` clients send the labeled queries round-robin for `duration`.
pub async fn run(
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
        return open_loop(&http, api, texts, rate, concurrency, duration, cached).await;
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
async fn open_loop(
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
