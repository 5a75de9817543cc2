//! The query side answers with the public API's one error type, which lives in its own crate so
//! auth (below this crate) answers with the same bodies.

pub use mediagw_api_error::ApiError;

use axum::extract::rejection::JsonRejection;
use axum::Json;
use mediagw_domain::{FieldError, ValidationErrors};

/// A JSON request body as `T`, or 400 naming the offending field (`body` when the JSON itself is
/// unreadable).
pub fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let Json(raw) = body.map_err(|e| ApiError::BadRequest {
        field: "body",
        message: e.body_text(),
    })?;
    serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::Invalid(ValidationErrors(vec![FieldError::new(
            field,
            e.inner().to_string(),
        )]))
    })
}
