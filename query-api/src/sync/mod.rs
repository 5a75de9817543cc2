//! Cross-device sync over WebSocket and REST (seed §5): `GET /v1/sync/ws`,
//! `GET /v1/sync/state/{user_id}`, `POST /v1/sync/merge`, `GET /v1/sync/devices/{user_id}`.
//!
//! Writes go through the [`port::SyncCommands`] port (the `UserSync` aggregate, wired by the binary); the
//! state and device reads come from the `sync` projection; deltas reach other devices through
//! the [`hub::Fanout`] port. Every handler takes a [`Caller`] and serves only the caller's data.

pub mod hub;
pub mod port;
pub mod protocol;
pub mod pubsub;
mod socket;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use mediagw_auth::Caller;
use mediagw_domain::auth::Scope;
use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType, SyncState};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::ApiError;
use hub::SyncHub;
use port::SyncWriteError;
use protocol::AckStatus;

/// Largest WebSocket message accepted (a page of queued operations fits easily).
const MAX_WS_MESSAGE: usize = 1 << 20;

#[derive(Clone)]
struct Ctx {
    hub: Arc<SyncHub>,
    pool: PgPool,
}

pub fn router(hub: Arc<SyncHub>, pool: PgPool) -> Router {
    Router::new()
        .route("/v1/sync/ws", get(ws))
        .route("/v1/sync/state/{user_id}", get(state))
        .route("/v1/sync/devices/{user_id}", get(devices))
        .route("/v1/sync/merge", post(merge))
        .with_state(Ctx { hub, pool })
}

/// The scope an operation needs: watchlist edits are preferences, positions and counts playback;
/// presence needs none beyond reading (`read:preferences`, checked on subscribe).
pub fn required_scope(op: &CrdtOperation) -> Option<Scope> {
    match op.operation_type {
        OperationType::WatchlistAdd { .. } | OperationType::WatchlistRemove { .. } => {
            Some(Scope::WritePreferences)
        }
        OperationType::PlaybackUpdate { .. } | OperationType::ViewCount { .. } => {
            Some(Scope::WritePlayback)
        }
        OperationType::DeviceOnline | OperationType::DeviceOffline => None,
    }
}

/// The first scope a batch needs that the caller lacks: every operation must be allowed, or
/// none is recorded (REST and socket alike).
pub(crate) fn missing_scope(
    caller_scopes: &mediagw_domain::auth::Scopes,
    ops: &[CrdtOperation],
) -> Option<Scope> {
    ops.iter()
        .filter_map(required_scope)
        .find(|s| !caller_scopes.contains(*s))
}

async fn ws(
    State(ctx): State<Ctx>,
    caller: Caller,
    revocations: Option<axum::Extension<crate::gateway::revocations::Revocations>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(e) = caller.require_scope(Scope::ReadPreferences) {
        return axum::response::IntoResponse::into_response(e);
    }
    // Sync messages are small and sockets many: 4 KiB buffers instead of tungstenite's 128 KiB
    // read buffer keep an idle connection cheap (larger frames still fit; the buffer grows).
    upgrade
        .read_buffer_size(4 << 10)
        .write_buffer_size(0)
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| socket::serve(ctx.hub, caller, revocations.map(|e| e.0), socket))
}

/// Seed `SyncStateResponse`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncStateResponse {
    pub user_id: Uuid,
    pub watchlist: Vec<WatchlistItem>,
    pub playback_positions: BTreeMap<Uuid, PlaybackPosition>,
    pub view_counts: BTreeMap<Uuid, u64>,
    pub devices: Vec<DeviceInfo>,
    /// When the newest operation folded into this state was recorded (null: nothing yet).
    pub last_sync: Option<DateTime<Utc>>,
    /// Server stamp of that operation: a device that loads this state resumes after it.
    #[schema(value_type = Option<Object>)]
    pub cursor: Option<Hlc>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WatchlistItem {
    pub content_id: Uuid,
    pub added_at: DateTime<Utc>,
    /// Live OR-Set tags: a removal sends these.
    pub tags: Vec<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlaybackPosition {
    pub position_ms: u64,
    pub duration_ms: Option<u64>,
    pub updated_at: DateTime<Utc>,
    pub device_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceInfo {
    pub device_id: Uuid,
    pub name: Option<String>,
    pub platform: Option<String>,
    pub online: bool,
    pub last_seen: DateTime<Utc>,
}

fn at(h: &Hlc) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(h.physical_ms as i64).unwrap_or_default()
}

fn parse_user(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        field: "user_id",
        message: "must be a UUID".into(),
    })
}

async fn load(pool: &PgPool, user_id: Uuid) -> Result<SyncStateResponse, ApiError> {
    let row =
        sqlx::query("SELECT state, cursor, last_sync FROM sync.user_state WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    let Some(row) = row else {
        return Ok(SyncStateResponse {
            user_id,
            watchlist: vec![],
            playback_positions: BTreeMap::new(),
            view_counts: BTreeMap::new(),
            devices: vec![],
            last_sync: None,
            cursor: None,
        });
    };
    let state: SyncState = serde_json::from_value(row.get(0))
        .map_err(|e| ApiError::Backend(format!("stored sync state: {e}")))?;
    let cursor: Hlc = serde_json::from_value(row.get(1))
        .map_err(|e| ApiError::Backend(format!("stored sync cursor: {e}")))?;
    let watchlist = state
        .watchlist
        .elements()
        .into_iter()
        .map(|(content_id, added)| WatchlistItem {
            content_id,
            added_at: at(&added),
            tags: state.watchlist.tags_of(&content_id).collect(),
        })
        .collect();
    let playback_positions = state
        .positions
        .iter()
        .map(|(c, r)| {
            (
                *c,
                PlaybackPosition {
                    position_ms: r.value.position_ms,
                    duration_ms: r.value.duration_ms,
                    updated_at: at(&r.stamp),
                    device_id: r.stamp.device_id,
                },
            )
        })
        .collect();
    let view_counts = state.views.iter().map(|(c, g)| (*c, g.value())).collect();
    let devices = state
        .last_seen
        .iter()
        .map(|(d, seen)| {
            let profile = state
                .profiles
                .get(d)
                .map(|p| p.value.clone())
                .unwrap_or_default();
            DeviceInfo {
                device_id: *d,
                name: profile.name,
                platform: profile.platform,
                online: state.is_online(*d),
                last_seen: at(seen),
            }
        })
        .collect();
    Ok(SyncStateResponse {
        user_id,
        watchlist,
        playback_positions,
        view_counts,
        devices,
        last_sync: Some(row.get(2)),
        cursor: Some(cursor),
    })
}

async fn state(
    State(ctx): State<Ctx>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Json<SyncStateResponse>, ApiError> {
    let user_id = parse_user(&user_id)?;
    caller.require_scope(Scope::ReadPreferences)?;
    caller.require_self(user_id)?;
    Ok(Json(load(&ctx.pool, user_id).await?))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DevicesResponse {
    pub user_id: Uuid,
    pub devices: Vec<DeviceInfo>,
}

async fn devices(
    State(ctx): State<Ctx>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Json<DevicesResponse>, ApiError> {
    let user_id = parse_user(&user_id)?;
    caller.require_scope(Scope::ReadDevices)?;
    caller.require_self(user_id)?;
    let s = load(&ctx.pool, user_id).await?;
    Ok(Json(DevicesResponse {
        user_id,
        devices: s.devices,
    }))
}

/// `POST /v1/sync/merge`: a device uploads operations (typically its offline queue).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    pub device_id: Uuid,
    /// `CrdtOperation`s (seed §5): operation_id, operation_type {type, …}, timestamp (HLC), device_id.
    #[schema(value_type = Vec<Object>)]
    pub operations: Vec<CrdtOperation>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MergeResult {
    pub acknowledgements: Vec<Ack>,
}

/// `stamp` is the server HLC the operation was recorded at. It is not a resume point (other
/// devices' operations may sit before it unseen): devices resume from a socket's cursor.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ack {
    pub operation_id: Uuid,
    pub status: AckStatus,
    #[schema(value_type = Option<Object>)]
    pub stamp: Option<Hlc>,
}

async fn merge(
    State(ctx): State<Ctx>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<MergeResult>, ApiError> {
    let req: MergeRequest = crate::error::json_body(body)?;
    // Like the socket: a device that syncs reads its state too; writes need their own scopes.
    caller.require_scope(Scope::ReadPreferences)?;
    if let Some(missing) = missing_scope(&caller.scopes, &req.operations) {
        return Err(ApiError::InsufficientScope(missing.as_str()));
    }
    let ids: Vec<Uuid> = req.operations.iter().map(|o| o.operation_id).collect();
    let outcome = ctx
        .hub
        .service
        .apply(caller.user_id, req.device_id, req.operations)
        .await
        .map_err(|e| match e {
            SyncWriteError::Invalid(v) => ApiError::Invalid(v),
            SyncWriteError::Contention => {
                ApiError::Conflict("too many concurrent writes; retry".into())
            }
            other => ApiError::Backend(other.to_string()),
        })?;
    let cursors: BTreeMap<Uuid, Hlc> = outcome
        .recorded
        .iter()
        .map(|r| (r.operation.operation_id, r.cursor))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let acknowledgements = ids
        .into_iter()
        .filter(|id| seen.insert(*id))
        .map(|id| match cursors.get(&id) {
            Some(c) => Ack {
                operation_id: id,
                status: AckStatus::Recorded,
                stamp: Some(*c),
            },
            None => Ack {
                operation_id: id,
                status: AckStatus::Duplicate,
                stamp: None,
            },
        })
        .collect();
    ctx.hub.publish(caller.user_id, outcome.recorded).await;
    Ok(Json(MergeResult { acknowledgements }))
}
