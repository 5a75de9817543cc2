//! `mediagw bench ingest`: end-to-end throughput (command → event store → relay → Kafka → catalog
//! projector) and event → read-model lag, in a scratch database and topic namespace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use mediagw_commands::IngestRequest;
use mediagw_schemas::bus::EventBus;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::Config;
use crate::role::ProjectorName;

pub async fn run(
    base: &Config,
    titles: usize,
    concurrency: usize,
    bulk: bool,
    metrics: &PrometheusHandle,
) -> anyhow::Result<()> {
    let tag = format!("bench{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let admin = sqlx::PgPool::connect(base.database_url())
        .await
        .context("connecting to PostgreSQL")?;
    sqlx::Executor::execute(&admin, format!("CREATE DATABASE {tag}").as_str())
        .await
        .context("creating the scratch database")?;
    let mut config = base.clone();
    let url = base.database_url();
    let scratch_url = match url.rfind('/') {
        Some(i) => format!("{}/{tag}", &url[..i]),
        None => anyhow::bail!("database.url has no database name"),
    };
    config.database.url = scratch_url.into();
    config.kafka.topic_prefix = format!("{tag}.");
    config.kafka.group_prefix = format!("{tag}-");
    let result = measure(config, titles, concurrency, bulk, metrics).await;
    let _ = sqlx::Executor::execute(
        &admin,
        format!("DROP DATABASE IF EXISTS {tag} WITH (FORCE)").as_str(),
    )
    .await;
    result
}

/// Runs against the scratch database and topics `config` names, never the operator's.
async fn measure(
    mut config: Config,
    n: usize,
    concurrency: usize,
    bulk: bool,
    metrics: &PrometheusHandle,
) -> anyhow::Result<()> {
    // The bench brings its own embedded registry (scratch database, ephemeral port).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    config.registry.url = format!("http://{}", listener.local_addr()?);
    let app = App::connect(config).await?;
    app.migrate().await?;
    let registry = mediagw_schemas::registry::router(
        mediagw_schemas::registry::RegistryStore::new(app.pool.clone()).await?,
    );
    tokio::spawn(async move { axum::serve(listener, registry).await });
    crate::kafka::ensure_topics(&app.config).await?;
    let bus = app.bus()?;
    let shutdown = CancellationToken::new();
    let relay = app.relay(bus.clone() as Arc<dyn EventBus>);
    let projector = app
        .projector(ProjectorName::Catalog, bus.clone() as Arc<dyn EventBus>)
        .await?;
    let (t1, t2) = (shutdown.clone(), shutdown.clone());
    let relay_task = tokio::spawn(async move { relay.run(t1).await });
    let projector_task = tokio::spawn(async move { projector.run(t2).await });

    let requests: Vec<IngestRequest> = (0..n).map(synthetic).collect();
    let titles = app.titles();
    let mode = if bulk {
        "bulk (500 titles per transaction)"
    } else {
        "one command per title"
    };
    println!("bench ingest: {n} titles, {mode}, concurrency {concurrency}, 3 events each (title + 2 offers)");
    let started = Instant::now();
    let mut failed = 0;
    if bulk {
        let mut stream = futures::stream::iter(requests.chunks(500))
            .map(|chunk| {
                let titles = titles.clone();
                async move { titles.ingest_many(chunk).await }
            })
            .buffer_unordered(concurrency);
        while let Some(rs) = stream.next().await {
            failed += rs.iter().filter(|r| r.is_err()).count();
        }
    } else {
        let mut stream = futures::stream::iter(requests)
            .map(|r| {
                let titles = titles.clone();
                async move { titles.ingest(&r).await }
            })
            .buffer_unordered(concurrency);
        while let Some(r) = stream.next().await {
            if r.is_err() {
                failed += 1;
            }
        }
    }
    let commanded = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut relayed = None;
    loop {
        if relayed.is_none() && mediagw_commands::relay::Relay::backlog(&app.pool).await? == 0 {
            relayed = Some(started.elapsed());
        }
        let projected: i64 =
            sqlx::query_scalar("SELECT count(*) FROM catalog.platform_availability")
                .fetch_one(&app.pool)
                .await?;
        if projected as usize >= 2 * (n - failed) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let projected = started.elapsed();
    shutdown.cancel();
    let _ = relay_task.await;
    let _ = projector_task.await;
    let rendered = metrics.render();
    let q = |q: &str| {
        let q: f64 = q.parse().unwrap_or(0.5);
        bucket_quantile(&rendered, "projector_lag_seconds", q)
            .map(|s| format!("≤ {:.0} ms", s * 1000.0))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "commands accepted: {:.2} s = {:.0} titles/s ({failed} failed)",
        commanded.as_secs_f64(),
        n as f64 / commanded.as_secs_f64()
    );
    println!(
        "fully projected:   {:.2} s = {:.0} titles/s end to end ({:.0} events/s)",
        projected.as_secs_f64(),
        n as f64 / projected.as_secs_f64(),
        3.0 * n as f64 / projected.as_secs_f64()
    );
    if let Some(r) = relayed {
        println!(
            "outbox drained:    {:.2} s (all events acknowledged by the broker)",
            r.as_secs_f64()
        );
    }
    println!(
        "event → read-model lag: p50 {}, p90 {}, p99 {}",
        q("0.5"),
        q("0.9"),
        q("0.99")
    );
    Ok(())
}

fn synthetic(i: usize) -> IngestRequest {
    let year = 1950 + (i % 74);
    IngestRequest {
        platform: "generic".into(),
        region: "US".into(),
        raw_content: json!({
            "external_ids": {"imdb": format!("tt{:08}", 9_000_000 + i)},
            "content_type": "movie",
            "title": format!("Benchmark Feature {i}"),
            "overview": "A synthetic title used to measure the ingest pipeline end to end.",
            "release_date": format!("{year}-06-15"),
            "genres": ["drama", "thriller"],
            "runtime_minutes": 90 + (i % 60),
            "availability": [
                {"platform": "netflix", "availability_type": "subscription",
                 "deep_link": format!("nflx://www.netflix.com/title/{i}"), "web_url": format!("https://www.netflix.com/title/{i}")},
                {"platform": "apple_tv", "availability_type": "rent", "price_amount": 3.99, "price_currency": "USD",
                 "deep_link": format!("videos://tv.apple.com/movie/{i}"), "web_url": format!("https://tv.apple.com/movie/{i}")}
            ]
        }),
    }
}

/// The upper bound of the histogram bucket holding quantile `q` (cumulative `_bucket` lines,
/// summed over label sets).
fn bucket_quantile(rendered: &str, name: &str, q: f64) -> Option<f64> {
    let prefix = format!("{name}_bucket{{");
    let mut buckets: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for l in rendered.lines().filter(|l| l.starts_with(&prefix)) {
        let le = l.split("le=\"").nth(1)?.split('"').next()?.to_string();
        let bound: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().ok()?
        };
        let count: f64 = l.rsplit(' ').next()?.parse().ok()?;
        buckets.entry(le).or_insert((bound, 0.0)).1 += count;
    }
    let mut sorted: Vec<(f64, f64)> = buckets.into_values().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = sorted.last()?.1;
    sorted
        .into_iter()
        .find(|(_, c)| *c >= q * total && total > 0.0)
        .map(|(b, _)| b)
}
