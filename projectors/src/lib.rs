//! Read side: Kafka consumer groups that fold events into read models.
//!
//! - [`framework`]: the reusable runner: batches, offsets stored in the read model's own
//!   transaction (redelivery is a no-op), dead-lettering, graceful drain.
//! - [`catalog`]: the catalog projection (seed content schema).
//! - [`playback`]: the device registry and playback sessions (`playback.devices`,
//!   `playback.sessions`).
//! - [`profiles`]: each user's taste signals per title and activity pattern, from feedback and
//!   sync operations (recommendations read it).
//! - [`recommender`]: the recommendation model job (EASE + popularity over the profiles).
//! - [`replay`]: blue/green rebuild of a projection from the log.
//! - [`search_activity`]: search activity (answered searches) folded into trending query counts
//!   and each user's genre affinity.
//! - [`sync`]: each user's canonical CRDT state (watchlist, positions, devices) and op log.

pub mod catalog;
mod ddl;
pub mod framework;
pub mod playback;
pub mod profiles;
pub mod recommender;
pub mod replay;
pub mod search;
pub mod search_activity;
pub mod sync;

pub use framework::{ApplyError, Assignment, Projection, ProjectorConfig, ProjectorRunner};
