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

/// One end of a replay range, per partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The oldest retained record.
    Earliest,
    /// The high watermark when the replay starts (the end of the log).
    Latest,
    /// Epoch milliseconds: the first record published at or after this time.
    Timestamp(i64),
    /// A record offset (clamped to what the partition holds).
    Offset(i64),
}

/// What a replay reads: `[from, to)` of each selected partition of the projection's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySpec {
    pub from: Position,
    pub to: Position,
    /// `None`: every partition.
    pub partitions: Option<Vec<i32>>,
}

impl ReplaySpec {
    pub fn full() -> Self {
        Self {
            from: Position::Earliest,
            to: Position::Latest,
            partitions: None,
        }
    }

    /// A full rebuild reads every partition from its start to its end: only that may replace the
    /// live projection without the operator saying so.
    pub fn is_full(&self) -> bool {
        self.from == Position::Earliest && self.to == Position::Latest && self.partitions.is_none()
    }
}

/// The offsets a replay will read from one partition: `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionPlan {
    pub topic: String,
    pub partition: i32,
    pub from: i64,
    pub to: i64,
}

impl PartitionPlan {
    pub fn events(&self) -> i64 {
        (self.to - self.from).max(0)
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Plan {
    pub partitions: Vec<PartitionPlan>,
}

impl Plan {
    pub fn events(&self) -> i64 {
        self.partitions.iter().map(PartitionPlan::events).sum()
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ReplayReport {
    /// Records read from the broker.
    pub events: u64,
    pub applied: u64,
    /// Records the rebuilt projection already held (its stored offsets), not applied twice.
    pub skipped: u64,
    /// Undecodable or unappliable records, left out of the rebuild (the live projector
    /// dead-lettered them when they first arrived).
    pub skipped_poison: u64,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    #[serde(skip)]
    progress_at: ProgressAt,
}

/// When the last progress line was written.
#[derive(Debug, Clone, Copy)]
struct ProgressAt(Instant);

impl Default for ProgressAt {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl ProgressAt {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
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
    #[error("{0}")]
    Spec(String),
}

fn replay_consumer(kafka: &ClientConfig, name: &str) -> Result<StreamConsumer, ReplayError> {
    Ok(kafka
        .clone()
        .set(
            "group.id",
            format!("replay-{name}-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?)
}

/// Resolves `spec` against the broker: per selected partition of `topics`, the offsets to read.
pub async fn plan(
    kafka: &ClientConfig,
    topics: &[String],
    spec: &ReplaySpec,
) -> Result<Plan, ReplayError> {
    let consumer = replay_consumer(kafka, "plan")?;
    let timeout = Duration::from_secs(10);
    let mut bounds: Vec<(String, i32, i64, i64)> = Vec::new();
    for topic in topics {
        let md = consumer.fetch_metadata(Some(topic), timeout)?;
        for t in md.topics() {
            for p in t.partitions() {
                if spec
                    .partitions
                    .as_ref()
                    .is_some_and(|only| !only.contains(&p.id()))
                {
                    continue;
                }
                let (low, high) = consumer.fetch_watermarks(topic, p.id(), timeout)?;
                bounds.push((topic.clone(), p.id(), low, high));
            }
        }
    }
    if let Some(only) = &spec.partitions {
        let missing: Vec<i32> = only
            .iter()
            .copied()
            .filter(|p| !bounds.iter().any(|b| b.1 == *p))
            .collect();
        if !missing.is_empty() {
            return Err(ReplayError::Spec(format!(
                "--partitions: no partition {missing:?} in {topics:?}"
            )));
        }
    }
    // Timestamps become offsets through the broker's time index, one lookup per end.
    let resolve = |at: Position| -> Result<Vec<i64>, ReplayError> {
        let mut tpl = TopicPartitionList::new();
        for (topic, p, _, _) in &bounds {
            if let Position::Timestamp(ms) = at {
                tpl.add_partition_offset(topic, *p, Offset::Offset(ms))?;
            }
        }
        let by_time = if tpl.count() > 0 {
            consumer.offsets_for_times(tpl, timeout)?
        } else {
            tpl
        };
        Ok(bounds
            .iter()
            .map(|(topic, p, low, high)| {
                let o = match at {
                    Position::Earliest => *low,
                    Position::Latest => *high,
                    Position::Offset(o) => o,
                    Position::Timestamp(_) => {
                        match by_time.find_partition(topic, *p).map(|e| e.offset()) {
                            Some(Offset::Offset(o)) => o,
                            // No record at or after that time.
                            _ => *high,
                        }
                    }
                };
                o.clamp(*low, *high)
            })
            .collect())
    };
    let from = resolve(spec.from)?;
    let to = resolve(spec.to)?;
    Ok(Plan {
        partitions: bounds
            .iter()
            .zip(from.into_iter().zip(to))
            .map(|((topic, partition, _, _), (from, to))| PartitionPlan {
                topic: topic.clone(),
                partition: *partition,
                from,
                to: to.max(from),
            })
            .collect(),
    })
}

/// Where a live projection stands: its stored next offset per partition and the broker's end.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Standing {
    pub topic: String,
    pub partition: i32,
    /// The next offset the projection will apply (`None`: it has applied nothing there yet).
    pub position: Option<i64>,
    pub end: i64,
    pub lag: i64,
}

/// The live projection's positions (from its own offsets table) against the log's end.
pub async fn standing(
    pool: &PgPool,
    kafka: &ClientConfig,
    topics: &[String],
    projector: &str,
    schema: &str,
) -> Result<Vec<Standing>, ReplayError> {
    let stored: Vec<(String, i32, i64)> = match sqlx::query_as(&format!(
        "SELECT topic, partition, next_offset FROM {schema}.projector_offsets WHERE projector = $1"
    ))
    .bind(projector)
    .fetch_all(pool)
    .await
    {
        Ok(rows) => rows,
        // Never run here: no offsets table yet.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let plan = plan(kafka, topics, &ReplaySpec::full()).await?;
    Ok(plan
        .partitions
        .into_iter()
        .map(|p| {
            let position = stored
                .iter()
                .find(|(t, n, _)| *t == p.topic && *n == p.partition)
                .map(|r| r.2);
            Standing {
                lag: (p.to - position.unwrap_or(p.from)).max(0),
                topic: p.topic,
                partition: p.partition,
                position,
                end: p.to,
            }
        })
        .collect())
}

/// Rebuilds `rebuild` (a projection bound to a scratch schema) from the records `plan` names and,
/// when `swap`, swaps it in for `live_schema`; otherwise the rebuilt schema stays beside the live
/// one for inspection.
#[allow(clippy::too_many_arguments)]
pub async fn replay(
    pool: &PgPool,
    kafka: &ClientConfig,
    codec: &EventCodec,
    rebuild: &dyn Projection,
    live_schema: &str,
    plan: &Plan,
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

    let consumer = replay_consumer(kafka, rebuild.name())?;
    let mut start = TopicPartitionList::new();
    let mut end: HashMap<(String, i32), i64> = HashMap::new();
    for p in &plan.partitions {
        start.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.from))?;
        end.insert((p.topic.clone(), p.partition), p.to);
    }
    let total = plan.events();
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
    let mut positions: HashMap<(String, i32), i64> = plan
        .partitions
        .iter()
        .map(|p| ((p.topic.clone(), p.partition), p.from))
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
        // Past this partition's end (`--to`, or the live projector's position): not part of
        // this replay, though the consumer fetched it while other partitions catch up.
        if end.get(&key).is_none_or(|high| m.offset() >= *high) {
            continue;
        }
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
    report.skipped += o.skipped as u64;
    report.skipped_poison += o.dead_lettered as u64;
    bar.inc(batch.len() as u64);
    if bar.is_hidden() && report.progress_at.elapsed() >= Duration::from_secs(5) {
        // Not on a terminal: a JSON line every 5 s instead of the bar.
        report.progress_at = ProgressAt(Instant::now());
        eprintln!(
            "{}",
            serde_json::json!({"progress": bar.position(), "total": bar.length(), "elapsed_s": bar.elapsed().as_secs_f64()})
        );
    }
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
