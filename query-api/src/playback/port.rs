//! The playback write path as the query side sees it: a port the command side's
//! `DeviceService` and `SessionService` fill (wired in `src/ports.rs`).

use async_trait::async_trait;
use mediagw_domain::playback::device::Device;
use mediagw_domain::playback::session::{Control, PlaybackSession, Started};
use mediagw_domain::ValidationErrors;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum PlaybackWriteError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many concurrent writes; retry")]
    Contention,
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PlaybackCommands: Send + Sync + 'static {
    /// Registers or updates a device: as registered, and whether this created it.
    async fn register_device(
        &self,
        user_id: Uuid,
        device: Device,
    ) -> Result<(Device, bool), PlaybackWriteError>;
    async fn remove_device(&self, user_id: Uuid, device_id: Uuid)
        -> Result<(), PlaybackWriteError>;
    /// The user's devices as the aggregate holds them (read-your-writes).
    async fn devices(&self, user_id: Uuid) -> Result<Vec<Device>, PlaybackWriteError>;
    async fn start_session(&self, started: Started) -> Result<(), PlaybackWriteError>;
    async fn session(
        &self,
        session_id: Uuid,
    ) -> Result<Option<PlaybackSession>, PlaybackWriteError>;
    /// Decides a control without committing it (the session as it stands, if accepted).
    async fn check_control(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        command: Control,
        position_ms: Option<i64>,
    ) -> Result<PlaybackSession, PlaybackWriteError>;
    /// Commits a control; the session after it.
    async fn control(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        command: Control,
        position_ms: Option<i64>,
    ) -> Result<PlaybackSession, PlaybackWriteError>;
}
