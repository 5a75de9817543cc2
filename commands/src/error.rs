use mediagw_domain::sync::SyncError;
use mediagw_domain::title::TitleError;
use mediagw_domain::ValidationErrors;
use mediagw_eventstore::{ExecuteError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("invalid input: {0}")]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Rejected(#[from] TitleError),
    #[error("the title changed concurrently too many times; retry")]
    Contention,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("event store: {0}")]
    Store(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => CommandError::Db(e),
            other => CommandError::Store(other.to_string()),
        }
    }
}

impl From<ExecuteError<TitleError>> for CommandError {
    fn from(e: ExecuteError<TitleError>) -> Self {
        match e {
            ExecuteError::Rejected(e) => CommandError::Rejected(e),
            ExecuteError::Contention => CommandError::Contention,
            ExecuteError::Store(e) => CommandError::Store(e),
        }
    }
}

impl CommandError {
    /// A sync command's failure: invalid operations are the device's fault, the rest ours.
    pub(crate) fn from_sync(e: ExecuteError<SyncError>) -> Self {
        match e {
            ExecuteError::Rejected(SyncError::Invalid(v)) => CommandError::Validation(v),
            ExecuteError::Rejected(other) => CommandError::Store(other.to_string()),
            ExecuteError::Contention => CommandError::Contention,
            ExecuteError::Store(e) => CommandError::Store(e),
        }
    }
}
