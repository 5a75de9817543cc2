//! Load → decide → commit, and on an optimistic-concurrency conflict (another writer committed to
//! the same aggregate in between) reload and decide again.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, EventStore};
use mediagw_domain::event::Aggregate;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use tracing::Instrument;

use crate::binding::{Bound, Stored, Upcasters};

/// How often and how patiently a conflicting command is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Back-off grows by this much per attempt…
    pub step: Duration,
    /// …plus a random spread below this, so two writers of one aggregate drift apart.
    pub jitter_ms: u64,
    /// Counter incremented for every conflict lost (and retried, or given up on).
    pub conflicts_metric: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// Every attempt lost the race to another writer.
    #[error("the aggregate changed concurrently too many times; retry")]
    Contention,
    #[error("event store: {0}")]
    Store(String),
}

/// What a command committed.
#[derive(Debug)]
pub struct Committed<E> {
    /// The aggregate had events before this command.
    pub existed: bool,
    /// The new events with their sequence numbers (empty: the command changed nothing).
    pub events: Vec<(i64, E)>,
}

/// The event store of one aggregate type.
pub struct Repository<A: Aggregate> {
    store: PersistedEventStore<PostgresEventRepository, Bound<A>>,
    retry: RetryPolicy,
    /// Snapshot interval (`None`: no snapshots) and the pool to complete snapshots with.
    snapshots: Option<(usize, PgPool)>,
}

impl<A: Aggregate> Repository<A>
where
    A::Command: Send,
{
    /// Every load replays the aggregate's whole stream.
    pub fn new(pool: PgPool, retry: RetryPolicy) -> Self {
        let store = PersistedEventStore::new_event_store(PostgresEventRepository::new(pool))
            .with_upcasters(vec![Box::new(Upcasters::<A::Event>::default())]);
        Self {
            store,
            retry,
            snapshots: None,
        }
    }

    /// Loads start from a snapshot taken every `every` events.
    pub fn with_snapshots(pool: PgPool, every: usize, retry: RetryPolicy) -> Self {
        let store = PersistedEventStore::new_snapshot_store(
            PostgresEventRepository::new(pool.clone()),
            every,
        )
        .with_upcasters(vec![Box::new(Upcasters::<A::Event>::default())]);
        Self {
            store,
            retry,
            snapshots: Some((every.max(1), pool)),
        }
    }

    async fn drop_snapshot(&self, id: &str) {
        if let Some((_, pool)) = &self.snapshots {
            let _ = sqlx::query(
                "DELETE FROM snapshots WHERE aggregate_type = $1 AND aggregate_id = $2",
            )
            .bind(A::TYPE)
            .bind(id)
            .execute(pool)
            .await;
        }
    }

    /// cqrs-es 0.5 snapshots a commit that crosses a snapshot boundary with the state *at* the
    /// boundary but stamps it with the commit's last sequence, so a load (snapshot + events after
    /// that sequence) silently loses the commit's events past the boundary (a 1,000-event feedback
    /// batch lost up to 99). Rewrites that snapshot with the state after the whole commit.
    async fn complete_snapshot(
        &self,
        id: &str,
        before: serde_json::Value,
        committed: &[A::Event],
        from_sequence: usize,
    ) -> Result<(), ExecuteError<A::Error>> {
        let Some((every, pool)) = &self.snapshots else {
            return Ok(());
        };
        let to_sequence = from_sequence + committed.len();
        if to_sequence / every == from_sequence / every || to_sequence.is_multiple_of(*every) {
            return Ok(());
        }
        let corrupt = |e: serde_json::Error| ExecuteError::Store(format!("snapshot: {e}"));
        let mut state: Bound<A> = serde_json::from_value(before).map_err(corrupt)?;
        for e in committed {
            state.0.apply(e.clone());
        }
        let payload = serde_json::to_value(&state).map_err(corrupt)?;
        sqlx::query(
            "UPDATE snapshots SET payload = $1
             WHERE aggregate_type = $2 AND aggregate_id = $3 AND last_sequence = $4",
        )
        .bind(payload)
        .bind(A::TYPE)
        .bind(id)
        .bind(to_sequence as i64)
        .execute(pool)
        .await
        .map_err(|e| ExecuteError::Store(format!("snapshot: {e}")))?;
        Ok(())
    }

    /// The aggregate as of its last committed event.
    pub async fn load(&self, id: &str) -> Result<A, ExecuteError<A::Error>> {
        let ctx = self.store.load_aggregate(id).await.map_err(store_err)?;
        Ok(ctx.aggregate.0)
    }

    /// Runs `command()` against the current aggregate and commits what it decides; on a conflict
    /// reloads and decides again (so `command` is called once per attempt).
    pub async fn execute(
        &self,
        id: &str,
        command: impl Fn() -> A::Command,
    ) -> Result<Committed<A::Event>, ExecuteError<A::Error>> {
        // Seeded per call, so two processes retrying the same aggregate sleep differently.
        let spread = RandomState::new().hash_one(id);
        for attempt in 0..self.retry.attempts {
            let ctx = self.store.load_aggregate(id).await.map_err(store_err)?;
            let existed = ctx.current_sequence > 0;
            let events: Vec<Stored<A::Event>> = ctx
                .aggregate
                .0
                .handle(command())
                .map_err(ExecuteError::Rejected)?
                .into_iter()
                .map(Stored)
                .collect();
            if events.is_empty() {
                return Ok(Committed {
                    existed,
                    events: vec![],
                });
            }
            // The state before the commit, for completing a snapshot the commit writes.
            let before = match &self.snapshots {
                Some(_) => Some(
                    serde_json::to_value(&ctx.aggregate)
                        .map_err(|e| ExecuteError::Store(format!("snapshot: {e}")))?,
                ),
                None => None,
            };
            let from_sequence = ctx.current_sequence;
            // The commit's trace context rides with its events to the relay (outbox metadata).
            let span = commit_span(id, events.len());
            let metadata: HashMap<String, String> = mediagw_trace::of(&span).into_iter().collect();
            match self
                .store
                .commit(events, ctx, metadata)
                .instrument(span)
                .await
            {
                Ok(envelopes) => {
                    let events: Vec<(i64, A::Event)> = envelopes
                        .into_iter()
                        .map(|e| (e.sequence as i64, e.payload.0))
                        .collect();
                    if let Some(before) = before {
                        let committed: Vec<A::Event> =
                            events.iter().map(|(_, e)| e.clone()).collect();
                        // The events are committed whatever happens here: a snapshot that cannot
                        // be completed is dropped (loads replay the stream) rather than trusted.
                        if let Err(e) = self
                            .complete_snapshot(id, before, &committed, from_sequence)
                            .await
                        {
                            tracing::error!(error = %e, aggregate_id = id, "snapshot not completed; dropping it");
                            self.drop_snapshot(id).await;
                        }
                    }
                    return Ok(Committed { existed, events });
                }
                Err(AggregateError::AggregateConflict) => {
                    metrics::counter!(self.retry.conflicts_metric).increment(1);
                    let jitter = (spread ^ u64::from(attempt)) % self.retry.jitter_ms.max(1);
                    tokio::time::sleep(self.retry.step * attempt + Duration::from_millis(jitter))
                        .await;
                }
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(ExecuteError::Contention)
    }
}

/// A span per commit while tracing is on (none otherwise: the hot path pays nothing).
fn commit_span(aggregate_id: &str, events: usize) -> tracing::Span {
    if !mediagw_trace::enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "event store commit",
        otel.kind = "client",
        db.system = "postgresql",
        aggregate_id,
        events
    )
}

fn store_err<E: std::error::Error>(e: AggregateError<E>) -> ExecuteError<E> {
    match e {
        AggregateError::UserError(e) => ExecuteError::Rejected(e),
        AggregateError::AggregateConflict => ExecuteError::Contention,
        other => ExecuteError::Store(other.to_string()),
    }
}
