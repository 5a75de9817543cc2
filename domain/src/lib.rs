//! Pure domain model of Media Gateway: the types, rules and events that everything else serialises,
//! stores, publishes and projects. No I/O lives here (no tokio, database or Kafka crates), so every rule
//! is testable as plain given/when/then.

pub mod auth;
pub mod catalog;
pub mod error;
pub mod event;
pub mod history;
pub mod interaction;
pub mod playback;
pub mod providers;
pub mod recommend;
pub mod resolution;
pub mod search;
pub mod sync;
pub mod title;

pub use error::{FieldError, ValidationErrors};
