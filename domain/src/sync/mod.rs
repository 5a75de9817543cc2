//! Cross-device sync: CRDTs stamped with a Hybrid Logical Clock, and the per-user aggregate that
//! validates devices' operations before they become events (`sync.operations`).
//!
//! One user's state is one aggregate (ADR 0010): every operation of a user is ordered by the
//! aggregate's sequence, which gives each device a gap-free cursor to resume from.

pub mod crdt;
pub mod hlc;
pub mod log;
pub mod ops;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crdt::{GCounter, LwwRegister, OrSet};
pub use hlc::{ClockDrift, Hlc};
pub use log::{Catchup, Outcome, Recorded, Since};
pub use ops::{CrdtOperation, DeviceProfile, OperationType, Position, SyncState};

use crate::error::ValidationErrors;

/// Device id of the server's own clock (the cursor stamps).
pub const SERVER_CLOCK: Uuid = Uuid::nil();

/// Most operations one command may carry (an offline queue is flushed in pages).
pub const MAX_BATCH: usize = 500;

/// Largest logical counter a device may send: leaves the server's cursor room to grow (a
/// saturated counter would stop cursors from increasing).
pub const MAX_LOGICAL: u32 = 1 << 30;

/// Largest position, duration or count accepted (fits the wire format's signed 64-bit longs).
pub const MAX_NUMBER: u64 = i64::MAX as u64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SyncCommand {
    /// Operations authored by `device_id` (live or queued offline).
    Apply {
        user_id: Uuid,
        device_id: Uuid,
        operations: Vec<CrdtOperation>,
        now_ms: u64,
        max_drift_ms: u64,
    },
    /// The server saw a device connect, disconnect or time out. `session` names the connection:
    /// an offline from a connection the device has since replaced (it reconnected elsewhere) is
    /// ignored.
    SetPresence {
        user_id: Uuid,
        device_id: Uuid,
        session: Uuid,
        online: bool,
        operation_id: Uuid,
        now_ms: u64,
        payload: serde_json::Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SyncEvent {
    /// An operation accepted into the user's log. `cursor` is the server's HLC at acceptance:
    /// strictly increasing along the log, so "everything after cursor X" is exactly what a device
    /// that last saw X has missed.
    OperationRecorded {
        user_id: Uuid,
        operation: CrdtOperation,
        cursor: Hlc,
    },
}

impl crate::event::Event for SyncEvent {
    fn event_type(&self) -> &'static str {
        SyncEvent::event_type(self)
    }

    fn event_version(&self) -> &'static str {
        "1.0"
    }
}

impl crate::event::Aggregate for UserSync {
    const TYPE: &'static str = UserSync::TYPE;
    type Command = SyncCommand;
    type Event = SyncEvent;
    type Error = SyncError;

    fn handle(&self, command: SyncCommand) -> Result<Vec<SyncEvent>, SyncError> {
        UserSync::handle(self, command)
    }

    fn apply(&mut self, event: SyncEvent) {
        UserSync::apply(self, event)
    }
}

impl SyncEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            SyncEvent::OperationRecorded { .. } => "OperationRecorded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("command for user {actual} reached the aggregate of user {expected}")]
    WrongAggregate { expected: Uuid, actual: Uuid },
}

/// One user's sync aggregate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserSync {
    pub user_id: Option<Uuid>,
    pub state: SyncState,
    /// Stamp of the last recorded operation.
    pub cursor: Option<Hlc>,
    /// The connection each online device was last seen online through (server presence).
    #[serde(default)]
    pub sessions: std::collections::BTreeMap<Uuid, Uuid>,
}

impl UserSync {
    pub const TYPE: &'static str = "user_sync";

    pub fn handle(&self, command: SyncCommand) -> Result<Vec<SyncEvent>, SyncError> {
        match command {
            SyncCommand::Apply {
                user_id,
                device_id,
                operations,
                now_ms,
                max_drift_ms,
            } => {
                self.check_user(user_id)?;
                validate(device_id, &operations, now_ms, max_drift_ms)
                    .map_err(SyncError::Invalid)?;
                let mut cursor = self.cursor();
                let mut seen = std::collections::HashSet::new();
                let mut events = Vec::new();
                for op in operations {
                    if self.state.applied.contains(&op.operation_id)
                        || !seen.insert(op.operation_id)
                    {
                        continue; // a duplicate is acknowledged, never re-recorded
                    }
                    cursor = cursor
                        .receive(op.timestamp, now_ms, max_drift_ms)
                        .expect("drift validated above");
                    events.push(SyncEvent::OperationRecorded {
                        user_id,
                        operation: op,
                        cursor,
                    });
                }
                Ok(events)
            }
            SyncCommand::SetPresence {
                user_id,
                device_id,
                session,
                online,
                operation_id,
                now_ms,
                mut payload,
            } => {
                self.check_user(user_id)?;
                if device_id.is_nil() {
                    return Err(SyncError::Invalid(
                        crate::error::FieldError::new("device_id", "must not be the nil UUID")
                            .into(),
                    ));
                }
                let current = self.sessions.get(&device_id) == Some(&session);
                // Online: record unless this very connection already did. Offline: only for the
                // connection that last brought the device online.
                if (online && current && self.state.is_online(device_id)) || (!online && !current) {
                    return Ok(vec![]);
                }
                if online {
                    match payload.as_object_mut() {
                        Some(p) => {
                            p.insert("session".into(), serde_json::json!(session));
                        }
                        None => payload = serde_json::json!({ "session": session }),
                    }
                }
                if self.state.applied.contains(&operation_id) {
                    return Ok(vec![]);
                }
                let last = self
                    .state
                    .last_seen
                    .get(&device_id)
                    .copied()
                    .unwrap_or(Hlc::zero(device_id));
                let timestamp = Hlc {
                    device_id,
                    ..last.tick(now_ms)
                };
                let cursor = self.cursor().tick(now_ms.max(timestamp.physical_ms));
                Ok(vec![SyncEvent::OperationRecorded {
                    user_id,
                    operation: CrdtOperation {
                        operation_id,
                        operation_type: if online {
                            OperationType::DeviceOnline
                        } else {
                            OperationType::DeviceOffline
                        },
                        timestamp,
                        device_id,
                        payload,
                    },
                    cursor,
                }])
            }
        }
    }

    pub fn apply(&mut self, event: SyncEvent) {
        match event {
            SyncEvent::OperationRecorded {
                user_id,
                operation,
                cursor,
            } => {
                self.user_id = Some(user_id);
                match operation.operation_type {
                    OperationType::DeviceOnline => {
                        let session = operation
                            .payload
                            .get("session")
                            .and_then(|s| s.as_str())
                            .and_then(|s| Uuid::parse_str(s).ok());
                        match session {
                            Some(s) => self.sessions.insert(operation.device_id, s),
                            None => self.sessions.remove(&operation.device_id),
                        };
                    }
                    OperationType::DeviceOffline => {
                        self.sessions.remove(&operation.device_id);
                    }
                    _ => {}
                }
                self.state.apply(&operation);
                self.cursor = Some(cursor);
            }
        }
    }

    fn cursor(&self) -> Hlc {
        self.cursor.unwrap_or(Hlc::zero(SERVER_CLOCK))
    }

    fn check_user(&self, user_id: Uuid) -> Result<(), SyncError> {
        match self.user_id {
            Some(expected) if expected != user_id => Err(SyncError::WrongAggregate {
                expected,
                actual: user_id,
            }),
            _ => Ok(()),
        }
    }
}

/// Checks a device's batch; every problem is reported with its field path.
pub fn validate(
    device_id: Uuid,
    operations: &[CrdtOperation],
    now_ms: u64,
    max_drift_ms: u64,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if device_id.is_nil() {
        errors.push("device_id", "must not be the nil UUID");
    }
    if operations.len() > MAX_BATCH {
        errors.push(
            "operations",
            format!("at most {MAX_BATCH} operations per message"),
        );
    }
    for (i, op) in operations.iter().enumerate() {
        let f = |name: &str| format!("operations[{i}].{name}");
        if op.device_id != device_id {
            errors.push(f("device_id"), "must be the sending device");
        }
        if op.timestamp.device_id != op.device_id {
            errors.push(
                f("timestamp.device_id"),
                "must equal the operation's device_id",
            );
        }
        if let Err(e) = hlc::check_drift(op.timestamp, now_ms, max_drift_ms) {
            errors.push(f("timestamp"), e.to_string());
        }
        if op.operation_id.is_nil() {
            errors.push(f("operation_id"), "must not be the nil UUID");
        }
        if op.timestamp.logical > MAX_LOGICAL {
            errors.push(f("timestamp.logical"), format!("at most {MAX_LOGICAL}"));
        }
        if op.payload.to_string().contains("\\u0000") {
            errors.push(f("payload"), "must not contain NUL characters");
        }
        let numbers = match &op.operation_type {
            OperationType::PlaybackUpdate {
                position_ms,
                duration_ms,
                ..
            } => vec![
                ("position_ms", Some(*position_ms)),
                ("duration_ms", *duration_ms),
            ],
            OperationType::ViewCount { count, .. } => vec![("count", Some(*count))],
            _ => vec![],
        };
        for (name, v) in numbers {
            if v.is_some_and(|v| v > MAX_NUMBER) {
                errors.push(
                    f(&format!("operation_type.{name}")),
                    format!("at most {MAX_NUMBER}"),
                );
            }
        }
        match &op.operation_type {
            OperationType::WatchlistRemove { tags, .. } if tags.is_empty() => {
                errors.push(f("operation_type.tags"), "name the observed tags to remove")
            }
            OperationType::PlaybackUpdate {
                position_ms,
                duration_ms: Some(d),
                ..
            } if position_ms > d => errors.push(
                f("operation_type.position_ms"),
                "must not exceed duration_ms",
            ),
            _ => {}
        }
    }
    errors.into_result(())
}
