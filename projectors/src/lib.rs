//! Read side: Kafka consumer groups that fold events into read models.
//!
//! - [`framework`]: the reusable runner: batches, offsets stored in the read model's own
//!   transaction (redelivery is a no-op), dead-lettering, graceful drain.
//! - [`catalog`]: the catalog projection (seed content schema).
//! - [`replay`]: blue/green rebuild of a projection from the log.
//! - [`sync`]: each user's canonical CRDT state (watchlist, positions, devices) and op log.

pub mod catalog;
pub mod framework;
pub mod replay;
pub mod search;
pub mod sync;
pub mod trending;

pub use framework::{ApplyError, Assignment, Projection, ProjectorConfig, ProjectorRunner};
