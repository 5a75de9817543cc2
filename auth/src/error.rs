//! The auth crate's one error type, and how it reads as the API's error body.

use mediagw_api_error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The bearer token cannot be trusted (RFC 6750 `invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Appending an audit event to the event store failed.
    #[error("event store: {0}")]
    Store(#[from] mediagw_eventstore::StoreError),
    #[error("auth migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The gateway's shared store (sign-in budget, deny list) did not answer.
    #[error("{0}")]
    Gate(String),
    #[error("{0}")]
    Internal(String),
}

impl AuthError {
    pub fn invalid_token(why: &str) -> Self {
        AuthError::InvalidToken(why.to_string())
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidToken(why) => ApiError::InvalidToken(why),
            AuthError::Db(e) => ApiError::Db(e),
            e @ (AuthError::Store(_)
            | AuthError::Migrate(_)
            | AuthError::Gate(_)
            | AuthError::Internal(_)) => ApiError::Internal(e.to_string()),
        }
    }
}
