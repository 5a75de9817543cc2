//! The one owner of the event store (ADR 0015, ADR 0016). Every writer — the cqrs-es aggregates, the
//! bulk importer, the auth audit trail — appends and reads through this crate, so the table shape,
//! event versions and upcasting live in one place.
//!
//! - [`migrate`]: versioned, checksummed migrations of `events`, `snapshots` and the outbox.
//! - [`append`] / [`read`]: set-based appends inside a caller's transaction, and reads that upcast
//!   old versions to today's event types.
//! - [`binding`]: the generic cqrs-es binding of any pure [`mediagw_domain::event::Aggregate`].
//! - [`Repository`]: load → decide → commit → retry on an optimistic-concurrency conflict.

pub mod binding;
pub mod privacy;
mod repository;
mod rows;

pub use repository::{Committed, ExecuteError, Repository, RetryPolicy};
pub use rows::{append, read, Appended, Recorded};

use sqlx::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Key material could not be made or read.
    #[error("keys: {0}")]
    Crypto(String),
    /// A stored payload that no longer reads as its event type, even after upcasting.
    #[error("stored {aggregate_type} event {aggregate_id}/{sequence}: {message}")]
    Corrupt {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        message: String,
    },
}

/// Creates or upgrades the event store and outbox tables; safe to run from several processes at
/// once (sqlx holds an advisory lock while it migrates).
///
/// Migration versions are shared by every crate that owns tables in the database (event store
/// 1–999, schema registry 2000s, auth 3000s, command side 4000s): each migrator ignores the
/// others' versions.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(())
}
