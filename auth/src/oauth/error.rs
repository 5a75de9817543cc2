//! How the endpoints answer requests they cannot serve: the token, device and revocation endpoints
//! in the shape RFC 6749 §5.2 prescribes ([`OAuthError`]), account and client endpoints with the
//! API's error body; and the reading of request bodies for each.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use mediagw_api_error::ApiError;
use serde_json::json;

use crate::error::AuthError;

#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    pub(super) fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            error,
            description: description.into(),
        }
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "auth database error");
        OAuthError::new("server_error", "internal error")
    }
}

impl From<AuthError> for OAuthError {
    fn from(e: AuthError) -> Self {
        tracing::error!(error = %e, "auth error");
        OAuthError::new("server_error", "internal error")
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        no_store(r.headers_mut());
        if self.error == "invalid_client" {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mediagw\""),
            );
        }
        r
    }
}

/// The body of a token, device or revocation request (`application/x-www-form-urlencoded`).
pub(super) fn read_form<T>(form: Result<Form<T>, FormRejection>) -> Result<T, OAuthError> {
    form.map(|Form(f)| f)
        .map_err(|e| OAuthError::new("invalid_request", format!("the body must be a form: {e}")))
}

pub(super) fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| ApiError::BadRequest {
        field: "body",
        message: e.body_text(),
    })
}
