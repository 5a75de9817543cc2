//! The query side answers with the public API's one error type, which lives in its own crate so
//! auth (below this crate) answers with the same bodies.

pub use mediagw_api_error::ApiError;
