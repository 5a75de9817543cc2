//! How a search stage fails or reports its time: a bad field (400 naming it), a backing service
//! that failed (logged, 503), and the per-stage latency metric.

use std::time::Instant;

use crate::error::ApiError;

pub(super) fn bad(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        field,
        message: message.into(),
    }
}
pub(super) fn backend(e: impl std::fmt::Display) -> ApiError {
    ApiError::Backend(e.to_string())
}
/// Time per search stage (`search_stage_seconds{stage}`): where a slow search spends it.
pub(super) fn stage(name: &'static str, since: Instant) {
    metrics::histogram!("search_stage_seconds", "stage" => name)
        .record(since.elapsed().as_secs_f64());
}
