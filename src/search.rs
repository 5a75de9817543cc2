//! Search wiring: publishing answered searches to `search.queries`, and building the ANN index
//! in the background when the indexer is idle.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mediagw_eventstore::privacy;
use mediagw_query_api::search::{SearchEvent, SearchEvents};
use mediagw_schemas::bus::{EventBus, OutRecord};
use mediagw_schemas::dto::{SearchDto, SearchesPerformedV1};
use mediagw_schemas::{EventCodec, EventRecord};
use mediagw_search_adapters::index::SearchIndex;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Publishes answered searches to `search.queries` in batches: one `SearchesPerformed` record per
/// flush window instead of one record per search, so the broker's per-record cost stays off the
/// search path (ADR 0013). Best effort: a search is answered even if the broker is down, and a
/// crash loses at most the window in memory (the misses are logged and counted).
pub struct KafkaSearchEvents {
    queue: tokio::sync::mpsc::Sender<SearchDto>,
}

impl KafkaSearchEvents {
    /// Starts the publishing task; it flushes every `every`, whenever `max_batch` searches are
    /// waiting, and once more at shutdown.
    pub fn spawn(
        bus: Arc<dyn EventBus>,
        codec: Arc<EventCodec>,
        pool: PgPool,
        every: Duration,
        max_batch: usize,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let max_batch = max_batch.max(1);
        // Room for a few windows: beyond that the broker is not keeping up and searches are dropped.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<SearchDto>(max_batch * 8);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => publish(&bus, &codec, &pool, std::mem::take(&mut batch)).await,
                    n = rx.recv_many(&mut batch, max_batch) => {
                        if n == 0 {
                            break;
                        }
                        if batch.len() >= max_batch {
                            publish(&bus, &codec, &pool, std::mem::take(&mut batch)).await;
                        }
                    }
                }
            }
            rx.close();
            while let Ok(s) = rx.try_recv() {
                batch.push(s);
            }
            publish(&bus, &codec, &pool, batch).await;
        });
        (Self { queue: tx }, task)
    }
}

impl SearchEvents for KafkaSearchEvents {
    fn searched(&self, e: SearchEvent) {
        let search = SearchDto {
            event_id: Uuid::now_v7().to_string(),
            occurred_at_ms: chrono::Utc::now().timestamp_millis(),
            source: e.source.to_string(),
            query: e.query,
            user_id: e.user_id.map(|u| u.to_string()),
            genres: e.genres,
            result_ids: e.result_ids.iter().map(Uuid::to_string).collect(),
        };
        if self.queue.try_send(search).is_err() {
            metrics::counter!("search_events_dropped_total").increment(1);
        }
    }
}

/// One record for the anonymous searches of a window and one per signed-in user, sealed with
/// that user's key (ADR 0024), so erasing a user also erases what they searched for.
async fn publish(
    bus: &Arc<dyn EventBus>,
    codec: &EventCodec,
    pool: &PgPool,
    searches: Vec<SearchDto>,
) {
    if searches.is_empty() {
        return;
    }
    let n = searches.len() as u64;
    let mut groups: BTreeMap<Option<String>, Vec<SearchDto>> = BTreeMap::new();
    for s in searches {
        groups.entry(s.user_id.clone()).or_default().push(s);
    }
    let result = async {
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        privacy::lock_publishing(&mut tx)
            .await
            .map_err(|e| e.to_string())?;
        let users: Vec<String> = groups.keys().flatten().cloned().collect();
        let keys = privacy::keys_for(&mut tx, &users)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(groups.len());
        for (user, searches) in groups {
            let id = Uuid::now_v7().to_string();
            let record = EventRecord::SearchesPerformed(SearchesPerformedV1 {
                event_id: id.clone(),
                content_id: id.clone(),
                sequence: 1,
                occurred_at_ms: chrono::Utc::now().timestamp_millis(),
                source: "api".into(),
                searches,
            });
            let mut payload = codec.encode(&record).await.map_err(|e| e.to_string())?;
            let mut key = id;
            if let Some(k) = user.as_ref().and_then(|u| keys.get(u)) {
                payload = codec
                    .seal(record.topic(), k.subject, &k.key, &payload)
                    .await
                    .map_err(|e| e.to_string())?;
                key = k.subject.to_string();
            }
            out.push(OutRecord {
                topic: codec.topic(record.topic()),
                key,
                payload,
                headers: vec![("event_type".into(), "SearchesPerformed".into())],
            });
        }
        bus.publish(out).await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(()) => metrics::counter!("search_events_published_total").increment(n),
        Err(err) => {
            metrics::counter!("search_events_dropped_total").increment(n);
            tracing::warn!(error = %err, searches = n, "could not publish a batch of search events");
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
        if build_due(quiet_checks, unindexed, min_points) {
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

/// Quiet checks after which any unindexed point is built, however few: the last points of an
/// ingest (below `min_points`) would otherwise stay outside the ANN index until the next ingest.
const TAIL_QUIET_CHECKS: u32 = 12;

/// Whether to build now: the indexer has been quiet for three checks and enough points wait, or
/// it has been quiet for long and any point waits.
fn build_due(quiet_checks: u32, unindexed: usize, min_points: usize) -> bool {
    (quiet_checks >= 3 && unindexed >= min_points)
        || (quiet_checks >= TAIL_QUIET_CHECKS && unindexed > 0)
}

/// Fills the distilled query encoder's table in the background (from its file when present).
pub async fn warm_query_encoder(
    encoder: Arc<mediagw_search_adapters::embed::distilled::Distilled>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ingest_tail_below_the_threshold_is_built_once_the_indexer_stays_quiet() {
        // Enough points: built after three quiet checks, not while the indexer writes.
        assert!(!build_due(0, 5000, 2000));
        assert!(build_due(3, 5000, 2000));
        // The last 1,259 points of an ingest: not at once (more may follow), but in the end.
        assert!(!build_due(3, 1259, 2000));
        assert!(build_due(TAIL_QUIET_CHECKS, 1259, 2000));
        // Nothing waiting: never.
        assert!(!build_due(100, 0, 2000));
    }
}
