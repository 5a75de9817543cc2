//! Routes of the playback service. Every route takes a [`Caller`] and acts only on the caller's
//! own devices and sessions.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::Utc;
use mediagw_auth::Caller;
use mediagw_domain::auth::Scope;
use mediagw_domain::playback::device::{Capabilities, Device, DeviceType};
use mediagw_domain::playback::routing::Quality;
use mediagw_domain::playback::session::Control;
use mediagw_domain::ValidationErrors;
use serde::Deserialize;
use uuid::Uuid;

use super::contract::*;
use super::service::{PlaybackService, Wish};
use crate::error::ApiError;

pub fn router(service: Arc<PlaybackService>) -> Router {
    Router::new()
        .route("/v1/devices", get(devices))
        .route("/v1/devices/register", post(register))
        .route("/v1/devices/{device_id}", delete(remove))
        .route("/v1/playback/initiate", post(initiate))
        .route("/v1/playback/control", post(control))
        .route("/v1/playback/session/{session_id}", get(session))
        .route("/v1/content/{content_id}/watch", get(watch))
        .with_state(service)
}

use crate::error::json_body as parse;

fn parse_id(field: &'static str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        field,
        message: "must be a UUID".into(),
    })
}

/// `preferred_platform` and `quality_preference`, checked.
pub(crate) fn wish(
    preferred_platform: Option<&str>,
    quality: Option<&str>,
    errors: &mut ValidationErrors,
) -> Wish {
    let preferred_platform = preferred_platform
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty());
    if let Some(p) = &preferred_platform {
        if !mediagw_domain::catalog::is_slug(p) {
            errors.push(
                "preferred_platform",
                "must be a platform slug such as `netflix`",
            );
        }
    }
    let quality_preference = match quality.map(str::trim).filter(|q| !q.is_empty()) {
        None => None,
        Some(q) => {
            let parsed = Quality::parse(q);
            if parsed.is_none() {
                errors.push("quality_preference", "must be `sd`, `hd` or `uhd`");
            }
            parsed
        }
    };
    Wish {
        preferred_platform,
        quality_preference,
    }
}

/// The registration as a domain device: the body's id, else the token's device grant id, else new.
pub(crate) fn device_of(caller: &Caller, req: RegisterDeviceRequest) -> Result<Device, ApiError> {
    let mut errors = ValidationErrors::default();
    let device_type = DeviceType::parse(&req.device_type);
    if device_type.is_none() {
        errors.push(
            "device_type",
            format!(
                "unknown device type `{}` (known: {}; `tv`, `mobile` as aliases)",
                req.device_type,
                DeviceType::ALL.map(DeviceType::as_str).join(", ")
            ),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let device_id = req
        .device_id
        .or_else(|| {
            caller
                .device_id
                .as_deref()
                .and_then(|d| Uuid::parse_str(d).ok())
        })
        .unwrap_or_else(Uuid::new_v4);
    let c = req.capabilities;
    Ok(Device {
        device_id,
        device_name: req.device_name,
        device_type: device_type.expect("checked above"),
        capabilities: Capabilities {
            supports_4k: c.supports_4k,
            supports_hdr: c.supports_hdr,
            supports_dolby_atmos: c.supports_dolby_atmos,
            supported_platforms: c.supported_platforms,
        },
        push_token: req.push_token,
        registered_at_ms: Utc::now().timestamp_millis(),
    })
}

async fn register(
    State(service): State<Arc<PlaybackService>>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<DeviceBody>), ApiError> {
    caller.require_scope(Scope::WritePlayback)?;
    let req: RegisterDeviceRequest = parse(body)?;
    let device = device_of(&caller, req)?;
    let (body, created) = service.register(caller.user_id, device).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)))
}

async fn devices(
    State(service): State<Arc<PlaybackService>>,
    caller: Caller,
) -> Result<Json<DeviceList>, ApiError> {
    caller.require_scope(Scope::ReadDevices)?;
    Ok(Json(DeviceList {
        devices: service.devices(caller.user_id).await?,
    }))
}

async fn remove(
    State(service): State<Arc<PlaybackService>>,
    caller: Caller,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let device_id = parse_id("device_id", &device_id)?;
    caller.require_scope(Scope::WritePlayback)?;
    service.remove(caller.user_id, device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn initiate(
    State(service): State<Arc<PlaybackService>>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<InitiatePlaybackResponse>, ApiError> {
    caller.require_scope(Scope::WritePlayback)?;
    let req: InitiatePlaybackRequest = parse(body)?;
    let mut errors = ValidationErrors::default();
    let wish = wish(
        req.preferred_platform.as_deref(),
        req.quality_preference.as_deref(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Json(service.initiate(caller.user_id, &req, wish).await?))
}

/// A control request, checked field by field.
pub(crate) fn control_of(req: &ControlRequest) -> Result<Control, ApiError> {
    let mut errors = ValidationErrors::default();
    let command = Control::parse(&req.command);
    if command.is_none() {
        errors.push("command", "must be `play`, `pause`, `seek` or `stop`");
    }
    match req.position_ms {
        Some(p) if p < 0 => errors.push("position_ms", "must not be negative"),
        None if command == Some(Control::Seek) => errors.push("position_ms", "is required to seek"),
        _ => {}
    }
    match command {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(ApiError::Invalid(errors)),
    }
}

async fn control(
    State(service): State<Arc<PlaybackService>>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<SessionBody>, ApiError> {
    caller.require_scope(Scope::WritePlayback)?;
    let req: ControlRequest = parse(body)?;
    let command = control_of(&req)?;
    Ok(Json(
        service
            .control(caller.user_id, req.session_id, command, req.position_ms)
            .await?,
    ))
}

async fn session(
    State(service): State<Arc<PlaybackService>>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> Result<Json<SessionBody>, ApiError> {
    let session_id = parse_id("session_id", &session_id)?;
    if caller.require_scope(Scope::ReadDevices).is_err() {
        caller.require_scope(Scope::WritePlayback)?;
    }
    Ok(Json(service.session(caller.user_id, session_id).await?))
}

#[derive(Debug, Deserialize)]
struct WatchQuery {
    device_id: Option<String>,
    preferred_platform: Option<String>,
    quality_preference: Option<String>,
}

async fn watch(
    State(service): State<Arc<PlaybackService>>,
    caller: Caller,
    Path(content_id): Path<String>,
    Query(q): Query<WatchQuery>,
) -> Result<Json<WatchResponse>, ApiError> {
    let content_id = parse_id("content_id", &content_id)?;
    caller.require_scope(Scope::ReadContent)?;
    let device_id = q
        .device_id
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| parse_id("device_id", d))
        .transpose()?;
    let mut errors = ValidationErrors::default();
    let wish = wish(
        q.preferred_platform.as_deref(),
        q.quality_preference.as_deref(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Json(
        service
            .watch(caller.user_id, content_id, device_id, wish)
            .await?,
    ))
}
