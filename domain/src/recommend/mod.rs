//! Recommendations (seed §4, SONA), as pure code: the profile fold, the collaborative model and
//! its training, the ranking pipeline (candidates → adapter → MMR → explanation) and the offline
//! evaluation protocol. The query service and the training job call these; nothing here does I/O.

pub mod eval;
pub mod model;
pub mod profile;
pub mod rank;
