//! What every gRPC service here shares at its edge: the bearer-token check, argument parsing and
//! the mapping of the public API's errors to gRPC statuses.

use tonic::{Request, Status};
use uuid::Uuid;

/// A UUID argument, or `INVALID_ARGUMENT` naming the field (every gRPC service here).
pub fn parse_id(field: &str, raw: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(raw)
        .map_err(|_| Status::invalid_argument(format!("`{field}`: `{raw}` is not a UUID")))
}

/// The public API's error as a gRPC status: 4xx by meaning, the rest logged and answered as
/// `INTERNAL` without details.
pub fn status(e: crate::error::ApiError) -> Status {
    use crate::error::ApiError;
    match e {
        ApiError::BadRequest { field, message } => {
            Status::invalid_argument(format!("`{field}`: {message}"))
        }
        ApiError::Invalid(v) => Status::invalid_argument(v.to_string()),
        ApiError::Unauthorized(m) | ApiError::InvalidToken(m) => Status::unauthenticated(m),
        ApiError::Forbidden(m) => Status::permission_denied(m),
        ApiError::InsufficientScope(s) => {
            Status::permission_denied(format!("this call needs the `{s}` scope"))
        }
        ApiError::NotFound(m) => Status::not_found(m),
        ApiError::Conflict(m) => Status::aborted(m),
        ApiError::ConflictWith { code, message, .. } => {
            Status::failed_precondition(format!("{code}: {message}"))
        }
        other => {
            tracing::error!(error = %other, "grpc call failed");
            Status::internal("internal error")
        }
    }
}

/// The caller behind the request's `authorization: Bearer …` metadata, holding `scope`.
pub async fn bearer_caller<T>(
    tokens: &mediagw_auth::TokenService,
    req: &Request<T>,
    scope: mediagw_domain::auth::Scope,
) -> Result<mediagw_auth::Caller, Status> {
    let token = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("send `authorization: Bearer <access token>`"))?;
    let caller = tokens
        .validate(token)
        .await
        .map_err(|e| Status::unauthenticated(e.to_string()))?;
    caller.require_scope(scope).map_err(status)?;
    Ok(caller)
}
