//! The sync write path as the gateway sees it: a port that the command side's `SyncService`
//! fills (wired in `src/app.rs`), so the query crate never depends on `commands`.

use async_trait::async_trait;
use mediagw_domain::sync::{Catchup, CrdtOperation, Outcome, Recorded, Since};
use mediagw_domain::ValidationErrors;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum SyncWriteError {
    /// The device sent operations the aggregate refuses (answered to the device, field by field).
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// Every attempt lost the race to another device of the same user.
    #[error("too many concurrent writes; retry")]
    Contention,
    /// The store failed (logged; the device retries).
    #[error("{0}")]
    Unavailable(String),
}

/// Records a user's devices' operations and reads their log back.
#[async_trait]
pub trait SyncCommands: Send + Sync + 'static {
    /// Records a device's operations (all or none); duplicates are reported, not re-recorded.
    async fn apply(
        &self,
        user_id: Uuid,
        device_id: Uuid,
        operations: Vec<CrdtOperation>,
    ) -> Result<Outcome, SyncWriteError>;

    /// Records a device going online or offline through connection `session`.
    async fn presence(
        &self,
        user_id: Uuid,
        device_id: Uuid,
        session: Uuid,
        online: bool,
        payload: serde_json::Value,
    ) -> Result<Vec<Recorded>, SyncWriteError>;

    /// The user's log after `since`, in order.
    async fn since(&self, user_id: Uuid, since: Since) -> Result<Catchup, SyncWriteError>;
}
