//! What the account routes need from the rest of the product: a port filled in `src/account.rs`,
//! where the event store, the account tables, every read model and the cache meet.

use async_trait::async_trait;
use mediagw_domain::history::{
    ErasureReport, HistoryFormat, ImportReport, LineError, ListKind, UserExport,
};
use mediagw_domain::ValidationErrors;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The file has malformed entries (nothing was imported).
    #[error("{} malformed entries", .0.len())]
    Lines(Vec<LineError>),
    /// The entries read but a command refused them (nothing was imported).
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("too many concurrent writes; retry")]
    Contention,
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Everything held about the user (the access right).
    async fn export(&self, user_id: Uuid) -> Result<UserExport, AccountError>;
    /// Erases the user everywhere (the erasure right); safe to repeat.
    async fn erase(&self, user_id: Uuid) -> Result<ErasureReport, AccountError>;
    /// Imports a history file into the user's feedback, watchlist and positions.
    async fn import(
        &self,
        user_id: Uuid,
        format: HistoryFormat,
        list: Option<ListKind>,
        file: &str,
    ) -> Result<ImportReport, AccountError>;
}
