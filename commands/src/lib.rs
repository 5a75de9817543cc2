//! Write side: commands are validated by cqrs-es aggregates persisted with postgres-es, and every
//! committed event is relayed to Kafka through a transactional outbox.
//!
//! - [`store`]: event store + outbox DDL (the outbox row is written by a trigger in the same
//!   transaction as the event, so a crash can never separate them).
//! - [`aggregate`]: the cqrs-es binding of the pure `mediagw_domain::title` aggregate.
//! - [`titles`]: the title command service (identity resolution, retries on conflicts).
//! - [`http`]: `POST /internal/ingest`.
//! - [`connectors`]: provider API clients (budgets, retries, pagination) and their schedules.
//! - [`resolution`]: entity resolution (fingerprint index, review queue, merges).
//! - [`relay`]: outbox → Kafka, crash-safe and ordered.
//! - [`sync`]: cross-device sync operations through the per-user `UserSync` aggregate.

pub mod aggregate;
pub mod bulk;
pub mod connectors;
pub mod error;
pub mod http;
pub mod relay;
pub mod resolution;
pub mod store;
pub mod sync;
pub mod titles;

pub use error::CommandError;
pub use titles::{IngestAction, IngestRequest, IngestResponse, TitleService};
