//! One error type for the query side, mapped to HTTP at the edge. 5xx are logged here and answered
//! without internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {message}")]
    BadRequest {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Several fields at once (domain validation).
    #[error("{0}")]
    Invalid(mediagw_domain::ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A backing service (search index, embedding model) failed.
    #[error("{0}")]
    Backend(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest { field, message } => (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "invalid_parameter", "message": format!("`{field}`: {message}"), "fields": [{"field": field, "message": message}]}}),
            ),
            ApiError::Unauthorized(why) => (
                StatusCode::UNAUTHORIZED,
                json!({"error": {"code": "unauthorized", "message": why}}),
            ),
            ApiError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                json!({"error": {"code": "forbidden", "message": why}}),
            ),
            ApiError::Conflict(why) => (
                StatusCode::CONFLICT,
                json!({"error": {"code": "conflict", "message": why}}),
            ),
            ApiError::Invalid(errors) => (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "invalid_parameter", "message": errors.to_string(), "fields": errors.0}}),
            ),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                json!({"error": {"code": "not_found", "message": what}}),
            ),
            ApiError::Backend(e) => {
                tracing::error!(error = %e, "backend failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": {"code": "unavailable", "message": "search is temporarily unavailable"}}),
                )
            }
            ApiError::Db(e) => {
                tracing::error!(error = %e, "query failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": {"code": "internal", "message": "internal error"}}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
