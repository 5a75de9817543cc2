//! The public HTTP API's one error type, mapped to HTTP at the edge: every service (query routes,
//! auth) answers `{"error": {"code", "message", …}}` with the same codes and headers. Its own crate
//! so that services which depend on each other one way can all use it. 5xx are logged here and
//! answered without internals.

use axum::http::{header, StatusCode};
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
    /// A bearer token was sent but cannot be trusted (RFC 6750 `invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    /// The token lacks the scope the route needs (RFC 6750 `insufficient_scope`).
    #[error("needs scope {0}")]
    InsufficientScope(&'static str),
    /// The rate limit of the caller's tier is spent.
    #[error("rate limited")]
    RateLimited { retry_after_s: u64 },
    /// Something of ours failed (logged, answered without details).
    #[error("{0}")]
    Internal(String),
    /// Several fields at once (domain validation).
    #[error("{0}")]
    Invalid(mediagw_domain::ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    /// 409 with its own code and facts beside the message (`not_available` with where and when
    /// the title was last available, `device_offline`).
    #[error("{code}: {message}")]
    ConflictWith {
        code: &'static str,
        message: String,
        details: serde_json::Map<String, serde_json::Value>,
    },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A backing service (search index, embedding model) failed.
    #[error("{0}")]
    Backend(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::InvalidToken(why) => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": {"code": "invalid_token", "message": why}})),
                )
                    .into_response();
                let challenge =
                    format!("Bearer error=\"invalid_token\", error_description=\"{why}\"");
                if let Ok(v) = challenge.parse() {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return r;
            }
            ApiError::InsufficientScope(scope) => {
                let mut r = (
                    StatusCode::FORBIDDEN,
                    Json(json!({"error": {"code": "insufficient_scope", "message": format!("this request needs the `{scope}` scope"), "scope": scope}})),
                )
                    .into_response();
                if let Ok(v) =
                    format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"").parse()
                {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return r;
            }
            ApiError::RateLimited { retry_after_s } => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"error": {"code": "rate_limited", "message": format!("too many requests; retry in {retry_after_s} s")}})),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, (*retry_after_s).into());
                return r;
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": {"code": "internal", "message": "internal error"}}),
                )
            }
            ApiError::BadRequest { field, message } => (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "invalid_parameter", "message": format!("`{field}`: {message}"), "fields": [{"field": field, "message": message}]}}),
            ),
            ApiError::Unauthorized(why) => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": {"code": "unauthorized", "message": why}})),
                )
                    .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                return r;
            }
            ApiError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                json!({"error": {"code": "forbidden", "message": why}}),
            ),
            ApiError::Conflict(why) => (
                StatusCode::CONFLICT,
                json!({"error": {"code": "conflict", "message": why}}),
            ),
            ApiError::ConflictWith {
                code,
                message,
                details,
            } => {
                let mut error = details.clone();
                error.insert("code".into(), json!(code));
                error.insert("message".into(), json!(message));
                (StatusCode::CONFLICT, json!({ "error": error }))
            }
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
