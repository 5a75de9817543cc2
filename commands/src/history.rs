//! The event store read back as the log: every stored event as its wire record (export), and
//! republishing them to Kafka through the outbox (after broker data loss).
//!
//! Both stream the `events` table with a server-side cursor (bounded memory, any size) in commit
//! order, and map each row exactly as the relay does, so keys, event ids (derived from aggregate
//! and sequence) and headers are the ones first published.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mediagw_schemas::EventRecord;
use sqlx::postgres::PgPool;
use sqlx::Row;

use crate::relay::to_record;

/// Which stored events: a topic (with or without the deployment's prefix) and a commit-time range.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub topic: Option<String>,
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

/// One stored event with its wire record.
#[derive(Debug)]
pub struct Historic {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// The stored (domain) payload, as JSON text.
    pub payload: String,
    pub metadata: String,
    /// `None` for events stored before commit times were recorded.
    pub recorded_at: Option<DateTime<Utc>>,
    pub record: EventRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("writing: {0}")]
    Io(String),
    #[error("stored event {aggregate_id}/{sequence}: {reason}")]
    Unmappable {
        aggregate_id: String,
        sequence: i64,
        reason: String,
    },
}

impl Selection {
    fn wants(&self, record: &EventRecord, prefix: &str) -> bool {
        self.topic
            .as_deref()
            .is_none_or(|t| record.topic() == t || t.strip_prefix(prefix) == Some(record.topic()))
    }
}

/// Hands every selected event to `each`, in batches of up to `batch`, oldest commit first (events
/// from before commit times were recorded come first, in aggregate order). `prefix` is the
/// deployment's topic prefix. Memory holds one batch.
pub async fn for_each<F, Fut>(
    pool: &PgPool,
    selection: &Selection,
    prefix: &str,
    batch: usize,
    mut each: F,
) -> Result<u64, HistoryError>
where
    F: FnMut(Vec<Historic>) -> Fut,
    Fut: std::future::Future<Output = Result<(), HistoryError>>,
{
    let mut rows = sqlx::query(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload::text,
                metadata::text, recorded_at
         FROM events
         WHERE ($1::timestamptz IS NULL OR recorded_at >= $1)
           AND ($2::timestamptz IS NULL OR recorded_at < $2)
         ORDER BY recorded_at NULLS FIRST, aggregate_type, aggregate_id, sequence",
    )
    .bind(selection.from)
    .bind(selection.to)
    .fetch(pool);
    let mut n = 0;
    let mut chunk = Vec::with_capacity(batch);
    while let Some(row) = rows.try_next().await? {
        let aggregate_type: String = row.get(0);
        let aggregate_id: String = row.get(1);
        let sequence: i64 = row.get(2);
        let event_type: String = row.get(3);
        let event_version: String = row.get(4);
        let payload: String = row.get(5);
        let recorded_at: Option<DateTime<Utc>> = row.get(7);
        let record = to_record::<EventRecord>(
            &aggregate_type,
            &aggregate_id,
            sequence,
            (&event_type, &event_version, &payload),
            recorded_at.unwrap_or(DateTime::UNIX_EPOCH),
        )
        .map_err(|reason| HistoryError::Unmappable {
            aggregate_id: aggregate_id.clone(),
            sequence,
            reason,
        })?;
        if !selection.wants(&record, prefix) {
            continue;
        }
        n += 1;
        chunk.push(Historic {
            aggregate_type,
            aggregate_id,
            sequence,
            event_type,
            event_version,
            payload,
            metadata: row.get(6),
            recorded_at,
            record,
        });
        if chunk.len() >= batch {
            each(std::mem::replace(&mut chunk, Vec::with_capacity(batch))).await?;
        }
    }
    if !chunk.is_empty() {
        each(chunk).await?;
    }
    Ok(n)
}

/// Queues the selected events in the outbox again, in commit order, for the relay to publish
/// with their original keys, ids, commit times and trace headers. Returns how many were queued
/// and the highest outbox id (published once no outbox row at or below it is left).
pub async fn requeue(
    pool: &PgPool,
    selection: &Selection,
    prefix: &str,
) -> Result<(u64, i64), HistoryError> {
    let last_id = std::cell::Cell::new(0);
    // The cursor reads on one connection while each batch is written on another.
    let queued = for_each(pool, selection, prefix, 2_000, |rows| {
        let last = &last_id;
        async move {
            last.set(last.get().max(insert(pool, &rows).await?));
            Ok(())
        }
    })
    .await?;
    sqlx::query("SELECT pg_notify('mediagw_outbox', '')")
        .execute(pool)
        .await?;
    Ok((queued, last_id.get()))
}

async fn insert(pool: &PgPool, rows: &[Historic]) -> Result<i64, sqlx::Error> {
    let col = |f: fn(&Historic) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let seqs: Vec<i64> = rows.iter().map(|h| h.sequence).collect();
    let at: Vec<Option<DateTime<Utc>>> = rows.iter().map(|h| h.recorded_at).collect();
    sqlx::query_scalar(
        "WITH q AS (
           INSERT INTO event_outbox (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                     payload, metadata, committed_at)
           SELECT t, a, s, e, v, p::json, m::json, COALESCE(c, clock_timestamp())
           FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::timestamptz[]) WITH ORDINALITY AS r(t, a, s, e, v, p, m, c, o)
           ORDER BY o
           RETURNING id)
         SELECT COALESCE(max(id), 0) FROM q",
    )
    .bind(col(|h| h.aggregate_type.clone()))
    .bind(col(|h| h.aggregate_id.clone()))
    .bind(&seqs)
    .bind(col(|h| h.event_type.clone()))
    .bind(col(|h| h.event_version.clone()))
    .bind(col(|h| h.payload.clone()))
    .bind(col(|h| h.metadata.clone()))
    .bind(&at)
    .fetch_one(pool)
    .await
}

/// Whether every outbox row up to `id` has been published (deleted by the relay).
pub async fn published_through(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM event_outbox WHERE id <= $1)")
        .bind(id)
        .fetch_one(pool)
        .await
}
