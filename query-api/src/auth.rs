//! Who is calling. Handlers take a [`Caller`] and never look at headers themselves, so swapping the
//! development header for verified JWT claims (the auth issue) touches this file only: an auth layer
//! that inserts a `Caller` into the request extensions wins over the header.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::error::ApiError;

/// Development identity header (until tokens exist): `X-User-Id: <uuid>`.
pub const DEV_USER_HEADER: &str = "x-user-id";

/// The authenticated user of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
}

impl Caller {
    /// Refuses access to another user's resources.
    pub fn require_self(&self, user_id: Uuid) -> Result<(), ApiError> {
        if self.user_id == user_id {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "a user may only read or change their own sync state".into(),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(*c);
        }
        let raw = parts
            .headers
            .get(DEV_USER_HEADER)
            .ok_or_else(|| ApiError::Unauthorized(format!("missing `{DEV_USER_HEADER}` header")))?;
        let user_id = raw
            .to_str()
            .ok()
            .and_then(|s| Uuid::parse_str(s.trim()).ok())
            .ok_or_else(|| ApiError::Unauthorized(format!("`{DEV_USER_HEADER}` must be a UUID")))?;
        Ok(Caller { user_id })
    }
}
