//! Adapters that plug one crate's service into another crate's port: the only place where the
//! write side and the query side meet in code (crates never import each other; ADR 0016).

use std::sync::Arc;

use async_trait::async_trait;
use mediagw_commands::sync::SyncService;
use mediagw_commands::CommandError;
use mediagw_domain::interaction::{Feedback, Subscription};
use mediagw_domain::playback::device::Device;
use mediagw_domain::playback::session::{Control, PlaybackSession, Started};
use mediagw_domain::sync::{Catchup, CrdtOperation, Outcome, Recorded, Since};
use mediagw_query_api::playback::port::{PlaybackCommands, PlaybackWriteError};
use mediagw_query_api::recommend::port::{FeedbackCommands, FeedbackWriteError};
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

/// The recommendation routes' feedback and services writes, served by the command side's
/// `UserInteractions` service.
pub struct FeedbackPort(pub Arc<mediagw_commands::interactions::InteractionService>);

fn feedback_error(e: CommandError) -> FeedbackWriteError {
    match e {
        CommandError::Validation(v) => FeedbackWriteError::Invalid(v),
        CommandError::Contention => FeedbackWriteError::Contention,
        other => FeedbackWriteError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl FeedbackCommands for FeedbackPort {
    async fn feedback(
        &self,
        user_id: Uuid,
        feedback: Vec<Feedback>,
    ) -> Result<(usize, usize), FeedbackWriteError> {
        let r = self
            .0
            .feedback(user_id, feedback)
            .await
            .map_err(feedback_error)?;
        Ok((r.recorded, r.duplicates))
    }

    async fn set_services(
        &self,
        user_id: Uuid,
        region: Option<String>,
        services: Vec<Subscription>,
    ) -> Result<bool, FeedbackWriteError> {
        self.0
            .set_services(user_id, region, services)
            .await
            .map_err(feedback_error)
    }
}

/// The playback routes' registrations and sessions, served by the command side's `UserDevices`
/// and `PlaybackSession` services.
pub struct PlaybackPort {
    pub devices: Arc<mediagw_commands::playback::DeviceService>,
    pub sessions: Arc<mediagw_commands::playback::SessionService>,
}

fn playback_error(e: CommandError) -> PlaybackWriteError {
    match e {
        CommandError::Validation(v) => PlaybackWriteError::Invalid(v),
        CommandError::NotFound(what) => PlaybackWriteError::NotFound(what),
        CommandError::Forbidden(m) => PlaybackWriteError::Forbidden(m),
        CommandError::Conflict(m) => PlaybackWriteError::Conflict(m),
        CommandError::Contention => PlaybackWriteError::Contention,
        other => PlaybackWriteError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl PlaybackCommands for PlaybackPort {
    async fn register_device(
        &self,
        user_id: Uuid,
        device: Device,
    ) -> Result<(Device, bool), PlaybackWriteError> {
        self.devices
            .register(user_id, device)
            .await
            .map_err(playback_error)
    }

    async fn remove_device(
        &self,
        user_id: Uuid,
        device_id: Uuid,
    ) -> Result<(), PlaybackWriteError> {
        self.devices
            .remove(user_id, device_id)
            .await
            .map_err(playback_error)
    }

    async fn devices(&self, user_id: Uuid) -> Result<Vec<Device>, PlaybackWriteError> {
        self.devices.devices(user_id).await.map_err(playback_error)
    }

    async fn start_session(&self, started: Started) -> Result<(), PlaybackWriteError> {
        self.sessions.start(started).await.map_err(playback_error)
    }

    async fn session(
        &self,
        session_id: Uuid,
    ) -> Result<Option<PlaybackSession>, PlaybackWriteError> {
        self.sessions
            .session(session_id)
            .await
            .map_err(playback_error)
    }

    async fn check_control(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        command: Control,
        position_ms: Option<i64>,
    ) -> Result<PlaybackSession, PlaybackWriteError> {
        self.sessions
            .check_control(session_id, user_id, command, position_ms)
            .await
            .map_err(playback_error)
    }

    async fn control(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        command: Control,
        position_ms: Option<i64>,
    ) -> Result<PlaybackSession, PlaybackWriteError> {
        self.sessions
            .control(session_id, user_id, command, position_ms)
            .await
            .map_err(playback_error)
    }
}
