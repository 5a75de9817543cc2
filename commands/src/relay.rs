//! Outbox relay: publishes committed events to Kafka in commit order and deletes them from the outbox
//! only after the broker acknowledged them.
//!
//! Crash safety: the outbox row is committed with the event (trigger), so a crash before publishing
//! only delays it; a crash after the ack but before the delete republishes it, and the projectors
//! drop the duplicate by (aggregate, sequence). Late commits are safe because the relay deletes what
//! it published instead of remembering a high-water mark. One relay is active at a time (advisory
//! lock); others wait as hot standbys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mediagw_eventstore::privacy;
use mediagw_schemas::bus::{EventBus, OutRecord};
use mediagw_schemas::{EventCodec, EventMeta, EventRecord, EventSet};
use sqlx::postgres::{PgListener, PgPool};
use sqlx::{Connection, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const LEADER_LOCK: i64 = 7_303;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub batch_size: i64,
    /// Fallback poll when no notification arrives.
    pub poll_interval: Duration,
}

/// Relays the stored events of an event set (the product's [`EventRecord`] by default): which
/// aggregate's events become which records is the set's declaration, not code here.
pub struct Relay<R = EventRecord> {
    pool: PgPool,
    bus: Arc<dyn EventBus>,
    codec: Arc<EventCodec<R>>,
    config: RelayConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Publish(String),
    #[error("keys: {0}")]
    Keys(#[from] mediagw_eventstore::StoreError),
}

impl<R: EventSet> Relay<R> {
    pub fn new(
        pool: PgPool,
        bus: Arc<dyn EventBus>,
        codec: Arc<EventCodec<R>>,
        config: RelayConfig,
    ) -> Self {
        Self {
            pool,
            bus,
            codec,
            config,
        }
    }

    /// Runs until `shutdown`; survives database and broker outages by backing off and retrying.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            match self.lead(&shutdown).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "relay interrupted; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::info!("relay stopped");
    }

    async fn lead(&self, shutdown: &CancellationToken) -> Result<(), RelayError> {
        // The lock lives as long as this connection: if the process dies, PostgreSQL releases it.
        let mut lock_conn = self.pool.acquire().await?.detach();
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK)
                .fetch_one(&mut lock_conn)
                .await?;
            if got {
                break;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        tracing::info!("relay is the active publisher");
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen("mediagw_outbox").await?;
        let mut last_lock_check = Instant::now();
        loop {
            let n = self.publish_batch().await?;
            metrics::gauge!("relay_last_batch_size").set(n as f64);
            if last_lock_check.elapsed() > Duration::from_secs(5) {
                // Detect a lost lock connection early rather than at the next failure.
                lock_conn.ping().await?;
                last_lock_check = Instant::now();
            }
            if n as i64 >= self.config.batch_size {
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                n = listener.recv() => { n?; }
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Publishes the oldest outbox rows; returns how many were published. Records about a user
    /// are sealed with the user's key under their pseudonym (ADR 0024); the batch holds the
    /// publishing lock so an erasure cannot slip between reading a row and sealing it.
    pub async fn publish_batch(&self) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        privacy::lock_publishing(&mut tx).await?;
        let rows = sqlx::query(
            "SELECT id, aggregate_id, sequence, event_type, payload::text, committed_at, aggregate_type,
                    event_version, metadata::text
             FROM event_outbox ORDER BY id LIMIT $1",
        )
        .bind(self.config.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let encode_started = Instant::now();
        let mut mapped = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.get(0);
            let aggregate_id: String = row.get(1);
            let sequence: i64 = row.get(2);
            let payload: String = row.get(4);
            let committed_at: DateTime<Utc> = row.get(5);
            let aggregate_type: String = row.get(6);
            match to_record::<R>(
                &aggregate_type,
                &aggregate_id,
                sequence,
                (row.get(3), row.get(7), &payload),
                committed_at,
            ) {
                Ok(r) => mapped.push((id, aggregate_id, sequence, row.get::<String, _>(8), r)),
                Err(reason) => self.park(id, &reason).await?,
            }
        }
        let mut users: Vec<String> = mapped
            .iter()
            .filter_map(|m| m.4.envelope().data_subject().map(str::to_string))
            .collect();
        users.sort_unstable();
        users.dedup();
        let keys = privacy::keys_for(&mut tx, &users).await?;
        let mut ids = Vec::with_capacity(mapped.len());
        let mut records = Vec::with_capacity(mapped.len());
        // One span per traced event, open until the broker acknowledged the batch.
        let mut spans = Vec::new();
        for (id, aggregate_id, sequence, metadata, record) in mapped {
            let mut bytes = self
                .codec
                .encode(&record)
                .await
                .map_err(|e| RelayError::Publish(e.to_string()))?;
            let mut key = aggregate_id;
            if let Some(user) = record.envelope().data_subject() {
                let k = &keys[user];
                bytes = self
                    .codec
                    .seal(record.topic(), k.subject, &k.key, &bytes)
                    .await
                    .map_err(|e| RelayError::Publish(e.to_string()))?;
                key = k.subject.to_string();
            }
            let topic = self.codec.topic(record.topic());
            let mut headers = vec![
                ("event_type".into(), record.full_name().into()),
                ("event_id".into(), record.envelope().event_id().to_string()),
                ("sequence".into(), sequence.to_string()),
            ];
            headers.extend(self.trace(&metadata, &topic, &record, &mut spans));
            records.push(OutRecord {
                topic,
                key,
                payload: bytes,
                headers,
            });
            ids.push(id);
        }
        let n = records.len();
        let publish_started = Instant::now();
        self.bus
            .publish(records)
            .await
            .map_err(|e| RelayError::Publish(e.to_string()))?;
        let delete_started = Instant::now();
        sqlx::query("DELETE FROM event_outbox WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        metrics::histogram!("relay_encode_seconds")
            .record((publish_started - encode_started).as_secs_f64());
        metrics::histogram!("relay_publish_seconds")
            .record((delete_started - publish_started).as_secs_f64());
        tracing::debug!(
            n,
            encode_ms = (publish_started - encode_started).as_millis() as u64,
            publish_ms = (delete_started - publish_started).as_millis() as u64,
            delete_ms = delete_started.elapsed().as_millis() as u64,
            "relay batch"
        );
        metrics::counter!("relay_events_published_total").increment(n as u64);
        drop(spans);
        Ok(n)
    }

    /// The Kafka headers carrying an event's trace: for a sampled trace, a `relay publish` span
    /// (child of the command that committed the event, pushed to `spans` to end after the ack)
    /// whose context the projectors continue; otherwise the stored context passed on unchanged.
    fn trace(
        &self,
        metadata: &str,
        topic: &str,
        record: &R,
        spans: &mut Vec<tracing::Span>,
    ) -> mediagw_trace::Carrier {
        if !mediagw_trace::enabled() || metadata == "{}" {
            return Vec::new();
        }
        let stored: std::collections::HashMap<String, String> =
            serde_json::from_str(metadata).unwrap_or_default();
        let get = |k: &str| stored.get(k).map(String::as_str);
        if !get(mediagw_trace::TRACEPARENT).is_some_and(mediagw_trace::sampled) {
            return [mediagw_trace::TRACEPARENT, mediagw_trace::TRACESTATE]
                .into_iter()
                .filter_map(|k| Some((k.to_string(), get(k)?.to_string())))
                .collect();
        }
        let span = tracing::info_span!(
            "relay publish",
            otel.kind = "producer",
            messaging.system = "kafka",
            messaging.destination.name = topic,
            event_id = %record.envelope().event_id(),
        );
        mediagw_trace::continue_from(&span, get);
        let carrier = mediagw_trace::of(&span);
        spans.push(span);
        carrier
    }

    /// Moves an unmappable outbox row aside (with its reason) so it neither blocks nor vanishes.
    async fn park(&self, id: i64, reason: &str) -> Result<(), sqlx::Error> {
        tracing::error!(
            outbox_id = id,
            reason,
            "outbox row cannot be published; parked in event_outbox_failed"
        );
        metrics::counter!("relay_events_parked_total").increment(1);
        sqlx::query(
            "WITH moved AS (DELETE FROM event_outbox WHERE id = $1 RETURNING *)
             INSERT INTO event_outbox_failed (id, aggregate_type, aggregate_id, sequence, event_type,
                                              event_version, payload, committed_at, error)
             SELECT id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                    committed_at, $2
             FROM moved",
        )
        .bind(id)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Relay {
    /// Rows still waiting in the outbox.
    pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT count(*) FROM event_outbox")
            .fetch_one(pool)
            .await
    }
}

/// Maps a stored event (type, version, JSON payload) to its wire record by the aggregate that
/// wrote it, upcasting old versions on the way.
pub fn to_record<R: EventSet>(
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
    (event_type, event_version, payload): (&str, &str, &str),
    committed_at: DateTime<Utc>,
) -> Result<R, String> {
    let id = Uuid::parse_str(aggregate_id).map_err(|e| format!("aggregate id: {e}"))?;
    let meta = EventMeta::new(id, sequence, committed_at);
    let payload = serde_json::from_str(payload).map_err(|e| format!("payload: {e}"))?;
    R::from_stored(aggregate_type, event_type, event_version, payload, &meta)
}
