//! Sync command service: one user's devices' CRDT operations through the `UserSync` aggregate
//! (cqrs-es, postgres-es with snapshots), and the catch-up reads a reconnecting device needs.
//!
//! The event store is the source of truth for what a device missed: a committed event is in it
//! before anyone is told, so "events after cursor X" can never skip one (ADR 0010).

use std::collections::HashMap;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventStore};
use mediagw_domain::sync::{CrdtOperation, Hlc, SyncCommand, SyncError, SyncEvent, UserSync};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::CommandError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoredSyncEvent(pub SyncEvent);

impl DomainEvent for StoredSyncEvent {
    fn event_type(&self) -> String {
        self.0.event_type().to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncAggregate(pub UserSync);

impl Aggregate for SyncAggregate {
    const TYPE: &'static str = UserSync::TYPE;
    type Command = SyncCommand;
    type Event = StoredSyncEvent;
    type Error = SyncError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SyncCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SyncError> {
        for event in self.0.handle(command)? {
            sink.write(StoredSyncEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: StoredSyncEvent) {
        self.0.apply(event.0);
    }
}

/// An operation in a user's log: its position (`sequence`, gap-free per user) and the server
/// stamp a device resumes after (`cursor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub sequence: i64,
    pub operation: CrdtOperation,
    pub cursor: Hlc,
}

/// What became of a batch: operations newly recorded, and ids that were already known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub recorded: Vec<Recorded>,
    pub duplicates: Vec<Uuid>,
}

/// A slice of a user's log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catchup {
    pub operations: Vec<Recorded>,
    /// Position of the newest operation in the log when read.
    pub head: i64,
}

/// Where a device resumes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Since {
    /// Everything (a new device).
    Start,
    /// After this log position.
    Sequence(i64),
    /// After this server stamp (what devices remember).
    Cursor(Hlc),
}

const SNAPSHOT_EVERY: usize = 100;
const MAX_CONFLICT_RETRIES: u32 = 30;

pub struct SyncService {
    store: PersistedEventStore<PostgresEventRepository, SyncAggregate>,
    pool: PgPool,
    max_drift_ms: u64,
}

impl SyncService {
    pub fn new(pool: PgPool, max_drift: Duration) -> Self {
        let store = PersistedEventStore::new_snapshot_store(
            PostgresEventRepository::new(pool.clone()),
            SNAPSHOT_EVERY,
        );
        Self {
            store,
            pool,
            max_drift_ms: max_drift.as_millis() as u64,
        }
    }

    /// Records a device's operations (all or none); duplicates are reported, not re-recorded.
    pub async fn apply(
        &self,
        user_id: Uuid,
        device_id: Uuid,
        operations: Vec<CrdtOperation>,
    ) -> Result<Outcome, CommandError> {
        let ids: Vec<Uuid> = operations.iter().map(|o| o.operation_id).collect();
        let recorded = self
            .execute(user_id, || SyncCommand::Apply {
                user_id,
                device_id,
                operations: operations.clone(),
                now_ms: now_ms(),
                max_drift_ms: self.max_drift_ms,
            })
            .await?;
        let fresh: std::collections::HashSet<Uuid> =
            recorded.iter().map(|r| r.operation.operation_id).collect();
        let mut seen = std::collections::HashSet::new();
        let duplicates: Vec<Uuid> = ids
            .into_iter()
            .filter(|id| !fresh.contains(id) && seen.insert(*id))
            .collect();
        Ok(Outcome {
            recorded,
            duplicates,
        })
    }

    /// Records that a device came online or went offline through connection `session` (nothing
    /// when that changes nothing, or when a newer connection of the device has taken over).
    pub async fn presence(
        &self,
        user_id: Uuid,
        device_id: Uuid,
        session: Uuid,
        online: bool,
        payload: serde_json::Value,
    ) -> Result<Vec<Recorded>, CommandError> {
        let operation_id = Uuid::now_v7();
        self.execute(user_id, || SyncCommand::SetPresence {
            user_id,
            device_id,
            session,
            online,
            operation_id,
            now_ms: now_ms(),
            payload: payload.clone(),
        })
        .await
    }

    /// The user's log after `since`, in order (what a reconnecting device missed), and the
    /// position of the newest operation read (everything up to it is in the answer or before
    /// `since`).
    pub async fn since(&self, user_id: Uuid, since: Since) -> Result<Catchup, CommandError> {
        let after = match since {
            Since::Sequence(s) => s,
            _ => 0,
        };
        let rows = sqlx::query(
            "SELECT sequence, payload::text FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence",
        )
        .bind(UserSync::TYPE)
        .bind(user_id.to_string())
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Catchup {
            operations: Vec::with_capacity(rows.len()),
            head: after,
        };
        for row in rows {
            out.head = row.get(0);
            let payload: String = row.get(1);
            let SyncEvent::OperationRecorded {
                operation, cursor, ..
            } = serde_json::from_str(&payload)
                .map_err(|e| CommandError::Store(format!("sync event: {e}")))?;
            if let Since::Cursor(c) = since {
                if cursor <= c {
                    continue;
                }
            }
            out.operations.push(Recorded {
                sequence: out.head,
                operation,
                cursor,
            });
        }
        Ok(out)
    }

    async fn execute(
        &self,
        user_id: Uuid,
        command: impl Fn() -> SyncCommand,
    ) -> Result<Vec<Recorded>, CommandError> {
        let id = user_id.to_string();
        for attempt in 0..MAX_CONFLICT_RETRIES {
            let ctx = self.store.load_aggregate(&id).await.map_err(store_err)?;
            let events: Vec<StoredSyncEvent> = ctx
                .aggregate
                .0
                .handle(command())
                .map_err(sync_err)?
                .into_iter()
                .map(StoredSyncEvent)
                .collect();
            if events.is_empty() {
                return Ok(vec![]);
            }
            match self.store.commit(events, ctx, HashMap::new()).await {
                Ok(envelopes) => {
                    metrics::counter!("sync_operations_recorded_total")
                        .increment(envelopes.len() as u64);
                    return Ok(envelopes
                        .into_iter()
                        .map(|e| {
                            let SyncEvent::OperationRecorded {
                                operation, cursor, ..
                            } = e.payload.0;
                            Recorded {
                                sequence: e.sequence as i64,
                                operation,
                                cursor,
                            }
                        })
                        .collect());
                }
                Err(AggregateError::AggregateConflict) => {
                    // Two devices of one user wrote at once: reload and re-decide.
                    metrics::counter!("sync_conflicts_retried_total").increment(1);
                    let jitter = (user_id.as_u128() as u64 ^ u64::from(attempt)) % 3;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) + jitter)).await;
                }
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(CommandError::Contention)
    }
}

fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

fn sync_err(e: SyncError) -> CommandError {
    match e {
        SyncError::Invalid(v) => CommandError::Validation(v),
        other => CommandError::Store(other.to_string()),
    }
}

fn store_err(e: AggregateError<SyncError>) -> CommandError {
    match e {
        AggregateError::UserError(e) => sync_err(e),
        AggregateError::AggregateConflict => CommandError::Contention,
        other => CommandError::Store(other.to_string()),
    }
}
