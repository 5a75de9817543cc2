//! Entity resolution on the write side. Scoring is pure (`mediagw_domain::resolution`); this module
//! only stores and fetches. The index is kept by the command side (like `title_identity`) so a
//! decision never waits for a projection.
//!
//! - [`index`]: candidates by blocking key, fingerprints, decisions (written while ingesting).
//! - [`review`]: the grey-zone review queue and merges (operator decisions).

pub(crate) mod index;
mod review;

pub use review::{PendingReview, ReviewDecision};
