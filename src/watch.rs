//! Operational gauges sampled in the background of `serve`: database pool use, relay backlog,
//! and each projector's position and lag (events) per partition. Sampling apart from the hot
//! paths keeps broker round trips off the apply loop.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::role::ProjectorName;

const EVERY: Duration = Duration::from_secs(5);

/// `db_pool_connections{state="idle"|"used"}`.
pub async fn pool(pool: PgPool, shutdown: CancellationToken) -> anyhow::Result<()> {
    loop {
        let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
        metrics::gauge!("db_pool_connections", "state" => "idle").set(idle);
        metrics::gauge!("db_pool_connections", "state" => "used").set((size - idle).max(0.0));
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// `relay_backlog_events`: committed events not yet acknowledged by the broker.
pub async fn relay_backlog(pool: PgPool, shutdown: CancellationToken) -> anyhow::Result<()> {
    loop {
        match mediagw_commands::relay::Relay::backlog(&pool).await {
            Ok(n) => metrics::gauge!("relay_backlog_events").set(n as f64),
            Err(e) => tracing::debug!(error = %e, "relay backlog not sampled"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

fn live_schema(name: ProjectorName) -> &'static str {
    use mediagw_projectors as p;
    match name {
        ProjectorName::Catalog => p::catalog::LIVE_SCHEMA,
        ProjectorName::Search => p::search::LIVE_SCHEMA,
        ProjectorName::SearchActivity => p::search_activity::LIVE_SCHEMA,
        ProjectorName::Sync => p::sync::LIVE_SCHEMA,
        ProjectorName::UserProfiles => p::profiles::LIVE_SCHEMA,
        ProjectorName::Playback => p::playback::LIVE_SCHEMA,
    }
}

/// `projector_consumer_position` (next offset the read model holds, stored with its writes) and
/// `projector_consumer_lag_events` (high watermark minus that), per projector/topic/partition.
pub async fn consumer_lag(
    pool: PgPool,
    config: Config,
    projectors: Vec<ProjectorName>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let consumer: std::sync::Arc<BaseConsumer> =
        std::sync::Arc::new(config.kafka_client().create()?);
    loop {
        for name in &projectors {
            let rows: Result<Vec<(String, String, i32, i64)>, _> = sqlx::query_as(&format!(
                "SELECT projector, topic, partition, next_offset FROM {}.projector_offsets",
                live_schema(*name)
            ))
            .fetch_all(&pool)
            .await;
            let Ok(rows) = rows else { continue };
            for (projector, topic, partition, next) in rows {
                metrics::gauge!("projector_consumer_position", "projector" => projector.clone(),
                    "topic" => topic.clone(), "partition" => partition.to_string())
                .set(next as f64);
                let (c, t) = (consumer.clone(), topic.clone());
                let high = tokio::task::spawn_blocking(move || {
                    c.fetch_watermarks(&t, partition, Duration::from_secs(2))
                })
                .await;
                if let Ok(Ok((_, high))) = high {
                    metrics::gauge!("projector_consumer_lag_events", "projector" => projector,
                        "topic" => topic, "partition" => partition.to_string())
                    .set((high - next).max(0) as f64);
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
