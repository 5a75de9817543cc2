//! User-profile projection (seed §4 `user_profiles`): folds `user.interaction` (feedback, services)
//! and the taste signals inside `sync.operations` (watchlist adds, playback past 90 %, views) into
//! each user's per-title signals and activity pattern (schema `profiles`).
//!
//! Only facts live here. What depends on other read models — genre affinities (catalog genres)
//! and the preference vector (title embeddings in the search index) — is derived when served, so
//! a catalog or index change never leaves a profile stale (ADR 0017).
//!
//! Idempotent twice over: offsets commit with the rows (the framework), and each user row keeps
//! the last applied position of both logs, so a re-published record changes nothing.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediagw_domain::interaction::{InteractionEvent, Signal};
use mediagw_domain::recommend::profile::{signal_from_sync, ItemSignals, Temporal};
use mediagw_domain::sync::SyncEvent;
use mediagw_schemas::{topics, EventRecord};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::framework::{offsets_ddl, ApplyError, Projection};

pub const LIVE_SCHEMA: &str = "profiles";
const PROFILE_TOPICS: &[&str] = &[topics::USER_INTERACTION, topics::SYNC_OPERATIONS];

pub struct ProfileProjection {
    schema: String,
}

impl ProfileProjection {
    pub fn new(schema: &str) -> Self {
        Self {
            schema: schema.to_string(),
        }
    }

    pub fn live() -> Self {
        Self::new(LIVE_SCHEMA)
    }
}

/// Which log a record came from: each has its own gap-free sequence per user.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Log {
    Interaction,
    Sync,
}

enum Change {
    Signal(Uuid, Signal, i64),
    Services(Option<String>, serde_json::Value),
    /// A sync operation that says nothing about taste (still advances the position).
    Nothing,
}

struct Item {
    log: Log,
    sequence: i64,
    change: Change,
}

/// The user row as stored.
struct UserRow {
    interaction_seq: i64,
    sync_seq: i64,
    interactions: i64,
    temporal: Temporal,
    region: Option<String>,
    services: serde_json::Value,
    last_at: Option<DateTime<Utc>>,
}

fn decode(record: EventRecord) -> Result<(Uuid, Item), ApplyError> {
    let poison = |e: &dyn std::fmt::Display| ApplyError::Poison(e.to_string());
    Ok(match record {
        EventRecord::FeedbackRecorded(r) => {
            let (sequence, event) = r.into_domain().map_err(|e| poison(&e))?;
            let InteractionEvent::FeedbackRecorded { user_id, feedback } = event else {
                unreachable!("a FeedbackRecorded record maps to FeedbackRecorded")
            };
            let change = Change::Signal(feedback.content_id, feedback.signal, feedback.at_ms);
            (
                user_id,
                Item {
                    log: Log::Interaction,
                    sequence,
                    change,
                },
            )
        }
        EventRecord::ServicesSet(r) => {
            let (sequence, event) = r.into_domain().map_err(|e| poison(&e))?;
            let InteractionEvent::ServicesSet {
                user_id,
                region,
                services,
            } = event
            else {
                unreachable!("a ServicesSet record maps to ServicesSet")
            };
            let services = serde_json::to_value(services).expect("services serialise");
            (
                user_id,
                Item {
                    log: Log::Interaction,
                    sequence,
                    change: Change::Services(region, services),
                },
            )
        }
        EventRecord::SyncOperationRecorded(r) => {
            let (sequence, event) = r.into_domain().map_err(|e| poison(&e))?;
            let SyncEvent::OperationRecorded {
                user_id, operation, ..
            } = event;
            let change = match signal_from_sync(&operation) {
                Some((content, signal)) => {
                    Change::Signal(content, signal, operation.timestamp.physical_ms as i64)
                }
                None => Change::Nothing,
            };
            (
                user_id,
                Item {
                    log: Log::Sync,
                    sequence,
                    change,
                },
            )
        }
        other => {
            return Err(ApplyError::Poison(format!(
                "{} does not belong on the profile topics",
                other.full_name()
            )))
        }
    })
}

#[async_trait]
impl Projection for ProfileProjection {
    fn name(&self) -> &'static str {
        "user-profiles"
    }

    fn topics(&self) -> &'static [&'static str] {
        PROFILE_TOPICS
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
-- One row per user: positions in both logs, activity pattern, services.
CREATE TABLE IF NOT EXISTS {s}.users (
    user_id         uuid PRIMARY KEY,
    interaction_seq bigint NOT NULL DEFAULT 0,
    sync_seq        bigint NOT NULL DEFAULT 0,
    interactions    bigint NOT NULL DEFAULT 0,
    temporal        jsonb  NOT NULL,
    region          text,
    services        jsonb  NOT NULL DEFAULT '[]',
    last_at         timestamptz,
    updated_at      timestamptz NOT NULL
);
-- Everything a user told us about a title (domain ItemSignals), with the derived columns that
-- training and ranking filter on.
CREATE TABLE IF NOT EXISTS {s}.user_items (
    user_id    uuid   NOT NULL,
    content_id uuid   NOT NULL,
    signals    jsonb  NOT NULL,
    preference real   NOT NULL,
    engaged    boolean NOT NULL,
    watched    boolean NOT NULL,
    dismissed  boolean NOT NULL,
    last_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, content_id)
);
CREATE INDEX IF NOT EXISTS user_items_content ON {s}.user_items (content_id);
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
        let mut by_user: BTreeMap<Uuid, Vec<Item>> = BTreeMap::new();
        for record in records {
            let (user, item) = decode(record)?;
            by_user.entry(user).or_default().push(item);
        }
        let s = &self.schema;
        let now = Utc::now();
        for (user_id, items) in by_user {
            let row = sqlx::query(&format!(
                "SELECT interaction_seq, sync_seq, interactions, temporal, region, services, last_at
                 FROM {s}.users WHERE user_id = $1 FOR UPDATE"
            ))
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut user = match row {
                Some(r) => UserRow {
                    interaction_seq: r.get(0),
                    sync_seq: r.get(1),
                    interactions: r.get(2),
                    temporal: serde_json::from_value(r.get(3))
                        .map_err(|e| ApplyError::Transient(format!("stored temporal: {e}")))?,
                    region: r.get(4),
                    services: r.get(5),
                    last_at: r.get(6),
                },
                None => UserRow {
                    interaction_seq: 0,
                    sync_seq: 0,
                    interactions: 0,
                    temporal: Temporal::default(),
                    region: None,
                    services: serde_json::json!([]),
                    last_at: None,
                },
            };
            // Titles this batch touches, with what is stored for them.
            let touched: Vec<Uuid> = items
                .iter()
                .filter_map(|i| match i.change {
                    Change::Signal(c, _, _) => Some(c),
                    _ => None,
                })
                .collect();
            let mut signals: HashMap<Uuid, ItemSignals> = HashMap::new();
            if !touched.is_empty() {
                let rows = sqlx::query(&format!(
                    "SELECT content_id, signals FROM {s}.user_items
                     WHERE user_id = $1 AND content_id = ANY($2)"
                ))
                .bind(user_id)
                .bind(&touched)
                .fetch_all(&mut *tx)
                .await?;
                for r in rows {
                    let v: ItemSignals = serde_json::from_value(r.get(1))
                        .map_err(|e| ApplyError::Transient(format!("stored signals: {e}")))?;
                    signals.insert(r.get(0), v);
                }
            }
            let mut changed = Vec::new();
            let mut advanced = false;
            for item in items {
                let last = match item.log {
                    Log::Interaction => &mut user.interaction_seq,
                    Log::Sync => &mut user.sync_seq,
                };
                if item.sequence <= *last {
                    continue; // already folded
                }
                *last = item.sequence;
                advanced = true;
                match item.change {
                    Change::Signal(content, signal, at_ms) => {
                        signals.entry(content).or_default().absorb(signal, at_ms);
                        user.temporal.absorb(at_ms);
                        user.interactions += 1;
                        let at = DateTime::<Utc>::from_timestamp_millis(at_ms).unwrap_or(now);
                        user.last_at = Some(user.last_at.map_or(at, |l| l.max(at)));
                        changed.push(content);
                    }
                    Change::Services(region, services) => {
                        user.region = region;
                        user.services = services;
                    }
                    Change::Nothing => {}
                }
            }
            if !advanced {
                continue;
            }
            changed.sort();
            changed.dedup();
            if !changed.is_empty() {
                let (
                    mut ids,
                    mut bodies,
                    mut prefs,
                    mut engaged,
                    mut watched,
                    mut dismissed,
                    mut ats,
                ) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
                for c in changed {
                    let v = signals[&c];
                    ids.push(c);
                    bodies.push(serde_json::to_value(v).expect("signals serialise"));
                    prefs.push(v.preference());
                    engaged.push(v.engaged());
                    watched.push(v.watched());
                    dismissed.push(v.dismissed());
                    ats.push(DateTime::<Utc>::from_timestamp_millis(v.last_at).unwrap_or(now));
                }
                sqlx::query(&format!(
                    "INSERT INTO {s}.user_items
                       (user_id, content_id, signals, preference, engaged, watched, dismissed, last_at)
                     SELECT $1, * FROM UNNEST($2::uuid[], $3::jsonb[], $4::real[], $5::bool[], $6::bool[], $7::bool[], $8::timestamptz[])
                     ON CONFLICT (user_id, content_id) DO UPDATE SET signals = EXCLUDED.signals,
                       preference = EXCLUDED.preference, engaged = EXCLUDED.engaged,
                       watched = EXCLUDED.watched, dismissed = EXCLUDED.dismissed,
                       last_at = EXCLUDED.last_at"
                ))
                .bind(user_id)
                .bind(&ids)
                .bind(&bodies)
                .bind(&prefs)
                .bind(&engaged)
                .bind(&watched)
                .bind(&dismissed)
                .bind(&ats)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(&format!(
                "INSERT INTO {s}.users (user_id, interaction_seq, sync_seq, interactions, temporal,
                   region, services, last_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (user_id) DO UPDATE SET interaction_seq = EXCLUDED.interaction_seq,
                   sync_seq = EXCLUDED.sync_seq, interactions = EXCLUDED.interactions,
                   temporal = EXCLUDED.temporal, region = EXCLUDED.region,
                   services = EXCLUDED.services, last_at = EXCLUDED.last_at,
                   updated_at = EXCLUDED.updated_at"
            ))
            .bind(user_id)
            .bind(user.interaction_seq)
            .bind(user.sync_seq)
            .bind(user.interactions)
            .bind(serde_json::to_value(&user.temporal).expect("temporal serialises"))
            .bind(&user.region)
            .bind(&user.services)
            .bind(user.last_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
