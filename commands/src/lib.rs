//! Write side: commands are validated by cqrs-es aggregates persisted with postgres-es, and every
//! committed event is relayed to Kafka through a transactional outbox.
//!
//! - The event store, its outbox trigger and the cqrs-es binding are `mediagw_eventstore`'s; the
//!   write side's own tables (identities, resolution, connector runs) are `migrations/` here.
//! - [`titles`]: the title command service (identity resolution, retries on conflicts).
//! - [`http`]: `POST /internal/ingest`.
//! - [`connectors`]: provider API clients (budgets, retries, pagination) and their schedules.
//! - [`resolution`]: entity resolution (fingerprint index, review queue, merges).
//! - [`relay`]: outbox → Kafka, crash-safe and ordered.
//! - [`interactions`]: users' feedback and services through the per-user `UserInteractions`
//!   aggregate (`user.interaction`).
//! - [`playback`]: the device registry (`UserDevices`, `playback.devices`) and playback sessions
//!   (`PlaybackSession`, `playback.sessions`).
//! - [`sync`]: cross-device sync operations through the per-user `UserSync` aggregate.

pub mod bulk;
pub mod connectors;
pub mod error;
pub mod history;
pub mod http;
pub mod imports;
pub mod interactions;
pub mod playback;
pub mod relay;
pub mod resolution;
pub mod sync;
pub mod titles;

pub use error::CommandError;
pub use titles::{IngestAction, IngestRequest, IngestResponse, TitleService};

/// Creates or upgrades the event store and the write side's tables (versioned migrations; safe to
/// run from several processes at once).
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), CommandError> {
    mediagw_eventstore::migrate(pool).await?;
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|e| CommandError::Store(e.to_string()))
}
