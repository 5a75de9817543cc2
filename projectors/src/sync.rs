//! Sync projection: folds `sync.operations` into each user's canonical CRDT state (schema `sync`)
//! with the same pure merge code devices use (`mediagw_domain::sync`), plus the operation log.
//!
//! Idempotent twice over: offsets commit with the state (the framework), and each user row keeps
//! the last applied log position, so a record redelivered from a recreated topic changes nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediagw_domain::sync::{SyncEvent, SyncState};
use mediagw_schemas::{topics, EventRecord};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::framework::{offsets_ddl, ApplyError, Projection};

pub const LIVE_SCHEMA: &str = "sync";
const SYNC_TOPICS: &[&str] = &[topics::SYNC_OPERATIONS];

pub struct SyncProjection {
    schema: String,
}

impl SyncProjection {
    pub fn new(schema: &str) -> Self {
        Self {
            schema: schema.to_string(),
        }
    }

    pub fn live() -> Self {
        Self::new(LIVE_SCHEMA)
    }
}

/// One decoded record of a batch.
struct Op {
    sequence: i64,
    at: DateTime<Utc>,
    event: SyncEvent,
}

#[async_trait]
impl Projection for SyncProjection {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn topics(&self) -> &'static [&'static str] {
        SYNC_TOPICS
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    async fn migrate(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        crate::framework::run_ddl(
            pool,
            s,
            format!(
                r#"
-- Canonical state per user: the domain's SyncState (without its op-id set), as JSON.
CREATE TABLE IF NOT EXISTS {s}.user_state (
    user_id       uuid PRIMARY KEY,
    state         jsonb NOT NULL,
    last_sequence bigint NOT NULL,
    cursor        jsonb NOT NULL,
    last_sync     timestamptz NOT NULL
);
-- The operation log (seed `sync_operations`), for audits and analytics.
CREATE TABLE IF NOT EXISTS {s}.operations (
    user_id        uuid   NOT NULL,
    sequence       bigint NOT NULL,
    operation_id   uuid   NOT NULL,
    device_id      uuid   NOT NULL,
    operation_type text   NOT NULL,
    content_id     uuid,
    operation      jsonb  NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, sequence)
);
{offsets};
"#,
                offsets = offsets_ddl(s)
            ),
        )
        .await
    }

    async fn apply(&self, tx: &mut PgConnection, record: EventRecord) -> Result<(), ApplyError> {
        self.apply_many(tx, vec![record]).await
    }

    async fn apply_many(
        &self,
        tx: &mut PgConnection,
        records: Vec<EventRecord>,
    ) -> Result<(), ApplyError> {
        // Group by user, keeping log order within each (records of one user share a partition).
        let mut by_user: BTreeMap<Uuid, Vec<Op>> = BTreeMap::new();
        for record in records {
            let EventRecord::SyncOperationRecorded(r) = record else {
                return Err(ApplyError::Poison(format!(
                    "{} does not belong on {}",
                    record.full_name(),
                    topics::SYNC_OPERATIONS
                )));
            };
            let at = DateTime::<Utc>::from_timestamp_millis(r.occurred_at_ms)
                .ok_or_else(|| ApplyError::Poison("occurred_at_ms out of range".into()))?;
            let (sequence, event) = r
                .into_domain()
                .map_err(|e| ApplyError::Poison(e.to_string()))?;
            let SyncEvent::OperationRecorded { user_id, .. } = &event;
            by_user.entry(*user_id).or_default().push(Op {
                sequence,
                at,
                event,
            });
        }
        let s = &self.schema;
        for (user_id, ops) in by_user {
            let row = sqlx::query(&format!(
                "SELECT state, last_sequence FROM {s}.user_state WHERE user_id = $1 FOR UPDATE"
            ))
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let (mut state, mut last) = match row {
                Some(row) => {
                    let state: serde_json::Value = row.get(0);
                    let state: SyncState = serde_json::from_value(state)
                        .map_err(|e| ApplyError::Transient(format!("stored state: {e}")))?;
                    (state, row.get::<i64, _>(1))
                }
                None => (SyncState::default(), 0),
            };
            let (mut cursor, mut last_at) = (None, None);
            let (mut seqs, mut op_ids, mut devices, mut types, mut contents, mut bodies, mut ats) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for op in ops {
                if op.sequence <= last {
                    continue; // already folded
                }
                let SyncEvent::OperationRecorded {
                    operation,
                    cursor: c,
                    ..
                } = op.event;
                state.apply(&operation);
                seqs.push(op.sequence);
                op_ids.push(operation.operation_id);
                devices.push(operation.device_id);
                types.push(operation.operation_type.name().to_string());
                contents.push(operation.operation_type.content_id());
                bodies.push(serde_json::to_value(&operation).expect("operation serialises"));
                ats.push(op.at);
                last = op.sequence;
                cursor = Some(c);
                last_at = Some(op.at);
            }
            let (Some(cursor), Some(last_at)) = (cursor, last_at) else {
                continue;
            };
            // The op-id set only guards devices' replicas; the log position guards this one.
            state.applied.clear();
            sqlx::query(&format!(
                "INSERT INTO {s}.user_state (user_id, state, last_sequence, cursor, last_sync)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state,
                   last_sequence = EXCLUDED.last_sequence, cursor = EXCLUDED.cursor,
                   last_sync = EXCLUDED.last_sync"
            ))
            .bind(user_id)
            .bind(serde_json::to_value(&state).expect("state serialises"))
            .bind(last)
            .bind(serde_json::to_value(cursor).expect("cursor serialises"))
            .bind(last_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "INSERT INTO {s}.operations
                   (user_id, sequence, operation_id, device_id, operation_type, content_id, operation, recorded_at)
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::jsonb[], $8::timestamptz[])
                 ON CONFLICT (user_id, sequence) DO NOTHING"
            ))
            .bind(user_id)
            .bind(&seqs)
            .bind(&op_ids)
            .bind(&devices)
            .bind(&types)
            .bind(&contents)
            .bind(&bodies)
            .bind(&ats)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
