//! Projector framework shared by every read model.
//!
//! Exactly-once in effect: each batch is applied and its next offsets are written in one PostgreSQL
//! transaction; messages below the stored offset are skipped, so Kafka redelivery after a crash does
//! nothing. Kafka's own committed offset is only a resume hint, stored after the database commit
//! (`enable.auto.offset.store=false`), so it never runs ahead of the read model.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mediagw_schemas::bus::{EventBus, OutRecord};
use mediagw_schemas::{topics, CodecError, Decoded, EventCodec, EventRecord};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event can never be applied (bad data): dead-letter it and move on.
    #[error("{0}")]
    Poison(String),
    /// Infrastructure trouble: retry the whole batch later.
    #[error("transient: {0}")]
    Transient(String),
}

impl From<sqlx::Error> for ApplyError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // SQLSTATE classes 21 (cardinality), 22 (data exception) and 23 (integrity violation)
            // are about the data: retrying the same batch cannot help, the careful path can.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    c.starts_with("21") || c.starts_with("22") || c.starts_with("23")
                }) =>
            {
                ApplyError::Poison(db.to_string())
            }
            _ => ApplyError::Transient(e.to_string()),
        }
    }
}

/// A read model fed by some topics.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable name: consumer group suffix and offsets key.
    fn name(&self) -> &'static str;
    /// Unprefixed topics it consumes.
    fn topics(&self) -> &'static [&'static str];
    /// PostgreSQL schema holding its tables and its `projector_offsets` table.
    fn schema(&self) -> &str;
    /// Creates its tables (idempotent).
    async fn migrate(&self, pool: &PgPool) -> Result<(), sqlx::Error>;
    /// Applies one event inside the batch transaction.
    async fn apply(&self, tx: &mut PgConnection, record: EventRecord) -> Result<(), ApplyError>;

    /// Called by a replay before it tries to swap the rebuilt schema in: let go of outside
    /// resources (an index generation) the live process will take over.
    async fn settle(&self, _pool: &PgPool) -> Result<(), ApplyError> {
        Ok(())
    }

    /// Applies a batch (in log order per partition) inside the batch transaction. Projections
    /// override this with set-based statements; the result must equal applying one by one.
    async fn apply_many(
        &self,
        tx: &mut PgConnection,
        records: Vec<EventRecord>,
    ) -> Result<(), ApplyError> {
        for r in records {
            self.apply(tx, r).await?;
        }
        Ok(())
    }
}

/// DDL for the offsets table every projection schema carries.
pub fn offsets_ddl(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {schema}.projector_offsets (
            projector   text    NOT NULL,
            topic       text    NOT NULL,
            partition   integer NOT NULL,
            next_offset bigint  NOT NULL,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (projector, topic, partition))"
    )
}

/// Creates `schema` and runs DDL in it under a cluster-wide lock so processes starting together
/// do not race.
pub async fn run_ddl(pool: &PgPool, schema: &str, ddl: String) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(
        pool,
        format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str(),
    )
    .await?;
    crate::ddl::apply_once(pool, 7304, schema, &ddl).await
}

#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    pub group_prefix: String,
    pub batch_size: usize,
    /// How long to wait for more messages before applying a partial batch.
    pub batch_wait: Duration,
    pub assignment: Assignment,
}

/// How a projector instance gets its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// This instance owns partitions `p` with `p % count == index` and resumes each from the
    /// position stored in the read model. Needs no broker-side group coordination.
    Static { index: i32, count: i32 },
    /// Kafka consumer-group protocol with static membership (`group.instance.id`).
    Group { instance_id: String },
}

/// What happens to poison messages.
#[derive(Clone)]
pub enum DeadLetters {
    /// Publish to `<topic>.dlq` (live projectors).
    Publish(Arc<dyn EventBus>),
    /// Count and skip (replays: the live projector already dead-lettered them).
    Skip,
}

pub struct BatchOutcome {
    pub applied: usize,
    pub skipped: usize,
    pub dead_lettered: usize,
    /// Highest `next_offset` per (topic, partition) after the batch.
    pub positions: HashMap<(String, i32), i64>,
}

/// Applies a batch of messages and stores offsets in one transaction.
///
/// The fast path applies the batch without savepoints; only if some event turns out to be poison is
/// the transaction rolled back and the batch redone with a savepoint around each event.
pub async fn apply_batch(
    pool: &PgPool,
    projection: &dyn Projection,
    codec: &EventCodec,
    messages: &[OwnedMessage],
    dead_letters: &DeadLetters,
) -> Result<BatchOutcome, ApplyError> {
    match apply_batch_once(pool, projection, codec, messages, dead_letters, false).await {
        Err(ApplyError::Poison(_)) => {
            apply_batch_once(pool, projection, codec, messages, dead_letters, true).await
        }
        other => other,
    }
}

async fn apply_batch_once(
    pool: &PgPool,
    projection: &dyn Projection,
    codec: &EventCodec,
    messages: &[OwnedMessage],
    dead_letters: &DeadLetters,
    careful: bool,
) -> Result<BatchOutcome, ApplyError> {
    let schema = projection.schema().to_string();
    let mut tx: Transaction<'_, Postgres> = pool.begin().await?;
    let mut positions: HashMap<(String, i32), i64> = HashMap::new();
    for m in messages {
        let key = (m.topic().to_string(), m.partition());
        if positions.contains_key(&key) {
            continue;
        }
        let stored: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT next_offset FROM {schema}.projector_offsets WHERE projector = $1 AND topic = $2 AND partition = $3 FOR UPDATE"
        ))
        .bind(projection.name())
        .bind(&key.0)
        .bind(key.1)
        .fetch_optional(&mut *tx)
        .await?;
        positions.insert(key, stored.unwrap_or(0));
    }
    let mut out = BatchOutcome {
        applied: 0,
        skipped: 0,
        dead_lettered: 0,
        positions: HashMap::new(),
    };
    let mut dlq = Vec::new();
    let mut fast = Vec::new();
    // Decode first, so the keys of every sealed record (ADR 0024) are fetched in one query, inside
    // this transaction and locked against an erasure until it commits.
    let mut decoded = Vec::with_capacity(messages.len());
    for m in messages {
        let fresh = m.offset() >= positions[&(m.topic().to_string(), m.partition())];
        decoded.push(if fresh {
            Some(codec.decode_any(m.payload().unwrap_or_default()).await)
        } else {
            None
        });
    }
    let mut subjects: Vec<uuid::Uuid> = decoded
        .iter()
        .filter_map(|d| match d {
            Some(Ok(Decoded::Sealed(s))) => s.subject_id(),
            _ => None,
        })
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    let keys = mediagw_eventstore::privacy::keys_by_subject(&mut tx, &subjects)
        .await
        .map_err(|e| ApplyError::Transient(e.to_string()))?;
    for (m, decoded) in messages.iter().zip(decoded) {
        let key = (m.topic().to_string(), m.partition());
        let Some(decoded) = decoded else {
            out.skipped += 1;
            continue;
        };
        let decoded = match decoded {
            Ok(Decoded::Record(r)) => Ok(r),
            Ok(Decoded::Sealed(sealed)) => match sealed.subject_id().map(|s| keys.get(&s)) {
                Some(Some(k)) => codec.open(&sealed, k).await,
                Some(None) => {
                    // The user was erased: what the record said is gone, by design.
                    metrics::counter!("projector_erased_skipped_total", "projector" => projection.name())
                        .increment(1);
                    out.skipped += 1;
                    positions.insert(key, m.offset() + 1);
                    continue;
                }
                None => Err(CodecError::Decode(format!(
                    "sealed record's subject `{}` is not a UUID",
                    sealed.subject
                ))),
            },
            Err(e) => Err(e),
        };
        let result = match decoded {
            Ok(record) => {
                let lag_ms = chrono::Utc::now().timestamp_millis() - record.occurred_at_ms();
                metrics::histogram!("projector_lag_seconds", "projector" => projection.name())
                    .record(lag_ms.max(0) as f64 / 1000.0);
                if !careful {
                    // Fast path: collected and applied as one set below; a poison event aborts the
                    // attempt and the caller redoes the batch carefully.
                    fast.push(record);
                    positions.insert(key, m.offset() + 1);
                    continue;
                }
                sqlx::query("SAVEPOINT apply_one").execute(&mut *tx).await?;
                match projection.apply(&mut tx, record).await {
                    Ok(()) => {
                        sqlx::query("RELEASE SAVEPOINT apply_one")
                            .execute(&mut *tx)
                            .await?;
                        Ok(())
                    }
                    Err(e) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT apply_one")
                            .execute(&mut *tx)
                            .await?;
                        Err(e)
                    }
                }
            }
            Err(e) if e.is_poison() => Err(ApplyError::Poison(e.to_string())),
            Err(e) => Err(ApplyError::Transient(e.to_string())),
        };
        match result {
            Ok(()) => out.applied += 1,
            Err(ApplyError::Poison(reason)) => {
                tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), %reason, "dead-lettering message");
                metrics::counter!("projector_dead_lettered_total", "projector" => projection.name(), "topic" => m.topic().to_string())
                    .increment(1);
                out.dead_lettered += 1;
                dlq.push(dead_letter(m, projection.name(), &reason));
            }
            Err(e) => return Err(e),
        }
        positions.insert(key, m.offset() + 1);
    }
    if !fast.is_empty() {
        out.applied += fast.len();
        projection.apply_many(&mut tx, fast).await?;
    }
    for ((topic, partition), next) in &positions {
        sqlx::query(&format!(
            "INSERT INTO {schema}.projector_offsets (projector, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
             ON CONFLICT (projector, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()"
        ))
        .bind(projection.name())
        .bind(topic)
        .bind(partition)
        .bind(next)
        .execute(&mut *tx)
        .await?;
    }
    // Dead letters are acknowledged before the offsets commit: a crash in between re-sends them
    // (at-least-once in the DLQ) but never loses one.
    if let (DeadLetters::Publish(bus), false) = (dead_letters, dlq.is_empty()) {
        bus.publish(dlq)
            .await
            .map_err(|e| ApplyError::Transient(e.to_string()))?;
    }
    tx.commit().await?;
    out.positions = positions;
    Ok(out)
}

fn dead_letter(m: &OwnedMessage, projector: &str, reason: &str) -> OutRecord {
    let mut headers: Vec<(String, String)> = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| {
                    (
                        h.key.to_string(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    headers.extend([
        ("dlq.error".to_string(), reason.to_string()),
        ("dlq.projector".to_string(), projector.to_string()),
        ("dlq.original.topic".to_string(), m.topic().to_string()),
        (
            "dlq.original.partition".to_string(),
            m.partition().to_string(),
        ),
        ("dlq.original.offset".to_string(), m.offset().to_string()),
    ]);
    OutRecord {
        topic: topics::dlq(m.topic()),
        key: m
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default(),
        payload: m.payload().unwrap_or_default().to_vec(),
        headers,
    }
}

/// One `project` span per message of a sampled trace (the relay's `traceparent` header), covering
/// the batch's transaction; untraced messages cost nothing.
fn apply_spans(projector: &'static str, batch: &[OwnedMessage]) -> Vec<tracing::Span> {
    if !mediagw_trace::enabled() {
        return Vec::new();
    }
    let header = |m: &OwnedMessage, name: &str| -> Option<String> {
        let h = m.headers()?.iter().find(|h| h.key == name)?;
        String::from_utf8(h.value?.to_vec()).ok()
    };
    batch
        .iter()
        .filter_map(|m| {
            let parent = header(m, mediagw_trace::TRACEPARENT)?;
            if !mediagw_trace::sampled(&parent) {
                return None;
            }
            let state = header(m, mediagw_trace::TRACESTATE);
            let span = tracing::info_span!(
                "project",
                otel.kind = "consumer",
                projector,
                messaging.system = "kafka",
                messaging.source.name = m.topic(),
                partition = m.partition(),
                offset = m.offset(),
            );
            mediagw_trace::continue_from(&span, |k| match k {
                mediagw_trace::TRACEPARENT => Some(parent.as_str()),
                mediagw_trace::TRACESTATE => state.as_deref(),
                _ => None,
            });
            Some(span)
        })
        .collect()
}

/// Runs one projection as a member of its consumer group.
pub struct ProjectorRunner {
    pool: PgPool,
    projection: Arc<dyn Projection>,
    codec: Arc<EventCodec>,
    dead_letters: DeadLetters,
    consumer: StreamConsumer,
    config: ProjectorConfig,
}

impl ProjectorRunner {
    pub fn new(
        pool: PgPool,
        projection: Arc<dyn Projection>,
        codec: Arc<EventCodec>,
        bus: Arc<dyn EventBus>,
        kafka: &ClientConfig,
        config: ProjectorConfig,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let group = format!("{}{}", config.group_prefix, projection.name());
        let mut kafka = kafka.clone();
        if let Assignment::Group { instance_id } = &config.assignment {
            kafka.set("group.instance.id", format!("{group}-{instance_id}"));
        }
        let consumer: StreamConsumer = kafka
            .set("group.id", &group)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .create()?;
        Ok(Self {
            pool,
            projection,
            codec,
            dead_letters: DeadLetters::Publish(bus),
            consumer,
            config,
        })
    }

    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ApplyError> {
        let topics: Vec<String> = self
            .projection
            .topics()
            .iter()
            .map(|t| self.codec.topic(t))
            .collect();
        let name = self.projection.name();
        match &self.config.assignment {
            Assignment::Group { .. } => {
                let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
                self.consumer
                    .subscribe(&refs)
                    .map_err(|e| ApplyError::Transient(e.to_string()))?;
            }
            Assignment::Static { index, count } => loop {
                match self.assign_static(&topics, *index, *count).await {
                    Ok(n) => {
                        tracing::info!(
                            projector = name,
                            partitions = n,
                            "resuming from positions stored in the read model"
                        );
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(projector = name, error = %e, "cannot assign partitions yet; retrying");
                        tokio::select! {
                            _ = shutdown.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            },
        }
        tracing::info!(projector = name, ?topics, "projector started");
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => break,
                m = self.consumer.recv() => m,
            };
            let first = match first {
                Ok(m) => m.detach(),
                Err(e) => {
                    tracing::warn!(projector = name, error = %e, "consumer error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let mut batch = vec![first];
            let deadline = Instant::now() + self.config.batch_wait;
            while batch.len() < self.config.batch_size {
                match tokio::time::timeout_at(deadline.into(), self.consumer.recv()).await {
                    Ok(Ok(m)) => batch.push(m.detach()),
                    Ok(Err(e)) => {
                        tracing::warn!(projector = name, error = %e, "consumer error");
                        break;
                    }
                    Err(_) => break,
                }
            }
            let spans = apply_spans(name, &batch);
            // A batch in hand is always finished (or retried) before shutdown is honoured.
            let mut backoff = Duration::from_millis(100);
            let outcome = loop {
                match apply_batch(
                    &self.pool,
                    self.projection.as_ref(),
                    &self.codec,
                    &batch,
                    &self.dead_letters,
                )
                .await
                {
                    Ok(o) => break Some(o),
                    Err(e) => {
                        tracing::warn!(projector = name, error = %e, "batch failed; retrying");
                        metrics::counter!("projector_batch_retries_total", "projector" => name)
                            .increment(1);
                        if shutdown.is_cancelled() && backoff > Duration::from_secs(2) {
                            break None;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            };
            drop(spans);
            let Some(outcome) = outcome else { break };
            self.record(&batch, &outcome);
            let mut tpl = TopicPartitionList::new();
            for ((topic, partition), next) in &outcome.positions {
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
            }
            if let Err(e) = self.consumer.store_offsets(&tpl) {
                tracing::debug!(projector = name, error = %e, "could not store offsets (partition revoked?)");
            }
        }
        if let Err(e) = self.consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(projector = name, error = %e, "final offset commit skipped");
        }
        tracing::info!(projector = name, "projector drained and stopped");
        Ok(())
    }

    /// Assigns this instance's share of partitions at the positions stored in the read model.
    async fn assign_static(
        &self,
        topics: &[String],
        index: i32,
        count: i32,
    ) -> Result<usize, ApplyError> {
        let schema = self.projection.schema().to_string();
        let mut tpl = TopicPartitionList::new();
        for topic in topics {
            let md = self
                .consumer
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .map_err(|e| ApplyError::Transient(e.to_string()))?;
            let partitions: Vec<i32> = md
                .topics()
                .iter()
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if partitions.is_empty() {
                return Err(ApplyError::Transient(format!(
                    "topic {topic} has no partitions yet"
                )));
            }
            for p in partitions.into_iter().filter(|p| p % count.max(1) == index) {
                let stored: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT next_offset FROM {schema}.projector_offsets WHERE projector = $1 AND topic = $2 AND partition = $3"
                ))
                .bind(self.projection.name())
                .bind(topic)
                .bind(p)
                .fetch_optional(&self.pool)
                .await?;
                let (low, high) = self
                    .consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(5))
                    .map_err(|e| ApplyError::Transient(e.to_string()))?;
                let offset = match stored {
                    // A stored position beyond the end of the log means the topic was recreated or
                    // truncated: start over from its beginning. The projection's per-aggregate
                    // version guards drop whatever it already holds.
                    Some(next) if next > high => {
                        tracing::warn!(topic, partition = p, stored = next, high, "log is behind the stored position (topic recreated?); re-reading it from the start");
                        sqlx::query(&format!(
                            "UPDATE {schema}.projector_offsets SET next_offset = $4, updated_at = now()
                             WHERE projector = $1 AND topic = $2 AND partition = $3"
                        ))
                        .bind(self.projection.name())
                        .bind(topic)
                        .bind(p)
                        .bind(low)
                        .execute(&self.pool)
                        .await?;
                        Offset::Offset(low)
                    }
                    Some(next) => Offset::Offset(next),
                    None => Offset::Beginning,
                };
                tpl.add_partition_offset(topic, p, offset)
                    .map_err(|e| ApplyError::Transient(e.to_string()))?;
            }
        }
        self.consumer
            .assign(&tpl)
            .map_err(|e| ApplyError::Transient(e.to_string()))?;
        Ok(tpl.count())
    }

    fn record(&self, batch: &[OwnedMessage], outcome: &BatchOutcome) {
        let name = self.projection.name();
        metrics::counter!("projector_events_applied_total", "projector" => name)
            .increment(outcome.applied as u64);
        metrics::counter!("projector_events_skipped_total", "projector" => name)
            .increment(outcome.skipped as u64);
        metrics::counter!("projector_events_dead_lettered_total", "projector" => name)
            .increment(outcome.dead_lettered as u64);
        metrics::gauge!("projector_last_batch_size", "projector" => name).set(batch.len() as f64);
    }
}
