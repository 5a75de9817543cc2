use mediagw_domain::title::TitleError;
use mediagw_domain::ValidationErrors;

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
}
