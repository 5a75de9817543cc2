//! Adapters that plug one crate's service into another crate's port: the only place where the
//! write side and the query side meet in code (crates never import each other; ADR 0016).

use std::sync::Arc;

use async_trait::async_trait;
use mediagw_commands::sync::SyncService;
use mediagw_commands::CommandError;
use mediagw_domain::sync::{Catchup, CrdtOperation, Outcome, Recorded, Since};
use mediagw_query_api::sync::port::{SyncCommands, SyncWriteError};
use uuid::Uuid;

/// The sync gateway's writes and catch-up reads, served by the command side's `UserSync` service.
pub struct SyncPort(pub Arc<SyncService>);

fn sync_error(e: CommandError) -> SyncWriteError {
    match e {
        CommandError::Validation(v) => SyncWriteError::Invalid(v),
        CommandError::Contention => SyncWriteError::Contention,
        other => SyncWriteError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl SyncCommands for SyncPort {
    async fn apply(
        &self,
        user_id: Uuid,
        device_id: Uuid,
        operations: Vec<CrdtOperation>,
    ) -> Result<Outcome, SyncWriteError> {
        self.0
            .apply(user_id, device_id, operations)
            .await
            .map_err(sync_error)
    }

    async fn presence(
        &self,
        user_id: Uuid,
        device_id: Uuid,
        session: Uuid,
        online: bool,
        payload: serde_json::Value,
    ) -> Result<Vec<Recorded>, SyncWriteError> {
        self.0
            .presence(user_id, device_id, session, online, payload)
            .await
            .map_err(sync_error)
    }

    async fn since(&self, user_id: Uuid, since: Since) -> Result<Catchup, SyncWriteError> {
        self.0.since(user_id, since).await.map_err(sync_error)
    }
}
