//! The feedback write path as the query side sees it: a port the command side's
//! `InteractionService` fills (wired in `src/ports.rs`), so this crate never depends on `commands`.

use async_trait::async_trait;
use mediagw_domain::interaction::{Feedback, Subscription};
use mediagw_domain::ValidationErrors;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum FeedbackWriteError {
    /// The aggregate refused the input (answered field by field).
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("too many concurrent writes; retry")]
    Contention,
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait]
pub trait FeedbackCommands: Send + Sync + 'static {
    /// Records feedback (all or nothing): (newly recorded, duplicates).
    async fn feedback(
        &self,
        user_id: Uuid,
        feedback: Vec<Feedback>,
    ) -> Result<(usize, usize), FeedbackWriteError>;

    /// Replaces the user's services; whether anything changed.
    async fn set_services(
        &self,
        user_id: Uuid,
        region: Option<String>,
        services: Vec<Subscription>,
    ) -> Result<bool, FeedbackWriteError>;
}
