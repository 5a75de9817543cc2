//! Playback command services: the device registry (`UserDevices`, one aggregate per user, on
//! `playback.devices`) and playback sessions (`PlaybackSession`, one aggregate per session, on
//! `playback.sessions`).

use std::time::Duration;

use mediagw_domain::playback::device::{
    Device, DeviceCommand, DeviceError, DeviceEvent, UserDevices,
};
use mediagw_domain::playback::session::{
    Control, PlaybackSession, SessionCommand, SessionError, Started,
};
use mediagw_eventstore::{ExecuteError, Repository, RetryPolicy};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::CommandError;

const DEVICE_RETRY: RetryPolicy = RetryPolicy {
    attempts: 20,
    step: Duration::from_millis(2),
    jitter_ms: 5,
    conflicts_metric: "device_conflicts_retried_total",
};

/// A phone and a TV may press pause at once: both land, in some order.
const SESSION_RETRY: RetryPolicy = RetryPolicy {
    attempts: 20,
    step: Duration::from_millis(1),
    jitter_ms: 3,
    conflicts_metric: "playback_conflicts_retried_total",
};

pub struct DeviceService {
    repo: Repository<UserDevices>,
}

fn device_error(e: ExecuteError<DeviceError>) -> CommandError {
    match e {
        ExecuteError::Rejected(DeviceError::Invalid(v)) => CommandError::Validation(v),
        ExecuteError::Rejected(DeviceError::NotFound(_)) => CommandError::NotFound("device"),
        ExecuteError::Rejected(e @ DeviceError::TooMany) => CommandError::Conflict(e.to_string()),
        ExecuteError::Rejected(other) => CommandError::Store(other.to_string()),
        ExecuteError::Contention => CommandError::Contention,
        ExecuteError::Store(e) => CommandError::Store(e),
    }
}

impl DeviceService {
    pub fn new(pool: PgPool) -> Self {
        Self {
            repo: Repository::with_snapshots(pool, 50, DEVICE_RETRY),
        }
    }

    /// Registers (or updates) a device; returns it as registered and whether this created it.
    pub async fn register(
        &self,
        user_id: Uuid,
        device: Device,
    ) -> Result<(Device, bool), CommandError> {
        let id = device.device_id;
        let before = self
            .repo
            .load(&user_id.to_string())
            .await
            .map_err(device_error)?;
        let committed = self
            .repo
            .execute(&user_id.to_string(), || DeviceCommand::Register {
                user_id,
                device: device.clone(),
            })
            .await
            .map_err(device_error)?;
        // What was recorded, or (same details again) what was there already.
        let recorded = committed.events.into_iter().find_map(|(_, e)| match e {
            DeviceEvent::DeviceRegistered { device, .. } if device.device_id == id => Some(device),
            _ => None,
        });
        let created = !before.devices.contains_key(&id) && recorded.is_some();
        let stored = match recorded.or_else(|| before.devices.get(&id).cloned()) {
            Some(d) => d,
            // Registered identically by a concurrent request after our first read.
            None => self
                .repo
                .load(&user_id.to_string())
                .await
                .map_err(device_error)?
                .devices
                .remove(&id)
                .ok_or_else(|| CommandError::Store("device vanished while registering".into()))?,
        };
        if created {
            metrics::counter!("devices_registered_total", "device_type" => stored.device_type.as_str())
                .increment(1);
        }
        Ok((stored, created))
    }

    pub async fn remove(&self, user_id: Uuid, device_id: Uuid) -> Result<(), CommandError> {
        self.repo
            .execute(&user_id.to_string(), || DeviceCommand::Remove {
                user_id,
                device_id,
            })
            .await
            .map_err(device_error)?;
        Ok(())
    }

    /// The user's devices as the aggregate holds them (read-your-writes for a device just registered).
    pub async fn devices(&self, user_id: Uuid) -> Result<Vec<Device>, CommandError> {
        let a = self
            .repo
            .load(&user_id.to_string())
            .await
            .map_err(device_error)?;
        Ok(a.devices.into_values().collect())
    }
}

pub struct SessionService {
    repo: Repository<PlaybackSession>,
}

fn session_error(e: ExecuteError<SessionError>) -> CommandError {
    match e {
        ExecuteError::Rejected(SessionError::Invalid(v)) => CommandError::Validation(v),
        ExecuteError::Rejected(SessionError::NotFound) => {
            CommandError::NotFound("playback session")
        }
        ExecuteError::Rejected(e @ SessionError::Forbidden) => {
            CommandError::Forbidden(e.to_string())
        }
        ExecuteError::Rejected(e @ (SessionError::Ended | SessionError::AlreadyStarted)) => {
            CommandError::Conflict(e.to_string())
        }
        ExecuteError::Contention => CommandError::Contention,
        ExecuteError::Store(e) => CommandError::Store(e),
    }
}

impl SessionService {
    pub fn new(pool: PgPool) -> Self {
        Self {
            repo: Repository::new(pool, SESSION_RETRY),
        }
    }

    pub async fn start(&self, started: Started) -> Result<(), CommandError> {
        let id = started.session_id.to_string();
        self.repo
            .execute(&id, || SessionCommand::Start(started.clone()))
            .await
            .map_err(session_error)?;
        Ok(())
    }

    /// The session as it stands (None: no such session).
    pub async fn session(&self, session_id: Uuid) -> Result<Option<PlaybackSession>, CommandError> {
        let s = self
            .repo
            .load(&session_id.to_string())
            .await
            .map_err(session_error)?;
        Ok(s.started.is_some().then_some(s))
    }

    /// Decides a control command without committing it: the session, if it would be accepted.
    pub async fn check_control(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        command: Control,
        position_ms: Option<i64>,
    ) -> Result<PlaybackSession, CommandError> {
        let s = self
            .repo
            .load(&session_id.to_string())
            .await
            .map_err(session_error)?;
        s.handle(SessionCommand::Control {
            user_id,
            command,
            position_ms,
            at_ms: 0,
        })
        .map_err(|e| session_error(ExecuteError::Rejected(e)))?;
        Ok(s)
    }

    /// Commits a control command; the session after it.
    pub async fn control(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        command: Control,
        position_ms: Option<i64>,
    ) -> Result<PlaybackSession, CommandError> {
        let at_ms = chrono::Utc::now().timestamp_millis();
        let id = session_id.to_string();
        self.repo
            .execute(&id, || SessionCommand::Control {
                user_id,
                command,
                position_ms,
                at_ms,
            })
            .await
            .map_err(session_error)?;
        self.repo.load(&id).await.map_err(session_error)
    }
}
