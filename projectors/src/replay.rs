//! Blue/green rebuild of a projection from the log: consume the topics from the start (or a point in
//! time) into a fresh schema, catch up with the live projector, then swap schemas atomically.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mediagw_schemas::EventCodec;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::PgPool;

use crate::framework::{apply_batch, ApplyError, DeadLetters, Projection};

#[derive(Debug, Clone, Copy)]
pub enum ReplayFrom {
    Earliest,
    /// Epoch milliseconds: replay only events published at or after this time.
    Timestamp(i64),
}

#[derive(Debug, Default)]
pub struct ReplayReport {
    pub events: u64,
    pub applied: u64,
    pub skipped_poison: u64,
    pub duration: Duration,
}

impl ReplayReport {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("apply: {0}")]
    Apply(#[from] ApplyError),
}

/// Rebuilds `rebuild` (a projection bound to a scratch schema) and, when `swap`, swaps it in for
/// `live_schema`; otherwise the rebuilt schema stays beside the live one for inspection.
#[allow(clippy::too_many_arguments)]
pub async fn replay(
    pool: &PgPool,
    kafka: &ClientConfig,
    codec: &EventCodec,
    rebuild: &dyn Projection,
    live_schema: &str,
    from: ReplayFrom,
    swap: bool,
    show_progress: bool,
) -> Result<ReplayReport, ReplayError> {
    let started = Instant::now();
    let scratch = rebuild.schema().to_string();
    sqlx::Executor::execute(
        pool,
        format!("DROP SCHEMA IF EXISTS {scratch} CASCADE").as_str(),
    )
    .await?;
    rebuild.migrate(pool).await?;

    let consumer: StreamConsumer = kafka
        .clone()
        .set(
            "group.id",
            format!("replay-{}-{}", rebuild.name(), uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    let topics: Vec<String> = rebuild.topics().iter().map(|t| codec.topic(t)).collect();
    let timeout = Duration::from_secs(10);
    let mut start = TopicPartitionList::new();
    let mut end: HashMap<(String, i32), i64> = HashMap::new();
    for topic in &topics {
        let md = consumer.fetch_metadata(Some(topic), timeout)?;
        for t in md.topics() {
            for p in t.partitions() {
                let (low, high) = consumer.fetch_watermarks(topic, p.id(), timeout)?;
                end.insert((topic.clone(), p.id()), high);
                let offset = match from {
                    ReplayFrom::Earliest => Offset::Offset(low),
                    ReplayFrom::Timestamp(ms) => Offset::Offset(ms),
                };
                start.add_partition_offset(topic, p.id(), offset)?;
            }
        }
    }
    if let ReplayFrom::Timestamp(_) = from {
        start = consumer.offsets_for_times(start, timeout)?;
    }
    let mut total: i64 = 0;
    for e in start.elements() {
        let high = end[&(e.topic().to_string(), e.partition())];
        let from = match e.offset() {
            Offset::Offset(o) => o,
            _ => high, // no message at or after the timestamp
        };
        total += (high - from).max(0);
    }
    consumer.assign(&start)?;

    let bar = if show_progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} replay {elapsed_precise} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut report = ReplayReport::default();
    let mut positions: HashMap<(String, i32), i64> = start
        .elements()
        .iter()
        .map(|e| {
            (
                (e.topic().to_string(), e.partition()),
                if let Offset::Offset(o) = e.offset() {
                    o
                } else {
                    end[&(e.topic().to_string(), e.partition())]
                },
            )
        })
        .collect();

    // Consume up to `end`, swap when the rebuilt schema is at least as far as the live one.
    loop {
        consume_until(
            pool,
            codec,
            rebuild,
            &consumer,
            &mut positions,
            &end,
            &bar,
            &mut report,
        )
        .await?;
        rebuild.settle(pool).await?;
        if !swap {
            break;
        }
        match try_swap(pool, rebuild, live_schema, &positions).await? {
            None => break,
            Some(live_ahead) => {
                // The live projector moved on while we replayed: catch up to where it is, then retry.
                for (k, v) in live_ahead {
                    end.insert(k, v);
                }
                bar.set_length(bar.length().unwrap_or(0).max(bar.position()));
            }
        }
    }
    bar.finish_and_clear();
    report.duration = started.elapsed();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn consume_until(
    pool: &PgPool,
    codec: &EventCodec,
    rebuild: &dyn Projection,
    consumer: &StreamConsumer,
    positions: &mut HashMap<(String, i32), i64>,
    end: &HashMap<(String, i32), i64>,
    bar: &ProgressBar,
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    let behind = |positions: &HashMap<(String, i32), i64>| {
        end.iter()
            .any(|(k, high)| positions.get(k).copied().unwrap_or(0) < *high)
    };
    let mut batch: Vec<OwnedMessage> = Vec::new();
    while behind(positions) {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .map_err(|_| {
                ApplyError::Transient("no message from the broker for 30 s while replaying".into())
            })??
            .detach();
        let key = (m.topic().to_string(), m.partition());
        positions.insert(key, m.offset() + 1);
        batch.push(m);
        if batch.len() >= 2000 || !behind(positions) {
            flush(pool, codec, rebuild, &mut batch, bar, report).await?;
        }
    }
    flush(pool, codec, rebuild, &mut batch, bar, report).await
}

async fn flush(
    pool: &PgPool,
    codec: &EventCodec,
    rebuild: &dyn Projection,
    batch: &mut Vec<OwnedMessage>,
    bar: &ProgressBar,
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    if batch.is_empty() {
        return Ok(());
    }
    let o = apply_batch(pool, rebuild, codec, batch, &DeadLetters::Skip).await?;
    report.events += batch.len() as u64;
    report.applied += o.applied as u64;
    report.skipped_poison += o.dead_lettered as u64;
    bar.inc(batch.len() as u64);
    batch.clear();
    Ok(())
}

/// Swaps the rebuilt schema in if it is not behind the live projector; otherwise returns the live
/// positions to catch up to. The live projector is paused by the table lock for the swap only.
async fn try_swap(
    pool: &PgPool,
    rebuild: &dyn Projection,
    live: &str,
    positions: &HashMap<(String, i32), i64>,
) -> Result<Option<HashMap<(String, i32), i64>>, ReplayError> {
    let scratch = rebuild.schema();
    let mut tx = pool.begin().await?;
    let live_exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
    )
    .bind(live)
    .fetch_one(&mut *tx)
    .await?;
    if live_exists {
        sqlx::raw_sql(&format!(
            "LOCK TABLE {live}.projector_offsets IN ACCESS EXCLUSIVE MODE"
        ))
        .execute(&mut *tx)
        .await?;
        let rows: Vec<(String, i32, i64)> =
            sqlx::query_as(&format!("SELECT topic, partition, next_offset FROM {live}.projector_offsets WHERE projector = $1"))
                .bind(rebuild.name())
                .fetch_all(&mut *tx)
                .await?;
        let ahead: HashMap<(String, i32), i64> = rows
            .into_iter()
            .filter(|(t, p, next)| positions.get(&(t.clone(), *p)).copied().unwrap_or(0) < *next)
            .map(|(t, p, next)| ((t, p), next))
            .collect();
        if !ahead.is_empty() {
            tx.rollback().await?;
            return Ok(Some(ahead));
        }
        let retired = format!("{live}_retired");
        sqlx::raw_sql(&format!(
            "DROP SCHEMA IF EXISTS {retired} CASCADE; ALTER SCHEMA {live} RENAME TO {retired}; ALTER SCHEMA {scratch} RENAME TO {live};"
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {retired} CASCADE"))
            .execute(pool)
            .await?;
    } else {
        sqlx::raw_sql(&format!("ALTER SCHEMA {scratch} RENAME TO {live}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(None)
}
