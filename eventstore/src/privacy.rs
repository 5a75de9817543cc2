//! Per-user keys for crypto-shredding (ADR 0024) and the event-store side of an erasure.
//!
//! Records about a user are sealed with the user's key before they reach Kafka and opened by
//! projectors with the same key; erasing the user deletes the key (so every published copy, DLQs
//! and replays included, becomes unreadable) and the user's streams from this store (which we own
//! and can rewrite, unlike the log).
//!
//! Ordering: publishers take [`lock_publishing`] (shared) for as long as they hold keys they fetched,
//! and [`erase`] takes it exclusively, so no batch read before an erasure creates a fresh key for
//! the erased user after it. Projectors read keys `FOR KEY SHARE` inside their batch transaction, so
//! an erasure waits for a batch that already opened the user's records and then removes its rows.

use std::collections::HashMap;

use ring::rand::{SecureRandom, SystemRandom};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::StoreError;

/// Advisory lock id shared by publishers (shared) and erasures (exclusive).
const PUBLISHING_LOCK: i64 = 7_330;

/// A user's key and the pseudonym records about them travel under.
#[derive(Clone)]
pub struct UserKey {
    pub subject: Uuid,
    pub key: [u8; 32],
}

impl std::fmt::Debug for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserKey")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Taken by a publisher for the transaction in which it seals and publishes records.
pub async fn lock_publishing(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(PUBLISHING_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// The keys of `users`, created for those who have none yet.
pub async fn keys_for(
    conn: &mut PgConnection,
    users: &[String],
) -> Result<HashMap<String, UserKey>, StoreError> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let rng = SystemRandom::new();
    let (mut subjects, mut keys) = (Vec::with_capacity(users.len()), Vec::new());
    for _ in users {
        let mut key = [0u8; 32];
        rng.fill(&mut key)
            .map_err(|_| StoreError::Crypto("no system randomness".into()))?;
        subjects.push(Uuid::new_v4());
        keys.push(key.to_vec());
    }
    sqlx::query(
        "INSERT INTO user_keys (user_id, subject, key)
         SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::bytea[])
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(users)
    .bind(&subjects)
    .bind(&keys)
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query("SELECT user_id, subject, key FROM user_keys WHERE user_id = ANY($1)")
        .bind(users)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            let key: Vec<u8> = r.get(2);
            let key: [u8; 32] = key
                .try_into()
                .map_err(|_| StoreError::Crypto("stored key is not 32 bytes".into()))?;
            Ok((
                r.get(0),
                UserKey {
                    subject: r.get(1),
                    key,
                },
            ))
        })
        .collect()
}

/// The keys of `subjects` that still exist, locked against an erasure until the caller's
/// transaction ends. A subject missing from the answer was erased.
pub async fn keys_by_subject(
    conn: &mut PgConnection,
    subjects: &[Uuid],
) -> Result<HashMap<Uuid, [u8; 32]>, StoreError> {
    if subjects.is_empty() {
        return Ok(HashMap::new());
    }
    let rows =
        sqlx::query("SELECT subject, key FROM user_keys WHERE subject = ANY($1) FOR KEY SHARE")
            .bind(subjects)
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|r| {
            let key: Vec<u8> = r.get(1);
            let key: [u8; 32] = key
                .try_into()
                .map_err(|_| StoreError::Crypto("stored key is not 32 bytes".into()))?;
            Ok((r.get(0), key))
        })
        .collect()
}

/// What an erasure removed from the event store.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreErasure {
    /// The pseudonym the user's published records carried (`None`: nothing was ever published).
    pub subject: Option<Uuid>,
    pub events: u64,
    pub snapshots: u64,
    pub outbox: u64,
}

/// Shreds the user's key and deletes their streams (every non-title aggregate whose id is the
/// user, or whose events name the user) from the store and the outbox, inside the caller's
/// transaction. Waits for publishers and projector batches that hold the user's key.
pub async fn erase(conn: &mut PgConnection, user_id: &str) -> Result<StoreErasure, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PUBLISHING_LOCK)
        .execute(&mut *conn)
        .await?;
    let subject: Option<Uuid> =
        sqlx::query_scalar("DELETE FROM user_keys WHERE user_id = $1 RETURNING subject")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    // The id as it appears inside JSON payloads; LIKE needs its wildcards escaped (a user id is a
    // UUID today, but the store does not know that).
    let pattern = format!(
        "%\"{}\"%",
        user_id
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let doomed = "SELECT DISTINCT aggregate_type, aggregate_id FROM events
                  WHERE aggregate_type <> 'title' AND (aggregate_id = $1 OR payload::text LIKE $2)";
    let snapshots = sqlx::query(&format!(
        "DELETE FROM snapshots s USING ({doomed}) d
         WHERE s.aggregate_type = d.aggregate_type AND s.aggregate_id = d.aggregate_id"
    ))
    .bind(user_id)
    .bind(&pattern)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let events = sqlx::query(&format!(
        "DELETE FROM events e USING ({doomed}) d
         WHERE e.aggregate_type = d.aggregate_type AND e.aggregate_id = d.aggregate_id"
    ))
    .bind(user_id)
    .bind(&pattern)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let mut outbox = 0;
    for table in ["event_outbox", "event_outbox_failed"] {
        outbox += sqlx::query(&format!(
            "DELETE FROM {table} WHERE aggregate_type <> 'title'
               AND (aggregate_id = $1 OR payload::text LIKE $2)"
        ))
        .bind(user_id)
        .bind(&pattern)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    let erasure = StoreErasure {
        subject,
        events,
        snapshots,
        outbox,
    };
    if let Some(subject) = subject {
        sqlx::query(
            "INSERT INTO user_erasures (subject, counts) VALUES ($1, $2)
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject)
        .bind(serde_json::to_value(&erasure).unwrap_or_default())
        .execute(conn)
        .await?;
    }
    Ok(erasure)
}
