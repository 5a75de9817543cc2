//! The WebSocket protocol (seed §5 `SyncMessage`), JSON text frames tagged by `type`.

use mediagw_domain::sync::{CrdtOperation, Hlc};
use mediagw_domain::FieldError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Client → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// First message on a socket. `last_seen` is the last `cursor` the device received; the
    /// server answers with a `StateDelta` of exactly what it missed (everything when absent).
    Subscribe {
        user_id: Uuid,
        device_id: Uuid,
        #[serde(default)]
        last_seen: Option<Hlc>,
        #[serde(default)]
        device_name: Option<String>,
        #[serde(default)]
        platform: Option<String>,
    },
    /// Operations made on this device (live, or queued while offline).
    StateUpdate { operations: Vec<CrdtOperation> },
    /// Keeps the device online; answered with a `StateDelta` of anything missed (often empty).
    Heartbeat,
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    /// Other devices' operations, in log order. `cursor` is what to send as `last_seen` after a
    /// reconnect: everything up to it has been delivered.
    StateDelta {
        operations: Vec<CrdtOperation>,
        cursor: Option<Hlc>,
    },
    /// One per operation sent, once it is durable (`recorded`) or known already (`duplicate`).
    /// `cursor`, like a `StateDelta`'s, is a safe `last_seen` (everything before it was delivered).
    Acknowledge {
        operation_id: Uuid,
        status: AckStatus,
        #[serde(default)]
        cursor: Option<Hlc>,
    },
    DeviceEvent {
        device_id: Uuid,
        event: DeviceEvent,
    },
    /// A remote-control command for this device's player (from another of the user's devices
    /// through `POST /v1/playback/control`): play, pause, seek (with `position_ms`) or stop. The
    /// device reports its new position back as a `PlaybackUpdate` operation.
    PlaybackControl {
        session_id: Uuid,
        command: String,
        position_ms: Option<u64>,
    },
    /// The last message was refused; nothing of it was recorded.
    Error {
        code: String,
        message: String,
        #[serde(default)]
        fields: Vec<FieldError>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    Recorded,
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeviceEvent {
    Online,
    Offline,
    Watching { content_id: Uuid, position_ms: u64 },
}

impl ServerMessage {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code: code.to_string(),
            message: message.into(),
            fields: vec![],
        }
    }
}
