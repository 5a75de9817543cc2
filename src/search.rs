//! Search wiring: publishing answered searches to `search.queries`, and building the ANN index
//! in the background when the indexer is idle.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mediagw_query_api::search::{SearchEvent, SearchEvents};
use mediagw_schemas::bus::{EventBus, OutRecord};
use mediagw_schemas::dto::SearchPerformedV1;
use mediagw_schemas::{EventCodec, EventRecord};
use mediagw_search::index::SearchIndex;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Publishes `SearchPerformed` records, keyed by the query (best effort: a search is answered
/// even if the broker is down; the miss is logged and counted).
pub struct KafkaSearchEvents {
    pub bus: Arc<dyn EventBus>,
    pub codec: Arc<EventCodec>,
}

#[async_trait]
impl SearchEvents for KafkaSearchEvents {
    async fn searched(&self, e: SearchEvent) {
        let key = Uuid::new_v5(&Uuid::NAMESPACE_OID, e.query.as_bytes()).to_string();
        let record = EventRecord::SearchPerformed(SearchPerformedV1 {
            event_id: Uuid::now_v7().to_string(),
            content_id: key.clone(),
            sequence: 1,
            occurred_at_ms: chrono::Utc::now().timestamp_millis(),
            source: e.source.to_string(),
            query: e.query,
            user_id: e.user_id.map(|u| u.to_string()),
            genres: e.genres,
            result_ids: e.result_ids.iter().map(Uuid::to_string).collect(),
        });
        let result = async {
            let payload = self
                .codec
                .encode(&record)
                .await
                .map_err(|e| e.to_string())?;
            self.bus
                .publish(vec![OutRecord {
                    topic: self.codec.topic(record.topic()),
                    key,
                    payload,
                    headers: vec![("event_type".into(), "SearchPerformed".into())],
                }])
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(err) = result {
            metrics::counter!("search_events_dropped_total").increment(1);
            tracing::warn!(error = %err, "could not publish a search event");
        }
    }
}

/// Builds HNSW for the live generation once the indexer has written nothing for `idle` and at
/// least `min_points` points are unindexed. Queries are served meanwhile; the indexer's writes
/// wait for the build (ingestion itself is never blocked).
pub async fn maintain_index(
    pool: PgPool,
    index: Arc<dyn SearchIndex>,
    idle: Duration,
    min_points: usize,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut last: Option<(i64, usize)> = None;
    let mut quiet_checks = 0u32;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(idle) => {}
        }
        let generation: i64 = match sqlx::query_scalar(&format!(
            "SELECT generation FROM {}.index_generation",
            mediagw_projectors::search::LIVE_SCHEMA
        ))
        .fetch_one(&pool)
        .await
        {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "index maintenance: reading the generation failed");
                continue;
            }
        };
        let (count, unindexed) = match (
            index.count(generation).await,
            index.unindexed(generation).await,
        ) {
            (Ok(c), Ok(u)) => (c, u),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "index maintenance: reading the index failed");
                continue;
            }
        };
        // Quiet for three checks in a row: one indexer batch (embedding) can outlast a check.
        quiet_checks = if last == Some((generation, count)) {
            quiet_checks + 1
        } else {
            0
        };
        last = Some((generation, count));
        if quiet_checks >= 3 && unindexed >= min_points {
            let started = std::time::Instant::now();
            tracing::info!(
                generation,
                points = count,
                unindexed,
                "building the ANN index"
            );
            match index.optimize(generation).await {
                Ok(_) => {
                    metrics::histogram!("search_index_build_seconds")
                        .record(started.elapsed().as_secs_f64());
                    tracing::info!(
                        generation,
                        seconds = started.elapsed().as_secs_f64(),
                        "ANN index built"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "building the ANN index failed"),
            }
        }
    }
}

/// Fills the distilled query encoder's table in the background (from its file when present).
pub async fn warm_query_encoder(
    encoder: Arc<mediagw_search::embed::distilled::Distilled>,
    file: std::path::PathBuf,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let result = tokio::select! {
        r = encoder.warm(Some(file)) => r,
        _ = shutdown.cancelled() => {
            encoder.stop_warming();
            return Ok(());
        }
    };
    match result {
        Ok(()) => tracing::info!(
            tokens = encoder.known_tokens(),
            seconds = started.elapsed().as_secs_f64(),
            "distilled query encoder ready"
        ),
        Err(e) => tracing::warn!(error = %e, "warming the distilled query encoder failed"),
    }
    Ok(())
}
