//! Sync command service: one user's devices' CRDT operations through the `UserSync` aggregate
//! (snapshots every 100 events), and the catch-up reads a reconnecting device needs.
//!
//! The event store is the source of truth for what a device missed: a committed event is in it
//! before anyone is told, so "events after cursor X" can never skip one (ADR 0010).

use std::collections::HashSet;
use std::time::Duration;

use mediagw_domain::sync::{
    Catchup, CrdtOperation, Outcome, Recorded, Since, SyncCommand, SyncEvent, UserSync,
};
use mediagw_eventstore::{Repository, RetryPolicy};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::CommandError;

const SNAPSHOT_EVERY: usize = 100;

/// Two devices of one user writing at once retry quickly: a user's log is short-lived contention.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 30,
    step: Duration::from_millis(1),
    jitter_ms: 3,
    conflicts_metric: "sync_conflicts_retried_total",
};

pub struct SyncService {
    repo: Repository<UserSync>,
    pool: PgPool,
    max_drift_ms: u64,
}

impl SyncService {
    pub fn new(pool: PgPool, max_drift: Duration) -> Self {
        Self {
            repo: Repository::with_snapshots(pool.clone(), SNAPSHOT_EVERY, RETRY),
            pool,
            max_drift_ms: max_drift.as_millis() as u64,
        }
    }

    /// Checks a batch as [`apply`](Self::apply) would, without writing (an import validates every
    /// batch before it writes the first).
    pub fn validate(
        &self,
        device_id: Uuid,
        operations: &[CrdtOperation],
    ) -> Result<(), mediagw_domain::ValidationErrors> {
        mediagw_domain::sync::validate(device_id, operations, now_ms(), self.max_drift_ms)
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
        let fresh: HashSet<Uuid> = recorded.iter().map(|r| r.operation.operation_id).collect();
        let mut seen = HashSet::new();
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
        let mut conn = self.pool.acquire().await?;
        let log = mediagw_eventstore::read::<SyncEvent>(
            &mut conn,
            UserSync::TYPE,
            &[user_id.to_string()],
            after,
        )
        .await?;
        let mut out = Catchup {
            operations: Vec::with_capacity(log.len()),
            head: after,
        };
        for row in log {
            out.head = row.sequence;
            let SyncEvent::OperationRecorded {
                operation, cursor, ..
            } = row.event;
            if let Since::Cursor(c) = since {
                if cursor <= c {
                    continue;
                }
            }
            out.operations.push(Recorded {
                sequence: row.sequence,
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
        let committed = self
            .repo
            .execute(&user_id.to_string(), command)
            .await
            .map_err(CommandError::from_sync)?;
        if !committed.events.is_empty() {
            metrics::counter!("sync_operations_recorded_total")
                .increment(committed.events.len() as u64);
            for (_, SyncEvent::OperationRecorded { operation, .. }) in &committed.events {
                metrics::counter!("sync_operations_total",
                    "operation_type" => operation.operation_type.name())
                .increment(1);
            }
        }
        Ok(committed
            .events
            .into_iter()
            .map(|(sequence, event)| {
                let SyncEvent::OperationRecorded {
                    operation, cursor, ..
                } = event;
                Recorded {
                    sequence,
                    operation,
                    cursor,
                }
            })
            .collect())
    }
}

fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}
